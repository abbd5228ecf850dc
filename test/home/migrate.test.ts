import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, cpSync, existsSync, readFileSync, readdirSync, renameSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanup, cliEntry, run, sipsec, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';
import { readIndex } from '../helpers/index-db.js';
import { migrateJsonIndex } from '../../src/home/migrate.js';
import { homePaths } from '../../src/home/paths.js';
import { IndexSchema } from '../../src/home/schema.js';

/**
 * test/fixtures/json-home was written by sipsec before the database (main
 * at cfb135f, index.json): a server, four phones of four vendors, a renewal
 * overlap, a removed phone, and a CA rotation in progress, so every field
 * of the old index is there to be carried over.
 */
const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/json-home', import.meta.url));

function fixtureCopy(): string {
  const home = path.join(tmpDir('sipsec-migrate-'), 'home');
  cpSync(FIXTURE, home, { recursive: true });
  // git keeps no modes: give the copy the ones sipsec wrote (folders 0700, keys and index 0600).
  for (const dir of ['', 'certs', 'private', 'provision']) chmodSync(path.join(home, dir), 0o700);
  for (const key of readdirSync(path.join(home, 'private'))) chmodSync(path.join(home, 'private', key), 0o600);
  for (const f of ['config.json', 'index.json']) chmodSync(path.join(home, f), 0o600);
  return home;
}

test('a JSON home is moved into the database once: every record carried over, index.json kept as the backup', async (t) => {
  const home = fixtureCopy();
  t.after(() => cleanup(path.dirname(home)));
  const old = IndexSchema.parse(JSON.parse(readFileSync(path.join(home, 'index.json'), 'utf8')));
  assert.ok(old.transition && old.phones.length === 3 && old.certificates.some((c) => c.status === 'revoked') && old.certificates.some((c) => c.supersededBy), 'the fixture has every kind of record');

  const done = await migrateJsonIndex(homePaths(home));
  assert.deepEqual(done && { phones: done.phones, certificates: done.certificates }, { phones: 3, certificates: old.certificates.length });
  assert.equal(done?.backup, path.join(home, 'index.json.pre-db'));
  assert.deepEqual(readIndex(home), old, 'the database holds exactly what index.json held, in the same order');
  assert.equal(readFileSync(path.join(home, 'index.json.pre-db'), 'utf8'), readFileSync(path.join(FIXTURE, 'index.json'), 'utf8'), 'the backup is the old index, byte for byte');
  assert.equal(existsSync(path.join(home, 'index.json')), false);
  assert.equal(statSync(path.join(home, 'sipsec.db')).mode & 0o777, 0o600);
  // Once: a second run finds the database and does nothing.
  assert.equal(await migrateJsonIndex(homePaths(home)), undefined);
  assert.deepEqual(readIndex(home), old);
});

test('a migrated home keeps working from the CLI: lists, the rotation, a new phone, an edit, a revocation the CRL lists', async (t) => {
  const openssl = requirePeer('openssl');
  const home = fixtureCopy();
  t.after(() => cleanup(path.dirname(home)));
  const old = IndexSchema.parse(JSON.parse(readFileSync(path.join(home, 'index.json'), 'utf8')));
  // The first command of the new sipsec migrates.
  const list = sipsec(['--home', home, 'phone', 'list', '--json']);
  assert.equal(list.code, 0, list.stderr);
  assert.deepEqual((JSON.parse(list.stdout) as Array<{ name: string }>).map((p) => p.name), old.phones.map((p) => p.name));
  assert.ok(existsSync(path.join(home, 'sipsec.db')) && existsSync(path.join(home, 'index.json.pre-db')));
  const show = sipsec(['--home', home, 'ca', 'show', '--json']);
  assert.equal(show.code, 0, show.stderr);
  assert.equal((JSON.parse(show.stdout) as { rotation: { oldCa: string } | null }).rotation?.oldCa, old.transition!.oldCa);

  assert.equal(sipsec(['--home', home, 'phone', 'add', 'new5', '--vendor', 'yealink', '--mac', '80:5e:c0:00:00:05', '--ext', '105']).code, 0);
  const edit = sipsec(['--home', home, 'phone', 'edit', 'telefono1', '--ip', '10.0.1.150']);
  assert.equal(edit.code, 0, edit.stderr);
  const revoke = sipsec(['--home', home, 'cert', 'revoke', 'soft3']);
  assert.equal(revoke.code, 0, revoke.stderr);
  const idx = readIndex(home);
  assert.deepEqual(idx.phones.map((p) => p.name), ['telefono1', 'desk2', 'soft3', 'new5']);
  assert.deepEqual(idx.phones.find((p) => p.name === 'telefono1')?.ips, ['10.0.1.150']);
  // The new phone's certificate chains to the current CA; the revoked one is in the CRL openssl reads.
  const fresh = idx.certificates.find((c) => c.name === 'new5')!;
  assert.equal(run(openssl, ['verify', '-CAfile', path.join(home, 'ca.crt'), path.join(home, 'certs', `${fresh.serial}.crt`)]).code, 0);
  // During the rotation crl.pem holds two CRLs, one per CA (openssl crl reads one at a time).
  const blocks = readFileSync(path.join(home, 'crl.pem'), 'utf8').match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----\n/g) ?? [];
  assert.equal(blocks.length, 2);
  const crl = { stdout: blocks.map((b) => run(openssl, ['crl', '-noout', '-text'], { input: b }).stdout).join('\n') };
  const revoked = idx.certificates.filter((c) => c.name === 'soft3' && c.status === 'revoked');
  assert.ok(revoked.length >= 1);
  for (const c of revoked) assert.match(crl.stdout.toUpperCase(), new RegExp(c.serial.toUpperCase().replace(/^0+/, '')));
  // The old index is left as it was.
  assert.deepEqual(JSON.parse(readFileSync(path.join(home, 'index.json.pre-db'), 'utf8')), old);
});

test('a migration cut off after the database was committed is finished by the next command; a read-only JSON home says who must migrate it', async (t) => {
  const home = fixtureCopy();
  t.after(() => cleanup(path.dirname(home)));
  await migrateJsonIndex(homePaths(home));
  // As if killed between the two renames: the database and index.json both there.
  renameSync(path.join(home, 'index.json.pre-db'), path.join(home, 'index.json'));
  const r = sipsec(['--home', home, 'cert', 'list', '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(existsSync(path.join(home, 'index.json')), false);
  assert.ok(existsSync(path.join(home, 'index.json.pre-db')));

  const ro = fixtureCopy();
  t.after(() => cleanup(path.dirname(ro)));
  // Readable by everyone, writable by its owner only (as an administrator may leave /etc/sipsec).
  for (const dir of [path.dirname(ro), ro]) chmodSync(dir, 0o755);
  for (const f of ['config.json', 'index.json']) chmodSync(path.join(ro, f), 0o644);
  const runner = `const m = await import(process.argv[1]); process.exitCode = await m.main(process.argv.slice(2));`;
  const nobody = run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', runner, new URL(`file://${cliEntry()}`).href, '--home', ro, 'phone', 'list'], { env: { ...process.env, HOME: '/tmp' } });
  assert.equal(nobody.code, 1);
  assert.match(nobody.stderr, /^error: the CA home .* was written by an earlier sipsec \(index\.json\) and must be moved into its database once \(run any sipsec command on it once as the user that owns it\)\n$/);
  assert.equal(existsSync(path.join(ro, 'sipsec.db')), false);
});
