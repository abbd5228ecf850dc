/**
 * `npm run bench -- tftp`: sipsec's TFTP server against tftpd-hpa (in.tftpd),
 * both serving the same files from the same temp directory, in one run.
 *
 *  - boot storm (bench/tftp/storm.ts): P phones (default 200) each fetching
 *    their F config files (default 3, 2–8 KiB) one after another, C phones
 *    at a time (default 50), each phone from its own loopback address
 *    (127.1.x.y); once with no options (RFC 1350 512-byte lock-step, what
 *    many boot ROMs send) and once with blksize 1428 + tsize 0 (what
 *    curl-like clients send).
 *  - firmware: one 5 MiB file with blksize 1428 and windowsize W (default 64,
 *    the server's default cap);
 *    tftpd-hpa 5.2 has no RFC 7440, answers without windowsize and the client
 *    falls back to lock-step. Also run lock-step against both, for the
 *    like-for-like number.
 *
 * `--storm N` is issue 14's storm: N phones (10000 in the README) × 3 files,
 * 200 at a time, storms only, one run unless --runs says otherwise; the
 * verdict line judges it against the target (≥ 3x tftpd-hpa, no timeouts).
 *
 * The load client (bench/tftp/client.ts) runs in this process and is used
 * identically against both; sipsec's server runs in a child process (its own
 * event loop, as in.tftpd forks its own processes) with the defaults
 * `sipsec serve` uses. Every download is checked byte for byte. Server CPU
 * is read from /proc/<pid>/stat (for in.tftpd its listening process only:
 * see machineBusyMs), the client's from process.cpuUsage(), the machine's
 * from /proc/stat.
 *
 * Options: --runs N (5) --phones P --files F --concurrency C --windowsize W --fw-mib M --storm N
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { fetchFile } from './tftp/client.js';
import { MAX_PHONES, bootStorm, configName } from './tftp/storm.js';
import type { StormResult } from './tftp/storm.js';
// The same seeded files and port picking as the TFTP tests (one copy each).
import { pseudoRandomBytes as bytes } from '../test/provision/tftp-helpers/packets.js';
import { freeUdpPort } from '../test/helpers/udp.js';

/** Issue 14: "at least 3x faster than tftpd-hpa ... with no timeouts". */
const STORM_TARGET = 3;

interface Settings {
  runs: number;
  phones: number;
  files: number;
  concurrency: number;
  windowsize: number;
  fwMiB: number;
  firmware: boolean;
  target: number | undefined;
}

const NUMERIC: Record<string, 'runs' | 'phones' | 'files' | 'concurrency' | 'windowsize' | 'fwMiB'> = {
  '--runs': 'runs',
  '--phones': 'phones',
  '--files': 'files',
  '--concurrency': 'concurrency',
  '--windowsize': 'windowsize',
  '--fw-mib': 'fwMiB',
};

function parseArgs(args: string[]): Settings {
  const given: Partial<Record<string, number>> = {};
  for (let i = 0; i < args.length; i += 2) {
    const flag = args[i];
    const value = Number(args[i + 1]);
    if ((flag !== '--storm' && !NUMERIC[flag]) || !Number.isInteger(value) || value < 1) {
      throw new Error(`bad option ${flag} ${String(args[i + 1])}; see bench/tftp.ts`);
    }
    given[flag] = value;
  }
  const storm = given['--storm'];
  // The storm preset sets defaults; flags given beside it still win.
  const s: Settings = storm === undefined
    ? { runs: 5, phones: 200, files: 3, concurrency: 50, windowsize: 64, fwMiB: 5, firmware: true, target: undefined }
    : { runs: 1, phones: storm, files: 3, concurrency: 200, windowsize: 64, fwMiB: 5, firmware: false, target: STORM_TARGET };
  for (const [flag, key] of Object.entries(NUMERIC)) s[key] = given[flag] ?? s[key];
  if (s.phones > MAX_PHONES) throw new Error(`--phones ${s.phones}: at most ${MAX_PHONES} phones have their own address in 127.1.0.0/16`);
  return s;
}

