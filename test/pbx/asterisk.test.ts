import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { isSipsecError } from '../../src/core/errors.js';
import { asteriskConfig, confValue } from '../../src/pbx/asterisk.js';
import { kamailioConfig } from '../../src/pbx/kamailio.js';
import { writePbxFiles } from '../../src/pbx/server-tls.js';
import { revokeCert } from '../../src/home/operations.js';
import { addTestPhones, addTestServer, noPassphrase, tempCa } from '../helpers/ca-home.js';
import { checkPbxGolden } from './golden.js';
import { parseIni, type IniSection } from '../vendors/wellformed.js';

/**
 * No Asterisk binary in `npm test` (Debian has none; it takes minutes to
 * build): the configs are checked key by key against the option names of AST
 * configs/samples/pjsip.conf.sample and main/tcptls.c ast_tls_read_conf, and
 * byte for byte against golden files (test/pbx/golden/), which are what a real
 * Asterisk 20 loaded and served calls with in `npm run interop -- asterisk`.
 */

const SECRET_WITH_SEMICOLON = 'abc;defgh99';

async function astCa() {
  const ca = await tempCa({ registrar: { host: 'pbx.test', port: 5061 } });
  await addTestServer(ca.store, 'pbx.test', ['10.0.1.133']);
  await addTestPhones(ca.store, [
    { name: 'telefono1', vendor: 'baresip', ext: '101', displayName: 'Ana; Lab', secret: 'Secret101xyz' },
    { name: 'telefono2', vendor: 'linphone', ext: '102', srtp: 'optional', secret: SECRET_WITH_SEMICOLON },
    { name: 'softphone3', vendor: 'bria', srtp: 'off', secret: 'Secret103xyz' },
  ]);
  return ca;
}

/** The section of that name and type (Asterisk lets an endpoint, an auth and an aor share a name). */
function typed(sections: IniSection[], name: string, type: string | undefined): Map<string, string> {
  const found = sections.filter((s) => s.name === name && (type === undefined || s.entries.some(([k, v]) => k === 'type' && v === type)));
  assert.equal(found.length, 1, `[${name}] type=${type} appears ${found.length} times`);
  return new Map(found[0]!.entries);
}

test('asterisk: a value with ";" is escaped, not cut into a comment', () => {
  assert.equal(confValue(SECRET_WITH_SEMICOLON), 'abc\\;defgh99');
  assert.throws(() => confValue('a\nb'));
});

