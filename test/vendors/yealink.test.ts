import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import yealink from '../../src/vendors/yealink.js';
import type { RenderedFile } from '../../src/vendors/types.js';
import { FIXTURE_CA_PEM, FIXTURE_CERT_PEM, FIXTURE_KEY_LEGACY_PEM, FIXTURE_PHONE } from './fixture.js';
import { byPath, checkOptionRejected, checkOptionsRoundTrip, hardwareSuite, renderFixture, text, urlToRoute, type Rendering } from './hardware-checks.js';

const MAC = '805ec0123456';
const base = { phone: { mac: MAC } };
const MAC_CFG = `${MAC}.cfg`;
const COMMON = 'y000000000028.cfg';

/** A Yealink file (vendors.md §5.2): first line exactly `#!version:1.0.0.1`, then `key = value`, `#` comments, blanks. */
function parseYealink(f: RenderedFile): Map<string, string> {
  const lines = text(f).split('\n');
  assert.equal(lines[0], '#!version:1.0.0.1', `${f.path}: the first line must be exactly #!version:1.0.0.1`);
  const map = new Map<string, string>();
  lines.slice(1).forEach((line, n) => {
    if (line.trim() === '' || line.startsWith('#')) return;
    const m = /^([a-z0-9_]+(?:\.[a-z0-9_]+)+) = (\S.*)$/.exec(line);
    assert.ok(m, `${f.path} line ${n + 2} is not 'key = value': ${line}`);
    assert.ok(!map.has(m[1]!), `${f.path} sets ${m[1]} twice`);
    map.set(m[1]!, m[2]!);
  });
  return map;
}

const macCfg = (r: Rendering) => parseYealink(byPath(r.files, MAC_CFG));
const URL_KEYS = ['static.trusted_certificates.url', 'static.server_certificates.url'];

describe('yealink', () => {
  hardwareSuite(
    yealink,
    {
      golden: 'yealink',
      overrides: base,
      references: (r) => {
        const refs = URL_KEYS.map((k) => urlToRoute(macCfg(r).get(k)!, [r.ctx.provisioningUrl]));
        refs.push(urlToRoute(parseYealink(byPath(r.files, COMMON)).get('static.trusted_certificates.url')!, [r.ctx.provisioningUrl]));
        return refs;
      },
      addressesSeen: () => ['sip.example.net', '5071', 'time.example.net', 'http://prov.example.net:8080/p/yealink-ca.pem'],
      structure: (r) => {
        for (const f of r.files.filter((x) => x.path.endsWith('.cfg'))) parseYealink(f);
        for (const f of r.files.filter((x) => x.path.endsWith('.pem'))) assert.match(text(f), /^(-----BEGIN [A-Z ]+-----\n[A-Za-z0-9+/=\n]+-----END [A-Z ]+-----\n)+$/);
      },
    },
    test,
  );

  test('account over TLS to the registrar from the context', () => {
    const r = renderFixture(yealink, base);
    const c = macCfg(r);
    assert.equal(c.get('account.1.enable'), '1');
    assert.equal(c.get('account.1.sip_server.1.address'), 'pbx.mycompany.com');
    assert.equal(c.get('account.1.sip_server.1.port'), '5061');
    assert.equal(c.get('account.1.sip_server.1.transport_type'), '2');
    assert.equal(c.get('account.1.user_name'), '101');
    assert.equal(c.get('account.1.auth_name'), '101');
    assert.equal(c.get('account.1.password'), r.ctx.phone.secret);
    assert.equal(c.get('account.1.display_name'), 'Telefono Uno');
    assert.equal(c.get('local_time.ntp_server1'), '10.0.1.1');
  });

  test('certificates: CA and own certificate+key by URL, validation and CN check on', () => {
    const r = renderFixture(yealink, base);
    const c = macCfg(r);
    assert.equal(c.get('static.trusted_certificates.url'), 'https://pbx.mycompany.com/provision/yealink-ca.pem');
    assert.equal(c.get('static.server_certificates.url'), `https://pbx.mycompany.com/provision/${MAC}-cert.pem`);
    assert.equal(c.get('static.security.trust_certificates'), '1');
    assert.equal(c.get('static.security.cn_validation'), '1');
    assert.equal(text(byPath(r.files, 'yealink-ca.pem')), FIXTURE_CA_PEM);
    assert.equal(text(byPath(r.files, `${MAC}-cert.pem`)), FIXTURE_CERT_PEM + FIXTURE_KEY_LEGACY_PEM);
    const off = macCfg(renderFixture(yealink, { phone: { mac: MAC, options: { validate_cn: 'no' } } }));
    assert.equal(off.get('static.security.cn_validation'), '0');
  });

  test('SRTP: mandatory 2, optional 1, off 0 (the reading that never encrypts less than asked)', () => {
    for (const [srtp, v] of [['mandatory', '2'], ['optional', '1'], ['off', '0']] as const) {
      assert.equal(macCfg(renderFixture(yealink, { phone: { mac: MAC, srtp } })).get('account.1.srtp_encryption'), v, srtp);
    }
  });

  test('account N follows the phone line', () => {
    const c = macCfg(renderFixture(yealink, { phone: { mac: MAC, line: 4 } }));
    assert.equal(c.get('account.4.sip_server.1.transport_type'), '2');
    assert.equal(c.get('account.1.sip_server.1.transport_type'), undefined);
  });

  test('common file name from the model option (firmware prefix), one per model in use', () => {
    const names = (options: Record<string, string>) => renderFixture(yealink, { phone: { mac: MAC, options } }).sharedFiles.map((f) => f.path);
    assert.deepEqual(names({}), [COMMON, 'yealink-ca.pem']);
    assert.deepEqual(names({ model: 't48g' }), ['y000000000035.cfg', 'yealink-ca.pem']);
    assert.deepEqual(names({ model: '66' }), ['y000000000066.cfg', 'yealink-ca.pem']);
    const shared = yealink.renderShared!({
      ...renderFixture(yealink, base).shared,
      phones: [
        { ...FIXTURE_PHONE, vendor: 'yealink', mac: MAC, options: { model: 'T41P' } },
        { ...FIXTURE_PHONE, name: 'b', vendor: 'yealink', mac: '805ec0123457', options: { model: 'T46G' } },
      ],
    });
    assert.deepEqual(
      shared.map((f) => f.path),
      ['y000000000036.cfg', COMMON, 'yealink-ca.pem'],
    );
  });

  test('instructions warn when the CA would be fetched over HTTPS before it is trusted', () => {
    assert.match(yealink.instructions!(renderFixture(yealink, base).ctx).join('\n'), /over HTTPS before it trusts that CA/);
    assert.equal(yealink.instructions!(renderFixture(yealink, { ...base, provisioningUrl: 'http://10.0.1.133/' }).ctx).length, 1);
  });

  test('options: model and validate_cn', () => {
    assert.deepEqual(checkOptionsRoundTrip(yealink, { model: 't46g', validate_cn: 'false' }), { model: 'T46G', validate_cn: false });
    assert.deepEqual(checkOptionsRoundTrip(yealink, { model: '028' }), { model: '28' });
    checkOptionRejected(yealink, { model: 'T99X' }, /unknown Yealink model 'T99X'; known: .*firmware prefix/);
    checkOptionRejected(yealink, { validate_cn: '2' }, /expected yes or no/);
    checkOptionRejected(yealink, { model: '0' }, /unknown Yealink model '0'/);
  });

  test('never offers AES_256 (firmware 87 has no audio with it)', () => {
    assert.ok(!yealink.descriptor.srtp.suites.some((s) => s.includes('256')));
  });
});
