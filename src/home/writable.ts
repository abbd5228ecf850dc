import { promises as fs, constants } from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { SipsecError, errnoCode } from '../core/errors.js';

/**
 * Whether this process may write into the CA home, checked before a
 * command changes anything: a read-only mount or a home owned by another
 * user gets one clear line instead of an EACCES half-way through a write.
 * access(W_OK) alone is not enough: for root it ignores the mode bits and
 * an immutable directory (chattr +i), so a real file is created and removed.
 */

const DENIED = new Set(['EACCES', 'EPERM', 'EROFS']);

export function uid(): number {
  return typeof process.getuid === 'function' ? process.getuid() : -1;
}

/** Why a directory refused us, in words a person can act on. */
async function why(dir: string, code: string | undefined): Promise<string> {
  if (code === 'EROFS') return 'it is on a read-only file system; remount it read-write or copy the CA home elsewhere';
  const st = await fs.stat(dir).catch(() => undefined);
  if (st && st.uid !== uid()) return `it belongs to uid ${st.uid}, mode 0${(st.mode & 0o777).toString(8)}; run sipsec as that user, or give this user the CA home with chown`;
  if (code === 'EPERM') return 'the directory is immutable (chattr -i) or a security module refuses the write';
  return `its mode is 0${((st?.mode ?? 0) & 0o777).toString(8)}; give the owner write access (chmod u+w)`;
}

export function notWritable(dir: string, hint: string): SipsecError {
  return new SipsecError('NOT_WRITABLE', `the CA home ${dir} is not writable by uid ${uid()}`, hint);
}

export function isDenied(e: unknown): boolean {
  const code = errnoCode(e);
  return code !== undefined && DENIED.has(code);
}

/** Throws NOT_WRITABLE (exit 1) unless a file can be created and removed in `dir`. */
export async function assertWritable(dir: string): Promise<void> {
  try {
    await fs.access(dir, constants.W_OK);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return; // created by the caller with its parents
    if (isDenied(e)) throw notWritable(dir, await why(dir, errnoCode(e)));
    throw e;
  }
  const probe = path.join(dir, `.sipsec-write-probe.${process.pid}.${randomBytes(4).toString('hex')}`);
  try {
    const handle = await fs.open(probe, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    await handle.close();
  } catch (e) {
    if (isDenied(e)) throw notWritable(dir, await why(dir, errnoCode(e)));
    throw e;
  }
  await fs.rm(probe, { force: true });
}

/** The same words for a home this process cannot even read. */
export async function notReadable(dir: string, e: unknown): Promise<SipsecError> {
  const hint = await why(dir, errnoCode(e));
  const writable = await fs.access(dir, constants.W_OK).then(
    () => true,
    () => false,
  );
  return new SipsecError('NOT_WRITABLE', `the CA home ${dir} is not readable${writable ? '' : ' or writable'} by uid ${uid()}`, hint);
}
