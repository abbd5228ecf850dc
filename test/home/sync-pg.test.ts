import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres } from '../helpers/postgres.js';
import { SyncPg } from '../../src/home/pg/sync-client.js';
import { SipsecError } from '../../src/core/errors.js';

/**
 * The synchronous PostgreSQL bridge under load: every answer is the
 * answer to its own request, in order, across thousands of calls (a late
 * wake-up from the previous reply once read an empty port), and a store
 * that is gone is one precise error, not a hang.
 */
test('SyncPg: 20,000 calls each get their own answer; SQL errors and a dead server are told apart', async (t) => {
  const pg = await startPostgres();
  t.after(() => pg.stop());
  pg.createDatabase('bridge');
  const db = new SyncPg(pg.url('bridge'), 'bridge_test', 'test store');
  t.after(() => db.close());
  for (let i = 0; i < 20_000; i++) {
    const row = db.query('SELECT $1::int AS n', [i])[0] as { n: number };
    assert.equal(row.n, i);
  }
  const [a, b] = db.tx([{ sql: 'CREATE TABLE t (x int)' }, { sql: 'INSERT INTO t VALUES (1), (2) RETURNING x' }]);
  assert.deepEqual(a, []);
  assert.deepEqual(b, [{ x: 1 }, { x: 2 }]);
  // A failing statement rolls the whole transaction back.
  assert.throws(() => db.tx([{ sql: 'INSERT INTO t VALUES (3)' }, { sql: 'SELECT 1/0' }]), (e: unknown) => e instanceof SipsecError && e.code === 'CA_CORRUPT' && /division by zero \(SQLSTATE 22012\)/.test(e.message));
  assert.deepEqual(db.query('SELECT count(*)::int AS n FROM t'), [{ n: 2 }]);
  // A reply that comes after its caller gave up is dropped, not taken as the next request's answer.
  const impatient = new SyncPg(pg.url('bridge'), 'bridge_test', 'test store', 300);
  t.after(() => impatient.close());
  assert.deepEqual(impatient.query('SELECT 1 AS n'), [{ n: 1 }]);
  assert.throws(() => impatient.query('SELECT pg_sleep(0.8), 7 AS n'), (e: unknown) => e instanceof SipsecError && e.code === 'STORE_UNREACHABLE' && /did not answer within 0\.3 s/.test(e.message));
  await new Promise((r) => setTimeout(r, 1000));
  assert.deepEqual(impatient.query('SELECT 8 AS n'), [{ n: 8 }]);
  pg.pause();
  assert.throws(() => db.query('SELECT 1'), (e: unknown) => e instanceof SipsecError && e.code === 'STORE_UNREACHABLE' && /^cannot use the store test store: /.test(e.message));
  pg.resume();
  assert.deepEqual(db.query('SELECT 2 AS n'), [{ n: 2 }], 'the next call connects again');
});
