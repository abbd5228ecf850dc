import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { collectOutput, exitOf, outputMatches, stop } from '../vendors/peer-stubs.js';

/**
 * linphonec (Debian linphone-cli 5.1) driven headless over its stdin, as
 * peers.md §5 found works: its own HOME with `.local/share/linphone`
 * (pitfall L2, it hangs without), `soundcard use files` (L3: no sound
 * card; `play` and `record` then use WAV files), a debug log, and never
 * a special file as `-c` (L5).
 */
export interface RunningLinphonec {
  child: ChildProcess;
  output: { text(): string };
  log: string;
  /** One command line on linphonec's stdin. */
  send(command: string): void;
  waitFor(pred: (s: string) => boolean, ms: number, what: string): Promise<string>;
  /** `quit`, then SIGTERM/SIGKILL if it lingers. */
  quit(): Promise<void>;
}

export function startLinphonec(bin: string, rc: string, workDir: string): RunningLinphonec {
  const userHome = path.join(workDir, 'home');
  mkdirSync(path.join(userHome, '.local', 'share', 'linphone'), { recursive: true });
  const log = path.join(workDir, 'linphonec.log');
  const child = spawn(bin, ['-c', rc, '-d', '6', '-l', log], { cwd: workDir, env: { ...process.env, HOME: userHome }, stdio: ['pipe', 'pipe', 'pipe'] });
  const output = collectOutput(child);
  child.stdin!.on('error', () => undefined);
  const send = (command: string) => {
    if (child.exitCode === null && child.signalCode === null) child.stdin!.write(`${command}\n`);
  };
  send('soundcard use files');
  return {
    child,
    output,
    log,
    send,
    waitFor: (pred, ms, what) => outputMatches(child, output, pred, ms, what),
    quit: async () => {
      send('quit');
      try {
        await exitOf(child, 15_000);
      } finally {
        await stop(child);
      }
    },
  };
}
