import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, run, sipsec, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';
import { ServeProcess } from '../helpers/serve.js';
import { addBaresip, baresipPorts, startBaresip, type RunningBaresip } from '../helpers/registrar-home.js';
import { cleanupStack, fetchOverHttps } from '../helpers/verify.js';
import { freePort } from '../vendors/peer-stubs.js';
import { startPostgres } from '../helpers/postgres.js';

/**
 * Two `sipsec serve` instances on one PostgreSQL store (Debian's server,
 * private port and data directory), as two sites would run them: A holds
 * the CA key and is where changes are made, B is a copy that only serves.
 * A phone added through A is provisioned by B; a phone registered on B is
 * shown by `status` on A with B's name; a revocation through A closes the
 * phone's TLS connection on B.
 */
test('two serve instances on one PostgreSQL store: add on A served by B, registration on B seen from A, revocation on A closes B\'s connection', { timeout: 240_000 }, async (t) => {
  const defer = cleanupStack(t);
  const baresip = requirePeer('baresip');
  const curl = requirePeer('curl');
  const pg = await startPostgres();
  defer(() => pg.stop());
  pg.createDatabase('sipsec');
  const url = pg.url('sipsec');
  const dir = tmpDir('sipsec-shared-');
  defer(() => cleanup(dir));
  const homeA = path.join(dir, 'site-a');
  const homeB = path.join(dir, 'site-b');
  const ok = (home: string, args: string[]) => {
    const r = sipsec(['--home', home, ...args]);
    assert.equal(r.code, 0, `sipsec ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  // Phones register with B: the registrar address they are given is B's port.
  const sipA = await freePort();
  const sipB = await freePort();
  ok(homeA, ['--store', url, 'ca', 'init', '--org', 'sipsec test', '--domain', 'pbx.test', '--key', 'p256', '--leaf-key', 'p256', '--no-passphrase', '--registrar', `127.0.0.1:${sipB}`, '--provisioning-url', 'https://localhost/prov/', '--tftp-server', '127.0.0.1']);
  assert.equal(existsSync(path.join(homeA, 'sipsec.db')), false, 'the index is in PostgreSQL, not in the home');
  ok(homeA, ['server', 'add', 'registrar', '--dns', 'localhost', '--ip', '127.0.0.1']);
  const phone1 = await baresipPorts();
  const readyDir = addBaresip(homeA, 'telefono1', '101', phone1);

  // B attaches: its home is a copy of the store's files, without the CA key.
  const listed = ok(homeB, ['--store', url, 'phone', 'list', '--json']);
  assert.deepEqual((JSON.parse(listed) as Array<{ name: string }>).map((p) => p.name), ['telefono1']);
  assert.equal(existsSync(path.join(homeB, 'private', 'ca.key')), false, 'the CA key never leaves the machine that signs');
  for (const f of readdirSync(path.join(homeB, 'private'))) assert.equal(statSync(path.join(homeB, 'private', f)).mode & 0o777, 0o600, f);
  assert.equal(statSync(path.join(homeB, 'store.json')).mode & 0o777, 0o600);
  assert.equal(readFileSync(path.join(homeB, 'ca.crt'), 'utf8'), readFileSync(path.join(homeA, 'ca.crt'), 'utf8'));
  const refused = sipsec(['--home', homeB, 'phone', 'add', 'elsewhere', '--vendor', 'baresip', '--ext', '109']);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^error: the CA key is not on this machine: .* is a copy of the shared store postgres:\/\/postgres@127\.0\.0\.1:\d+\/sipsec \(run commands that sign .* on the machine that holds the CA key\)\n$/);
  // A home with its own index cannot be pointed at the store as well.
  const own = sipsec(['--home', homeA, '--store', 'sqlite', 'phone', 'list']);
  assert.equal(own.code, 2);
  assert.match(own.stderr, /is bound to the store postgres:\/\/postgres@127\.0\.0\.1:\d+\/sipsec, not sqlite/);

  const serveA = await ServeProcess.start(homeA, ['--instance', 'site-a', '--tftp-port', 'off', '--https-port', '0', '--sip-port', String(sipA), '--diagnostic-port', 'off']);
  defer(() => serveA.stop());
  const serveB = await ServeProcess.start(homeB, ['--instance', 'site-b', '--tftp-port', 'off', '--https-port', '0', '--sip-port', String(sipB), '--diagnostic-port', 'off']);
  defer(() => serveB.stop());
  const startB = serveB.events.find((e) => e.event === 'serve.start')!;
  assert.equal(startB.instance, 'site-b');
  assert.doesNotMatch(JSON.stringify(serveB.events), /password|secret/i);

  // 1. A phone added through A is served by B.
  const phone2 = await baresipPorts();
  const added = Date.now();
  addBaresip(homeA, 'telefono2', '102', phone2);
  const exited = Date.now();
  const seen = await serveB.waitFor((e) => e.event === 'phone.changed' && e.phone === 'telefono2' && e.change === 'added', 10_000);
  const at = Date.parse(String(seen.time));
  t.diagnostic(`B applied the phone added on A ${at - added} ms after the command started, ${at - exited} ms after it exited`);
  const fromB = fetchOverHttps(curl, { port: serveB.ports.https!, basePath: '/prov/', vendor: 'baresip', phone: 'telefono2', files: ['config', 'accounts', 'cert.pem', 'ca.crt'], caFile: path.join(homeB, 'ca.crt'), certKeyPem: path.join(homeA, 'provision', 'telefono2', 'cert.pem'), dest: path.join(dir, 'from-b') });
  const fromA = fetchOverHttps(curl, { port: serveA.ports.https!, basePath: '/prov/', vendor: 'baresip', phone: 'telefono2', files: ['config', 'accounts', 'cert.pem', 'ca.crt'], caFile: path.join(homeA, 'ca.crt'), certKeyPem: path.join(homeA, 'provision', 'telefono2', 'cert.pem'), dest: path.join(dir, 'from-a') });
  for (const f of ['config', 'accounts', 'cert.pem', 'ca.crt']) assert.equal(readFileSync(path.join(fromB, f), 'utf8'), readFileSync(path.join(fromA, f), 'utf8'), `B serves telefono2's ${f} as A does`);

  // 2. telefono1 registers over TLS with B; status on A says B holds it.
  let phone: RunningBaresip | undefined;
  defer(() => phone?.stop());
  phone = await startBaresip(baresip, readyDir);
  const reg = await serveB.waitFor((e) => e.event === 'register.ok' && e.phone === 'telefono1', 30_000);
  assert.equal(reg.transport, 'tls');
  const statusA = await eventually(() => {
    const s = JSON.parse(ok(homeA, ['status', '--json'])) as { instance: string; instances: Array<{ id: string }>; registrations: unknown[]; registrationsElsewhere: Array<{ instance: string; phone: string; aor: string }> };
    return s.registrationsElsewhere.some((r) => r.phone === 'telefono1') ? s : undefined;
  }, 15_000, 'status on A to show the registration held by B');
  assert.equal(statusA.instance, 'site-a');
  assert.deepEqual(statusA.instances.map((i) => i.id).sort(), ['site-a', 'site-b']);
  assert.deepEqual(statusA.registrations, [], 'A holds no registration itself');
  const held = statusA.registrationsElsewhere.find((r) => r.phone === 'telefono1')!;
  assert.equal(held.instance, 'site-b');
  assert.match(held.aor, /^sip:101@pbx\.test$/);
  const statusB = JSON.parse(ok(homeB, ['status', '--json'])) as { registrations: Array<{ phone: string; instance: string }> };
  assert.equal(statusB.registrations.find((r) => r.phone === 'telefono1')?.instance, 'site-b');
  const human = ok(homeA, ['status']);
  assert.match(human, /telefono1\s+sip:101@pbx\.test\s+site-b/);

  // 3. Revoked through A: B closes telefono1's TLS connection.
  ok(homeA, ['cert', 'revoke', 'telefono1', '--reason', 'keyCompromise']);
  const closed = await serveB.waitFor((e) => e.event === 'sip.reject' && e.what === 'connection' && e.code === 'tls.cert_revoked', 15_000);
  assert.equal(closed.phone, 'telefono1');
  await serveB.waitFor((e) => e.event === 'register.end' && e.phone === 'telefono1', 15_000);
  // The row closes the connection; the CRL A signs next follows in its own commit.
  await eventually(() => (readFileSync(path.join(homeB, 'crl.pem'), 'utf8') === readFileSync(path.join(homeA, 'crl.pem'), 'utf8') ? true : undefined), 10_000, 'B to have the CRL A wrote');
  assert.match(run(requirePeer('openssl'), ['crl', '-in', path.join(homeB, 'crl.pem'), '-noout', '-text']).stdout, new RegExp(`Serial Number: 0*${String(reg.certSerial).replace(/^0+/, '')}\\b`, 'i'));
  await eventually(() => {
    const s = JSON.parse(ok(homeA, ['status', '--json'])) as { registrationsElsewhere: Array<{ phone: string }> };
    return s.registrationsElsewhere.some((r) => r.phone === 'telefono1') ? undefined : true;
  }, 15_000, 'the registration to leave the shared table');

  // 4. The store goes down: B says so once, goes on serving what it has, answers status, and catches up after.
  pg.pause();
  const down = await serveB.waitFor((e) => e.event === 'serve.error' && e.code === 'serve.store_failed', 10_000);
  assert.match(String(down.reason), /^the shared store postgres:\/\/postgres@127\.0\.0\.1:\d+\/sipsec is unreachable \(.+\): serve goes on with the phones and certificates it has/);
  const during = JSON.parse(ok(homeB, ['status', '--json'])) as { instance: string; storeError?: string };
  assert.equal(during.instance, 'site-b');
  assert.match(String(during.storeError), /the shared store did not answer/);
  const stillServed = fetchOverHttps(curl, { port: serveB.ports.https!, basePath: '/prov/', vendor: 'baresip', phone: 'telefono2', files: ['config'], caFile: path.join(homeB, 'ca.crt'), certKeyPem: path.join(homeA, 'provision', 'telefono2', 'cert.pem'), dest: path.join(dir, 'during-outage') });
  assert.equal(readFileSync(path.join(stillServed, 'config'), 'utf8'), readFileSync(path.join(fromA, 'config'), 'utf8'));
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(serveB.events.filter((e) => e.event === 'serve.error').length, 1, 'an outage is one event, not one per poll');
  pg.resume();
  await serveB.waitFor((e) => e.event === 'serve.notice' && /answers again/.test(String(e.note)), 15_000);
  const phone3 = await baresipPorts();
  addBaresip(homeA, 'telefono3', '103', phone3);
  await serveB.waitFor((e) => e.event === 'phone.changed' && e.phone === 'telefono3' && e.change === 'added', 10_000);

  // The store holds every certificate and leaf key, never a CA key.
  const shared = pg.psql('sipsec', "SELECT path FROM files ORDER BY path").trim().split('\n');
  assert.ok(shared.includes('ca.crt') && shared.includes('crl.pem') && shared.includes('config.json'));
  for (const p of shared.filter((x) => x.startsWith('private/'))) assert.match(p, /^private\/[0-9a-f]+\.key$/, p);
  assert.equal(shared.filter((x) => x.startsWith('private/')).length, readdirSync(path.join(homeA, 'private')).filter((f) => f !== 'ca.key').length);

  // 5. B stops: it leaves the instance list.
  await serveB.stop();
  const after = JSON.parse(ok(homeA, ['status', '--json'])) as { instances: Array<{ id: string }> };
  assert.deepEqual(after.instances.map((i) => i.id), ['site-a']);

  // A row naming a path sipsec never shares (someone wrote into the store by hand) is refused, not written.
  pg.psql('sipsec', "INSERT INTO files (path, mode, data, seq) VALUES ('private/ca.key', 384, 'x', (SELECT value::bigint + 1 FROM meta WHERE key = 'seq'))");
  pg.psql('sipsec', "UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'seq'");
  const corrupt = sipsec(['--home', homeB, 'phone', 'list']);
  assert.equal(corrupt.code, 1);
  assert.match(corrupt.stderr, /^error: the store holds a file sipsec never shares: "private\/ca\.key" \(.*\)\n$/);
  assert.equal(existsSync(path.join(homeB, 'private', 'ca.key')), false);
});

async function eventually<T>(fn: () => T | undefined, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
