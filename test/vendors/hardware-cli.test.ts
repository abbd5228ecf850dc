import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CaStore } from '../../src/home/store.js';
import { buildRoutes } from '../../src/provision/routes.js';
import { cleanup, sipsec, tmpDir, type RunResult } from '../helpers/cli.js';

/**
 * The hardware vendors end to end through the real CLI (the compiled
 * src/cli/main.js next to this test): a CA home, one phone per vendor, the
 * files in <home>/provision with their names and modes, the route table
 * over them, `sipsec dhcp`, and removal.
 */

const SECRET = 'Zq8vN3kWp5XrT7mYb2Hc4d';

interface Expect {
  args: string[];
  /** File → expected mode. */
  files: Record<string, 0o600 | 0o644>;
}

const PHONES: Record<string, Expect> = {
  telefono1: {
    args: ['--vendor', 'aastra', '--mac', '00:08:5d:12:34:56', '--ip', '10.0.1.132', '--ext', '101'],
    files: { 'aastra.cfg': 0o644, '00085D123456.cfg': 0o600, '00085D123456-ca.pem': 0o600, '00085D123456-chain.pem': 0o600, '00085D123456-cert.pem': 0o600, '00085D123456-key.pem': 0o600 },
  },
  spa: {
    args: ['--vendor', 'cisco-spa', '--mac', '00-0E-08-AA-BB-CC', '--ext', '102', '--option', 'model=spa504g'],
    files: { 'spa504G.cfg': 0o644, 'spa000e08aabbcc.xml': 0o600 },
  },
  gxp: {
    args: ['--vendor', 'grandstream', '--mac', '000b82123456', '--ext', '103', '--srtp', 'optional'],
    files: { cfg000b82123456: 0o600, 'cfg000b82123456.xml': 0o600 },
  },
  t46: {
    args: ['--vendor', 'yealink', '--mac', '80:5e:c0:12:34:56', '--ext', '104', '--option', 'model=t46g'],
    files: { 'y000000000028.cfg': 0o644, 'yealink-ca.pem': 0o644, '805ec0123456.cfg': 0o600, '805ec0123456-cert.pem': 0o600 },
  },
  vvx: {
    args: ['--vendor', 'polycom', '--mac', '00:04:f2:12:34:56', '--ext', '105'],
    files: { '0004f2123456.cfg': 0o600, '0004f2123456-sipsec.cfg': 0o600 },
  },
  snom1: {
    args: ['--vendor', 'snom', '--mac', '00:04:13:a1:b2:c3', '--ext', '106', '--srtp', 'off'],
    files: { 'snom320.htm': 0o644, 'snom320-000413A1B2C3.htm': 0o600, '000413A1B2C3.xml': 0o600 },
  },
};

