import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { cleanup, sipsec, tmpDir } from '../helpers/cli.js';
import { ServeProcess, type ServeEventLike } from '../helpers/serve.js';
import { CaStore } from '../../src/home/store.js';
import { renewCert } from '../../src/home/operations.js';
import { pendingSupersedes, settleReason, settleSupersedes, supersedeCertificate, sweepSupersedes } from '../../src/home/supersede.js';
import { requirePeer } from '../helpers/peers.js';

function run(home: string, args: string[], code = 0): string {
  const r = sipsec(['--home', home, ...args]);
  assert.equal(r.code, code, `sipsec ${args.join(' ')}: ${r.stderr}`);
  return r.stdout + r.stderr;
}

function initHome(home: string): void {
  run(home, ['ca', 'init', '--org', 'Acme', '--domain', 'pbx.test', '--key', 'p256', '--leaf-key', 'p256', '--no-passphrase', '--registrar', '127.0.0.1:5061']);
  run(home, ['server', 'add', 'registrar', '--dns', 'localhost', '--ip', '127.0.0.1']);
  run(home, ['phone', 'add', 'telefono1', '--vendor', 'baresip', '--ext', '101']);
}

function pair(home: string, serial: string) {
  return { cert: readFileSync(path.join(home, 'certs', `${serial}.crt`)), key: readFileSync(path.join(home, 'private', `${serial}.key`)) };
}

/** A real TLS client presenting a phone certificate to the registrar; resolves when the server's verdict is in. */
async function present(serve: ServeProcess, home: string, serial: string): Promise<ServeEventLike> {
  const before = serve.events.length;
  const c = tls.connect({ host: '127.0.0.1', port: serve.ports.sip!, ...pair(home, serial), ca: readFileSync(path.join(home, 'ca.crt')), servername: 'localhost' });
  c.on('error', () => undefined);
  await new Promise<void>((resolve) => c.once('secureConnect', () => resolve()).once('error', () => resolve()));
  const ev = await serve.waitFor((e) => e.event === 'tls.handshake' && e.protocol === 'sip' && serve.events.indexOf(e) >= before);
  c.destroy();
  return ev;
}

function crlSerials(home: string): string[] {
  requirePeer('openssl');
  const text = execFileSync('openssl', ['crl', '-in', path.join(home, 'crl.pem'), '-noout', '-text'], { encoding: 'utf8' });
  return [...text.matchAll(/Serial Number: ([0-9A-F]+)/gi)].map((m) => m[1]!.toLowerCase().replace(/^0+/, ''));
}

test('cert renew keeps the old certificate valid; the registrar accepts both and says which; presenting the new one revokes the old and the CRL lists it', async (t) => {
  const dir = tmpDir();
  // serve first, then its home: a serve still writing (its log, the files it follows) makes the folder non-empty under rm.
  let serve: ServeProcess | undefined;
  t.after(async () => {
    await serve?.stop();
    cleanup(dir);
  });
  const home = path.join(dir, 'ca');
  initHome(home);
  const old = (await CaStore.open(home)).current('telefono1')!.serial;
  const out = run(home, ['cert', 'renew', 'telefono1', '--json']);
  const renewed = JSON.parse(out.slice(0, out.lastIndexOf('}') + 1)) as { schema: number; old: { serial: string; status: string; graceUntil: string }; renewed: { serial: string } };
  assert.equal(renewed.schema, 1);
  assert.equal(renewed.old.serial, old);
  assert.equal(renewed.old.status, 'valid', 'the old certificate is not revoked by a renewal');
  const graceDays = (Date.parse(renewed.old.graceUntil) - Date.now()) / 86_400_000;
  assert.ok(graceDays > 13.9 && graceDays <= 14, `default grace 14d, got ${graceDays}`);
  assert.ok(!crlSerials(home).includes(old.replace(/^0+/, '')), 'the old certificate is not in the CRL during the overlap');
  // The rendered files carry the new certificate.
  const rendered = readFileSync(path.join(home, 'provision', 'telefono1', 'cert.pem'), 'utf8');
  assert.ok(rendered.includes(readFileSync(path.join(home, 'certs', `${renewed.renewed.serial}.crt`), 'utf8').trim()));

  serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', 'off', '--sip-port', '0', '--diagnostic-port', 'off', '--client-cert', 'required']);
  const withOld = await present(serve, home, old);
  assert.equal(withOld.ok, true, JSON.stringify(withOld));
  assert.equal(withOld.phone, 'telefono1');
  assert.equal(withOld.certSerial, old);
  assert.equal(withOld.current, false);

  const withNew = await present(serve, home, renewed.renewed.serial);
  assert.equal(withNew.ok, true, JSON.stringify(withNew));
  assert.equal(withNew.current, true);
  const superseded = await serve.waitFor((e) => e.event === 'cert.superseded' && e.serial === old);
  assert.equal(superseded.why, 'presented');
  assert.equal(superseded.crl, true);
  await serve.waitFor((e) => e.event === 'serve.reload' && serve.events.indexOf(e) > serve.events.indexOf(superseded));
  assert.ok(crlSerials(home).includes(old.replace(/^0+/, '')), 'the CRL lists the old certificate once revoked');
  const store = await CaStore.open(home);
  assert.equal(store.bySerial(old)!.status, 'revoked');
  assert.equal(store.bySerial(old)!.reason, 'superseded');

  const refused = await present(serve, home, old);
  assert.equal(refused.ok, false);
  assert.match(String(refused.error), /revoked/);
  const still = await present(serve, home, renewed.renewed.serial);
  assert.equal(still.ok, true);
});

