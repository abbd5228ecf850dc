import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import ciscoSpa from '../../src/vendors/cisco-spa.js';
import { FIXTURE_PHONE } from './fixture.js';
import { byPath, checkOptionRejected, checkOptionsRoundTrip, hardwareSuite, renderFixture, text, urlToRoute, type Rendering } from './hardware-checks.js';
import { parseXml, textOf, type XmlElement } from './xml-tree.js';

const MAC = '000e08aabbcc';
const base = { phone: { mac: MAC } };
const PHONE_FILE = `spa${MAC}.xml`;

/** A flat profile: root <flat-profile>, one level of parameter elements, no parameter twice. */
function flatProfile(xml: string): XmlElement {
  const root = parseXml(xml);
  assert.equal(root.name, 'flat-profile');
  const seen = new Set<string>();
  for (const c of root.children) {
    assert.equal(c.children.length, 0, `<${c.name}> has children: flat profiles are flat`);
    assert.ok(!seen.has(c.name), `<${c.name}> twice (the last one would silently win)`);
    seen.add(c.name);
  }
  return root;
}

const phoneXml = (r: Rendering) => flatProfile(text(byPath(r.files, PHONE_FILE)));

/** What $MA expands to for this phone [V] SPA-MACRO: the lower-case MAC. */
const expandMacros = (rule: string, mac: string) => rule.replace(/\$MAU/g, mac.toUpperCase()).replace(/\$MA/g, mac.toLowerCase());

describe('cisco-spa', () => {
  hardwareSuite(
    ciscoSpa,
    {
      golden: 'cisco-spa',
      overrides: base,
      references: (r) => {
        const initial = flatProfile(text(byPath(r.files, 'spa525G.cfg')));
        const rule = expandMacros(textOf(initial, 'Profile_Rule_B'), MAC);
        return ['spa525G.cfg', urlToRoute(rule, [`tftp://${r.ctx.tftpServer}/`])];
      },
      addressesSeen: () => ['sip.example.net:5071', 'tftp://192.0.2.69/spa$MA.xml', 'time.example.net'],
      structure: (r) => {
        for (const f of r.files) flatProfile(text(f));
      },
    },
    test,
  );

  test('the first file is spa$PSN.cfg (upper-case G), shared, from the model option', () => {
    assert.deepEqual(
      renderFixture(ciscoSpa, base).sharedFiles.map((f) => f.path),
      ['spa525G.cfg'],
    );
    const r = renderFixture(ciscoSpa, { phone: { mac: MAC, options: { model: 'spa504g' } } });
    assert.deepEqual(
      r.sharedFiles.map((f) => f.path),
      ['spa504G.cfg'],
    );
    assert.ok(r.ctx.options.model === '504G');
  });

  test('one spa$PSN.cfg per model in use', () => {
    const shared = ciscoSpa.renderShared!({
      ...renderFixture(ciscoSpa, base).shared,
      phones: [
        { ...FIXTURE_PHONE, vendor: 'cisco-spa', mac: MAC, options: { model: '508G' } },
        { ...FIXTURE_PHONE, name: 'b', vendor: 'cisco-spa', mac: '000e08aabbcd', options: {} },
        { ...FIXTURE_PHONE, name: 'c', vendor: 'cisco-spa', mac: '000e08aabbce', options: { model: '508G' } },
      ],
    });
    assert.deepEqual(
      shared.map((f) => f.path),
      ['spa508G.cfg', 'spa525G.cfg'],
    );
  });

  test('per-phone profile: TLS, Proxy host:port, s-descriptor SRTP, NTP, credentials', () => {
    const r = renderFixture(ciscoSpa, base);
    const x = phoneXml(r);
    assert.equal(textOf(x, 'SIP_Transport_1_'), 'TLS');
    assert.equal(textOf(x, 'Proxy_1_'), 'pbx.mycompany.com:5061');
    assert.equal(textOf(x, 'Use_DNS_SRV_1_'), 'No');
    assert.equal(textOf(x, 'SRTP_Method'), 's-descriptor');
    assert.equal(textOf(x, 'Secure_Call_Setting'), 'Yes');
    assert.equal(textOf(x, 'User_ID_1_'), '101');
    assert.equal(textOf(x, 'Auth_ID_1_'), '101');
    assert.equal(textOf(x, 'Password_1_'), r.ctx.phone.secret);
    assert.equal(textOf(x, 'Display_Name_1_'), 'Telefono Uno');
    assert.equal(textOf(x, 'Primary_NTP_Server'), '10.0.1.1');
    // SIP_Port is the phone's own port, never the registrar's.
    assert.throws(() => textOf(x, 'SIP_Port_1_'));
  });

  test('no certificate, key or CA is sent: SPA5xx cannot use them', () => {
    const r = renderFixture(ciscoSpa, base);
    for (const f of r.files) assert.ok(!text(f).includes('-----BEGIN'), f.path);
    assert.equal(ciscoSpa.descriptor.tls.clientCert, false);
    assert.ok(!ciscoSpa.descriptor.transports.includes('https'), 'HTTPS provisioning needs a Cisco-signed server');
    assert.match(ciscoSpa.instructions!(r.ctx).join(' '), /client certificates are not supported/);
  });

  test('SRTP: mandatory and optional turn secure calls on, off turns them off', () => {
    for (const [srtp, v] of [['mandatory', 'Yes'], ['optional', 'Yes'], ['off', 'No']] as const) {
      const x = phoneXml(renderFixture(ciscoSpa, { phone: { mac: MAC, srtp } }));
      assert.equal(textOf(x, 'Secure_Call_Serv'), v, srtp);
      assert.equal(textOf(x, 'Secure_Call_Setting'), v, srtp);
      assert.equal(textOf(x, 'SRTP_Method'), 's-descriptor');
    }
  });

  test('line N uses the _N_ parameters', () => {
    const x = phoneXml(renderFixture(ciscoSpa, { phone: { mac: MAC, line: 2 } }));
    assert.equal(textOf(x, 'SIP_Transport_2_'), 'TLS');
    assert.throws(() => textOf(x, 'SIP_Transport_1_'));
  });

  test('XML specials in values are escaped', () => {
    const x = phoneXml(renderFixture(ciscoSpa, { phone: { mac: MAC, displayName: 'R&D <lab>' } }));
    assert.equal(textOf(x, 'Display_Name_1_'), 'R&D <lab>');
  });

  test('options: model canonicalised, unknown models refused', () => {
    assert.deepEqual(checkOptionsRoundTrip(ciscoSpa, { model: 'SPA525g2' }), { model: '525G2' });
    assert.deepEqual(checkOptionsRoundTrip(ciscoSpa, { model: '303' }), { model: '303' });
    checkOptionRejected(ciscoSpa, { model: '7960' }, /unknown SPA model '7960'; known: 301/);
  });
});
