import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import polycom from '../../src/vendors/polycom.js';
import { FIXTURE_CA_PEM, FIXTURE_CERT_PEM, FIXTURE_KEY_LEGACY_PEM } from './fixture.js';
import { checkGolden } from './golden.js';
import { byPath, checkKeyFlags, checkOptionRejected, checkOptionsRoundTrip, checkRoutes, hardwareSuite, renderFixture, text, type Rendering } from './hardware-checks.js';
import { attributes, parseXml } from './xml-tree.js';

const MAC = '0004f2123456';
const base = { phone: { mac: MAC } };
const MASTER = `${MAC}.cfg`;
const PHONE = `${MAC}-sipsec.cfg`;
const CERT = `${MAC}-sipsec-cert.cfg`;

/** The master file: one <APPLICATION> element; CONFIG_FILES is a comma-separated list. */
function configFiles(r: Rendering): string[] {
  const root = parseXml(text(byPath(r.files, MASTER)));
  assert.equal(root.name, 'APPLICATION');
  assert.equal(root.children.length, 0);
  return root.attrs
    .get('CONFIG_FILES')!
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** A polycomConfig file, every parameter once, as the phone reads it (entities decoded). */
function params(r: Rendering, file: string): Map<string, string> {
  const root = parseXml(text(byPath(r.files, file)));
  assert.equal(root.name, 'polycomConfig');
  const map = attributes(root);
  // device.* parameters only apply with device.set="1" and their own .set="1" (vendors.md §6).
  const deviceParams = [...map.keys()].filter((k) => k.startsWith('device.') && !k.endsWith('.set') && k !== 'device.set');
  if (deviceParams.length > 0) assert.equal(map.get('device.set'), '1');
  for (const k of deviceParams) assert.equal(map.get(`${k}.set`), '1', `${k} without ${k}.set="1"`);
  return map;
}

describe('polycom', () => {
  hardwareSuite(
    polycom,
    {
      golden: 'polycom',
      overrides: base,
      // APP_FILE_PATH names firmware, which sipsec does not serve (operator-provided): not a config reference.
      references: (r) => [MASTER, ...configFiles(r)],
      addressesSeen: () => ['sip.example.net', '5071', 'time.example.net'],
      structure: (r) => {
        configFiles(r);
        for (const f of r.files.filter((x) => x.path !== MASTER)) params(r, f.path);
      },
    },
    test,
  );

  test('registration over TLS to the registrar from the context, line N', () => {
    const r = renderFixture(polycom, base);
    const p = params(r, PHONE);
    assert.equal(p.get('reg.1.server.1.transport'), 'TLS');
    assert.equal(p.get('reg.1.server.1.address'), 'pbx.mycompany.com');
    assert.equal(p.get('reg.1.server.1.port'), '5061');
    assert.equal(p.get('reg.1.address'), '101');
    assert.equal(p.get('reg.1.auth.userId'), '101');
    assert.equal(p.get('reg.1.auth.password'), r.ctx.phone.secret);
    assert.equal(p.get('reg.1.displayName'), 'Telefono Uno');
    assert.equal(p.get('device.sntp.serverName'), '10.0.1.1');
    const l3 = params(renderFixture(polycom, { phone: { mac: MAC, line: 3 } }), PHONE);
    assert.equal(l3.get('reg.3.server.1.transport'), 'TLS');
  });

  test('the CA is inline and reads back as the exact PEM, newlines included', () => {
    const p = params(renderFixture(polycom, base), PHONE);
    assert.equal(p.get('device.sec.TLS.customCaCert1'), FIXTURE_CA_PEM);
    assert.equal(p.get('sec.TLS.profileSelection.SIP'), 'PlatformProfile1');
  });

  test('SRTP enable/offer/require: mandatory 1/1/1, optional 1/1/0, off 0/0/0', () => {
    for (const [srtp, e, o, q] of [
      ['mandatory', '1', '1', '1'],
      ['optional', '1', '1', '0'],
      ['off', '0', '0', '0'],
    ] as const) {
      const p = params(renderFixture(polycom, { phone: { mac: MAC, srtp } }), PHONE);
      assert.deepEqual([p.get('sec.srtp.enable'), p.get('sec.srtp.offer'), p.get('sec.srtp.require')], [e, o, q], srtp);
    }
  });

  test('no key by default; device_cert=yes adds a separate key file listed in CONFIG_FILES', () => {
    const plain = renderFixture(polycom, base);
    assert.deepEqual(configFiles(plain), [PHONE]);
    assert.ok(plain.files.every((f) => !f.holdsKey));
    const withCert = renderFixture(polycom, { phone: { mac: MAC, options: { device_cert: 'yes' } } });
    assert.deepEqual(configFiles(withCert), [PHONE, CERT]);
    checkKeyFlags(withCert.files);
    checkRoutes(polycom, withCert.files, configFiles(withCert));
    const p = params(withCert, CERT);
    assert.equal(p.get('device.sec.TLS.customDeviceCert1.publicCert'), FIXTURE_CERT_PEM);
    assert.equal(p.get('device.sec.TLS.customDeviceCert1.privateKey'), FIXTURE_KEY_LEGACY_PEM);
    assert.equal(byPath(withCert.files, CERT).holdsKey, true);
    assert.equal(byPath(withCert.files, PHONE).holdsKey, false);
    assert.match(text(byPath(withCert.files, CERT)), /UNVERIFIED/);
    checkGolden('polycom-device-cert', withCert.files);
  });

  test('attribute specials are escaped and read back', () => {
    const p = params(renderFixture(polycom, { phone: { mac: MAC, displayName: 'R&D "lab" <1>' } }), PHONE);
    assert.equal(p.get('reg.1.displayName'), 'R&D "lab" <1>');
  });

  test('options: app_file and device_cert', () => {
    assert.deepEqual(checkOptionsRoundTrip(polycom, { app_file: 'firmware/sip.ld', device_cert: 'no' }), { app_file: 'firmware/sip.ld', device_cert: false });
    const r = renderFixture(polycom, { phone: { mac: MAC, options: { app_file: 'fw/sip.ld' } } });
    assert.equal(parseXml(text(byPath(r.files, MASTER))).attrs.get('APP_FILE_PATH'), 'fw/sip.ld');
    checkOptionRejected(polycom, { app_file: '../etc/passwd' }, /relative file name|no \.\./);
    checkOptionRejected(polycom, { app_file: 'a"b' }, /relative file name/);
  });
});
