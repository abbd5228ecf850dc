import { promises as fs, constants } from 'node:fs';
import { SipsecError, errnoCode } from './errors.js';

export interface LockOptions {
  /** How long to wait for another sipsec process before giving up. */
  timeoutMs?: number;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

async function readOwner(file: string): Promise<number | undefined> {
  try {
    const text = await fs.readFile(file, 'utf8');
    const pid = Number.parseInt(text.trim(), 10);
    return Number.isFinite(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An exclusive lock file (O_EXCL) holding the owner's pid. A lock left by a
 * process that no longer exists (kill -9) is taken over, so a crash never
 * wedges the store.
 */
export async function withLock<T>(file: string, fn: () => Promise<T>, opts: LockOptions = {}): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let delay = 5;
  for (;;) {
    try {
      const handle = await fs.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      break;
    } catch (e) {
      if (errnoCode(e) !== 'EEXIST') throw e;
      const owner = await readOwner(file);
      if (owner !== undefined && owner !== process.pid && !pidAlive(owner)) {
        // Stale: remove only if it still names the dead owner.
        if ((await readOwner(file)) === owner) await fs.rm(file, { force: true });
        continue;
      }
      if (owner === undefined) {
        // Being written right now, or left empty by a crash between open and write.
        const stat = await fs.stat(file).catch(() => undefined);
        if (stat && Date.now() - stat.mtimeMs > 5_000) await fs.rm(file, { force: true });
      }
      if (Date.now() > deadline) {
        throw new SipsecError('LOCKED', `the CA store is locked by process ${owner ?? '?'}`, `wait for it to finish, or remove ${file} if no sipsec is running`);
      }
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 100);
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(file, { force: true });
  }
}
