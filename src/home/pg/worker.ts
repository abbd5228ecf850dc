import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type pg from 'pg';
import { quoteIdent } from './ident.js';

/**
 * The PostgreSQL connection behind `SyncPg` (sync-client.ts): it runs in a
 * worker thread, so the caller can block on a reply the way it does on
 * better-sqlite3. One connection, one request at a time, in order.
 */

interface Data {
  url: string;
  schema: string | undefined;
  port: MessagePort;
  flag: Int32Array;
}

export interface Step {
  sql: string;
  params?: unknown[];
}

export type Request = { op: 'query'; sql: string; params?: unknown[] } | { op: 'tx'; steps: Step[] } | { op: 'close' };

export type Reply = ({ ok: true; rows: Array<Array<Record<string, unknown>>> } | { ok: false; message: string; code?: string }) & { id: number };

const { url, schema, port, flag } = workerData as Data;
let client: pg.Client | undefined;
// Loaded here, not imported at the top: a client that cannot load is an answer to every request, not
// a worker that dies before it can reply (the caller is blocked waiting for one).
const driver: Promise<typeof pg | Error> = import('pg').then(
  (m) => m.default,
  (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
);

async function connect(): Promise<pg.Client> {
  if (client) return client;
  const pg = await driver;
  if (pg instanceof Error) throw new Error(`cannot load the PostgreSQL client (npm package pg): ${pg.message}`);
  const c = new pg.Client({ connectionString: url, application_name: 'sipsec', connectionTimeoutMillis: 10_000 });
  // A dropped connection surfaces as the next query's error, not as an uncaught event.
  c.on('error', () => undefined);
  await c.connect();
  if (schema) {
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await c.query(`SET search_path TO ${quoteIdent(schema)}`);
  }
  client = c;
  return c;
}

type Answer = { ok: true; rows: Array<Array<Record<string, unknown>>> } | { ok: false; message: string; code?: string };

async function handle(req: Request): Promise<Answer> {
  if (req.op === 'close') {
    await client?.end().catch(() => undefined);
    client = undefined;
    return { ok: true, rows: [] };
  }
  const c = await connect();
  if (req.op === 'query') return { ok: true, rows: [(await c.query(req.sql, req.params)).rows] };
  await c.query('BEGIN');
  try {
    const rows: Array<Array<Record<string, unknown>>> = [];
    for (const s of req.steps) rows.push((await c.query(s.sql, s.params)).rows);
    await c.query('COMMIT');
    return { ok: true, rows };
  } catch (e) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw e;
  }
}

port.on('message', (req: Request & { id: number }) => {
  void handle(req)
    .catch(async (e: unknown): Promise<Answer> => {
      // An error PostgreSQL answered carries its SQLSTATE; anything else (refused, reset, timed out) is the connection.
      const pg = await driver;
      const sqlstate = !(pg instanceof Error) && e instanceof pg.DatabaseError ? e.code : undefined;
      if (client && sqlstate === undefined) {
        // The connection may be gone; the next request reconnects.
        void client.end().catch(() => undefined);
        client = undefined;
      }
      return { ok: false, message: e instanceof Error ? e.message : String(e), ...(sqlstate ? { code: sqlstate } : {}) };
    })
    .then((answer) => {
      port.postMessage({ ...answer, id: req.id });
      Atomics.store(flag, 0, 1);
      Atomics.notify(flag, 0);
    });
});
parentPort?.on('message', () => undefined);
