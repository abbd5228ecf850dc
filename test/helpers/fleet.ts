import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { sipsec, run, type RunResult } from './cli.js';
import { waitForEchoCall } from './echo.js';
import { startLinphonec, type RunningLinphonec } from './linphone.js';
import { startBaresip, type RunningBaresip } from './registrar-home.js';
import type { ServeEventLike, ServeProcess } from './serve.js';
import { writeToneWav } from './wav.js';
import { ctrlTcp } from '../vendors/peer-stubs.js';

/**
 * Drivers for the day-two scenario (test/scenario/week.test.ts): a CA
 * home with an encrypted CA key driven only through the CLI, and a fleet
 * of real phones (baresip, linphonec) that run from their ready
 * directories, restart from them after a change (what these clients do
 * instead of refetching on a NOTIFY), register and call the SRTP echo.
 */

export class Home {
  constructor(
    readonly dir: string,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  /** `sipsec --home DIR ...` with the CA passphrase in the environment. */
  run(args: string[]): RunResult {
    return sipsec(['--home', this.dir, ...args], { env: this.env });
  }

  /** The same, asserting exit 0. */
  ok(args: string[]): RunResult {
    const r = this.run(args);
    assert.equal(r.code, 0, `sipsec ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r;
  }

  json<T>(args: string[]): T {
    const r = this.ok([...args, '--json']);
    try {
      return JSON.parse(r.stdout) as T;
    } catch {
      throw new Error(`sipsec ${args.join(' ')} --json printed no JSON: ${r.stdout}`);
    }
  }

  /** The serial of the phone's current certificate, as `phone show --json` says. */
  serialOf(name: string): string {
    const p = this.json<{ certificate: { serial: string } | null }>(['phone', 'show', name]);
    assert.ok(p.certificate, `${name} has a certificate`);
    return p.certificate.serial;
  }

  /** `doctor --json`: its exit code and `severity:code[:subject]` for each finding, sorted. */
  doctor(extra: string[] = []): { code: number; findings: string[]; status: string } {
    const r = this.run(['doctor', '--json', ...extra]);
    const j = JSON.parse(r.stdout) as { schema: number; status: string; findings: Array<{ severity: string; code: string; subject: string | null; fix: string }> };
    assert.equal(j.schema, 1);
    for (const f of j.findings) assert.ok(f.fix.length > 0, `${f.code} names its fix`);
    return { code: r.code, status: j.status, findings: j.findings.map((f) => `${f.severity}:${f.code}${f.subject ? `:${f.subject}` : ''}`).sort() };
  }
}

/** Events seen after a mark (the stream of one serve grows for the whole scenario). */
export function after(serve: ServeProcess, mark: number, pred: (e: ServeEventLike) => boolean): (e: ServeEventLike) => boolean {
  return (e) => serve.events.indexOf(e) >= mark && pred(e);
}

export interface CallOutcome {
  start: ServeEventLike;
  end: ServeEventLike;
}

export interface FleetPhone {
  readonly name: string;
  /** Start from its ready directory (stopping a running one first). */
  restart(): Promise<void>;
  /** Call the echo (200), wait for audio both ways, hang up. */
  call(serve: ServeProcess): Promise<CallOutcome>;
  stop(): Promise<void>;
}

/** Wait for the echo to have carried some audio both ways on this call. */
async function audioBothWays(home: string, callId: unknown, what: string): Promise<void> {
  await waitForEchoCall(home, (c) => c.callId === callId && Number(c.packetsIn) >= 50 && Number(c.packetsOut) >= 50, 40_000, what);
}

export class BaresipPhone implements FleetPhone {
  private running: RunningBaresip | undefined;
  constructor(
    readonly name: string,
    readonly bin: string,
    readonly home: string,
    readonly ctrlPort: number,
  ) {}

  get dir(): string {
    return path.join(this.home, 'provision', this.name);
  }

  async restart(): Promise<void> {
    await this.stop();
    this.running = await startBaresip(this.bin, this.dir);
  }

  async call(serve: ServeProcess): Promise<CallOutcome> {
    const mark = serve.events.length;
    const dial = await ctrlTcp(this.ctrlPort, 'dial', 'sip:200@pbx.test');
    assert.equal(dial.ok, true, `${this.name}: dial ${JSON.stringify(dial)}`);
    const start = await serve.waitFor(after(serve, mark, (e) => e.event === 'call.start' && e.phone === this.name), 30_000);
    await audioBothWays(this.home, start.callId, `${this.name}: echoed audio`);
    assert.equal((await ctrlTcp(this.ctrlPort, 'hangup')).ok, true);
    const end = await serve.waitFor((e) => e.event === 'call.end' && e.callId === start.callId, 20_000);
    return { start, end };
  }

  async stop(): Promise<void> {
    const r = this.running;
    this.running = undefined;
    await r?.stop();
  }
}

export class LinphonePhone implements FleetPhone {
  private running: RunningLinphonec | undefined;
  private readonly work: string;
  private readonly tone: string;
  constructor(
    readonly name: string,
    readonly bin: string,
    readonly home: string,
    work: string,
    /** Restores the ready directory (`sipsec provision render`): linphonec writes its configuration back when it exits. */
    private readonly rerender: () => void,
  ) {
    this.work = work;
    mkdirSync(work, { recursive: true });
    this.tone = path.join(work, 'tone.wav');
    writeToneWav(this.tone, { freq: 700, rate: 8000, seconds: 20 });
  }

  get rc(): string {
    return path.join(this.home, 'provision', this.name, 'linphonerc');
  }

  async restart(): Promise<void> {
    await this.stop();
    this.rerender();
    this.running = startLinphonec(this.bin, this.rc, this.work);
  }

  async call(serve: ServeProcess): Promise<CallOutcome> {
    const lin = this.running;
    assert.ok(lin, `${this.name} is running`);
    const mark = serve.events.length;
    lin.send('call sip:200@pbx.test');
    const start = await serve.waitFor(after(serve, mark, (e) => e.event === 'call.start' && e.phone === this.name), 30_000);
    await lin.waitFor((s) => s.split('Media streams established with sip:200@pbx.test').length > this.calls + 1, 20_000, `${this.name}: media streams`);
    this.calls++;
    lin.send(`play ${this.tone}`);
    await audioBothWays(this.home, start.callId, `${this.name}: echoed audio`);
    lin.send('terminate');
    const end = await serve.waitFor((e) => e.event === 'call.end' && e.callId === start.callId, 20_000);
    return { start, end };
  }

  /** Calls made by the running linphonec (its output accumulates). */
  private calls = 0;

  async stop(): Promise<void> {
    const r = this.running;
    this.running = undefined;
    this.calls = 0;
    await r?.quit();
  }
}

/** Every file under `dir` (relative paths, sorted), for listing a TFTP root. */
export function listTree(dir: string): string[] {
  const r = run('find', [dir, '-type', 'f', '-printf', '%P\\n']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).sort();
}
