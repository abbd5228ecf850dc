/**
 * `npm run bench -- tftp`: sipsec's TFTP server against tftpd-hpa (in.tftpd),
 * both serving the same files from the same temp directory, in one run.
 *
 *  - boot storm: P phones (default 200) each fetching their F config files
 *    (default 3, 2–8 KiB) one after another, C phones at a time (default 50),
 *    each phone from its own loopback address (127.1.x.y);
 *    once with no options (RFC 1350 512-byte lock-step, what many boot ROMs
 *    send) and once with blksize 1428 + tsize 0 (what curl-like clients send).
 *  - firmware: one 5 MiB file with blksize 1428 and windowsize W (default 64,
 *    the server's default cap);
 *    tftpd-hpa 5.2 has no RFC 7440, answers without windowsize and the client
 *    falls back to lock-step. Also run lock-step against both, for the
 *    like-for-like number.
 *
 * The load client (bench/tftp/client.ts) runs in this process and is used
 * identically against both; sipsec's server runs in a child process (its own
 * event loop, as in.tftpd forks its own processes). Every download is
 * checked byte for byte. Server CPU is read from /proc/<pid>/stat (for
 * in.tftpd including its reaped per-request children).
 *
 * Options: --runs N (5) --phones P --files F --concurrency C --windowsize W --fw-mib M
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchFile } from './tftp/client.js';
// The same seeded files and port picking as the TFTP tests (one copy each).
import { pseudoRandomBytes as bytes } from '../test/provision/tftp-helpers/packets.js';
import { freeUdpPort } from '../test/helpers/udp.js';

interface Settings {
  runs: number;
  phones: number;
  files: number;
  concurrency: number;
  windowsize: number;
  fwMiB: number;
}

function parseArgs(args: string[]): Settings {
  const s: Settings = { runs: 5, phones: 200, files: 3, concurrency: 50, windowsize: 64, fwMiB: 5 };
  const keys: Record<string, keyof Settings> = {
    '--runs': 'runs',
    '--phones': 'phones',
    '--files': 'files',
    '--concurrency': 'concurrency',
    '--windowsize': 'windowsize',
    '--fw-mib': 'fwMiB',
  };
  for (let i = 0; i < args.length; i++) {
    const key = keys[args[i]];
    const value = Number(args[i + 1]);
    if (!key || !Number.isInteger(value) || value < 1) throw new Error(`bad option ${args[i]} ${String(args[i + 1])}; see bench/tftp.ts`);
    s[key] = value;
    i++;
  }
  return s;
}

function which(bin: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU ms of a process, plus its reaped children (utime+stime+cutime+cstime). */
function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
  return (ticks * 1000) / CLK_TCK;
}

interface Server {
  name: string;
  port: number;
  pid: number;
  child: ChildProcess;
}

