/**
 * `npm run bench -- hold`: issue 14's fleet-size registrar test. N phones,
 * each on its own mutual-TLS connection with its own P-256 certificate,
 * register with `sipsec serve` (a child process, `--auth cert`) and are
 * held for M minutes with CRLF keep-alives (RFC 5626 §4.4.1) and
 * re-REGISTERs, by a load generator on the same machine spread over K
 * worker processes (bench/hold/worker.ts). Target: 10,000 held 10 min,
 * none dropped, every refresh answered, serve RSS under 1.5 GB.
 *
 * Each phone binds its own loopback source address (127.1.x.y; Linux
 * routes all of 127/8 to lo), as a fleet of phones has one address each:
 * serve's per-address cap (`--max-conn-per-ip`, 64) stays at its default
 * and no source address runs out of ephemeral ports. `--single-address`
 * puts every phone on 127.0.0.1 instead and raises that cap to N.
 *
 * Serve's CPU (utime + stime of every thread, /proc/<pid>/stat) and RSS
 * (/proc/<pid>/status: VmRSS, and the kernel's peak VmHWM) are sampled
 * every 5 s, and so is the workers' CPU, so the output says which side
 * was the bottleneck. The single-core figure is extrapolated from serve's
 * CPU during the hold (serve is one node process: one JS thread).
 *
 * Options: --phones N (10000) --minutes M (10) --keepalive S (30)
 *          --refresh S (300) --expires S (max(600, 2 x refresh))
 *          --ramp-per-s R (100) --workers K (cores) --single-address
 */
import { fork, type ChildProcess } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { cpuMs, freePort, memory, scratch } from './lib/proc.js';
import { fmt, printTable } from './lib/report.js';
import { buildHome, DOMAIN, startServe } from './register/home.js';
import { FromWorkerSchema, sumCounters, type Counters, type HeldPhoneCreds, type Latencies, type ToWorker } from './hold/protocol.js';
import type { PhoneCreds } from './register/loadgen.js';

const SettingsSchema = z.object({
  phones: z.coerce.number().int().positive().max(64_516).default(10_000),
  minutes: z.coerce.number().positive().default(10),
  keepalive: z.coerce.number().positive().default(30),
  refresh: z.coerce.number().positive().default(300),
  expires: z.coerce.number().int().positive().optional(),
  rampPerS: z.coerce.number().positive().default(100),
  workers: z.coerce.number().int().positive().default(os.cpus().length),
  singleAddress: z.boolean().default(false),
});
type Settings = z.infer<typeof SettingsSchema>;

function parseArgs(args: string[]): Settings {
  const raw: Record<string, string | boolean> = {};
  for (let i = 0; i < args.length; i++) {
    const name = args[i]!;
    if (!name.startsWith('--')) throw new Error(`unexpected ${name}; see bench/hold.ts`);
    const key = name.slice(2).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (key === 'singleAddress') raw[key] = true;
    else raw[key] = args[++i] ?? '';
  }
  return SettingsSchema.strict().parse(raw);
}

/** Serve's --max-handshakes default: the workers together stay well below it. */
const SERVER_MAX_HANDSHAKES = 256;
/** 64*T1 (RFC 3261 §17.1.2.2 Timer F): a REGISTER unanswered this long is lost. */
const ANSWER_TIMEOUT_MS = 32_000;
const SAMPLE_MS = 5000;
const IDLE_MS = 5000;
const RSS_TARGET = 1.5 * 1024 ** 3;
const MB = 1024 * 1024;

/** Phone i's loopback address: 127.1.0.1 up, skipping .0 and .255 of each /24. */
function sourceAddress(i: number): string {
  return `127.${1 + Math.floor(i / (254 * 256))}.${Math.floor(i / 254) % 256}.${(i % 254) + 1}`;
}

