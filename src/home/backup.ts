import { promises as fs, constants } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { SipsecError, errnoCode, messageOf } from '../core/errors.js';
import { ensureDir, fsyncDir, writeFileAtomic } from '../core/atomic.js';
import { withLock } from '../core/lock.js';
import { readTar, writeTar, type TarEntry } from '../core/tar.js';
import { IndexDb } from './db.js';
import { homeEntries, type CaStore } from './store.js';
import { homePaths, type HomePaths } from './paths.js';
import { runningServe } from './serve-lock.js';
import { ConfigSchema } from './schema.js';
import { assertWritable } from './writable.js';

/**
 * `sipsec ca backup FILE` / `ca restore FILE`: the CA as one tar archive
 * (gzip-compressed when FILE ends in .gz or .tgz): config.json, the index
 * database, ca.crt, crl.pem, every certificate and every private key, the
 * CA's included. The rendered tree and the logs are not in it: a restore
 * renders the tree again. The copy is consistent while serve runs: it is
 * taken under the store lock (no sipsec commits meanwhile), the database
 * through SQLite's own VACUUM INTO.
 */

export interface BackupResult {
  schema: 1;
  file: string;
  bytes: number;
  files: number;
  phones: number;
  certificates: number;
  /** The database's change number the copy was taken at. */
  changeSeq: number;
  compressed: boolean;
}

const TOP_FILES = ['config.json', 'ca.crt', 'crl.pem', 'outs.json'] as const;
const DB_NAME = 'sipsec.db';

function compressed(file: string): boolean {
  return /\.(t?gz)$/i.test(file);
}

export async function backupHome(store: CaStore, file: string): Promise<BackupResult> {
  const out = path.resolve(file);
  if (out === store.paths.root || out.startsWith(store.paths.root + path.sep)) {
    throw new SipsecError('BAD_INPUT', `the backup ${out} would be inside the CA home it copies`, 'write it outside the CA home (another disk, ideally)');
  }
  try {
    const st = await fs.stat(path.dirname(out));
    if (!st.isDirectory()) throw new Error('not a folder');
  } catch {
    throw new SipsecError('BAD_INPUT', `no folder ${path.dirname(out)} to write the backup in`, 'create it first, or give another path');
  }
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'sipsec-backup-'));
  try {
    const entries = await withLock(store.paths.lock, async () => {
      const dbCopy = path.join(scratch, DB_NAME);
      store.database.copyTo(dbCopy);
      const list: TarEntry[] = [];
      const now = new Date();
      const add = async (rel: string, abs: string) => {
        const [data, st] = await Promise.all([fs.readFile(abs), fs.stat(abs)]);
        list.push({ name: rel, type: 'file', mode: st.mode & 0o777, mtime: st.mtime, data });
      };
      for (const f of TOP_FILES) {
        try {
          await add(f, path.join(store.paths.root, f));
        } catch (e) {
          if (errnoCode(e) !== 'ENOENT' || f === 'config.json' || f === 'ca.crt') throw e;
        }
      }
      list.push({ name: DB_NAME, type: 'file', mode: 0o600, mtime: now, data: await fs.readFile(dbCopy) });
      for (const dir of ['certs', 'private'] as const) {
        list.push({ name: dir, type: 'dir', mode: 0o700, mtime: now, data: Buffer.alloc(0) });
        const names = (await fs.readdir(path.join(store.paths.root, dir))).filter((n) => !n.startsWith('.')).sort();
        for (const n of names) await add(`${dir}/${n}`, path.join(store.paths.root, dir, n));
      }
      return list;
    });
    const check = IndexDb.open(path.join(scratch, DB_NAME), { readonly: true });
    const counts = { phones: check.phoneCount(), certificates: check.allCerts().length, seq: check.lastSeq() };
    check.close();
    const tar = writeTar(entries);
    const body = compressed(out) ? gzipSync(tar) : tar;
    // Holds every private key: readable by its owner only, written whole or not at all.
    await writeFileAtomic(out, body, { mode: 0o600 });
    return { schema: 1, file: out, bytes: body.length, files: entries.filter((e) => e.type === 'file').length, phones: counts.phones, certificates: counts.certificates, changeSeq: counts.seq, compressed: compressed(out) };
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
}

export interface RestoreResult {
  schema: 1;
  home: string;
  file: string;
  files: number;
  phones: number;
  certificates: number;
  /** Where a CA the restore replaced (--force) was moved; null when the home was new or empty. */
  replaced: string | null;
}

/** What a backup may hold, and the mode each gets back. */
function allowed(e: TarEntry): number | undefined {
  if (e.type === 'dir') return e.name === 'certs' || e.name === 'private' ? 0o700 : undefined;
  if (e.name === 'config.json' || e.name === DB_NAME || e.name === 'outs.json') return 0o600;
  if (e.name === 'ca.crt' || e.name === 'crl.pem') return 0o644;
  if (/^certs\/[0-9a-f]+\.crt$/.test(e.name)) return 0o644;
  if (/^private\/(ca(-[0-9a-f]+)?|[0-9a-f]+)\.key$/.test(e.name)) return 0o600;
  return undefined;
}