test('asterisk --pjsip: TLS transport with the server certificate, SDES endpoints, auths and aors for every phone', async () => {
  const ca = await astCa();
  try {
    const cfg = await asteriskConfig(ca.store, { driver: 'pjsip' });
    assert.equal(cfg.main, 'pjsip.conf');
    assert.deepEqual(cfg.endpoints, ['101', '102', 'softphone3']);
    const conf = cfg.files.find((f) => f.name === 'pjsip.conf')!;
    assert.equal(conf.mode, 0o600);
    assert.equal(conf.secret, true);
    const sections = parseIni(conf.content, { commentChars: [';'] });
    const t = typed(sections, 'transport-tls', 'transport');
    const server = ca.store.current('pbx.test')!;
    assert.equal(t.get('protocol'), 'tls');
    assert.equal(t.get('bind'), '0.0.0.0:5061');
    assert.equal(t.get('cert_file'), ca.store.paths.cert(server.serial));
    assert.equal(t.get('priv_key_file'), ca.store.paths.key(server.serial));
    assert.equal(t.get('ca_list_file'), ca.store.paths.caCert);
    // TLS 1.2 and 1.3 (tlsv1_2 refused TLS 1.3 phones in Asterisk 20: issue 12 item 5).
    assert.equal(t.get('method'), 'sslv23');
    // Bria cannot present a client certificate: not required, and the notes say why.
    assert.equal(t.get('require_client_cert'), 'no');
    assert.ok(cfg.notes.some((n) => n.includes('softphone3 (bria)')));
    // Kamailio's registrar requires client certificates: it says which phones it will refuse.
    assert.ok((await kamailioConfig(ca.store, {})).notes.some((n) => n.includes('will be refused: softphone3 (bria)')));

    const e1 = typed(sections, '101', 'endpoint');
    assert.equal(e1.get('transport'), 'transport-tls');
    assert.equal(e1.get('media_encryption'), 'sdes');
    assert.equal(e1.get('media_encryption_optimistic'), undefined);
    assert.equal(e1.get('auth'), '101-auth');
    assert.equal(e1.get('aors'), '101');
    assert.equal(e1.get('callerid'), '"Ana\\; Lab" <101>');
    assert.equal(e1.get('context'), 'sipsec-phones');
    assert.equal(typed(sections, '102', 'endpoint').get('media_encryption_optimistic'), 'yes');
    assert.equal(typed(sections, 'softphone3', 'endpoint').get('media_encryption'), 'no');
    const a2 = typed(sections, '102-auth', 'auth');
    assert.equal(a2.get('auth_type'), 'userpass');
    assert.equal(a2.get('username'), '102');
    assert.equal(a2.get('password'), 'abc\\;defgh99');
    assert.equal(a2.get('realm'), 'pbx.test');
    assert.equal(typed(sections, '101', 'aor').get('max_contacts'), '1');

    const dial = cfg.files.find((f) => f.name === 'extensions_sipsec.conf')!;
    assert.match(dial.content, /^\[sipsec-phones\]$/m);
    assert.match(dial.content, /^exten => 102,1,Dial\(PJSIP\/102,30\)$/m);
    // Secrets are only in the config file, never in notes or the dialplan.
    for (const s of ['Secret101xyz', SECRET_WITH_SEMICOLON, 'abc\\;defgh99', 'Secret103xyz']) {
      assert.ok(!cfg.notes.join('\n').includes(s));
      assert.ok(!dial.content.includes(s));
    }
  } finally {
    ca.cleanup();
  }
});

test('asterisk --pjsip: client certificates are required when every phone can present one; --legacy-tls adds a TLS 1.0 transport', async () => {
  const ca = await tempCa({ registrar: { host: 'pbx.test', port: 5061 } });
  try {
    await addTestServer(ca.store, 'pbx.test', ['10.0.1.133']);
    await addTestPhones(ca.store, [{ name: 'telefono1', vendor: 'baresip', ext: '101' }]);
    const cfg = await asteriskConfig(ca.store, { driver: 'pjsip', legacyTlsPort: 5062, bind: { host: '10.0.1.133', port: 5061 } });
    const sections = parseIni(cfg.files[0]!.content, { commentChars: [';'] });
    const t = typed(sections, 'transport-tls', 'transport');
    assert.equal(t.get('bind'), '10.0.1.133:5061');
    assert.equal(t.get('verify_client'), 'yes');
    assert.equal(t.get('require_client_cert'), 'yes');
    const legacy = typed(sections, 'transport-tls-legacy', 'transport');
    assert.equal(legacy.get('method'), 'tlsv1');
    assert.equal(legacy.get('bind'), '10.0.1.133:5062');
    const off = await asteriskConfig(ca.store, { driver: 'pjsip', clientCerts: 'off' });
    assert.equal(typed(parseIni(off.files[0]!.content, { commentChars: [';'] }), 'transport-tls', 'transport').get('require_client_cert'), 'no');
  } finally {
    ca.cleanup();
  }
});

