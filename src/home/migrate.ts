import { promises as fs, constants, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SipsecError, errnoCode } from '../core/errors.js';
import { fsyncDir } from '../core/atomic.js';
import { withLock } from '../core/lock.js';
import { IndexDb } from './db.js';
import type { HomePaths } from './paths.js';
import { IndexSchema } from './schema.js';
import { readJson } from './read-json.js';
import { assertWritable } from './writable.js';

/**
 * A CA home written before the database (index.json) is moved into it
 * once, on first use: built under a temporary name, fsynced, renamed into
 * place (the commit point), and only then is index.json renamed to
 * index.json.pre-db, the backup. A crash before the rename leaves the old
 * home as it was; after it, the next run finishes the rename.
 */
export async function migrateJsonIndex(paths: HomePaths): Promise<{ phones: number; certificates: number; backup: string } | undefined> {
  if (await exists(paths.db)) {
    // Crashed between the two renames: the database is committed, finish the backup.
    if (await exists(paths.index)) await withLock(paths.lock, () => keepBackup(paths));
    return undefined;
  }
  if (!(await exists(paths.index))) {
    throw new SipsecError('CA_CORRUPT', `the CA home ${paths.root} has no index (neither sipsec.db nor index.json)`, 'restore it from a backup (sipsec ca restore FILE)');
  }
  try {
    await assertWritable(paths.root);
  } catch {
    throw new SipsecError('NOT_WRITABLE', `the CA home ${paths.root} was written by an earlier sipsec (index.json) and must be moved into its database once`, 'run any sipsec command on it once as the user that owns it');
  }
  return withLock(paths.lock, async () => {
    if (await exists(paths.db)) return undefined;
    const index = await readJson(paths.index, IndexSchema, 'index');
    const tmp = `${paths.db}.migrating-${process.pid}`;
    await fs.rm(tmp, { force: true });
    const db = IndexDb.open(tmp, { create: true, wal: false });
    try {
      db.commit(
        {
          phones: new Map(index.phones.map((p) => [p.name, p])),
          certs: new Map(index.certificates.map((c) => [c.serial, c])),
          meta: { crlNumber: index.crlNumber, transition: index.transition },
        },
        new Date(),
      );
      if (db.phoneCount() !== index.phones.length) throw new SipsecError('CA_CORRUPT', `index.json names a phone twice (${index.phones.length} records, ${db.phoneCount()} names)`, 'remove the duplicate from index.json by hand, then run sipsec again');
    } finally {
      db.close();
    }
    const handle = await fs.open(tmp, constants.O_RDONLY);
    await handle.sync();
    await handle.close();
    await fs.chmod(tmp, 0o600);
    await fs.rename(tmp, paths.db);
    await fsyncDir(paths.root);
    const backup = await keepBackup(paths);
    return { phones: index.phones.length, certificates: index.certificates.length, backup };
  });
}

async function keepBackup(paths: HomePaths): Promise<string> {
  const target = (await exists(paths.indexBackup)) ? `${paths.indexBackup}-${new Date().toISOString().replace(/[:.]/g, '-')}` : paths.indexBackup;
  try {
    await fs.rename(paths.index, target);
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
  await fsyncDir(paths.root);
  return target;
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

/**
 * Open the home's database. A home this user may only read (SQLite's WAL
 * needs to write its -shm file beside the database) is read from a private
 * copy, so listing and showing still work; every write is refused earlier
 * by assertWritable.
 */
export async function openIndexDb(paths: HomePaths): Promise<IndexDb> {
  let writable = true;
  try {
    await fs.access(paths.root, constants.W_OK);
    await fs.access(paths.db, constants.W_OK);
  } catch {
    writable = false;
  }
  if (writable) return IndexDb.open(paths.db);
  try {
    await fs.access(paths.db, constants.R_OK);
  } catch {
    throw new SipsecError('UNREADABLE', `cannot read the index database ${paths.db}`, 'run sipsec as the user that owns the CA home');
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sipsec-ro-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const copy = path.join(dir, 'sipsec.db');
  copyFileSync(paths.db, copy);
  try {
    copyFileSync(`${paths.db}-wal`, `${copy}-wal`);
  } catch {
    // No write-ahead log: everything is in the database file.
  }
  return IndexDb.open(copy);
}