function waitForLine(child: ChildProcess, prefix: string, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`no "${prefix}" line within ${ms} ms`)), ms);
    child.stdout?.setEncoding('utf8').on('data', (s: string) => {
      buf += s;
      const line = buf.split('\n').find((l) => l.startsWith(prefix));
      if (line) {
        clearTimeout(t);
        resolve(line.slice(prefix.length).trim());
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${String(code)} before "${prefix}"`)));
  });
}

async function startSipsec(dir: string): Promise<Server> {
  const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'tftp', 'server-child.js');
  const child = spawn(process.execPath, [script, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = Number(await waitForLine(child, 'PORT ', 10_000));
  return { name: 'sipsec', port, pid: child.pid!, child };
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

interface Sample {
  ms: number;
  cpuMs: number;
  files: number;
  bytes: number;
  timeouts: number;
  p50: number;
  p99: number;
  note: string;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function bootStorm(srv: Server, s: Settings, expect: Map<string, Buffer>, options: Record<string, number>): Promise<Sample> {
  let next = 0;
  let bytesTotal = 0;
  let timeouts = 0;
  const lat: number[] = [];
  const cpu0 = cpuMs(srv.pid);
  const t0 = performance.now();
  const phone = async (): Promise<void> => {
    for (;;) {
      const p = next++;
      if (p >= s.phones) return;
      // Each phone its own address, as on a LAN (see FetchOptions.localAddress).
      const localAddress = `127.1.${Math.floor(p / 250)}.${(p % 250) + 1}`;
      for (let k = 0; k < s.files; k++) {
        const name = `p${p}-${k}.cfg`;
        const f0 = performance.now();
        const r = await fetchFile({ port: srv.port, name, options, localAddress });
        lat.push(performance.now() - f0);
        if (!r.ok || !r.data.equals(expect.get(name)!)) throw new Error(`${srv.name}: ${name} ${r.ok ? 'differs' : r.error ?? 'failed'}`);
        bytesTotal += r.data.length;
        timeouts += r.timeouts;
      }
    }
  };
  await Promise.all(Array.from({ length: s.concurrency }, phone));
  const ms = performance.now() - t0;
  lat.sort((a, b) => a - b);
  return { ms, cpuMs: cpuMs(srv.pid) - cpu0, files: s.phones * s.files, bytes: bytesTotal, timeouts, p50: percentile(lat, 50), p99: percentile(lat, 99), note: '' };
}

async function firmware(srv: Server, fw: Buffer, options: Record<string, number>): Promise<Sample> {
  const cpu0 = cpuMs(srv.pid);
  const t0 = performance.now();
  const r = await fetchFile({ port: srv.port, name: 'fw.bin', options });
  const ms = performance.now() - t0;
  if (!r.ok || !r.data.equals(fw)) throw new Error(`${srv.name}: fw.bin ${r.ok ? 'differs' : r.error ?? 'failed'}`);
  return { ms, cpuMs: cpuMs(srv.pid) - cpu0, files: 1, bytes: r.data.length, timeouts: r.timeouts, p50: ms, p99: ms, note: `blksize ${r.blksize}, windowsize ${r.windowsize}` };
}

function median(xs: Sample[]): Sample {
  const sorted = [...xs].sort((a, b) => a.ms - b.ms);
  return sorted[Math.floor(sorted.length / 2)];
}

const fmt = (n: number, d = 1): string => n.toFixed(d);

export async function run(args: string[]): Promise<void> {
  const s = parseArgs(args);
  const hpaBin = which('in.tftpd');
  if (!hpaBin) throw new Error("peer 'in.tftpd' is missing: install it with: apt-get install -y --no-install-recommends tftpd-hpa");

  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sipsec-bench-tftp-'));
  // in.tftpd chroots and drops to nobody: the tree must be world-readable.
  await fs.chmod(dir, 0o755);
  const expect = new Map<string, Buffer>();
  for (let p = 0; p < s.phones; p++) {
    for (let k = 0; k < s.files; k++) {
      const seed = p * 31 + k + 1;
      const size = 2048 + ((seed * 2654435761) >>> 0) % (6 * 1024 + 1); // 2–8 KiB
      expect.set(`p${p}-${k}.cfg`, bytes(size, seed));
    }
  }
  const fw = bytes(s.fwMiB * 1024 * 1024, 4242);
  await Promise.all([...expect].map(([name, data]) => fs.writeFile(path.join(dir, name), data, { mode: 0o644 })));
  await fs.writeFile(path.join(dir, 'fw.bin'), fw, { mode: 0o644 });

  const servers: Server[] = [];
  try {
    servers.push(await startSipsec(dir));
    servers.push(await startHpa(hpaBin, dir, 'p0-0.cfg'));
    const hpaVersion = spawnSync(hpaBin, ['-V'], { encoding: 'utf8', timeout: 5000 }).stdout.split('\n')[0] ?? '?';

    const scenarios: Array<{ label: string; go: (srv: Server) => Promise<Sample> }> = [
      { label: `boot storm, no options (512 B)`, go: (srv) => bootStorm(srv, s, expect, {}) },
      { label: `boot storm, blksize 1428 + tsize`, go: (srv) => bootStorm(srv, s, expect, { blksize: 1428, tsize: 0 }) },
      { label: `firmware ${s.fwMiB} MiB, blksize 1428, windowsize ${s.windowsize} asked`, go: (srv) => firmware(srv, fw, { blksize: 1428, tsize: 0, windowsize: s.windowsize }) },
      { label: `firmware ${s.fwMiB} MiB, blksize 1428, lock-step`, go: (srv) => firmware(srv, fw, { blksize: 1428, tsize: 0 }) },
    ];

    // Warm-up: JIT the client and sipsec's server, fill the page cache for in.tftpd.
    for (const srv of servers) {
      await bootStorm(srv, { ...s, phones: Math.min(s.phones, 50) }, expect, {});
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
    console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}); median of ${s.runs} runs after a warm-up`);
    console.log(`boot storm: ${s.phones} phones x ${s.files} files (2-8 KiB), ${s.concurrency} phones at a time; ratio = tftpd-hpa time / sipsec time (>1: sipsec faster)\n`);
    const rows: string[][] = [['scenario', 'server', 'wall ms', 'files/s', 'MiB/s', 'p50 ms', 'p99 ms', 'server CPU ms', 'timeouts', 'note']];
    const ratios: string[] = [];
    scenarios.forEach((sc, i) => {
      const m = servers.map((_, j) => median(samples[i][j]));
      m.forEach((x, j) => {
        rows.push([
          j === 0 ? sc.label : '',
          servers[j].name,
          fmt(x.ms),
          fmt((x.files * 1000) / x.ms, 0),
          fmt(x.bytes / 1048576 / (x.ms / 1000)),
          fmt(x.p50, 2),
          fmt(x.p99, 2),
          fmt(x.cpuMs, 0),
          String(x.timeouts),
          x.note,
        ]);
      });
      ratios.push(`${sc.label}: ${fmt(m[1].ms / m[0].ms, 2)}x  (runs: sipsec ${samples[i][0].map((x) => fmt(x.ms, 0)).join('/')} ms, tftpd-hpa ${samples[i][1].map((x) => fmt(x.ms, 0)).join('/')} ms)`);
    });
    const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
    for (const row of rows) console.log(row.map((cell, c) => (c < 2 || c === row.length - 1 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
    console.log('\nratios (tftpd-hpa time / sipsec time):');
    for (const line of ratios) console.log(`  ${line}`);
  } finally {
    for (const srv of servers) await stop(srv);
    await fs.rm(dir, { recursive: true, force: true });
  }
}
