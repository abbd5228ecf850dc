import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { within } from '../vendors/peer-stubs.js';

/**
 * Kamailio 5.6 run from a config `sipsec pbx kamailio --out DIR` wrote,
 * the way peers.md §3 drives it: foreground (-DD) with its log on stderr
 * (-E), no core file if it aborts (K3: `ulimit -c 0`), in its own process
 * group so stopping it (by PID) takes its forked workers too. Startup and
 * shutdown are bounded.
 */
export interface RunningKamailio {
  child: ChildProcess;
  log(): string;
  stop(): Promise<void>;
}

async function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function startKamailio(bin: string, cfg: string, runDir: string, port: number): Promise<RunningKamailio> {
  mkdirSync(runDir, { recursive: true });
  let log = '';
  const child = spawn('sh', ['-c', 'ulimit -c 0; exec "$0" "$@"', bin, '-DD', '-E', '-f', cfg, '-w', runDir, '-P', path.join(runDir, 'kamailio.pid'), '-Y', runDir, '-m', '64', '-M', '8'], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      return;
    }
    try {
      await within(exited, 10_000, 'kamailio to stop');
    } catch {
      process.kill(-child.pid, 'SIGKILL');
      await within(exited, 5000, 'kamailio to die after SIGKILL');
    }
  };
  try {
    // Listening on its TLS port within 20 s (200 bounded attempts).
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`kamailio exited (${child.exitCode}):\n${log}`);
      if (await accepts(port)) break;
      if (i >= 200) throw new Error(`kamailio did not listen on ${port}:\n${log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { child, log: () => log, stop };
}
