import { promises as fs, closeSync, constants, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';

export interface WriteOptions {
  /** File mode; keys get 0o600, everything else 0o644. */
  mode?: number;
  /**
   * Default true: fsync the file and its directory. Derived files (the
   * rendered provisioning tree, rebuilt from the store at any time) skip
   * the fsyncs and keep only the atomic rename.
   */
  durable?: boolean;
  /**
   * Default true (when durable): fsync the directory after the rename. A
   * batch writing many files into one directory turns this off and syncs
   * the directory once before it commits (CaStore.prepare + syncDirs).
   */
  syncDir?: boolean;
}

/**
 * Write a file so that a reader (or a crash) sees either the old content or
 * the new one, never a mix: temp file in the same directory, fsync, rename,
 * then fsync the directory so the rename itself is durable.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, opts: WriteOptions = {}): Promise<void> {
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const mode = opts.mode ?? 0o644;
  const durable = opts.durable ?? true;
  const handle = await fs.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await handle.writeFile(data);
    if (durable) await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    // The file was created with `mode`: the umask can only narrow it, never widen a key's 0600.
    await fs.rename(tmp, file);
  } catch (e) {
    await fs.rm(tmp, { force: true });
    throw e;
  }
  if (durable && (opts.syncDir ?? true)) await fsyncDir(dir);
}

/**
 * writeFileAtomic for derived files (durable: false), synchronously: a full
 * provisioning render writes 34,000 small files at 10,000 phones, and node's
 * promise fs calls (open, write, close, rename: four thread-pool round
 * trips a file) cost the main thread more than the system calls do.
 */
export function writeDerivedFileAtomicSync(file: string, data: Uint8Array, mode: number): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    for (let off = 0; off < data.length; ) off += writeSync(fd, data, off);
  } finally {
    closeSync(fd);
  }
  try {
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(dir, constants.O_RDONLY);
    await handle.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  } finally {
    await handle?.close();
  }
}

/** mkdir -p with an exact mode on every directory we create. */
export async function ensureDir(dir: string, mode = 0o700): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode });
}