interface Worker {
  child: ChildProcess;
  counters: Counters;
  ramped: boolean;
  final: { counters: Counters; latencies: Latencies } | undefined;
  /** What the worker reported before giving up. */
  error: string | undefined;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function spread(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  const ms = (n: number) => (Number.isNaN(n) ? '-' : n < 10 ? n.toFixed(1) : String(Math.round(n)));
  return `${ms(percentile(s, 50))} / ${ms(percentile(s, 99))} / ${ms(s[s.length - 1] ?? NaN)} ms (n=${fmt(s.length, 0)})`;
}

const pct = (cpu: number, ms: number) => `${Math.round((cpu / ms) * 100)}%`;
const mb = (bytes: number) => `${fmt(bytes / MB, 0)} MB`;

/** A phase's CPU: serve's and the workers', from /proc, between two marks. */
class CpuMark {
  readonly at = performance.now();
  readonly serve: number;
  readonly load: number;
  constructor(servePid: number, workers: readonly Worker[]) {
    this.serve = cpuMs(servePid);
    this.load = workers.reduce((n, w) => n + cpuMs(w.child.pid!), 0);
  }
}

export async function run(args: string[]): Promise<void> {
  const s = parseArgs(args);
  const expires = s.expires ?? Math.max(600, 2 * s.refresh);
  const { dir, children, cleanup } = scratch('sipsec-bench-hold-');
  try {
    const sipPort = await freePort();
    console.log(`hold: ${fmt(s.phones, 0)} phones, one mutual-TLS connection each, keep-alive every ${s.keepalive} s, re-REGISTER every ${s.refresh} s (Expires ${expires}), ramp ${s.rampPerS}/s, held ${s.minutes} min; ${s.workers} load-generator workers; ${s.singleAddress ? 'all from 127.0.0.1' : 'one loopback address per phone (127.1.x.y)'}`);
    let t = performance.now();
    const built = await buildHome(dir, s.phones, sipPort);
    const buildMs = performance.now() - t;
    console.log(`CA home with ${fmt(s.phones, 0)} phones (P-256, bulk addPhones) built in ${(buildMs / 1000).toFixed(1)} s (${fmt(s.phones / (buildMs / 1000), 0)} phones/s)`);

    // serve's own per-address cap holds unless every phone shares 127.0.0.1.
    const serveArgs = s.singleAddress ? ['--max-conn-per-ip', String(s.phones + 16)] : [];
    t = performance.now();
    const serve = await startServe(built.home, sipPort, serveArgs);
    children.push(serve);
    const servePid = serve.pid!;
    const listeningMs = performance.now() - t;
    // Serve's own cost with no phone connected (home polling, sweeps): the baseline of the hold's CPU.
    await new Promise((r) => setTimeout(r, 1000));
    const idleFrom = { at: performance.now(), cpu: cpuMs(servePid) };
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const idleCpu = (cpuMs(servePid) - idleFrom.cpu) / (performance.now() - idleFrom.at);
    const idle = memory(servePid)!;
    console.log(`sipsec serve pid ${servePid} listening on 127.0.0.1:${sipPort} after ${(listeningMs / 1000).toFixed(1)} s (${['--auth', 'cert', ...serveArgs].join(' ')}); idle: RSS ${mb(idle.rss)}, CPU ${(idleCpu * 100).toFixed(1)}% over ${IDLE_MS / 1000} s`);

    const workers = startWorkers(s, built.phones, built.ca, sipPort, expires, children);
    const total = () => sumCounters(workers.map((w) => w.counters));
    let peakRss = idle.rss;
    let last = new CpuMark(servePid, workers);
    const t0 = performance.now();
    let phase = 'ramp';
    // Where the hold's keep-alive-only part ends: the first sample that saw a refresh sent.
    let firstRefresh: CpuMark | undefined;
    const sampler = setInterval(() => {
      const m = memory(servePid);
      if (m) peakRss = Math.max(peakRss, m.rss, m.peakRss);
      const now = new CpuMark(servePid, workers);
      const c = total();
      if (phase === 'hold' && !firstRefresh && c.refreshesSent > 0) firstRefresh = now;
      const ms = now.at - last.at;
      console.log(`[${String(Math.round((now.at - t0) / 1000)).padStart(4)} s] ${phase.padEnd(4)} open ${fmt(c.open, 0)}/${fmt(s.phones, 0)}  dropped ${c.dropped}  REGISTER 200 ${fmt(c.registersOk, 0)}/${fmt(c.registersSent, 0)}  pongs ${fmt(c.pongs, 0)}/${fmt(c.pingsSent, 0)}  serve RSS ${m ? mb(m.rss) : 'gone'}, CPU ${pct(now.serve - last.serve, ms)}  load gen CPU ${pct(now.load - last.load, ms)}`);
      last = now;
    }, SAMPLE_MS);

    const rampStart = new CpuMark(servePid, workers);
    await Promise.all(workers.map((w) => until(w, () => w.ramped)));
    const rampEnd = new CpuMark(servePid, workers);
    const ramp = total();
    phase = 'hold';
    await new Promise((r) => setTimeout(r, s.minutes * 60_000));
    const holdEnd = new CpuMark(servePid, workers);
    const atEnd = memory(servePid)!;
    peakRss = Math.max(peakRss, atEnd.peakRss);
    clearInterval(sampler);

    for (const w of workers) send(w, { type: 'stop' });
    await Promise.all(workers.map((w) => until(w, () => w.final !== undefined)));
    const finals = workers.map((w) => w.final!);
    const c = sumCounters(finals.map((f) => f.counters));
    const lat = (k: keyof Latencies) => finals.flatMap((f) => f.latencies[k]);

    const rampMs = rampEnd.at - rampStart.at;
    const holdMs = holdEnd.at - rampEnd.at;
    const handshakeRate = ramp.established / (rampMs / 1000);
    const pingsMissing = c.pingsSent - c.pongs;
    printTable(`hold: ${fmt(s.phones, 0)} phones held ${s.minutes} min (keep-alive ${s.keepalive} s, refresh ${s.refresh} s)`, ['what', 'result'], [
      ['connections established', `${fmt(c.established, 0)} of ${fmt(c.attempted, 0)} (failed ${c.connectFailed})`],
      ['dropped (closed by serve or errored)', String(c.dropped)],
      ['open when the hold ended', fmt(ramp.established - c.dropped, 0)],
      ['REGISTERs sent / 200 OK', `${fmt(c.registersSent, 0)} / ${fmt(c.registersOk, 0)}`],
      ['  of which refreshes sent / 200 OK', `${fmt(c.refreshesSent, 0)} / ${fmt(c.refreshesOk, 0)}`],
      ['REGISTERs failed (non-200) / unanswered (32 s)', `${c.registersFailed} / ${c.registersUnanswered}`],
      ['keep-alive pings sent / pongs', `${fmt(c.pingsSent, 0)} / ${fmt(c.pongs, 0)} (missing ${pingsMissing}, later than 10 s ${c.pongsLate})`],
      ['handshake p50 / p99 / max', spread(lat('handshakeMs'))],
      ['REGISTER answer p50 / p99 / max', spread(lat('registerMs'))],
      ['pong p50 / p99 / max', spread(lat('pongMs'))],
      ['ramp: handshakes/s (asked)', `${fmt(handshakeRate)} (${s.rampPerS}) over ${(rampMs / 1000).toFixed(1)} s`],
      ['ramp: serve CPU / load gen CPU', `${pct(rampEnd.serve - rampStart.serve, rampMs)} / ${pct(rampEnd.load - rampStart.load, rampMs)}`],
      ['hold: serve CPU / load gen CPU', `${pct(holdEnd.serve - rampEnd.serve, holdMs)} / ${pct(holdEnd.load - rampEnd.load, holdMs)} over ${(holdMs / 1000).toFixed(0)} s`],
      ...windowRows(rampEnd, firstRefresh, holdEnd),
      ['serve CPU idle (no phone connected)', `${(idleCpu * 100).toFixed(1)}%`],
      ['serve RSS idle / peak / at the end', `${mb(idle.rss)} / ${mb(peakRss)} / ${mb(atEnd.rss)}`],
      ['serve RSS per held connection', `${fmt((atEnd.rss - idle.rss) / Math.max(1, ramp.established) / 1024)} kB`],
    ]);
    const reasons = Object.entries(c.reasons);
    if (reasons.length > 0) console.log(`\nreasons: ${reasons.map(([r, n]) => `${r} x${n}`).join('; ')}`);

    const ok = c.established === s.phones && c.dropped === 0 && c.registersFailed + c.registersUnanswered === 0 && c.refreshesOk === c.refreshesSent && peakRss < RSS_TARGET;
    console.log(`\ntarget (${fmt(s.phones, 0)} held ${s.minutes} min, 0 dropped, every refresh answered, RSS < 1.5 GB): ${ok ? 'met' : 'NOT met'}`);
    singleCore(s, ramp.established, handshakeRate, (rampEnd.serve - rampStart.serve) / rampMs, (holdEnd.serve - rampEnd.serve) / holdMs, idle.rss, atEnd.rss);
    console.log('CPU: 100% = one core; the machine has 2 cores shared by serve and the load generator.');
  } finally {
    await cleanup();
  }
}

/** The hold split where refreshes began: keep-alives alone, then keep-alives and refreshes. */
function windowRows(start: CpuMark, split: CpuMark | undefined, end: CpuMark): string[][] {
  if (!split || split.at - start.at < SAMPLE_MS || end.at - split.at < SAMPLE_MS) return [];
  const row = (what: string, a: CpuMark, b: CpuMark) => [what, `${pct(b.serve - a.serve, b.at - a.at)} / ${pct(b.load - a.load, b.at - a.at)} over ${((b.at - a.at) / 1000).toFixed(0)} s`];
  return [row('  keep-alives only (before the first refresh)', start, split), row('  keep-alives and refreshes', split, end)];
}

/** What one core of serve holds, extrapolated linearly from this run (labelled as such). */
function singleCore(s: Settings, held: number, handshakeRate: number, rampCpu: number, holdCpu: number, idleRss: number, endRss: number): void {
  const perPhoneUs = (holdCpu * 1e6) / held;
  const perConn = (endRss - idleRss) / held;
  console.log(`\nsingle core (extrapolated from this run, linear; serve is one node process, one JS thread):`);
  console.log(`  held: serve spent ${(holdCpu * 100).toFixed(1)}% of a core on ${fmt(held, 0)} phones (${perPhoneUs.toFixed(1)} µs of CPU per phone per second at keep-alive ${s.keepalive} s, refresh ${s.refresh} s): one core would hold ~${fmt(held / holdCpu, 0)} by CPU`);
  // A few phones move RSS less than the GC does: no per-connection figure to extrapolate from.
  if (perConn > 0) console.log(`  memory: ${fmt(perConn / 1024)} kB per held connection: 1.5 GB holds ~${fmt((RSS_TARGET - idleRss) / perConn, 0)} by RSS`);
  else console.log(`  memory: RSS did not grow with ${fmt(held, 0)} phones (GC noise is larger); hold more phones for a per-connection figure`);
  console.log(`  handshakes: ${fmt(handshakeRate)}/s at ${(rampCpu * 100).toFixed(0)}% of serve's core during the ramp (each with its first REGISTER): ~${fmt(handshakeRate / rampCpu, 0)}/s at 100%, so ${fmt(held, 0)} phones reconnecting at once (serve restart) take ~${fmt(held / (handshakeRate / rampCpu), 0)} s`);
  console.log(`  all cores: the same as one today (one serve process; a second core only runs its GC and thread-pool work)`);
}

function startWorkers(s: Settings, phones: PhoneCreds[], ca: string, port: number, expires: number, children: ChildProcess[]): Worker[] {
  const entry = path.join(path.dirname(fileURLToPath(import.meta.url)), 'hold', 'worker.js');
  const workers: Worker[] = [];
  for (let k = 0; k < s.workers; k++) {
    const mine: HeldPhoneCreds[] = [];
    for (let i = k; i < phones.length; i += s.workers) mine.push({ ...phones[i]!, localAddress: s.singleAddress ? '127.0.0.1' : sourceAddress(i) });
    const child = fork(entry, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true });
    children.push(child);
    const w: Worker = { child, counters: sumCounters([]), ramped: false, final: undefined, error: undefined };
    child.on('message', (raw: unknown) => {
      const parsed = FromWorkerSchema.safeParse(raw);
      if (!parsed.success) {
        w.error = `unreadable message: ${parsed.error.message}`;
        return;
      }
      const m = parsed.data;
      if (m.type === 'error') {
        w.error = m.message;
        return;
      }
      w.counters = m.counters;
      if (m.type === 'ramped') w.ramped = true;
      if (m.type === 'final') {
        w.final = { counters: m.counters, latencies: m.latencies };
        child.disconnect();
      }
    });
    child.on('exit', (code) => {
      if (!w.final) console.error(`load-generator worker ${k} exited (${code}) before its final report`);
    });
    send(w, {
      type: 'start',
      host: '127.0.0.1',
      port,
      ca,
      domain: DOMAIN,
      phones: mine,
      ratePerS: s.rampPerS / s.workers,
      maxInFlight: Math.max(1, Math.floor(SERVER_MAX_HANDSHAKES / 4 / s.workers)),
      keepaliveMs: s.keepalive * 1000,
      refreshMs: s.refresh * 1000,
      expires,
      answerTimeoutMs: ANSWER_TIMEOUT_MS,
    });
    workers.push(w);
  }
  return workers;
}

function send(w: Worker, m: ToWorker): void {
  w.child.send(m);
}

/** Resolves when `done()` holds; rejects when the worker fails or exits first. */
function until(w: Worker, done: () => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = setInterval(() => {
      if (done()) {
        clearInterval(check);
        resolve();
      } else if (w.error !== undefined) {
        clearInterval(check);
        reject(new Error(`load-generator worker ${w.child.pid}: ${w.error}`));
      } else if (w.child.exitCode !== null || w.child.signalCode !== null) {
        clearInterval(check);
        reject(new Error(`load-generator worker ${w.child.pid} exited (${w.child.exitCode ?? w.child.signalCode})`));
      }
    }, 100);
  });
}
