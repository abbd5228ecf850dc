/**
 * `npm run bench -- register`: TLS REGISTER throughput of sipsec's
 * registrar against Kamailio 5.6 (Debian kamailio + kamailio-tls-modules),
 * both started here with the same CA, server certificate and phone
 * certificates, in one run, driven by the same node:tls load generator
 * (bench/register/loadgen.ts).
 *
 * What is compared (equivalent work on both sides):
 *  - mutual TLS: the server asks for and verifies the phone's client
 *    certificate against the sipsec CA and CRL;
 *  - the phone is authenticated by that certificate alone: Kamailio's
 *    config (`sipsec pbx kamailio --out`) checks the certificate's URI SAN
 *    against the From/To AOR; sipsec runs `--auth cert` (certificate to
 *    phone mapping through the CA index, AOR check). No digest on either
 *    side (Kamailio's generated registrar has no passwords);
 *  - a registrar without database: sipsec's in-memory bindings, Kamailio
 *    usrloc db_mode 0; one binding per phone, refreshed by every REGISTER.
 *  - sipsec also writes its event stream (tls.handshake per connection,
 *    register.ok for new bindings) to serve.log; Kamailio logs nothing per
 *    registration at debug=2.
 *
 * Modes: persistent (C connections, W REGISTERs in flight on each) and
 * new-connection (K workers, a full TLS 1.3 handshake per REGISTER).
 * Each mode and server runs --runs times (default 3), median reported,
 * with CPU time of the client (this process) and of the server (from
 * /proc: the sipsec child; every process of Kamailio's process group), so
 * the output says which side was the bottleneck.
 *
 * Options: --runs N (3) --seconds S (5) --connections C (10) --window W (64)
 *          --concurrency K (10) --phones N (10) --only sipsec|kamailio
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { kamailioConfig } from '../src/pbx/kamailio.js';
import { freePort, groupCpuMs, scratch, waitPort } from './lib/proc.js';
import { fmt, printTable } from './lib/report.js';
import { buildHome, DOMAIN, startServe } from './register/home.js';
import { newConnections, persistent, type LoadResult, type LoadTarget } from './register/loadgen.js';

interface Settings {
  runs: number;
  seconds: number;
  connections: number;
  window: number;
  concurrency: number;
  phones: number;
  only: 'sipsec' | 'kamailio' | undefined;
}

function parseArgs(args: string[]): Settings {
  const s: Settings = { runs: 3, seconds: 5, connections: 10, window: 64, concurrency: 10, phones: 10, only: undefined };
  const keys: Record<string, keyof Omit<Settings, 'only'>> = { '--runs': 'runs', '--seconds': 'seconds', '--connections': 'connections', '--window': 'window', '--concurrency': 'concurrency', '--phones': 'phones' };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--only') {
      const v = args[++i];
      if (v !== 'sipsec' && v !== 'kamailio') throw new Error('--only sipsec|kamailio');
      s.only = v;
      continue;
    }
    const key = keys[args[i]!];
    const value = Number(args[i + 1]);
    if (!key || !Number.isFinite(value) || value <= 0) throw new Error(`bad option ${args[i]} ${String(args[i + 1])}; see bench/register.ts`);
    s[key] = value;
    i++;
  }
  return s;
}

function which(bin: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

interface Server {
  name: 'sipsec' | 'kamailio';
  port: number;
  child: ChildProcess;
  cpuMs(): number;
}

interface Row {
  mode: string;
  server: string;
  result: LoadResult;
  serverCpuMs: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

export async function run(args: string[]): Promise<void> {
  const s = parseArgs(args);
  const { dir, children, cleanup } = scratch('sipsec-bench-reg-');
  try {
    const sipPort = await freePort();
    const kamPort = await freePort();
    console.log(`CA with ${s.phones} phones (P-256) in ${path.join(dir, 'ca')}`);
    const { store, phones, ca } = await buildHome(dir, s.phones, sipPort);

    const servers: Server[] = [];
    if (s.only !== 'kamailio') {
      // 1,000 per address: the load generator's connections all come from 127.0.0.1.
      const child = await startServe(store.paths.root, sipPort, ['--max-conn-per-ip', '1000']);
      children.push(child);
      servers.push({ name: 'sipsec', port: sipPort, child, cpuMs: () => groupCpuMs(child.pid!) });
    }
    if (s.only !== 'sipsec') {
      const kamailio = which('kamailio');
      if (!kamailio) throw new Error('kamailio is missing: apt-get install -y --no-install-recommends kamailio kamailio-tls-modules (or node scripts/peers.mjs --install)');
      const kdir = path.join(dir, 'kamailio');
      const cfg = await kamailioConfig(store, { installDir: kdir, listen: { host: '127.0.0.1', port: kamPort } });
      for (const f of cfg.files) {
        const file = path.join(kdir, f.name);
        spawnSync('mkdir', ['-p', path.dirname(file)]);
        writeFileSync(file, f.content, { mode: f.mode });
      }
      spawnSync('mkdir', ['-p', path.join(kdir, 'run')]);
      // K3: no core dumps; K1: the config has tcp_children=1; K2: -m 1024.
      const cmd = `ulimit -c 0; exec ${kamailio} -DD -E -f ${kdir}/kamailio.cfg -w ${kdir} -P ${kdir}/run/kamailio.pid -Y ${kdir}/run -m 1024 -M 16`;
      const child = spawn('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      let err = '';
      child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
      children.push(child);
      await waitPort(kamPort, 20_000).catch((e: Error) => {
        throw new Error(`${e.message}; kamailio said: ${err}`);
      });
      servers.push({ name: 'kamailio', port: kamPort, child, cpuMs: () => groupCpuMs(child.pid!) });
    }

    const rows: Row[] = [];
    const ms = s.seconds * 1000;
    for (let r = 0; r < s.runs; r++) {
      for (const mode of ['persistent', 'new-connection'] as const) {
        for (const srv of servers) {
          const target: LoadTarget = { host: '127.0.0.1', port: srv.port, ca, domain: DOMAIN, phones };
          const before = srv.cpuMs();
          const t0 = performance.now();
          const result = mode === 'persistent' ? await persistent(target, s.connections, s.window, ms, 1000) : await newConnections(target, s.concurrency, ms, 1000);
          const wall = performance.now() - t0;
          // Server CPU over the whole call (warm-up included), scaled to the measured window.
          const serverCpuMs = ((srv.cpuMs() - before) * result.ms) / wall;
          rows.push({ mode, server: srv.name, result, serverCpuMs });
          const rate = result.ok / (result.ms / 1000);
          console.log(`run ${r + 1} ${mode.padEnd(14)} ${srv.name.padEnd(8)} ${fmt(rate)} reg/s  (${result.ok} ok, ${result.failed} failed${result.failed ? ` ${JSON.stringify(result.statuses)}` : ''}; client CPU ${Math.round((result.clientCpuMs / result.ms) * 100)}%, server CPU ${Math.round((serverCpuMs / result.ms) * 100)}%)`);
        }
      }
    }

    const table: string[][] = [];
    const rateOf = (mode: string, server: string) => median(rows.filter((x) => x.mode === mode && x.server === server).map((x) => x.result.ok / (x.result.ms / 1000)));
    for (const mode of ['persistent', 'new-connection']) {
      for (const srv of servers) {
        const rs = rows.filter((x) => x.mode === mode && x.server === srv.name);
        const rate = rateOf(mode, srv.name);
        const client = median(rs.map((x) => (x.result.clientCpuMs / x.result.ms) * 100));
        const server = median(rs.map((x) => (x.serverCpuMs / x.result.ms) * 100));
        const failed = rs.reduce((n, x) => n + x.result.failed, 0);
        const bottleneck = server >= 90 && server >= client ? 'server CPU' : client >= 90 ? 'client CPU' : 'neither saturated (latency/window bound)';
        table.push([mode, srv.name, fmt(rate), String(failed), `${Math.round(client)}%`, `${Math.round(server)}%`, bottleneck]);
      }
    }
    const detail = `persistent: ${s.connections} connections x ${s.window} in flight; new-connection: ${s.concurrency} concurrent full TLS handshakes; ${s.seconds} s per run, median of ${s.runs}`;
    printTable(`TLS REGISTER, client-certificate auth, no digest (${detail})`, ['mode', 'server', 'reg/s', 'failed', 'client CPU', 'server CPU', 'bottleneck'], table);
    if (servers.length === 2) {
      for (const [mode, target] of [['persistent', 0.5], ['new-connection', 0.8]] as const) {
        const ratio = rateOf(mode, 'sipsec') / rateOf(mode, 'kamailio');
        console.log(`${mode}: sipsec/kamailio = ${ratio.toFixed(2)}x (target >= ${target}x: ${ratio >= target ? 'met' : 'NOT met'})`);
      }
    }
    console.log('CPU: 100% = one core; the machine has 2 cores shared by the client and the server.');
  } finally {
    await cleanup();
  }
}
