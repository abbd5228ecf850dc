import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { checkDns, checkIp, checkName, formatMac, ipFamily, normalizeMac, parseHostPort } from '../../src/pki/names.js';
import { SipsecError } from '../../src/core/errors.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e instanceof SipsecError ? e.code : 'OTHER';
  }
  return 'OK';
};

test('MACs in the three accepted forms normalise alike; anything else is refused', () => {
  for (const m of ['00:08:5d:12:34:56', '00-08-5D-12-34-56', '00085d123456', '00085D123456']) assert.equal(normalizeMac(m), '00085d123456');
  for (const m of ['00:08:5d:12:34', '00:08-5d:12:34:56', '0008.5d12.3456', 'zz085d123456', '', '00:00:00:00:00:00']) assert.equal(code(() => normalizeMac(m)), 'BAD_MAC', m);
  assert.equal(formatMac('00085d123456', 'upper'), '00085D123456');
  assert.equal(formatMac('00085d123456', 'colon'), '00:08:5d:12:34:56');
});

test('names, IPs and DNS names', () => {
  assert.equal(checkName('telefono1'), 'telefono1');
  for (const n of ['', '-x', 'a b', '../x', 'a/b', 'x'.repeat(64), 'ca', 'CA']) assert.equal(code(() => checkName(n)), 'BAD_NAME', n);
  assert.equal(checkIp('10.0.1.132'), '10.0.1.132');
  assert.equal(checkIp('[2001:db8::1]'), '2001:db8::1');
  for (const ip of ['10.0.1', '10.0.1.256', 'pbx', '']) assert.equal(code(() => checkIp(ip)), 'BAD_IP', ip);
  assert.equal(checkDns('PBX.MyCompany.com.'), 'pbx.mycompany.com');
  for (const d of ['*.example.com', 'a..b', '-a.b', '10.0.1.1', 'a_b.c', 'x'.repeat(64) + '.com']) assert.equal(code(() => checkDns(d)), 'BAD_DNS', d);
  assert.deepEqual(parseHostPort('pbx.mycompany.com', 5061), { host: 'pbx.mycompany.com', port: 5061 });
  assert.deepEqual(parseHostPort('10.0.1.133:5062', 5061), { host: '10.0.1.133', port: 5062 });
  assert.deepEqual(parseHostPort('[2001:db8::1]:5061', 1), { host: '2001:db8::1', port: 5061 });
  for (const hp of ['pbx:0', 'pbx:70000', 'a b', ':5061']) assert.equal(code(() => parseHostPort(hp, 5061)), 'BAD_INPUT', hp);
});

test('ipFamily answers as net.isIP does', () => {
  for (const s of ['10.0.1.132', '127.0.0.1', '256.1.1.1', '2001:db8::1', '::', '::1', '::ffff:10.0.0.1', 'fe80::1%eth0', ':', '1:2', 'bench.test', 'pbx-1', '', '1.2.3', 'a:b:c:d:e:f:0:1']) {
    assert.equal(ipFamily(s), isIP(s), s);
  }
});
