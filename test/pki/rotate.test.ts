import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import * as https from 'node:https';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { cleanup, sipsec, tmpDir } from '../helpers/cli.js';
import { ServeProcess, type ServeEventLike } from '../helpers/serve.js';
import { CaStore } from '../../src/home/store.js';
import { requirePeer } from '../helpers/peers.js';
import { pemBlocks } from '../../src/pki/pem.js';

function run(home: string, args: string[], code = 0): string {
  const r = sipsec(['--home', home, ...args]);
  assert.equal(r.code, code, `sipsec ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout + r.stderr;
}

function pair(home: string, serial: string) {
  return { cert: readFileSync(path.join(home, 'certs', `${serial}.crt`)), key: readFileSync(path.join(home, 'private', `${serial}.key`)) };
}

/** A phone's TLS connection to the registrar: it checks the server against `ca` (what the phone trusts) and presents `serial`. */
async function present(serve: ServeProcess, home: string, serial: string, ca: Buffer): Promise<{ ev: ServeEventLike; serverOk: boolean; serverError?: string }> {
  const before = serve.events.length;
  const c = tls.connect({ host: '127.0.0.1', port: serve.ports.sip!, ...pair(home, serial), ca, servername: 'localhost', rejectUnauthorized: false });
  c.on('error', () => undefined);
  await new Promise<void>((resolve) => c.once('secureConnect', () => resolve()).once('error', () => resolve()));
  const serverOk = c.authorized;
  const serverError = c.authorizationError ? String(c.authorizationError) : undefined;
  const ev = await serve.waitFor((e) => e.event === 'tls.handshake' && e.protocol === 'sip' && serve.events.indexOf(e) >= before);
  c.destroy();
  return { ev, serverOk, ...(serverError ? { serverError } : {}) };
}

function fetchHttps(port: number, file: string, client: { cert: Buffer; key: Buffer }, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: `/${file}`, ...client, ca, servername: 'localhost' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function opensslVerify(ca: string, crl: string, cert: string): { ok: boolean; out: string } {
  const r = spawnSync(requirePeer('openssl'), ['verify', '-CAfile', ca, '-crl_check_all', '-CRLfile', crl, cert], { encoding: 'utf8' });
  return { ok: r.status === 0, out: r.stdout + r.stderr };
}

test('ca rotate: both CAs trusted and in every CA file, phones move one by one without an outage, retire-old waits for them, then the old CA is gone', async (t) => {
  requirePeer('openssl');
  const dir = tmpDir();
  t.after(() => cleanup(dir));
  const home = path.join(dir, 'ca');
  const pw = path.join(dir, 'pw');
  writeFileSync(pw, 'correct horse battery\n', { mode: 0o600 });
  run(home, ['ca', 'init', '--org', 'Acme', '--domain', 'pbx.test', '--key', 'p256', '--leaf-key', 'p256', '--passphrase-file', pw, '--registrar', '127.0.0.1:5061']);
  run(home, ['server', 'add', 'registrar', '--dns', 'localhost', '--ip', '127.0.0.1', '--passphrase-file', pw]);
  run(home, ['phone', 'add', 't1', '--vendor', 'baresip', '--ext', '101', '--passphrase-file', pw]);
  run(home, ['phone', 'add', 't2', '--vendor', 'baresip', '--ext', '102', '--passphrase-file', pw]);
  const oldCaPem = readFileSync(path.join(home, 'ca.crt'));
  let store = await CaStore.open(home);
  const oldCa = store.currentCa()!.serial;
  const old1 = store.current('t1')!.serial;
  const old2 = store.current('t2')!.serial;
  const oldServer = store.current('registrar')!.serial;

  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', '0', '--sip-port', '0', '--diagnostic-port', 'off', '--client-cert', 'required', '--passphrase-file', pw]);
  t.after(() => serve.stop());
  t.after(() => {
    if (process.env.SIPSEC_DEBUG_EVENTS) for (const e of serve.events) console.error(JSON.stringify(e).slice(0, 300));
  });
  assert.equal(serve.events.find((e) => e.event === 'serve.start')?.serverCert, 'registrar');

  // Wrong and missing passphrases are refused before anything changes.
  const wrong = path.join(dir, 'wrong');
  writeFileSync(wrong, 'nope\n');
  const wrongRun = sipsec(['--home', home, 'ca', 'rotate', '--passphrase-file', wrong]);
  assert.notEqual(wrongRun.code, 0);
  assert.match(wrongRun.stderr, /^error: .*passphrase/im);
  const noPass = sipsec(['--home', home, 'ca', 'rotate']);
  assert.notEqual(noPass.code, 0);
  assert.match(noPass.stderr, /^error: .*passphrase/im);
  assert.equal(sipsec(['--home', home, 'ca', 'rotate', '--days', 'x']).code, 2);
  assert.equal((await CaStore.open(home)).index.transition, undefined);

  const reloadsBefore = serve.events.filter((e) => e.event === 'serve.reload').length;
  const rotated = JSON.parse(run(home, ['ca', 'rotate', '--key', 'p256', '--days', '3650', '--passphrase-file', pw, '--json'])) as { schema: number; newCa: { serial: string; subject: string }; renewed: Array<{ name: string; newSerial: string }> };
  assert.equal(rotated.schema, 1);
  assert.deepEqual(rotated.renewed.map((r) => r.name).sort(), ['registrar', 't1', 't2']);
  store = await CaStore.open(home);
  const newCa = store.currentCa()!.serial;
  assert.notEqual(newCa, oldCa);
  const new1 = store.current('t1')!.serial;
  const new2 = store.current('t2')!.serial;
  assert.equal(store.issuerOf(store.bySerial(new1)!), newCa);
  assert.equal(store.issuerOf(store.bySerial(old1)!), oldCa);
  // The old CA key stays encrypted at rest beside the new (encrypted) one.
  for (const k of [`ca-${oldCa}.key`, `ca-${newCa}.key`, 'ca.key']) assert.match(readFileSync(path.join(home, 'private', k), 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/, k);

  // Trust bundle: ca.crt and the phone's rendered ca.crt carry both CAs; each CA signs its own CRL.
  const bundle = readFileSync(path.join(home, 'ca.crt'));
  assert.equal(bundle.toString().match(/BEGIN CERTIFICATE/g)?.length, 2);
  assert.equal(readFileSync(path.join(home, 'provision', 't1', 'ca.crt'), 'utf8').match(/BEGIN CERTIFICATE/g)?.length, 2);
  assert.ok(readFileSync(path.join(home, 'provision', 't1', 'cert.pem'), 'utf8').includes(readFileSync(path.join(home, 'certs', `${new1}.crt`), 'utf8').trim()));
  const crlFile = path.join(home, 'crl.pem');
  assert.equal(readFileSync(crlFile, 'utf8').match(/BEGIN X509 CRL/g)?.length, 2);
  const firstCrl = execFileSync('openssl', ['crl', '-in', crlFile, '-noout', '-issuer'], { encoding: 'utf8' });
  assert.match(firstCrl, new RegExp(rotated.newCa.subject.replace(/.*CN=/, '')));
  for (const serial of [new1, old1, new2, old2]) {
    const v = opensslVerify(path.join(home, 'ca.crt'), crlFile, path.join(home, 'certs', `${serial}.crt`));
    assert.ok(v.ok, `${serial}: ${v.out}`);
  }
  const oldOnly = path.join(dir, 'old-ca.pem');
  writeFileSync(oldOnly, oldCaPem);
  assert.equal(opensslVerify(oldOnly, crlFile, path.join(home, 'certs', `${new1}.crt`)).ok, false, 'the new certificate chains to the new CA only');

  // serve follows: both CAs trusted, and the CRLs written with them.
  const crlNumber = store.index.crlNumber;
  const reload = await serve.waitFor((e) => e.event === 'serve.reload' && Number(e.crlNumber) >= crlNumber && serve.events.filter((x) => x.event === 'serve.reload').indexOf(e) >= reloadsBefore);
  assert.deepEqual(reload.trustedCas, [newCa, oldCa]);
  // t1 has not resynced: it trusts only the old CA and presents its old certificate. Both work.
  const t1old = await present(serve, home, old1, oldCaPem);
  assert.equal(t1old.serverOk, true, `a phone trusting only the old CA still verifies the registrar: ${t1old.serverError}`);
  assert.equal(t1old.ev.ok, true, JSON.stringify(t1old.ev));
  assert.equal(t1old.ev.current, false);
  // t2 resynced: new certificate, both CAs trusted.
  const t2new = await present(serve, home, new2, bundle);
  assert.equal(t2new.serverOk, true);
  assert.equal(t2new.ev.ok, true, JSON.stringify(t2new.ev));
  assert.equal(t2new.ev.current, true);
  const gone2 = await serve.waitFor((e) => e.event === 'cert.superseded' && e.serial === old2);
  assert.equal(gone2.crl, true, 'serve was given the passphrase: it rewrites the CRL itself');
  await serve.waitFor((e) => e.event === 'serve.reload' && serve.events.indexOf(e) > serve.events.indexOf(gone2));
  // crl.pem holds one CRL per CA; each is read on its own by openssl crl.
  const blocks = pemBlocks(readFileSync(crlFile, 'utf8'), 'X509 CRL');
  assert.equal(blocks.length, 2);
  const oldCrlFile = path.join(dir, 'old-crl.pem');
  writeFileSync(oldCrlFile, blocks[1]!);
  const listed = execFileSync('openssl', ['crl', '-in', oldCrlFile, '-noout', '-text'], { encoding: 'utf8' });
  assert.match(listed, /Issuer: .*CN ?= ?Acme SIP CA\n/, 'the second CRL is the old CA\'s, signed by it');
  assert.match(listed, new RegExp(`Serial Number: ${old2.toUpperCase()}[\\s\\S]*?Superseded`), 'the old CA\'s CRL lists t2\'s old certificate');
  const v2 = opensslVerify(path.join(home, 'ca.crt'), crlFile, path.join(home, 'certs', `${old2}.crt`));
  assert.equal(v2.ok, false, 'openssl finds it revoked in the old CA\'s CRL');
  assert.match(v2.out, /revoked/);

  const status = JSON.parse(run(home, ['ca', 'status', '--json'])) as { schema: number; old: { serial: string } | null; usingOldCa: string[]; phones: Array<{ name: string; certCa: string; lastTls: { ca: string; current: boolean } | null }> };
  assert.equal(status.schema, 1);
  assert.equal(status.old?.serial, oldCa);
  assert.deepEqual(status.usingOldCa, ['t1']);
  const p1 = status.phones.find((p) => p.name === 't1')!;
  assert.equal(p1.certCa, 'current');
  assert.equal(p1.lastTls?.ca, 'old');
  assert.equal(status.phones.find((p) => p.name === 't2')!.lastTls?.ca, 'current');
  const refused = sipsec(['--home', home, 'ca', 'retire-old', '--passphrase-file', pw]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /1 phone\(s\) still use the old CA: t1/);

  // t1 resyncs over HTTPS with its old certificate: it gets its new key and certificate and the two-CA bundle.
  const fetched = await fetchHttps(serve.ports.https!, 'baresip/t1/cert.pem', pair(home, old1), oldCaPem);
  assert.equal(fetched.status, 200);
  assert.ok(fetched.body.includes(readFileSync(path.join(home, 'certs', `${new1}.crt`), 'utf8').trim()));
  const gone = await serve.waitFor((e) => e.event === 'cert.superseded' && e.serial === old1);
  assert.equal(gone.why, 'fetched');
  const t1new = await present(serve, home, new1, bundle);
  assert.equal(t1new.ev.ok, true);
  assert.equal(t1new.ev.current, true);

  const retired = JSON.parse(run(home, ['ca', 'retire-old', '--passphrase-file', pw, '--json'])) as { schema: number; retired: { serial: string }; revoked: Array<{ serial: string }> };
  assert.equal(retired.retired.serial, oldCa);
  assert.deepEqual(retired.revoked.map((r) => r.serial), [oldServer], 'the old-CA server certificate was kept until now');
  assert.equal(readFileSync(path.join(home, 'ca.crt'), 'utf8').match(/BEGIN CERTIFICATE/g)?.length, 1);
  assert.equal(readFileSync(crlFile, 'utf8').match(/BEGIN X509 CRL/g)?.length, 1);
  assert.equal(readFileSync(path.join(home, 'provision', 't1', 'ca.crt'), 'utf8').match(/BEGIN CERTIFICATE/g)?.length, 1);
  await serve.waitFor((e) => e.event === 'serve.certificate' && e.issued === false);
  const newOnly = readFileSync(path.join(home, 'ca.crt'));
  const after = await present(serve, home, new1, newOnly);
  assert.equal(after.serverOk, true, `serve presents its new-CA certificate: ${after.serverError}`);
  assert.equal(after.ev.ok, true);
  const stale = await present(serve, home, old1, bundle);
  assert.equal(stale.ev.ok, false, 'an old-CA certificate is refused once the old CA is retired');
  assert.equal(sipsec(['--home', home, 'ca', 'retire-old', '--passphrase-file', pw]).code, 1, 'nothing left to retire');
});