export async function restoreHome(file: string, home: string, opts: { force?: boolean } = {}): Promise<RestoreResult> {
  const src = path.resolve(file);
  let raw: Buffer;
  try {
    raw = await fs.readFile(src);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') throw new SipsecError('BAD_INPUT', `no such backup file: ${src}`, 'check the path');
    throw new SipsecError('UNREADABLE', `cannot read the backup ${src}: ${messageOf(e)}`, 'check its permissions');
  }
  let entries: TarEntry[];
  try {
    entries = readTar(raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).filter((e) => !(e.type === 'dir' && (e.name === '' || e.name === '.')));
  } catch (e) {
    throw new SipsecError('BAD_INPUT', `${src} is not a sipsec backup: ${messageOf(e)}`, 'give a file written by sipsec ca backup');
  }
  const foreign = entries.find((e) => allowed(e) === undefined);
  if (foreign) throw new SipsecError('BAD_INPUT', `${src} is not a sipsec backup: it holds ${foreign.name}`, 'give a file written by sipsec ca backup');
  for (const need of ['config.json', DB_NAME, 'ca.crt']) {
    if (!entries.some((e) => e.name === need)) throw new SipsecError('BAD_INPUT', `${src} is not a whole sipsec backup: ${need} is missing`, 'give a file written by sipsec ca backup');
  }
  const config = ConfigSchema.safeParse(JSON.parse(entries.find((e) => e.name === 'config.json')!.data.toString('utf8') || 'null'));
  if (!config.success) throw new SipsecError('BAD_INPUT', `${src} holds an invalid config.json`, 'give a file written by sipsec ca backup');

  const paths = homePaths(home);
  const parent = path.dirname(paths.root);
  try {
    await fs.access(parent, constants.W_OK);
  } catch {
    throw new SipsecError('NOT_WRITABLE', `cannot create ${paths.root}: ${parent} is not writable by this user`, 'pick a --home this user may create, or run as the owner');
  }
  // Unpacked beside the home, checked, then renamed into place: a failed restore leaves nothing half-written.
  const staging = `${paths.root}.restoring-${process.pid}`;
  await fs.rm(staging, { recursive: true, force: true });
  await ensureDir(staging);
  try {
    for (const e of entries.filter((x) => x.type === 'dir')) await ensureDir(path.join(staging, e.name));
    for (const e of entries.filter((x) => x.type === 'file')) {
      await ensureDir(path.dirname(path.join(staging, e.name)));
      await writeFileAtomic(path.join(staging, e.name), e.data, { mode: allowed(e)!, syncDir: false });
    }
    for (const dir of ['certs', 'private']) await ensureDir(path.join(staging, dir));
    await Promise.all(['.', 'certs', 'private'].map((d) => fsyncDir(path.join(staging, d))));
    const db = IndexDb.open(path.join(staging, DB_NAME), { readonly: true });
    let counts: { phones: number; certificates: number; missing: string[] };
    try {
      const ok = db.quickCheck();
      if (ok !== 'ok') throw new SipsecError('BAD_INPUT', `the index database in ${src} is damaged: ${ok}`, 'use another backup');
      const certs = db.allCerts().map((r) => r.cert);
      const have = new Set(entries.map((e) => e.name));
      counts = { phones: db.phoneCount(), certificates: certs.length, missing: certs.filter((c) => !have.has(`certs/${c.serial}.crt`)).map((c) => c.serial) };
    } finally {
      db.close();
    }
    if (counts.missing.length > 0) throw new SipsecError('BAD_INPUT', `${src} lacks the certificate files of ${counts.missing.length} indexed certificate(s) (first: ${counts.missing[0]})`, 'use another backup');

    let replaced: string | undefined;
    await withHomeClaim(paths, async () => {
      const content = await homeEntries(paths.root);
      if (content.length > 0) {
        const serve = await runningServe(paths);
        if (serve !== undefined) throw new SipsecError('ALREADY_RUNNING', `sipsec serve is running on ${paths.root} (pid ${serve})`, `stop it first (kill ${serve}); it would go on serving the CA it loaded`);
        if (!opts.force) throw new SipsecError('CA_EXISTS', `${paths.root} is not empty (${content.slice(0, 4).join(', ')}${content.length > 4 ? ', ...' : ''})`, 'restore into a new --home, or give --force to move what is there to <home>.replaced-<time>');
        await assertWritable(paths.root);
        replaced = `${paths.root}.replaced-${new Date().toISOString().replace(/[:.]/g, '-')}`;
        await fs.rename(paths.root, replaced);
      } else {
        await fs.rm(paths.root, { recursive: true, force: true });
      }
      try {
        await fs.rename(staging, paths.root);
      } catch (e) {
        // Put the old home back rather than leave none.
        if (replaced) await fs.rename(replaced, paths.root).catch(() => undefined);
        replaced = undefined;
        throw e;
      }
      await fs.chmod(paths.root, 0o700);
      await fsyncDir(parent);
    });
    return { schema: 1, home: paths.root, file: src, files: entries.filter((e) => e.type === 'file').length, phones: counts.phones, certificates: counts.certificates, replaced: replaced ?? null };
  } catch (e) {
    await fs.rm(staging, { recursive: true, force: true });
    throw e;
  }
}

/** The store lock of a home that may not exist yet (a restore into a new folder needs none). */
async function withHomeClaim(paths: HomePaths, fn: () => Promise<void>): Promise<void> {
  try {
    await fs.access(paths.root);
  } catch {
    return fn();
  }
  // The lock file lives inside the home that is about to be renamed away: take it, then let go before the rename.
  await withLock(paths.lock, async () => undefined);
  return fn();
}
