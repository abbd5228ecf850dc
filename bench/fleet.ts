import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { startPostgres, type PgCluster } from '../test/helpers/postgres.js';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CaStore } from '../src/home/store.js';
import { rerenderPhones } from '../src/provision/hooks.js';
import { phoneSheet, sheetPhone } from './lib/fleet-csv.js';
import { fmt, printTable } from './lib/report.js';

/**
 * `npm run bench -- fleet [--phones 1000[,10000,...]] [--key p256|rsa2048]
 * [--ops add,edit,...] [--runs 3] [--baseline OTHER/bin/sipsec] [--store postgres]`: what each everyday operation costs as
 * the inventory grows (issue 14). For each size one CA home is built once,
 * through `sipsec phone import` of a generated mixed-vendor sheet (itself
 * timed), and reused by every operation; an empty home is measured the same
 * way as the baseline. Commands run as a user runs them (`node bin/sipsec`,
 * a new process each time: start-up is part of the product), `--runs`
 * times each, and the median is reported beside the issue's targets.
 * `--baseline` measures another build the same way first (the main before
 * the database: a JSON index) and prints the two side by side per size.
 */

interface Options {
  /** Another sipsec (its bin/sipsec) measured the same way first, for a side-by-side table: the JSON-store main. */
  baseline?: string;
  sizes: number[];
  key: 'p256' | 'rsa2048';
  ops: Set<OpName>;
  runs: number;
  /** postgres: every home's index in a private PostgreSQL (Debian's server, started for the run). */
  store: 'sqlite' | 'postgres';
}

const OPS = ['add', 'edit', 'remove', 'cert-list', 'phone-list', 'routes', 'render', 'rerender', 'serve-start', 'pickup'] as const;
type OpName = (typeof OPS)[number];

/** One measured row: a time in ms (or MB for memory rows), its runs, and the target it is judged by. */
interface Row {
  label: string;
  unit: 'ms' | 'MB';
  values: number[];
  target: Target;
}

/**
 * The issue's targets (stated for 10,000 phones; judged the same at every
 * size, the full render pro rata: 15 s for 10,000 = 1.5 ms a phone).
 */
interface Target {
  text: string;
  met: (value: number, ratio: number | undefined, phones: number) => boolean | undefined;
}

const TARGETS = {
  add: { text: '< 300 ms empty; ≤ 1.2x empty', met: (v, r, n) => (n === 0 ? v < 300 : r !== undefined ? r <= 1.2 : undefined) },
  under300: { text: '< 300 ms', met: (v) => v < 300 },
  under1s: { text: '< 1 s at 10,000', met: (v) => v < 1000 },
  render: { text: '< 15 s at 10,000 (1.5 ms/phone)', met: (v, _r, n) => (n === 0 ? undefined : v < 1.5 * n) },
  incremental: { text: '< 50 ms', met: (v) => v < 50 },
  serveStart: { text: '< 2 s', met: (v) => v < 2000 },
  serveRss: { text: '< 200 MB', met: (v) => v < 200 },
  pickup: { text: '< 1 s', met: (v) => v < 1000 },
  none: { text: '–', met: () => undefined },
} satisfies Record<string, Target>;

const CLI = fileURLToPath(new URL('../../bin/sipsec', import.meta.url));
/** The sipsec being measured (the baseline's while it runs). */
let cli = CLI;
const DOMAIN = 'bench.test';
/** Phones the bench adds itself: MACs far above the sheet's (Yealink OUI, low octets f0xxxx). */
const EXTRA_MAC = (i: number) => `805ec0f0${(i + 1).toString(16).padStart(4, '0')}`;
const SECRET = 'fleet-bench-secret-0123456789';

