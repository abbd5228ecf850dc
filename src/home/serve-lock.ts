import { promises as fs, constants } from 'node:fs';
import { SipsecError, errnoCode } from '../core/errors.js';
import { withLock } from '../core/lock.js';
import type { HomePaths } from './paths.js';

/**
 * One `sipsec serve` per CA home: serve.pid holds the running serve's pid.
 * A second serve is refused before it binds a single port; a file left by
 * a serve that died (kill -9, power loss) is taken over. The check and the
 * take-over run under the store lock, so two serves starting at once never
 * both win.
 */

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
}

/**
 * After a reboot the pid in a stale serve.pid may belong to another program:
 * on Linux, a live pid whose command line names neither node nor sipsec is
 * not a serve. Where /proc cannot tell, a live pid is trusted.
 */
async function isServe(pid: number): Promise<boolean> {
  if (!alive(pid)) return false;
  const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  return cmdline === undefined || /node|sipsec/i.test(cmdline);
}

async function owner(file: string): Promise<number | undefined> {
  const text = await fs.readFile(file, 'utf8').catch(() => '');
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** The pid of the serve running on this home, if one is. */
export async function runningServe(paths: HomePaths): Promise<number | undefined> {
  const pid = await owner(paths.servePid);
  return pid !== undefined && pid !== process.pid && (await isServe(pid)) ? pid : undefined;
}

export interface ServeLock {
  /** Remove serve.pid if it is still ours. */
  release(): Promise<void>;
}

export async function acquireServeLock(paths: HomePaths): Promise<ServeLock> {
  const file = paths.servePid;
  await withLock(paths.lock, async () => {
    const pid = await owner(file);
    if (pid !== undefined && pid !== process.pid && (await isServe(pid))) {
      throw new SipsecError('ALREADY_RUNNING', `sipsec serve is already running on the CA home ${paths.root} (pid ${pid})`, `stop it first (kill ${pid}), or give this serve another --home`);
    }
    // Ours from an earlier start in this process, left by a dead serve, or unreadable: replace it.
    await fs.rm(file, { force: true });
    const handle = await fs.open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await handle.writeFile(`${process.pid}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
  });
  let released = false;
  return {
    release: async () => {
      if (released) return;
      released = true;
      if ((await owner(file)) === process.pid) await fs.rm(file, { force: true });
    },
  };
}