test('asterisk --chan-sip: [general] TLS via tcptls keys, TLS 1.0/1.1 off, one friend per phone with encryption', async () => {
  const ca = await astCa();
  try {
    const cfg = await asteriskConfig(ca.store, { driver: 'chan_sip' });
    assert.equal(cfg.main, 'sip.conf');
    const sections = parseIni(cfg.files[0]!.content, { commentChars: [';'] });
    const g = typed(sections, 'general', undefined);
    assert.equal(g.get('tlsenable'), 'yes');
    assert.equal(g.get('tlsbindaddr'), '0.0.0.0:5061');
    assert.equal(g.get('tlscafile'), ca.store.paths.caCert);
    assert.ok(g.get('tlscertfile')!.endsWith('.crt'));
    assert.ok(g.get('tlsprivatekey')!.endsWith('.key'));
    assert.equal(g.get('tlsdisablev1'), 'yes');
    assert.equal(g.get('tlsdisablev11'), 'yes');
    assert.equal(g.get('allowguest'), 'no');
    // NAT in [general] only: a per-peer nat differing from it makes chan_sip warn (issue 12 item 3).
    assert.equal(g.get('nat'), 'force_rport,comedia');
    for (const s of sections.filter((x) => x.name !== 'general')) assert.ok(!s.entries.some(([k]) => k === 'nat'), `[${s.name}] has no nat of its own`);
    const p1 = typed(sections, '101', undefined);
    assert.equal(p1.get('type'), 'friend');
    assert.equal(p1.get('transport'), 'tls');
    assert.equal(p1.get('encryption'), 'yes');
    assert.equal(typed(sections, '102', undefined).get('secret'), 'abc\\;defgh99');
    assert.equal(typed(sections, 'softphone3', undefined).get('encryption'), 'no');
    assert.match(cfg.files.find((f) => f.name === 'extensions_sipsec.conf')!.content, /Dial\(SIP\/101,30\)/);
    const legacy = await asteriskConfig(ca.store, { driver: 'chan_sip', legacyTlsPort: 5062 });
    assert.equal(typed(parseIni(legacy.files[0]!.content, { commentChars: [';'] }), 'general', undefined).get('tlsdisablev1'), 'no');
  } finally {
    ca.cleanup();
  }
});

test('asterisk with an install dir: key files exported (key 0600), configs name them there, nothing outside the output dir', async () => {
  const ca = await astCa();
  try {
    const out = path.join(ca.dir, 'ast');
    const cfg = await asteriskConfig(ca.store, { driver: 'pjsip', installDir: '/etc/asterisk/sipsec' });
    assert.deepEqual(cfg.files.map((f) => f.name).sort(), ['extensions_sipsec.conf', 'keys/ca.crt', 'keys/pbx.test.crt', 'keys/pbx.test.key', 'pjsip.conf']);
    const t = typed(parseIni(cfg.files[0]!.content, { commentChars: [';'] }), 'transport-tls', 'transport');
    assert.equal(t.get('priv_key_file'), '/etc/asterisk/sipsec/keys/pbx.test.key');
    assert.ok(cfg.notes.some((n) => n.includes('chown -R asterisk: /etc/asterisk/sipsec/keys')));
    const written = await writePbxFiles(out, cfg.files);
    assert.ok(written.every((w) => w.startsWith(out + path.sep)));
    assert.equal(statSync(path.join(out, 'keys', 'pbx.test.key')).mode & 0o777, 0o600);
    assert.equal(statSync(path.join(out, 'pjsip.conf')).mode & 0o777, 0o600);
    assert.equal(statSync(path.join(out, 'keys')).mode & 0o777, 0o700);
    assert.match(readFileSync(path.join(out, 'keys', 'pbx.test.key'), 'utf8'), /BEGIN PRIVATE KEY/);
  } finally {
    ca.cleanup();
  }
});

test('asterisk: a bad context is refused; no server certificate is an error naming the fix', async () => {
  const ca = await tempCa({ registrar: { host: 'pbx.test', port: 5061 } });
  try {
    await assert.rejects(asteriskConfig(ca.store, { driver: 'pjsip' }), (e: unknown) => isSipsecError(e) && e.code === 'NOT_FOUND');
    await addTestServer(ca.store, 'pbx.test', []);
    await assert.rejects(asteriskConfig(ca.store, { driver: 'pjsip', context: 'bad context' }), (e: unknown) => isSipsecError(e) && e.code === 'BAD_INPUT');
    const empty = await asteriskConfig(ca.store, { driver: 'pjsip' });
    assert.deepEqual(empty.endpoints, []);
    assert.ok(empty.notes.some((n) => n.includes('no phones')));
  } finally {
    ca.cleanup();
  }
});

