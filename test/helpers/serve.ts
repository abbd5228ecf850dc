import type { ChildProcess } from 'node:child_process';
import { sipsecSpawn } from './cli.js';
import { EventChecker } from './events.js';

export interface ServeEventLike {
  event: string;
  [k: string]: unknown;
}

/**
 * A `sipsec serve --json` child: its ports, and the events it printed.
 * Every event is checked against the catalog (src/events): a violation
 * fails waitFor and stop.
 */
export class ServeProcess {
  readonly events: ServeEventLike[] = [];
  readonly checker = new EventChecker();
  ports: Record<string, number> = {};
  stderr = '';
  private waiters: Array<{ pred: (e: ServeEventLike) => boolean; resolve: (e: ServeEventLike) => void; reject: (e: Error) => void }> = [];

  private constructor(readonly child: ChildProcess) {
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let ev: ServeEventLike;
        try {
          ev = JSON.parse(line) as ServeEventLike;
        } catch {
          continue;
        }
        this.events.push(ev);
        if (!this.checker.check(ev)) {
          const err = this.checker.error();
          for (const w of this.waiters) w.reject(err);
          this.waiters = [];
        }
        if (ev.event === 'serve.start') this.ports = ev.ports as Record<string, number>;
        this.waiters = this.waiters.filter((w) => {
          if (!w.pred(ev)) return true;
          w.resolve(ev);
          return false;
        });
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (c: string) => (this.stderr += c));
  }

  static async start(home: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<ServeProcess> {
    const child = sipsecSpawn(['--home', home, 'serve', '--json', '--bind', '127.0.0.1', ...args], { env });
    const sp = new ServeProcess(child);
    const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`serve exited (${code}): ${sp.stderr}`))));
    await Promise.race([sp.waitFor((e) => e.event === 'serve.start', 30_000), exited]);
    return sp;
  }

  /** The first event (already seen or coming) that matches, within a bounded time. */
  waitFor(pred: (e: ServeEventLike) => boolean, timeoutMs = 20_000): Promise<ServeEventLike> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    if (this.checker.violations.length > 0) return Promise.reject(this.checker.error());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching event within ${timeoutMs} ms; saw: ${this.events.map((e) => e.event).join(', ')}`)), timeoutMs);
      this.waiters.push({
        pred,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
  }

  /** Stops serve; throws when any event it wrote broke the catalog. */
  async stop(): Promise<number | null> {
    const code = await this.#stop();
    this.checker.assertClean();
    return code;
  }

  async #stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const done = new Promise<number | null>((r) => this.child.once('exit', (code) => r(code)));
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    const code = await done;
    clearTimeout(t);
    return code;
  }
}