function ok(r: RunResult, what: string): RunResult {
  assert.equal(r.code, 0, `${what} failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return r;
}

describe('hardware vendors through the real CLI', () => {
  let dir = '';
  let home = '';
  const cli = (...args: string[]) => sipsec(['--home', home, ...args]);
  const prov = (f: string) => path.join(home, 'provision', f);

  before(() => {
    dir = tmpDir('sipsec-hw-');
    home = path.join(dir, 'ca');
    ok(
      cli('ca', 'init', '--no-passphrase', '--org', 'My Super Company', '--domain', 'pbx.mycompany.com', '--registrar', '10.0.1.133:5061', '--tftp-server', '10.0.1.133', '--ntp', '10.0.1.1', '--key', 'p256'),
      'ca init',
    );
  });
  after(() => cleanup(dir));

  test("phone add renders each vendor's files with the right names and modes (0600 for a phone's own files)", () => {
    for (const [name, e] of Object.entries(PHONES)) {
      const r = ok(cli('phone', 'add', name, ...e.args, '--secret', SECRET), `phone add ${name}`);
      assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET), `${name}: the secret was printed`);
      assert.ok(!/PRIVATE KEY/.test(r.stdout + r.stderr));
      for (const [file, mode] of Object.entries(e.files)) {
        assert.ok(existsSync(prov(file)), `${name}: ${file} missing in ${path.join(home, 'provision')}`);
        assert.equal(statSync(prov(file)).mode & 0o777, mode, `${name}: ${file} mode`);
        // A phone's own files carry its SIP secret: owner-only; vendor-wide files are 0644 and hold no key.
        if (mode === 0o644) assert.ok(!readFileSync(prov(file)).includes('PRIVATE KEY'), `${name}: ${file} is world-readable but holds a key`);
      }
    }
  });

  test('the Aastra files carry the CA config\'s registrar, TLS, SRTP and the real certificate', () => {
    const cfg = readFileSync(prov('00085D123456.cfg'), 'utf8');
    assert.match(cfg, /^sip transport protocol: 4$/m);
    assert.match(cfg, /^sip line1 proxy ip: 10\.0\.1\.133$/m);
    assert.match(cfg, /^sip line1 registrar port: 5061$/m);
    assert.match(cfg, /^sip line1 password: Zq8vN3kWp5XrT7mYb2Hc4d$/m);
    assert.match(cfg, /^sip srtp mode: 2$/m);
    assert.match(cfg, /^time server1: 10\.0\.1\.1$/m);
    assert.equal(readFileSync(prov('00085D123456-ca.pem'), 'utf8'), readFileSync(path.join(home, 'ca.crt'), 'utf8'));
    assert.match(readFileSync(prov('00085D123456-key.pem'), 'utf8'), /^-----BEGIN RSA PRIVATE KEY-----\n/);
    assert.match(readFileSync(prov('00085D123456-cert.pem'), 'utf8'), /^-----BEGIN CERTIFICATE-----\n/);
    assert.match(readFileSync(prov('aastra.cfg'), 'utf8'), /\S/);
  });

  test('a bad vendor option is refused with a clear message and nothing is added', () => {
    const r = cli('phone', 'add', 'badopt', '--vendor', 'yealink', '--mac', '80:5e:c0:00:00:01', '--option', 'colour=red');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown yealink option 'colour'; known: model, validate_cn/);
    const r2 = cli('phone', 'add', 'badopt', '--vendor', 'cisco-spa', '--mac', '00:0e:08:00:00:01', '--option', 'model=7960');
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /unknown SPA model '7960'/);
    assert.ok(!ok(cli('phone', 'list', '--json'), 'phone list').stdout.includes('badopt'));
  });

  test('the route table serves every vendor\'s boot files, case-insensitively, with aliases and owners', async () => {
    const table = await buildRoutes(await CaStore.open(home));
    const expectRoute = (p: string, owner: string | undefined, holdsKey = false) => {
      const r = table.lookup(p);
      assert.ok(r, `no route for ${p}`);
      assert.equal(r.phone, owner, `${p} owner`);
      assert.equal(r.holdsKey, holdsKey, `${p} holdsKey`);
    };
    expectRoute('aastra.cfg', undefined);
    expectRoute('00085d123456.cfg', 'telefono1');
    expectRoute('00085D123456-key.pem', 'telefono1', true);
    expectRoute('spa504G.cfg', undefined);
    expectRoute('spa000e08aabbcc.xml', 'spa');
    expectRoute('cfg000b82123456', 'gxp');
    expectRoute('CFG000B82123456.BIN', 'gxp');
    expectRoute('cfg000b82123456.xml', 'gxp', true);
    expectRoute('y000000000028.cfg', undefined);
    expectRoute('805ec0123456-cert.pem', 't46', true);
    expectRoute('0004F2123456.cfg', 'vvx');
    expectRoute('snom320-000413a1b2c3.htm', 'snom1');
    for (const r of table.routes) assert.equal(r.holdsKey, r.content.includes('PRIVATE KEY'), `${r.path}: holdsKey`);
  });

  test('sipsec dhcp prints per-MAC options for the inventory; bad vendors are errors', () => {
    const r = ok(cli('dhcp'), 'dhcp');
    for (const mac of ['00:08:5d:12:34:56', '00:0e:08:aa:bb:cc', '00:0b:82:12:34:56', '80:5e:c0:12:34:56', '00:04:f2:12:34:56', '00:04:13:a1:b2:c3']) {
      assert.match(r.stdout, new RegExp(`^dhcp-host=${mac},set:sipsec-`, 'm'));
    }
    assert.match(r.stdout, /^dhcp-option=tag:sipsec-cisco-spa,150,10\.0\.1\.133$/m);
    assert.match(r.stdout, /^dhcp-option=tag:sipsec-polycom,160,"tftp:\/\/10\.0\.1\.133\/"$/m);
    const isc = ok(cli('dhcp', '--vendor', 'aastra', '--format', 'isc'), 'dhcp isc');
    // The recorded address is reserved (fixed-address): TFTP answers telefono1 only from it.
    assert.match(isc.stdout, /host sipsec-telefono1 \{\n {2}hardware ethernet 00:08:5d:12:34:56;\n {2}fixed-address 10\.0\.1\.132;\n {2}option tftp-server-name "10\.0\.1\.133";\n\}/);
    const json = JSON.parse(ok(cli('dhcp', '--vendor', 'polycom', '--json'), 'dhcp --json').stdout) as { vendors: Array<{ vendor: string; phones: Array<{ name: string }> }> };
    assert.deepEqual(
      json.vendors.map((v) => [v.vendor, v.phones.map((p) => p.name)]),
      [['polycom', ['vvx']]],
    );
    const bad = cli('dhcp', '--vendor', 'nokia');
    // An unknown vendor is bad input (README: exit 2), as issue 11 asks; it was 1.
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^error: unknown vendor 'nokia' \(choose one of: aastra, cisco-spa/m);
    const badFormat = cli('dhcp', '--format', 'windows');
    assert.equal(badFormat.code, 2);
  });

  test('phone remove takes the phone\'s files away; a vendor-wide file goes with its vendor\'s last phone, as its route does', async () => {
    ok(cli('phone', 'remove', 'telefono1'), 'phone remove');
    for (const f of ['00085D123456.cfg', '00085D123456-key.pem', '00085D123456-cert.pem']) assert.ok(!existsSync(prov(f)), `${f} still there`);
    // telefono1 was the only Aastra phone: nothing serves aastra.cfg any more, and the tree follows.
    assert.equal((await buildRoutes(await CaStore.open(home))).lookup('aastra.cfg'), undefined);
    assert.ok(!existsSync(prov('aastra.cfg')));
    for (const f of ['cfg000b82123456.xml', 'spa504G.cfg', 'y000000000028.cfg', 'snom320.htm']) assert.ok(existsSync(prov(f)), `${f} removed with another vendor's phone`);
  });
});