/** The golden case: three phones of different vendors and SRTP modes, and a fourth whose certificate is revoked. */
async function goldenCa() {
  const ca = await astCa();
  await addTestPhones(ca.store, [{ name: 'telefono4', vendor: 'baresip', ext: '104', secret: 'Secret104xyz' }]);
  await revokeCert(ca.store, 'telefono4', 'keyCompromise', noPassphrase);
  return ca;
}

for (const driver of ['pjsip', 'chan_sip'] as const) {
  test(`asterisk --${driver === 'pjsip' ? 'pjsip' : 'chan-sip'}: golden files (echo extension, revoked phone left out, revocation and driver notes, NAT in [general], TLS 1.2 + 1.3)`, async () => {
    const ca = await goldenCa();
    try {
      const cfg = await asteriskConfig(ca.store, { driver, installDir: '/etc/asterisk/sipsec' });
      const configs = cfg.files.filter((f) => !f.name.startsWith('keys/'));
      checkPbxGolden(`asterisk-${driver}`, configs);
      // Item 2: the revoked phone is out (no endpoint, no secret), and the output says so.
      assert.deepEqual(cfg.endpoints, ['101', '102', 'softphone3']);
      assert.deepEqual(cfg.leftOut.map((l) => l.name), ['telefono4']);
      assert.match(cfg.leftOut[0]!.reason, /revoked/);
      assert.ok(cfg.notes.some((n) => /left out telefono4: its certificate \(serial \w+\) is revoked/.test(n)), cfg.notes.join('\n'));
      const main = configs.find((f) => f.name === cfg.main)!.content;
      assert.ok(!main.includes('Secret104xyz') && !/^\[104/m.test(main), 'the revoked phone\'s secret and endpoint are not exported');
      assert.match(main, /Asterisk checks no CRL/);
      assert.match(main, /re-export it after every sipsec cert revoke/);
      assert.match(main, /sipsec pbx kamailio --upstream/);
      // Item 1: the echo extension serve has, on 200.
      const dial = configs.find((f) => f.name === 'extensions_sipsec.conf')!.content;
      assert.match(dial, /^exten => 200,1,Answer\(\)\n same => n,Echo\(\)\n/m);
      assert.equal(cfg.echoExt, '200');
      if (driver === 'chan_sip') {
        // Item 4: always said, whatever --client-certs.
        assert.match(main, /chan_sip accepts phones without a client certificate/);
      } else {
        assert.match(main, /^method=sslv23$/m);
      }
    } finally {
      ca.cleanup();
    }
  });
}

test('asterisk: --echo-ext moves or removes the echo; an echo extension that is a phone\'s SIP user is refused', async () => {
  const ca = await astCa();
  try {
    const moved = await asteriskConfig(ca.store, { driver: 'pjsip', echoExt: '9200' });
    assert.match(moved.files.find((f) => f.name === 'extensions_sipsec.conf')!.content, /^exten => 9200,1,Answer\(\)$/m);
    const off = await asteriskConfig(ca.store, { driver: 'chan_sip', echoExt: 'off' });
    assert.equal(off.echoExt, undefined);
    assert.doesNotMatch(off.files.find((f) => f.name === 'extensions_sipsec.conf')!.content, /Echo\(\)/);
    await assert.rejects(asteriskConfig(ca.store, { driver: 'pjsip', echoExt: '101' }), (e: unknown) => isSipsecError(e) && e.code === 'BAD_INPUT' && /telefono1/.test(e.message));
    await assert.rejects(asteriskConfig(ca.store, { driver: 'pjsip', echoExt: 'no way' }), (e: unknown) => isSipsecError(e) && e.code === 'BAD_INPUT');
  } finally {
    ca.cleanup();
  }
});