function which(bin: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/**
 * CPU ms of a process, plus its children once it has waited for them
 * (utime+stime+cutime+cstime). For in.tftpd that is the listening parent
 * alone (its children are never waited for, see machineBusyMs).
 */
function cpuMs(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  return (ticks * 1000) / CLK_TCK;
}

/**
 * Busy CPU ms of the whole machine (all cores, /proc/stat), which is the
 * only place in.tftpd's per-request children show up: it sets SIGCHLD to
 * SIG_IGN with SA_NOCLDWAIT, so they are reaped by the kernel and their
 * time never reaches the parent's cutime. Includes everything else running.
 */
function machineBusyMs(): number {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...: all but idle and iowait.
  const busy = f.reduce((a, b) => a + b, 0) - f[3] - f[4];
  return (busy * 1000) / CLK_TCK;
}

function clientCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** What sipsec's server child reports on "STATS" (bench/tftp/server-child.ts). */
const ServerCountsSchema = z.object({ results: z.record(z.string(), z.number()), retransmits: z.number() });
type ServerCounts = z.infer<typeof ServerCountsSchema>;

interface Server {
  name: string;
  port: number;
  pid: number;
  child: ChildProcess;
  /** Running totals from the server itself; only sipsec's reports them. */
  counts?: () => Promise<ServerCounts>;
}

/** Lines of a child's stdout, handed out in order to whoever waits for a prefix. */
function lineReader(child: ChildProcess): (prefix: string, ms: number) => Promise<string> {
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  readline.createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    wake?.();
  });
  return async (prefix, ms) => {
    const deadline = performance.now() + ms;
    for (;;) {
      const i = lines.findIndex((l) => l.startsWith(prefix));
      if (i >= 0) return lines.splice(0, i + 1)[i].slice(prefix.length).trim();
      if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode} before "${prefix}"`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error(`no "${prefix}" line within ${ms} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 100));
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  };
}

