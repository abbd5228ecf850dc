import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import aastra from '../../src/vendors/aastra.js';
import type { RenderedFile } from '../../src/vendors/types.js';
import { FIXTURE_CA_PEM, FIXTURE_CERT_PEM, FIXTURE_KEY_LEGACY_PEM } from './fixture.js';
import { byPath, checkOptionRejected, checkOptionsRoundTrip, hardwareSuite, renderFixture, text, type Rendering } from './hardware-checks.js';

const MAC = '00085d123456';
const CFG = '00085D123456.cfg';
const base = { phone: { mac: MAC } };

/**
 * An Aastra file as the phone reads it (vendors.md §2.2): every line is
 * blank, a `#` comment, or `name: value`; names are case-insensitive.
 */
function parseAastra(f: RenderedFile): Map<string, string> {
  const map = new Map<string, string>();
  text(f)
    .split('\n')
    .forEach((line, n) => {
      if (line.trim() === '' || line.startsWith('#')) return;
      const m = /^([a-z0-9][a-z0-9 ]*[a-z0-9]): (\S.*)$/i.exec(line);
      assert.ok(m, `${f.path} line ${n + 1} is not 'name: value': ${line}`);
      const key = m[1]!.toLowerCase();
      assert.ok(!map.has(key), `${f.path} sets '${key}' twice`);
      map.set(key, m[2]!);
    });
  return map;
}

const cfgOf = (r: Rendering) => parseAastra(byPath(r.files, CFG));
const CERT_KEYS = ['sips trusted certificates', 'sips root and intermediate certificates', 'sips local certificate', 'sips private key'];

describe('aastra', () => {
  hardwareSuite(
    aastra,
    {
      golden: 'aastra',
      overrides: base,
      references: (r) => CERT_KEYS.map((k) => cfgOf(r).get(k)!),
      addressesSeen: () => ['sip.example.net', '5071', 'time.example.net'],
      structure: (r) => {
        for (const f of r.files.filter((x) => x.path.endsWith('.cfg'))) parseAastra(f);
        for (const f of r.files.filter((x) => x.path.endsWith('.pem'))) assert.match(text(f), /^-----BEGIN [A-Z ]+-----\n[\s\S]+-----END [A-Z ]+-----\n$/);
      },
    },
    test,
  );

  test('aastra.cfg is shared and never empty (an empty one stops the boot)', () => {
    for (const ntp of ['10.0.1.1', undefined]) {
      const f = byPath(renderFixture(aastra, { ...base, ntp }).sharedFiles, 'aastra.cfg');
      assert.ok(f.content.toString().trim().length > 0);
      assert.equal(f.phone, undefined);
    }
  });

  test('<MAC>.cfg: TLS transport, registrar from the context, credentials, line 1', () => {
    const r = renderFixture(aastra, base);
    const cfg = cfgOf(r);
    assert.equal(cfg.get('sip transport protocol'), '4');
    assert.equal(cfg.get('sip line1 proxy ip'), 'pbx.mycompany.com');
    assert.equal(cfg.get('sip line1 proxy port'), '5061');
    assert.equal(cfg.get('sip line1 registrar ip'), 'pbx.mycompany.com');
    assert.equal(cfg.get('sip line1 registrar port'), '5061');
    assert.equal(cfg.get('sip line1 user name'), '101');
    assert.equal(cfg.get('sip line1 auth name'), '101');
    assert.equal(cfg.get('sip line1 password'), r.ctx.phone.secret);
    assert.equal(cfg.get('sip line1 display name'), 'Telefono Uno');
    assert.equal(cfg.get('time server1'), '10.0.1.1');
    assert.equal(cfg.get('time server disabled'), '0');
  });

  test('persistent TLS through the registrar as outbound proxy by default; optional', () => {
    const on = cfgOf(renderFixture(aastra, base));
    assert.equal(on.get('sips persistent tls'), '1');
    assert.equal(on.get('sip outbound proxy'), 'pbx.mycompany.com');
    assert.equal(on.get('sip outbound proxy port'), '5061');
    const off = cfgOf(renderFixture(aastra, { phone: { mac: MAC, options: { persistent_tls: 'no' } } }));
    assert.equal(off.get('sips persistent tls'), '0');
    assert.equal(off.get('sip outbound proxy'), undefined);
  });

  test('the four certificate settings name separate PEM files with the right content', () => {
    const r = renderFixture(aastra, base);
    const cfg = cfgOf(r);
    const content = (key: string) => text(byPath(r.files, cfg.get(key)!));
    assert.equal(content('sips trusted certificates'), FIXTURE_CA_PEM);
    assert.equal(content('sips root and intermediate certificates'), FIXTURE_CA_PEM);
    assert.equal(content('sips local certificate'), FIXTURE_CERT_PEM);
    assert.equal(content('sips private key'), FIXTURE_KEY_LEGACY_PEM);
    // Bare file names, fetched from the same server (the documented "Filename" form).
    for (const k of CERT_KEYS) assert.match(cfg.get(k)!, /^[0-9A-F]{12}-[a-z]+\.pem$/);
  });

  test('SRTP mode per phone: mandatory 2, optional 1, off 0 (globally and on the line)', () => {
    for (const [srtp, mode] of [['mandatory', '2'], ['optional', '1'], ['off', '0']] as const) {
      const cfg = cfgOf(renderFixture(aastra, { phone: { mac: MAC, srtp } }));
      assert.equal(cfg.get('sip srtp mode'), mode, srtp);
      assert.equal(cfg.get('sip line1 srtp mode'), mode, srtp);
    }
  });

  test('another line number moves the line settings', () => {
    const cfg = cfgOf(renderFixture(aastra, { phone: { mac: MAC, line: 3 } }));
    assert.equal(cfg.get('sip line3 registrar port'), '5061');
    assert.equal(cfg.get('sip line1 registrar port'), undefined);
  });

  test('a value holding # is quoted, not cut off as a comment', () => {
    const cfg = cfgOf(renderFixture(aastra, { phone: { mac: MAC, displayName: 'Desk #2', secret: 'pa#ss-word-123' } }));
    assert.equal(cfg.get('sip line1 display name'), '"Desk #2"');
    assert.equal(cfg.get('sip line1 password'), '"pa#ss-word-123"');
  });

  test('options: strings coerced, stored form parses again, bad values refused', () => {
    assert.deepEqual(checkOptionsRoundTrip(aastra, { persistent_tls: 'No' }), { persistent_tls: false });
    assert.deepEqual(checkOptionsRoundTrip(aastra, { persistent_tls: 'on' }), { persistent_tls: true });
    checkOptionRejected(aastra, { persistent_tls: 'maybe' }, /expected yes or no/);
    checkOptionRejected(aastra, { model: '57i' }, /unknown aastra option 'model'; known: persistent_tls/);
  });

  test('offers AES_CM_128_HMAC_SHA1_80 only (the unverified _32 crash report)', () => {
    assert.deepEqual(aastra.descriptor.srtp.suites, ['AES_CM_128_HMAC_SHA1_80']);
    assert.equal(aastra.descriptor.tls.min, '1.0');
  });
});