test('--now revokes at once; --grace ends the overlap by the clock at the next command; --expiring renews phones and servers; bad spans exit 2', async (t) => {
  const dir = tmpDir();
  t.after(() => cleanup(dir));
  const home = path.join(dir, 'ca');
  initHome(home);
  let store = await CaStore.open(home);
  const first = store.current('telefono1')!.serial;
  run(home, ['cert', 'renew', 'telefono1', '--now']);
  store = await CaStore.open(home);
  assert.equal(store.bySerial(first)!.status, 'revoked');
  assert.ok(crlSerials(home).includes(first.replace(/^0+/, '')));

  const second = store.current('telefono1')!.serial;
  run(home, ['cert', 'renew', 'telefono1', '--grace', '1s']);
  await new Promise((r) => setTimeout(r, 1500));
  const listed = run(home, ['cert', 'list', '--all']);
  assert.match(listed, new RegExp(`revoked the old certificate ${second}.*grace period is over`));
  store = await CaStore.open(home);
  assert.equal(store.bySerial(second)!.status, 'revoked');
  assert.ok(crlSerials(home).includes(second.replace(/^0+/, '')));

  assert.match(run(home, ['cert', 'list', '--expiring', '30d']), /no certificate expires within 30d/);
  const soon = JSON.parse(run(home, ['cert', 'list', '--expiring', '900d', '--json'])) as Array<{ name: string }>;
  assert.deepEqual(soon.map((c) => c.name).sort(), ['registrar', 'telefono1']);
  const batch = JSON.parse(run(home, ['cert', 'renew', '--expiring', '900d', '--grace', '36h', '--json'])) as { schema: number; renewals: Array<{ old: { name: string; status: string; graceUntil: string } }> };
  assert.equal(batch.renewals.length, 2);
  for (const r of batch.renewals) {
    assert.equal(r.old.status, 'valid');
    const h = (Date.parse(r.old.graceUntil) - Date.now()) / 3_600_000;
    assert.ok(h > 35.9 && h <= 36, `${r.old.name}: 36h grace, got ${h}`);
  }
  for (const bad of [['cert', 'renew', 'telefono1', '--grace', '2w'], ['cert', 'renew', 'telefono1', '--now', '--grace', '1d'], ['cert', 'renew'], ['cert', 'renew', 'telefono1', '--expiring', '60d'], ['cert', 'list', '--expiring', 'soon']]) {
    const r = sipsec(['--home', home, ...bad]);
    assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /^error: /);
  }
});