export async function run(args: string[]): Promise<void> {
  const o = parseArgs(args);
  console.log(`fleet: ${o.sizes.map((n) => n.toLocaleString('en-US')).join(', ')} phones (${o.key} phone keys), median of ${o.runs} runs, ${os.cpus().length} cores, node ${process.version}`);
  const root = mkdtempSync(path.join(os.tmpdir(), 'sipsec-bench-fleet-'));
  let pg: PgCluster | undefined;
  try {
    if (o.store === 'postgres') {
      pg = await startPostgres();
      pg.createDatabase('fleet');
      // Each home its own schema; the baseline (if any) must know --store too.
      process.env.SIPSEC_STORE = pg.url('fleet', 'schema={home}');
      console.log(`store: PostgreSQL on 127.0.0.1:${pg.port} (private, fsync off: what is measured is sipsec and the round trips)`);
    }
    const results = new Map<number, Row[]>();
    const baseline = new Map<number, Row[]>();
    for (const n of [0, ...o.sizes]) {
      if (o.baseline) {
        cli = o.baseline;
        console.log(`\n--- baseline: ${o.baseline}`);
        baseline.set(n, await measureSize(root, n, o, 'base'));
        cli = CLI;
        console.log('\n--- this sipsec');
      }
      const rows = await measureSize(root, n, o);
      results.set(n, rows);
      printSize(n, results);
      if (o.baseline) printVersus(n, baseline.get(n)!, rows);
    }
    printGrowth(results);
  } finally {
    pg?.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

function parseArgs(args: string[]): Options {
  const value = (name: string): string | undefined => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const v = args[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
    return v;
  };
  const known = new Set(['--phones', '--key', '--ops', '--runs', '--baseline', '--store']);
  for (const a of args) if (a.startsWith('--') && !known.has(a)) throw new Error(`unknown option ${a} (fleet takes --phones N[,N...] --key p256|rsa2048 --ops ${OPS.join(',')} --runs N)`);
  const sizes = (value('--phones') ?? '1000').split(',').map((s) => Number(s.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error('--phones needs positive whole numbers, e.g. --phones 1000,10000');
  const key = value('--key') ?? 'p256';
  if (key !== 'p256' && key !== 'rsa2048') throw new Error(`--key ${key}: use p256 or rsa2048`);
  const ops = (value('--ops') ?? OPS.join(',')).split(',').map((s) => s.trim());
  for (const op of ops) if (!(OPS as readonly string[]).includes(op)) throw new Error(`--ops: unknown operation '${op}' (known: ${OPS.join(', ')})`);
  const runs = Number(value('--runs') ?? '3');
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs needs a positive whole number');
  const baseline = value('--baseline');
  if (baseline !== undefined && !existsSync(baseline)) throw new Error(`--baseline ${baseline}: no such file (give another sipsec's bin/sipsec, built)`);
  const store = value('--store') ?? 'sqlite';
  if (store !== 'sqlite' && store !== 'postgres') throw new Error(`--store ${store}: use sqlite or postgres`);
  return { sizes: [...new Set(sizes)].sort((a, b) => a - b), key, ops: new Set(ops as OpName[]), runs, store, ...(baseline ? { baseline: path.resolve(baseline) } : {}) };
}

/** `sipsec --home HOME ...` as a user runs it; wall time in ms and its stdout. */
function sipsec(home: string, ...a: string[]): { ms: number; stdout: string } {
  const t0 = performance.now();
  // List outputs at 50,000 phones run to tens of MB.
  const r = spawnSync(process.execPath, [cli, '--home', home, ...a], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`sipsec ${a.join(' ')} exited ${String(r.status ?? r.signal)}: ${r.stderr}`);
  return { ms, stdout: r.stdout };
}

async function measureSize(root: string, n: number, o: Options, tag = ''): Promise<Row[]> {
  const home = path.join(root, `home-${n}${tag ? `-${tag}` : ''}`);
  const rows: Row[] = [];
  sipsec(home, 'ca', 'init', '--org', 'fleet bench', '--domain', DOMAIN, '--leaf-key', o.key, '--no-passphrase', '--registrar', `127.0.0.1:5061`, '--tftp-server', '127.0.0.1');
  // serve presents this one (the only server certificate), so no start issues one.
  sipsec(home, 'server', 'add', DOMAIN, '--ip', '127.0.0.1');
  if (n > 0) {
    const csv = path.join(root, `phones-${n}.csv`);
    writeFileSync(csv, phoneSheet(n));
    console.log(`\nbuilding the ${n.toLocaleString('en-US')}-phone home: sipsec phone import ${path.basename(csv)} ...`);
    const imp = sipsec(home, 'phone', 'import', csv);
    console.log(`  imported in ${(imp.ms / 1000).toFixed(1)} s (${fmt(n / (imp.ms / 1000))} phones/s)`);
    rows.push({ label: 'phone import of the whole sheet (builds the home; once)', unit: 'ms', values: [imp.ms], target: TARGETS.none });
  } else {
    console.log('\nmeasuring the empty home (the baseline) ...');
  }
  let extra = n === 0 ? 0 : 100;
  const nextExtra = () => extra++;
  const runs = Array.from({ length: o.runs }, (_, i) => i);

  if (o.ops.has('add') || o.ops.has('edit') || o.ops.has('remove')) {
    const add: number[] = [];
    const edit: number[] = [];
    const remove: number[] = [];
    for (const _ of runs) {
      const i = nextExtra();
      const name = `fleet-extra-${i}`;
      add.push(sipsec(home, 'phone', 'add', name, '--vendor', 'yealink', '--mac', EXTRA_MAC(i), '--ip', '127.0.0.1').ms);
      if (o.ops.has('edit')) edit.push(sipsec(home, 'phone', 'edit', name, '--display-name', `Extra ${i}`).ms);
      // Removing keeps the home at n phones for the next run and operation.
      const r = sipsec(home, 'phone', 'remove', name).ms;
      if (o.ops.has('remove')) remove.push(r);
    }
    if (o.ops.has('add')) rows.push({ label: 'phone add', unit: 'ms', values: add, target: TARGETS.add });
    if (o.ops.has('edit')) rows.push({ label: 'phone edit --display-name', unit: 'ms', values: edit, target: TARGETS.under300 });
    if (o.ops.has('remove')) rows.push({ label: 'phone remove', unit: 'ms', values: remove, target: TARGETS.under300 });
  }
  const reads: Array<[OpName, string, string[]]> = [
    ['cert-list', 'cert list --json', ['cert', 'list', '--json']],
    ['phone-list', 'phone list --json', ['phone', 'list', '--json']],
    ['routes', 'provision routes --json', ['provision', 'routes', '--json']],
  ];
  for (const [op, label, argv] of reads) {
    if (!o.ops.has(op)) continue;
    rows.push({ label, unit: 'ms', values: runs.map(() => sipsec(home, ...argv).ms), target: TARGETS.under1s });
  }
  if (o.ops.has('render')) {
    // A cold full render: a fresh --out folder each run, every file written.
    const values = runs.map((r) => sipsec(home, 'provision', 'render', '--out', path.join(root, `render-${n}-${r}`)).ms);
    for (const r of runs) rmSync(path.join(root, `render-${n}-${r}`), { recursive: true, force: true });
    rows.push({ label: 'provision render (full, into an empty --out)', unit: 'ms', values, target: TARGETS.render });
  }
  // In-process: only this sipsec's library is loaded here.
  if (o.ops.has('rerender') && n > 0 && cli === CLI) rows.push({ label: `incremental render of one phone (p0, ${sheetPhone(0).vendor}; in-process)`, unit: 'ms', values: await incremental(home, o.runs), target: TARGETS.incremental });
  if (o.ops.has('serve-start') || o.ops.has('pickup')) rows.push(...(await serveRows(home, o, nextExtra)));
  return rows;
}

/**
 * rerenderPhones on one phone with the store already open, as serve and
 * every command hold it: the first call (loading the renderer) is not counted.
 */
async function incremental(home: string, runs: number): Promise<number[]> {
  const store = await CaStore.open(home);
  const name = sheetPhone(0).name;
  await rerenderPhones(store, [name]);
  const values: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    await rerenderPhones(store, [name]);
    values.push(performance.now() - t0);
  }
  return values;
}

interface Running {
  child: ChildProcess;
  startMs: number;
  rssMb: number;
  httpsPort: number;
}

/** `sipsec serve --json` on free loopback ports until its serve.start event; RSS read at that moment. */
async function startServe(home: string): Promise<Running> {
  const t0 = performance.now();
  // Lockout off: the pickup poll authenticates as a phone serve does not know yet, which counts as a failure.
  const argv = [cli, '--home', home, 'serve', '--json', '--bind', '127.0.0.1', '--https-port', '0', '--tftp-port', 'off', '--sip-port', '0', '--diagnostic-port', 'off', '--lockout-failures', '0'];
  const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = createInterface({ input: child.stdout! });
  const started = await new Promise<{ ms: number; port: number }>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`sipsec serve exited ${String(code)} before serve.start: ${stderr}`)));
    lines.on('line', (line) => {
      const ev = JSON.parse(line) as { event?: string; ports?: { https?: number } };
      if (ev.event === 'serve.start' && ev.ports?.https !== undefined) resolve({ ms: performance.now() - t0, port: ev.ports.https });
    });
  });
  const rssMb = rssOf(child.pid!);
  // Keep reading events so serve never blocks on a full pipe.
  lines.on('line', () => {});
  return { child, startMs: started.ms, rssMb, httpsPort: started.port };
}

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for process ${pid}`);
  return Number(m[1]) / 1024;
}

async function stopServe(r: Running): Promise<void> {
  if (r.child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => r.child.once('exit', () => resolve()));
  r.child.kill('SIGTERM');
  await exited;
}

/** GET a phone's own file over HTTPS as that phone (Basic: its name and SIP secret); the status code. */
function fetchStatus(port: number, file: string, user: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: `/${file}`, auth: `${user}:${SECRET}`, rejectUnauthorized: false, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`GET /${file} timed out`)));
  });
}

/**
 * serve start (time to serve.start, RSS then), and a change picked up: the
 * time from `phone add` returning until serve, already running, answers the
 * new phone's own file over HTTPS with 200 (polled every 20 ms).
 */
async function serveRows(home: string, o: Options, nextExtra: () => number): Promise<Row[]> {
  const start: number[] = [];
  const rss: number[] = [];
  const pickup: number[] = [];
  const rssAfter: number[] = [];
  const added: string[] = [];
  for (let r = 0; r < o.runs; r++) {
    const running = await startServe(home);
    try {
      start.push(running.startMs);
      rss.push(running.rssMb);
      if (!o.ops.has('pickup')) continue;
      const i = nextExtra();
      const name = `fleet-extra-${i}`;
      const file = `${EXTRA_MAC(i)}.cfg`;
      sipsec(home, 'phone', 'add', name, '--vendor', 'yealink', '--mac', EXTRA_MAC(i), '--ip', '127.0.0.1', '--secret', SECRET);
      added.push(name);
      const t0 = performance.now();
      for (;;) {
        if ((await fetchStatus(running.httpsPort, file, name)) === 200) break;
        if (performance.now() - t0 > 300_000) throw new Error(`serve did not serve ${file} within 5 minutes of phone add`);
        await new Promise((res) => setTimeout(res, 20));
      }
      pickup.push(performance.now() - t0);
      rssAfter.push(rssOf(running.child.pid!));
    } finally {
      await stopServe(running);
    }
  }
  for (const name of added) sipsec(home, 'phone', 'remove', name);
  const rows: Row[] = [];
  if (o.ops.has('serve-start')) {
    rows.push({ label: 'serve start (to serve.start)', unit: 'ms', values: start, target: TARGETS.serveStart });
    rows.push({ label: 'serve RSS at serve.start', unit: 'MB', values: rss, target: TARGETS.serveRss });
  }
  if (o.ops.has('pickup')) {
    rows.push({ label: 'change picked up (phone add returns → served over HTTPS)', unit: 'ms', values: pickup, target: TARGETS.pickup });
    rows.push({ label: 'serve RSS after the change', unit: 'MB', values: rssAfter, target: TARGETS.serveRss });
  }
  return rows;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function show(row: Row, v: number): string {
  if (row.unit === 'MB') return `${v.toFixed(0)} MB`;
  return v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${v.toFixed(v < 100 ? 1 : 0)} ms`;
}

