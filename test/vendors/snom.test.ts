import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import snom from '../../src/vendors/snom.js';
import { FIXTURE_PHONE } from './fixture.js';
import { byPath, checkOptionRejected, checkOptionsRoundTrip, hardwareSuite, renderFixture, text, urlToRoute, type Rendering } from './hardware-checks.js';
import { findAll, parseXml, type XmlElement } from './xml-tree.js';

const MAC = '000413a1b2c3';
const UMAC = MAC.toUpperCase();
const base = { phone: { mac: MAC } };
const SETTINGS = `${UMAC}.xml`;

/** A <setting-files> list: the URLs it names. */
function settingFiles(xml: string): string[] {
  const root = parseXml(xml);
  assert.equal(root.name, 'setting-files');
  assert.ok(root.children.length > 0);
  return root.children.map((c) => {
    assert.equal(c.name, 'file');
    return c.attrs.get('url')!;
  });
}

/** <settings><phone-settings> with `<name idx="N" perm="...">value</name>`; name+idx once each. */
function settings(r: Rendering): Map<string, XmlElement> {
  const root = parseXml(text(byPath(r.files, SETTINGS)));
  assert.equal(root.name, 'settings');
  const ps = findAll(root, 'phone-settings');
  assert.equal(ps.length, 1);
  const map = new Map<string, XmlElement>();
  for (const e of ps[0]!.children) {
    const key = e.attrs.has('idx') ? `${e.name}#${e.attrs.get('idx')}` : e.name;
    assert.ok(!map.has(key), `${key} twice`);
    map.set(key, e);
  }
  return map;
}

const value = (m: Map<string, XmlElement>, key: string) => m.get(key)?.text;

/** What the phone does with {mac} in a URL (case irrelevant: routes are case-insensitive). */
const expand = (url: string) => url.replace('{mac}', MAC);

describe('snom', () => {
  hardwareSuite(
    snom,
    {
      golden: 'snom',
      overrides: base,
      references: (r) => {
        const bases = [r.ctx.provisioningUrl];
        const first = settingFiles(text(byPath(r.files, 'snom320.htm'))).map((u) => urlToRoute(expand(u), bases));
        const second = first.flatMap((p) => settingFiles(text(byPath(r.files, r.files.find((f) => f.path.toLowerCase() === p.toLowerCase())!.path)))).map((u) => urlToRoute(u, bases));
        return ['snom320.htm', ...first, ...second];
      },
      addressesSeen: () => ['sip.example.net:5071;transport=tls', 'time.example.net', 'http://prov.example.net:8080/p/'],
      structure: (r) => {
        for (const f of r.files.filter((x) => x.path.endsWith('.htm'))) settingFiles(text(f));
        settings(r);
      },
    },
    test,
  );

  test('identity over TLS: registrar and outbound proxy with ;transport=tls from the context', () => {
    const r = renderFixture(snom, base);
    const s = settings(r);
    assert.equal(value(s, 'user_host#1'), 'pbx.mycompany.com:5061;transport=tls');
    assert.equal(value(s, 'user_outbound#1'), 'pbx.mycompany.com:5061;transport=tls');
    assert.equal(value(s, 'user_name#1'), '101');
    assert.equal(value(s, 'user_pname#1'), '101');
    assert.equal(value(s, 'user_pass#1'), r.ctx.phone.secret);
    assert.equal(value(s, 'user_realname#1'), 'Telefono Uno');
    assert.equal(value(s, 'user_active#1'), 'on');
    assert.equal(value(s, 'ntp_server'), '10.0.1.1');
  });

  test('SRTP: user_srtp and user_savp per mode, 80-bit tag', () => {
    for (const [srtp, on, savp] of [
      ['mandatory', 'on', 'mandatory'],
      ['optional', 'on', 'optional'],
      ['off', 'off', 'off'],
    ] as const) {
      const s = settings(renderFixture(snom, { phone: { mac: MAC, srtp } }));
      assert.equal(value(s, 'user_srtp#1'), on, srtp);
      assert.equal(value(s, 'user_savp#1'), savp, srtp);
      assert.equal(value(s, 'user_auth_tag#1'), 'off');
    }
  });

  test('identity N follows the phone line', () => {
    const s = settings(renderFixture(snom, { phone: { mac: MAC, line: 2 } }));
    assert.equal(value(s, 'user_outbound#2'), 'pbx.mycompany.com:5061;transport=tls');
    assert.equal(s.has('user_outbound#1'), false);
  });

  test('model names the setting files; one shared file per model in use', () => {
    const r = renderFixture(snom, { phone: { mac: MAC, options: { model: 'snomD715' } } });
    assert.deepEqual(
      r.files.map((f) => f.path),
      ['snomD715.htm', `snomD715-${UMAC}.htm`, SETTINGS],
    );
    const shared = snom.renderShared!({
      ...r.shared,
      phones: [
        { ...FIXTURE_PHONE, vendor: 'snom', mac: MAC, options: { model: '370' } },
        { ...FIXTURE_PHONE, name: 'b', vendor: 'snom', mac: '000413a1b2c4', options: {} },
      ],
    });
    assert.deepEqual(
      shared.map((f) => f.path),
      ['snom320.htm', 'snom370.htm'],
    );
  });

  test('no certificate or key is delivered; the descriptor says so', () => {
    const r = renderFixture(snom, base);
    for (const f of r.files) assert.ok(!text(f).includes('-----BEGIN'), f.path);
    assert.equal(snom.descriptor.tls.clientCert, false);
    assert.equal(snom.descriptor.srtp.avpCrypto, true);
    assert.ok(snom.descriptor.srtp.suites.includes('AES_CM_128_HMAC_SHA1_32'), 'Snom offers _32: the registrar must know it');
  });

  test('options: model', () => {
    assert.deepEqual(checkOptionsRoundTrip(snom, { model: 'snom370' }), { model: '370' });
    assert.deepEqual(checkOptionsRoundTrip(snom, { model: 'd785' }), { model: 'D785' });
    checkOptionRejected(snom, { model: 'snom-3000' }, /invalid Snom model/);
  });
});