test('library: supersedeCertificate and the evidence rules (fetch of a key file, new serial presented, grace)', async (t) => {
  const dir = tmpDir();
  t.after(() => cleanup(dir));
  const home = path.join(dir, 'ca');
  initHome(home);
  const store = await CaStore.open(home);
  const noPass = async () => undefined;
  const { old, renewed } = await renewCert(store, 'telefono1', noPass, { graceMs: 3_600_000 });
  const entry = store.bySerial(old.serial)!;
  const at = Date.parse(entry.supersededAt!);
  const later = new Date(at + 1000).toISOString();
  const earlier = new Date(at - 1000).toISOString();
  const now = new Date(at + 2000);
  assert.equal(settleReason(entry, [], now), undefined);
  assert.equal(settleReason(entry, [{ event: 'provision.fetch', phone: 'telefono1', result: 'ok', holdsKey: true, time: earlier }], now), undefined, 'a fetch before the renewal proves nothing');
  assert.equal(settleReason(entry, [{ event: 'provision.fetch', phone: 'telefono1', result: 'ok', holdsKey: true, time: later }], now), 'fetched');
  assert.equal(settleReason(entry, [{ event: 'provision.fetch', phone: 'telefono1', result: 'ok', time: later }], now, () => true), undefined, 'a config file without the key is not the new certificate');
  assert.equal(settleReason(entry, [{ event: 'provision.fetch', phone: 'telefono1', result: 'ok', time: later }], now, () => false), 'fetched', 'a vendor that gets no key has only its config to fetch');
  assert.equal(settleReason(entry, [{ event: 'tls.handshake', ok: true, certSerial: old.serial, time: later }], now), undefined, 'the old certificate presented again proves nothing');
  assert.equal(settleReason(entry, [{ event: 'tls.handshake', ok: true, certSerial: renewed.serial, time: later }], now), 'presented');
  assert.equal(settleReason(entry, [], new Date(at + 3_600_001)), 'grace');

  // The API phone edit calls: a new certificate issued elsewhere replaces the current one.
  const next = await renewCert(store, 'registrar', noPass, { now: true });
  assert.equal(store.bySerial(next.old.serial)!.status, 'revoked');
  const again = await renewCert(store, 'registrar', noPass, { graceMs: 60_000 });
  const s = await supersedeCertificate(store, again.old.serial, again.renewed.serial, { now: true, passphrase: noPass });
  assert.equal(s.status, 'revoked');
  assert.equal(s.reason, 'superseded');
  assert.deepEqual(pendingSupersedes(store.index).map((c) => c.serial), [old.serial]);
  // phone edit's path: the same overlap for a certificate re-issued with new names; grace as a span.
  const edited = await renewCert(store, 'registrar', noPass, { names: { sans: { dns: ['localhost', 'pbx2.test'], ip: ['127.0.0.1'], uri: ['sip:pbx.test'] } }, graceMs: 0 });
  assert.deepEqual(store.current('registrar')!.sans.dns, ['localhost', 'pbx2.test']);
  const more = await renewCert(store, 'registrar', noPass, { graceMs: 60_000 });
  await supersedeCertificate(store, edited.renewed.serial, more.renewed.serial, { grace: '36h' });
  const h = (Date.parse(store.bySerial(edited.renewed.serial)!.graceUntil!) - Date.parse(store.bySerial(edited.renewed.serial)!.supersededAt!)) / 3_600_000;
  assert.equal(h, 36);
  assert.deepEqual((await sweepSupersedes(store)).settled, [], 'no evidence and no grace over: nothing settles');

  // Renewed twice before the phone resynced: both older certificates stay valid (the phone may hold
  // either); presenting the newest ends both overlaps.
  const twice = await renewCert(store, 'telefono1', noPass, { graceMs: 3_600_000 });
  assert.equal(twice.old.serial, renewed.serial);
  assert.equal(store.roleOf(old.serial), 'overlap');
  assert.equal(store.roleOf(renewed.serial), 'overlap');
  assert.equal(store.roleOf(twice.renewed.serial), 'current');
  const done = await settleSupersedes(store, [{ event: 'tls.handshake', ok: true, certSerial: twice.renewed.serial, time: new Date(Date.now() + 1000).toISOString() }]);
  assert.deepEqual(done.settled.map((x) => [x.serial, x.why]).sort(), [[old.serial, 'presented'], [renewed.serial, 'presented']].sort());
  assert.equal(store.roleOf(old.serial), undefined);
});