function verdict(row: Row, v: number, ratio: number | undefined, n: number): string {
  const met = row.target.met(v, ratio, n);
  return met === undefined ? '' : met ? 'met' : 'MISSED';
}

/**
 * What a row is compared with: the same operation on the empty home, or,
 * for one the empty home cannot have (an import, one phone's re-render),
 * the smallest size that has it.
 */
function ratioOf(results: Map<number, Row[]>, n: number, row: Row): number | undefined {
  for (const [size, rows] of results) {
    if (size === n) return undefined;
    const base = rows.find((r) => r.label === row.label);
    if (base) return median(row.values) / median(base.values);
  }
  return undefined;
}

/** The same operations on the baseline sipsec and this one, at one size. */
function printVersus(n: number, base: Row[], rows: Row[]): void {
  const title = `${n === 0 ? 'empty home' : `${n.toLocaleString('en-US')} phones`}: baseline vs this sipsec`;
  const table = rows.flatMap((row) => {
    const b = base.find((x) => x.label === row.label);
    if (!b) return [];
    const bv = median(b.values);
    const v = median(row.values);
    return [[row.label, show(b, bv), show(row, v), row.unit === 'MB' ? `${(bv / v).toFixed(2)}x less` : `${(bv / v).toFixed(2)}x faster`]];
  });
  printTable(title, ['operation', 'baseline', 'this sipsec', ''], table);
}

