import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseStoreSpec, redactUrl, resolveStore } from '../../src/home/store-spec.js';
import { sharedMode } from '../../src/home/pg/shared-files.js';
import { homePaths } from '../../src/home/paths.js';
import { SipsecError } from '../../src/core/errors.js';

test('--store: sqlite or a postgres URL; ?schema= checked and {home} hashed per home; passwords never in messages', () => {
  assert.deepEqual(parseStoreSpec('', '/h'), { kind: 'sqlite' });
  assert.deepEqual(parseStoreSpec('sqlite', '/h'), { kind: 'sqlite' });
  const s = parseStoreSpec('postgres://sipsec:s3cret@db.example.com:5433/sipsec?sslmode=require&schema=lab', '/h');
  assert.equal(s.kind, 'postgres');
  if (s.kind !== 'postgres') return;
  assert.equal(s.schema, 'lab');
  assert.equal(s.url, 'postgres://sipsec:s3cret@db.example.com:5433/sipsec?sslmode=require', 'schema is sipsec\'s, not the driver\'s');
  assert.doesNotMatch(s.label, /s3cret/);
  assert.equal(s.label, 'postgres://sipsec:***@db.example.com:5433/sipsec?sslmode=require (schema lab)');
  const a = parseStoreSpec('postgresql://db/x?schema={home}', '/srv/a');
  const b = parseStoreSpec('postgresql://db/x?schema={home}', '/srv/b');
  assert.ok(a.kind === 'postgres' && b.kind === 'postgres');
  assert.match(a.schema!, /^h_[0-9a-f]{16}$/);
  assert.notEqual(a.schema, b.schema, 'one setting, one schema per home');
  assert.equal(redactUrl('postgres://u:p@h/d'), 'postgres://u:***@h/d');
  for (const [bad, why] of [
    ['mysql://db/x', /--store must be sqlite or a postgres:\/\/ URL/],
    ['postgres://db/x?schema=Robert\'); DROP', /is not a plain PostgreSQL name/],
    ['postgres://db/x?schema=a-b', /is not a plain PostgreSQL name/],
  ] as const) {
    assert.throws(() => parseStoreSpec(bad, '/h'), (e: unknown) => e instanceof SipsecError && e.code === 'BAD_INPUT' && why.test(e.message));
  }
  // A password given in a bad URL is not echoed back.
  assert.throws(() => parseStoreSpec('mysql://u:hunter2@db/x', '/h'), (e: unknown) => e instanceof Error && !e.message.includes('hunter2'));
});

test('a home keeps the store it is bound to: the same one may be given again, another is refused', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sipsec-spec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const paths = homePaths(path.join(dir, 'home'));
  mkdirSync(paths.root);
  assert.equal((await resolveStore(paths, undefined)).spec.kind, 'sqlite');
  writeFileSync(paths.storeBinding, JSON.stringify({ store: 'postgres://db/sipsec?schema=site' }));
  const bound = await resolveStore(paths, undefined);
  assert.equal(bound.bound, true);
  assert.equal(bound.spec.kind === 'postgres' && bound.spec.schema, 'site');
  assert.equal((await resolveStore(paths, 'postgres://db/sipsec?schema=site')).bound, true);
  await assert.rejects(resolveStore(paths, 'sqlite'), /is bound to the store postgres:\/\/db\/sipsec \(schema site\), not sqlite/);
  await assert.rejects(resolveStore(paths, 'postgres://other/sipsec'), /not postgres:\/\/other\/sipsec/);
  writeFileSync(paths.storeBinding, '{"store": 1}');
  await assert.rejects(resolveStore(paths, undefined), (e: unknown) => e instanceof SipsecError && e.code === 'CA_CORRUPT');
});

test('what a shared store may write into a home: certificates and leaf keys by serial and three top-level files, nothing else', () => {
  assert.equal(sharedMode('certs/6d57cc9ea86133dada35f29356ec343c.crt'), 0o644);
  assert.equal(sharedMode('private/6d57cc9ea86133dada35f29356ec343c.key'), 0o600);
  assert.equal(sharedMode('private/0123456789ABCDEF.key'), 0o600);
  assert.equal(sharedMode('config.json'), 0o600);
  assert.equal(sharedMode('ca.crt'), 0o644);
  assert.equal(sharedMode('crl.pem'), 0o644);
  // `ca` and `cafe` are hex too: the CA key's name must not pass as a serial.
  for (const bad of ['private/ca.key', 'private/cafe.key', 'private/0a1b2c.key', 'private/ca-0a1b.key', '../x.crt', 'certs/../../etc/passwd', '/etc/passwd', 'certs/x.crt', 'store.json', 'sipsec.db', 'provision/a.cfg', 'certs/0a.crt/x', 'private/0a.key\n']) {
    assert.equal(sharedMode(bad), undefined, bad);
  }
});
