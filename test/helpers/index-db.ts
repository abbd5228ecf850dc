import Database from 'better-sqlite3';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { CertEntry, Index, Phone } from '../../src/home/schema.js';
import { parseStoreSpec } from '../../src/home/store-spec.js';
import { SyncPg } from '../../src/home/pg/sync-client.js';

/**
 * The CA home's index read straight from its database with the driver, not
 * through sipsec's store: what a test asserts about the records does not
 * depend on the code under test reading them back. A home bound to a
 * PostgreSQL store (the suite's PostgreSQL run) is read from there.
 */
interface Raw {
  meta: Map<string, string>;
  phones: string[];
  certs: string[];
  seq: number;
}

function readRaw(home: string): Raw {
  const binding = path.join(home, 'store.json');
  if (existsSync(binding)) {
    const spec = parseStoreSpec((JSON.parse(readFileSync(binding, 'utf8')) as { store: string }).store, path.resolve(home));
    if (spec.kind !== 'postgres') throw new Error(`${binding}: not a PostgreSQL binding`);
    const pg = new SyncPg(spec.url, spec.schema, spec.label);
    try {
      const [meta, phones, certs] = pg.tx([{ sql: 'SELECT key, value FROM meta' }, { sql: 'SELECT data FROM phones ORDER BY ord' }, { sql: 'SELECT data FROM certs ORDER BY ord' }]);
      const m = new Map((meta as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
      return { meta: m, phones: (phones as Array<{ data: string }>).map((r) => r.data), certs: (certs as Array<{ data: string }>).map((r) => r.data), seq: Number(m.get('seq') ?? 0) };
    } finally {
      pg.close();
    }
  }
  const db = new Database(path.join(home, 'sipsec.db'), { readonly: true, fileMustExist: true });
  try {
    const meta = new Map((db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
    const phones = (db.prepare('SELECT data FROM phones ORDER BY rowid').all() as Array<{ data: string }>).map((r) => r.data);
    const certs = (db.prepare('SELECT data FROM certs ORDER BY rowid').all() as Array<{ data: string }>).map((r) => r.data);
    const seq = (db.prepare("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0) AS seq").get() as { seq: number }).seq;
    return { meta, phones, certs, seq };
  } finally {
    db.close();
  }
}

function toIndex(raw: Raw): Index {
  const t = raw.meta.get('transition');
  return {
    version: 1,
    crlNumber: Number(raw.meta.get('crlNumber') ?? 0),
    certificates: raw.certs.map((d) => JSON.parse(d) as CertEntry),
    phones: raw.phones.map((d) => JSON.parse(d) as Phone),
    ...(t ? { transition: JSON.parse(t) as Index['transition'] } : {}),
  };
}

export function readIndex(home: string): Index {
  return toIndex(readRaw(home));
}

/** The whole index and its change counter as one string: equal before and after means nothing was written. */
export function indexSnapshot(home: string): string {
  const raw = readRaw(home);
  return JSON.stringify({ seq: raw.seq, index: toIndex(raw) });
}

/** Whether the suite runs against PostgreSQL (scripts/run-tests.mjs --store postgres). */
export function suiteOnPostgres(): boolean {
  return (process.env.SIPSEC_STORE ?? '').startsWith('postgres');
}