async function startSipsec(dir: string): Promise<Server> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'tftp', 'server-child.js');
  // SIPSEC_BENCH_PROF=<dir>: a V8 CPU profile of sipsec's server, written there when the bench ends.
  const prof = process.env.SIPSEC_BENCH_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.SIPSEC_BENCH_PROF] : [];
  const child = spawn(process.execPath, [...prof, script, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  const next = lineReader(child);
  const port = Number(await next('PORT ', 30_000));
  const counts = async (): Promise<ServerCounts> => {
    child.stdin!.write('STATS\n');
    return ServerCountsSchema.parse(JSON.parse(await next('STATS ', 10_000)));
  };
  return { name: 'sipsec', port, pid: child.pid!, child, counts };
}

async function startHpa(bin: string, dir: string, probe: string): Promise<Server> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freeUdpPort();
    // As in shared/peers.md §7: standalone, foreground, IPv4, chroot + drop to nobody.
    const child = spawn(bin, ['-L', '-4', '-a', `127.0.0.1:${port}`, '-s', '-u', 'nobody', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
    for (let i = 0; i < 50; i++) {
      if (child.exitCode !== null) break;
      const r = await fetchFile({ port, name: probe, timeoutMs: 100, retries: 0 });
      if (r.ok) return { name: 'tftpd-hpa', port, pid: child.pid!, child };
    }
    await stop({ name: 'tftpd-hpa', port, pid: child.pid!, child });
  }
  throw new Error('in.tftpd did not start');
}

async function stop(s: Server): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => s.child.once('exit', () => resolve()));
  process.kill(s.pid, 'SIGTERM');
  const t = setTimeout(() => {
    try {
      process.kill(s.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }, 2000);
  await exited;
  clearTimeout(t);
}

interface Sample extends StormResult {
  cpuMs: number;
  clientCpuMs: number;
  /** The whole machine's busy CPU during the scenario: client, server (in.tftpd's children too), and whatever else runs. */
  machineCpuMs: number;
  note: string;
  /** What the server counted during the sample (sipsec only). */
  server: ServerCounts | undefined;
}

function diffCounts(a: ServerCounts, b: ServerCounts): ServerCounts {
  const results: Record<string, number> = {};
  for (const [k, n] of Object.entries(b.results)) {
    const d = n - (a.results[k] ?? 0);
    if (d !== 0) results[k] = d;
  }
  return { results, retransmits: b.retransmits - a.retransmits };
}

/** Runs `go` and adds both sides' CPU and the server's own counts. */
async function measured(srv: Server, go: () => Promise<StormResult & { note?: string }>): Promise<Sample> {
  const before = await srv.counts?.();
  const cpu0 = cpuMs(srv.pid);
  const client0 = clientCpuMs();
  const machine0 = machineBusyMs();
  const r = await go();
  const client = clientCpuMs() - client0;
  const machine = machineBusyMs() - machine0;
  const cpu = cpuMs(srv.pid) - cpu0;
  // Refusals over the event gate's rate arrive summed a second later (event-gate.ts).
  if (before && r.failed + r.timeouts > 0) await new Promise((resolve) => setTimeout(resolve, 1100));
  const after = await srv.counts?.();
  return { ...r, cpuMs: cpu, clientCpuMs: client, machineCpuMs: machine, note: r.note ?? '', server: before && after ? diffCounts(before, after) : undefined };
}

function stormSample(srv: Server, s: Settings, expect: Map<string, Buffer>, options: Record<string, number>): Promise<Sample> {
  const plan = { port: srv.port, phones: s.phones, files: s.files, concurrency: s.concurrency, options };
  return measured(srv, () => bootStorm(plan, (name) => expect.get(name)));
}

function firmware(srv: Server, fw: Buffer, options: Record<string, number>): Promise<Sample> {
  return measured(srv, async () => {
    const t0 = performance.now();
    const r = await fetchFile({ port: srv.port, name: 'fw.bin', options });
    const ms = performance.now() - t0;
    if (!r.ok || !r.data.equals(fw)) throw new Error(`${srv.name}: fw.bin ${r.ok ? 'differs' : r.error ?? 'failed'}`);
    const note = `blksize ${r.blksize}, windowsize ${r.windowsize}`;
    return { ms, ok: 1, failed: 0, firstError: undefined, bytes: r.data.length, timeouts: r.timeouts, filesWithTimeouts: r.timeouts > 0 ? 1 : 0, p50: ms, p99: ms, max: ms, note };
  });
}

function median(xs: Sample[]): Sample {
  const sorted = [...xs].sort((a, b) => a.ms - b.ms);
  return sorted[Math.floor(sorted.length / 2)];
}

const fmt = (n: number, d = 1): string => n.toFixed(d);
const pct = (part: number, whole: number): string => `${fmt((100 * part) / whole, 0)}%`;

/** What the server itself saw: anything but clean transfers, and what it resent. */
function serverNote(c: ServerCounts | undefined): string {
  if (!c) return '';
  const other = Object.entries(c.results).filter(([k]) => k !== 'ok').map(([k, n]) => `${k} ${n}`);
  return [`resent ${c.retransmits}`, ...other].join(', ');
}

/**
 * For sipsec, machine CPU minus its server and the client is other people's
 * work: a run that shared the cores with much of it is slower for that.
 * (For in.tftpd its own children are in the same number.)
 */
function othersNote(x: Sample): string {
  if (!x.server) return '';
  return `others on the machine ${fmt(Math.max(0, x.machineCpuMs - x.cpuMs - x.clientCpuMs), 0)} ms`;
}

function writeFiles(dir: string, s: Settings): { expect: Map<string, Buffer>; fw: Buffer } {
  const expect = new Map<string, Buffer>();
  for (let p = 0; p < s.phones; p++) {
    for (let k = 0; k < s.files; k++) {
      const seed = p * 31 + k + 1;
      const size = 2048 + ((seed * 2654435761) >>> 0) % (6 * 1024 + 1); // 2–8 KiB
      const name = configName(p, k);
      const data = bytes(size, seed);
      expect.set(name, data);
      // One at a time: 30,000 parallel writes run out of file descriptors.
      fs.writeFileSync(path.join(dir, name), data, { mode: 0o644 });
    }
  }
  const fw = bytes(s.fwMiB * 1024 * 1024, 4242);
  fs.writeFileSync(path.join(dir, 'fw.bin'), fw, { mode: 0o644 });
  return { expect, fw };
}

export async function run(args: string[]): Promise<void> {
  const s = parseArgs(args);
  const hpaBin = which('in.tftpd');
  if (!hpaBin) throw new Error("peer 'in.tftpd' is missing: install it with: apt-get install -y --no-install-recommends tftpd-hpa");

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipsec-bench-tftp-'));
  // in.tftpd chroots and drops to nobody: the tree must be world-readable.
  fs.chmodSync(dir, 0o755);
  const servers: Server[] = [];
  try {
    const { expect, fw } = writeFiles(dir, s);
    servers.push(await startSipsec(dir));
    servers.push(await startHpa(hpaBin, dir, configName(0, 0)));
    const hpaVersion = spawnSync(hpaBin, ['-V'], { encoding: 'utf8', timeout: 5000 }).stdout.split('\n')[0] ?? '?';

    const storms = [
      { label: `boot storm, no options (512 B)`, storm: true, go: (srv: Server) => stormSample(srv, s, expect, {}) },
      { label: `boot storm, blksize 1428 + tsize`, storm: true, go: (srv: Server) => stormSample(srv, s, expect, { blksize: 1428, tsize: 0 }) },
    ];
    const firmwares = [
      { label: `firmware ${s.fwMiB} MiB, blksize 1428, windowsize ${s.windowsize} asked`, storm: false, go: (srv: Server) => firmware(srv, fw, { blksize: 1428, tsize: 0, windowsize: s.windowsize }) },
      { label: `firmware ${s.fwMiB} MiB, blksize 1428, lock-step`, storm: false, go: (srv: Server) => firmware(srv, fw, { blksize: 1428, tsize: 0 }) },
    ];
    const scenarios = s.firmware ? [...storms, ...firmwares] : storms;

    // Warm-up: JIT the client and sipsec's server, fill the page cache for in.tftpd.
    for (const srv of servers) {
      await stormSample(srv, { ...s, phones: Math.min(s.phones, 50) }, expect, {});
      await firmware(srv, fw, { blksize: 1428, windowsize: s.windowsize });
    }

    const samples = scenarios.map(() => servers.map((): Sample[] => []));
    for (let r = 0; r < s.runs; r++) {
      for (let i = 0; i < scenarios.length; i++) {
        // Alternate which server goes first, so drift in machine speed is shared.
        const order = r % 2 === 0 ? [0, 1] : [1, 0];
        for (const j of order) samples[i][j].push(await scenarios[i].go(servers[j]));
      }
    }

    console.log(`TFTP benchmark: sipsec vs ${hpaVersion} (in.tftpd -L -4 -s -u nobody), 127.0.0.1`);
    console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load average ${os.loadavg().map((x) => fmt(x, 2)).join(' ')}; median of ${s.runs} run(s) after a warm-up`);
    console.log(`boot storm: ${s.phones} phones x ${s.files} files (2-8 KiB), ${s.concurrency} phones at a time, each phone from its own address in 127.1.0.0/16; ratio = tftpd-hpa time / sipsec time (>1: sipsec faster)`);
    console.log('CPU columns: ms used during the scenario and the share of its wall time (server, client: 100% = one core; machine: 100% = all cores busy, whoever uses them); tftpd-hpa server CPU is its listening process only (its per-request children show in machine CPU); timeouts = client retransmissions (files that needed one); failed = files not received whole\n');
    const rows: string[][] = [['scenario', 'server', 'wall s', 'files/s', 'MiB/s', 'p50 ms', 'p99 ms', 'max ms', 'server CPU', 'client CPU', 'machine CPU', 'timeouts', 'failed', 'note']];
    const ratios: string[] = [];
    const verdicts: string[] = [];
    scenarios.forEach((sc, i) => {
      const m = servers.map((_, j) => median(samples[i][j]));
      m.forEach((x, j) => {
        rows.push([
          j === 0 ? sc.label : '',
          servers[j].name,
          fmt(x.ms / 1000, 2),
          fmt((x.ok * 1000) / x.ms, 0),
          fmt(x.bytes / 1048576 / (x.ms / 1000)),
          fmt(x.p50, 2),
          fmt(x.p99, 2),
          fmt(x.max, 1),
          `${fmt(x.cpuMs, 0)} (${pct(x.cpuMs, x.ms)})`,
          `${fmt(x.clientCpuMs, 0)} (${pct(x.clientCpuMs, x.ms)})`,
          `${fmt(x.machineCpuMs, 0)} (${pct(x.machineCpuMs, x.ms * os.cpus().length)})`,
          `${x.timeouts} (${x.filesWithTimeouts})`,
          String(x.failed),
          [x.note, serverNote(x.server), othersNote(x), x.firstError ? `first failure: ${x.firstError}` : ''].filter(Boolean).join('; '),
        ]);
      });
      // Per run, the two servers ran back to back: the median of those paired
      // ratios is less exposed to other work on the machine than a ratio of medians.
      const paired = samples[i][0].map((x, r) => samples[i][1][r].ms / x.ms);
      const ratio = [...paired].sort((a, b) => a - b)[Math.floor(paired.length / 2)];
      ratios.push(`${sc.label}: ${fmt(ratio, 2)}x  (per run ${paired.map((x) => fmt(x, 2)).join('/')}; sipsec ${samples[i][0].map((x) => fmt(x.ms, 0)).join('/')} ms, tftpd-hpa ${samples[i][1].map((x) => fmt(x.ms, 0)).join('/')} ms)`);
      if (s.target !== undefined && sc.storm) {
        const all = samples[i][0];
        const timeouts = all.reduce((n, x) => n + x.timeouts + x.failed, 0);
        const met = ratio >= s.target && timeouts === 0;
        verdicts.push(`${sc.label}: ${met ? 'met' : 'MISSED'} (${fmt(ratio, 2)}x, sipsec timeouts + failures over all runs: ${timeouts})`);
      }
    });
    const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
    for (const row of rows) console.log(row.map((cell, c) => (c < 2 || c === row.length - 1 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
    console.log('\nratios (tftpd-hpa time / sipsec time, median of the per-run ratios):');
    for (const line of ratios) console.log(`  ${line}`);
    if (verdicts.length > 0) {
      console.log(`\nissue 14 target: a ${s.phones}-phone storm with no timeouts, >= ${s.target}x tftpd-hpa:`);
      for (const line of verdicts) console.log(`  ${line}`);
    }
  } finally {
    for (const srv of servers) await stop(srv);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
