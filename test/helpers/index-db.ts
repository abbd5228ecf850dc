import Database from 'better-sqlite3';
import * as path from 'node:path';
import type { CertEntry, Index, Phone } from '../../src/home/schema.js';

/**
 * The CA home's index read straight from its database (sipsec.db) with
 * the driver, not through sipsec's store: what a test asserts about the
 * records does not depend on the code under test reading them back.
 */
export function readIndex(home: string): Index {
  const db = new Database(path.join(home, 'sipsec.db'), { readonly: true, fileMustExist: true });
  try {
    const meta = new Map((db.prepare('SELECT key, value FROM meta').all() as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
    const phones = (db.prepare('SELECT data FROM phones ORDER BY rowid').all() as Array<{ data: string }>).map((r) => JSON.parse(r.data) as Phone);
    const certificates = (db.prepare('SELECT data FROM certs ORDER BY rowid').all() as Array<{ data: string }>).map((r) => JSON.parse(r.data) as CertEntry);
    const t = meta.get('transition');
    return { version: 1, crlNumber: Number(meta.get('crlNumber') ?? 0), certificates, phones, ...(t ? { transition: JSON.parse(t) as Index['transition'] } : {}) };
  } finally {
    db.close();
  }
}

/** The whole index and its change counter as one string: equal before and after means nothing was written. */
export function indexSnapshot(home: string): string {
  const db = new Database(path.join(home, 'sipsec.db'), { readonly: true, fileMustExist: true });
  try {
    const seq = db.prepare("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0) AS seq").get() as { seq: number };
    return JSON.stringify({ seq: seq.seq, index: readIndex(home) });
  } finally {
    db.close();
  }
}