function printSize(n: number, results: Map<number, Row[]>): void {
  const title = n === 0 ? 'empty home (baseline)' : `${n.toLocaleString('en-US')} phones`;
  const table = results.get(n)!.map((row) => {
    const v = median(row.values);
    const ratio = ratioOf(results, n, row);
    const spread = row.values.length > 1 ? `${show(row, Math.min(...row.values))} – ${show(row, Math.max(...row.values))}` : '';
    return [row.label, show(row, v), spread, ratio === undefined ? '' : `${ratio.toFixed(2)}x`, row.target.text, verdict(row, v, ratio, n)];
  });
  printTable(title, ['operation', 'median', 'min – max', 'x base', 'target (issue 14)', ''], table);
}

/** Every size side by side, as a Markdown table (the README's form). */
function printGrowth(results: Map<number, Row[]>): void {
  const sizes = [...results.keys()];
  const labels = [...new Set([...results.values()].flatMap((rows) => rows.map((r) => r.label)))];
  const head = ['operation', ...sizes.map((n) => (n === 0 ? 'empty home' : `${n.toLocaleString('en-US')} phones`)), 'target'];
  console.log('\ngrowth (median; x = ratio to the empty home, or to the smallest size for rows the empty home lacks)\n');
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map(() => '---').join('|')}|`);
  for (const label of labels) {
    const cells = sizes.map((n) => {
      const row = results.get(n)!.find((r) => r.label === label);
      if (!row) return '';
      const v = median(row.values);
      const ratio = ratioOf(results, n, row);
      const mark = verdict(row, v, ratio, n);
      return `${show(row, v)}${ratio === undefined ? '' : ` (${ratio.toFixed(1)}x)`}${mark === 'MISSED' ? ' ✗' : mark === 'met' ? ' ✓' : ''}`;
    });
    const target = [...results.values()].flatMap((rows) => rows).find((r) => r.label === label)!.target.text;
    console.log(`| ${label} | ${cells.join(' | ')} | ${target} |`);
  }
}
