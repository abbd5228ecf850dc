import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import * as path from 'node:path';
import type { VerifyReport } from '../../src/verify/verify.js';
import type { PhoneVerdict, StepName, StepVerdict } from '../../src/verify/evaluate.js';
import type { ProbeReport } from '../../src/verify/probe.js';
import { run, sipsecSpawn } from './cli.js';
import { exitOf, within } from '../vendors/peer-stubs.js';

/**
 * Drivers for the verify/probe tests: `sipsec verify` as the child process
 * an operator runs beside `serve` (live progress on stderr, the report on
 * stdout when every phone passes, the time is up, or it is interrupted),
 * and a phone's provisioning files fetched from `serve` with curl.
 */
export interface VerifyChild {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves once verify's live progress (stderr) matches, bounded. */
  progress(re: RegExp, ms: number, what: string): Promise<void>;
  /** Its exit code and parsed JSON report, waiting at most `ms` for it to end on its own. */
  result(ms: number): Promise<{ code: string; report: VerifyReport }>;
  /** Ctrl-C: verify stops watching and prints the report so far. */
  interrupt(ms?: number): Promise<{ code: string; report: VerifyReport }>;
  /** Kill it if still running (test clean-up). */
  kill(): Promise<void>;
}

export function startVerify(home: string, args: string[]): VerifyChild {
  const child = sipsecSpawn(['--home', home, 'verify', ...args]);
  let out = '';
  let err = '';
  const waiters: Array<() => void> = [];
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (c: string) => (out += c));
  child.stderr!.on('data', (c: string) => {
    err += c;
    for (const w of [...waiters]) w();
  });
  const parse = (code: string) => {
    let report: VerifyReport;
    try {
      report = JSON.parse(out) as VerifyReport;
    } catch {
      throw new Error(`verify (exit ${code}) printed no JSON report:\nstdout: ${out}\nstderr: ${err}`);
    }
    return { code, report };
  };
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(String(code ?? signal))));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    progress: (re, ms, what) =>
      within(
        new Promise<void>((resolve, reject) => {
          const check = () => {
            if (re.test(err)) resolve();
          };
          waiters.push(check);
          void exited.then(() => (re.test(err) ? resolve() : reject(new Error(`verify exited before ${what}:\n${err}`))));
          check();
        }),
        ms,
        `${what} (verify's progress so far:\n${err})`,
      ),
    result: async (ms) => parse(await within(exited, ms, 'verify to finish')),
    interrupt: async (ms = 15_000) => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      return parse(await within(exited, ms, 'verify to report after SIGINT'));
    },
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exitOf(child, 10_000);
      }
    },
  };
}

/** One phone's verdict from a verify report. */
export function phoneOf(report: VerifyReport, name: string): PhoneVerdict {
  const p = report.phones.find((x) => x.phone === name);
  assert.ok(p, `verify report has phone ${name}: ${report.phones.map((x) => x.phone).join(', ')}`);
  return p;
}

export function stepOf(p: PhoneVerdict, step: StepName): StepVerdict {
  const s = p.steps.find((x) => x.step === step);
  assert.ok(s, `${p.phone} has step ${step}`);
  return s;
}

/** "step=STATE" for every step, for assertion messages. */
export function describeVerdict(p: PhoneVerdict): string {
  return p.steps.map((s) => `${s.step}=${s.state} (${s.summary})${s.hint ? ` hint: ${s.hint}` : ''}`).join('\n');
}

export function probeStep(r: ProbeReport, step: string): ProbeReport['steps'][number] {
  const s = r.steps.find((x) => x.step === step);
  assert.ok(s, `probe report has step ${step}: ${JSON.stringify(r.steps)}`);
  return s;
}

/**
 * Fetch a client-directory phone's served files (`<vendor>/<phone>/<file>`)
 * from serve's HTTPS provisioning with curl, as the phone would: the CA
 * to check the server (dialled as `localhost`, which the server
 * certificate names) and the phone's own certificate + key PEM as the
 * client certificate. Returns the directory the files landed in.
 */
export function fetchOverHttps(curl: string, o: { port: number; basePath: string; vendor: string; phone: string; files: string[]; caFile: string; certKeyPem: string; keyPem?: string; dest: string }): string {
  mkdirSync(o.dest, { recursive: true });
  for (const f of o.files) {
    const url = `https://localhost:${o.port}${o.basePath}${o.vendor}/${o.phone}/${f}`;
    const r = run(curl, ['-sS', '--fail', '--max-time', '20', '--cacert', o.caFile, '--cert', o.certKeyPem, ...(o.keyPem ? ['--key', o.keyPem] : []), '-o', path.join(o.dest, f), '-w', '%{http_code}', url], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `curl ${url}: ${r.stderr}`);
    assert.equal(r.stdout.trim(), '200', url);
  }
  return o.dest;
}

/**
 * The CLI as a child process, awaited without blocking this process (serve
 * and kamailio children keep being read meanwhile); killed after `ms`.
 */
export async function sipsecAsync(args: string[], ms = 60_000): Promise<{ code: string; stdout: string; stderr: string }> {
  const child = sipsecSpawn(args);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stdout!.on('data', (c: string) => (stdout += c));
  child.stderr!.on('data', (c: string) => (stderr += c));
  const code = await exitOf(child, ms);
  return { code, stdout, stderr };
}

/** `sipsec probe ... --json`: its exit code and report. */
export async function probeJson(home: string, args: string[], ms = 60_000): Promise<{ code: string; report: ProbeReport; stderr: string }> {
  const r = await sipsecAsync(['--home', home, 'probe', ...args, '--json'], ms);
  let report: ProbeReport;
  try {
    report = JSON.parse(r.stdout) as ProbeReport;
  } catch {
    throw new Error(`probe (exit ${r.code}) printed no JSON:\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
  return { code: r.code, report, stderr: r.stderr };
}

/**
 * Clean-up in reverse order of set-up (node:test runs `after` hooks in the
 * order they were added): processes stop before the directories they use
 * are removed. Every step runs; the first error is rethrown at the end.
 */
export function cleanupStack(t: { after(fn: () => unknown): void }): (fn: () => unknown) => void {
  const stack: Array<() => unknown> = [];
  t.after(async () => {
    let first: unknown;
    for (const fn of stack.reverse()) {
      try {
        await fn();
      } catch (e) {
        first ??= e;
      }
    }
    if (first !== undefined) throw first;
  });
  return (fn) => {
    stack.push(fn);
  };
}
