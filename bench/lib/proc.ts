/**
 * What a benchmark reads about processes (Linux /proc) and how it starts
 * and stops its children: CPU time, resident memory, free loopback ports.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';

const TICK = 100; // USER_HZ on Linux

/** The fields after the ")" of the command name (a name may hold spaces): state is [0], utime [11], stime [12]. */
function statFields(pid: number | string): string[] | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime (ms) of one process, every thread included; 0 once it is gone. */
export function cpuMs(pid: number): number {
  const f = statFields(pid);
  return f ? ((Number(f[11]) + Number(f[12])) * 1000) / TICK : 0;
}

/** utime + stime (ms) of every process whose process group is `pgid`. */
export function groupCpuMs(pgid: number): number {
  let total = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(d);
    if (!f || Number(f[2]) !== pgid) continue;
    total += ((Number(f[11]) + Number(f[12])) * 1000) / TICK;
  }
  return total;
}

export interface Memory {
  /** Resident set now (VmRSS), bytes. */
  rss: number;
  /** The kernel's own peak of the resident set (VmHWM), bytes: catches a peak between samples. */
  peakRss: number;
}

/** Resident memory of a process from /proc/<pid>/status; undefined once it is gone. */
export function memory(pid: number): Memory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), peakRss: kb('VmHWM') };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => resolve(typeof a === 'object' && a ? a.port : 0));
    });
  });
}

export async function waitPort(port: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${ms} ms`);
}

/** SIGTERM to a detached child's process group, SIGKILL after 5 s. */
export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    child.kill('SIGTERM');
  }
  const t = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      child.kill('SIGKILL');
    }
  }, 5000);
  await exited;
  clearTimeout(t);
}

/**
 * A bench's scratch folder and the children it starts: `cleanup` stops them
 * and removes the folder, and Ctrl-C does the same before exiting.
 */
export function scratch(prefix: string): { dir: string; children: ChildProcess[]; cleanup: () => Promise<void> } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  const children: ChildProcess[] = [];
  const cleanup = async () => {
    for (const c of children) await stopChild(c);
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  return { dir, children, cleanup };
}
