/**
 * `npm run bench -- srtp [--rounds N] [--ms M] [--cpu C] [--no-pin] [--no-alternatives]`
 *
 * SRTP protect and unprotect, packets per second, sipsec vs libsrtp2, for
 * AES_CM_128_HMAC_SHA1_80 and AEAD_AES_128_GCM at RTP payloads of 20, 160
 * and 1024 octets, in one run. The libsrtp side is bench/c/srtp_bench.c,
 * built here with cc into .build/bench/.
 *
 * Fairness: both run on the same CPU, both started under `taskset -c CPU`
 * (this benchmark re-executes itself that way; pinning a running node with
 * `taskset -a -p` is not the same: V8 has already sized its GC helper
 * threads for all CPUs, and they then fight the main thread for one core,
 * which cost GCM 3-10x in a measurement here), alternately: each round runs libsrtp for M ms, then sipsec for M ms,
 * so machine drift hits both (peers.md "Machine noise": ±35% hour to
 * hour). Both use the same method as peers.md §8: fresh sessions per round,
 * batches of 1024 packets prepared outside the timed region, protect and
 * unprotect timed separately, every packet checked. Reported: the median
 * over rounds of each side, and sipsec/libsrtp.
 *
 * sipsec protects into a caller buffer (`dst`) so a batch can be kept for
 * the unprotect pass; libsrtp works in place. That copy is on our side of
 * the ledger.
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createCipheriv, createHmac, createSecretKey, hash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SrtpReceiver, SrtpSender, SUITES, statusName, type SuiteName } from '../src/srtp/index.js';

const BATCH = 1024;
const HDR = 12;
const SSRC = 0x11223344;
const SUITE_LIST: readonly SuiteName[] = ['AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_128_GCM'];
const SIZES = [20, 160, 1024] as const;
/** The brief's targets at 160 octets (protect), as sipsec/libsrtp. */
const TARGETS: Partial<Record<SuiteName, number>> = { AES_CM_128_HMAC_SHA1_80: 0.5, AEAD_AES_128_GCM: 0.3 };

interface Options {
  rounds: number;
  ms: number;
  cpu: number;
  pin: boolean;
  alternatives: boolean;
}

interface Rate {
  protect: number;
  unprotect: number;
}

function parseArgs(args: string[]): Options {
  const o: Options = { rounds: 5, ms: 300, cpu: cpus().length > 1 ? 1 : 0, pin: true, alternatives: true };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    const num = (): number => {
      const v = Number(args[++i]);
      if (!Number.isFinite(v) || v < 0) throw new Error(`${a} needs a number`);
      return v;
    };
    if (a === '--rounds') o.rounds = Math.max(1, Math.min(50, Math.floor(num())));
    else if (a === '--ms') o.ms = Math.max(50, Math.min(10_000, Math.floor(num())));
    else if (a === '--cpu') o.cpu = Math.floor(num());
    else if (a === '--no-pin') o.pin = false;
    else if (a === '--no-alternatives') o.alternatives = false;
    else throw new Error(`unknown option ${a} (use --rounds N, --ms M, --cpu C, --no-pin, --no-alternatives)`);
  }
  return o;
}

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 12; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bench', 'c'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('repository root not found');
}

function buildHarness(root: string): string {
  const src = join(root, 'bench', 'c', 'srtp_bench.c');
  const outDir = join(root, '.build', 'bench');
  const bin = join(outDir, 'srtp_bench');
  if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(src).mtimeMs) return bin;
  mkdirSync(outDir, { recursive: true });
  const pc = spawnSync('pkg-config', ['--cflags', '--libs', 'libsrtp2'], { encoding: 'utf8', timeout: 10_000 });
  const flags = pc.status === 0 ? pc.stdout.trim().split(/\s+/).filter(Boolean) : ['-lsrtp2'];
  const r = spawnSync('cc', ['-O2', '-o', bin, src, ...flags], { encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) {
    throw new Error(`building ${src} failed: ${r.error?.message ?? r.stderr.trim()}\n` +
      'install the compiler and libsrtp2: apt-get install -y --no-install-recommends gcc libc6-dev libsrtp2-dev pkg-config');
  }
  return bin;
}

function hasTaskset(): boolean {
  return spawnSync('taskset', ['--version'], { timeout: 5000 }).status === 0;
}

/** The libsrtp harness: one request line in, one answer line out. */
class Harness {
  private readonly child: ChildProcessWithoutNullStreams;
  private buffered = '';
  private waiting: ((line: string) => void) | null = null;
  private readonly lines: string[] = [];
  private exited = false;

  constructor(bin: string, cpu: number | null) {
    this.child = cpu === null ? spawn(bin, [], { stdio: 'pipe' }) : spawn('taskset', ['-c', String(cpu), bin], { stdio: 'pipe' });
    this.child.stdout.setEncoding('utf8');
    this.child.stdout.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf('\n')) >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        if (this.waiting) {
          const w = this.waiting;
          this.waiting = null;
          w(line);
        } else {
          this.lines.push(line);
        }
      }
    });
    this.child.on('exit', () => {
      this.exited = true;
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = null;
        w('ERR harness exited');
      }
    });
  }

  /** Next line, or an ERR line after `timeoutMs` (then the harness is killed). */
  next(timeoutMs: number): Promise<string> {
    const queued = this.lines.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    if (this.exited) return Promise.resolve('ERR harness exited');
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        this.stop();
        resolve('ERR harness timed out');
      }, timeoutMs);
      this.waiting = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
    });
  }

  async run(suite: SuiteName, size: number, ms: number): Promise<Rate> {
    this.child.stdin.write(`${suite} ${size} ${ms}\n`);
    const line = await this.next(ms * 4 + 10_000);
    const m = /^(\d+) (\d+) (\d+)$/.exec(line);
    if (!m) throw new Error(`libsrtp harness: ${line}`);
    return { protect: Number(m[1]), unprotect: Number(m[2]) };
  }

  stop(): void {
    if (this.exited) return;
    this.child.stdin.end();
    // EOF ends it; the kill is the backstop for a wedged harness.
    const t = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    this.child.once('exit', () => clearTimeout(t));
  }
}

/** The batch of plaintext packets a round reuses, SEQ rewritten per batch. */
function makeBatch(size: number): { plain: Buffer[]; wire: Buffer[]; lens: Int32Array } {
  const plain: Buffer[] = [];
  const wire: Buffer[] = [];
  for (let i = 0; i < BATCH; i++) {
    const p = Buffer.alloc(HDR + size);
    p[0] = 0x80;
    p.writeUInt32BE(SSRC, 8);
    for (let j = 0; j < size; j++) p[HDR + j] = j & 0xff;
    plain.push(p);
    wire.push(Buffer.alloc(HDR + size + 64));
  }
  return { plain, wire, lens: new Int32Array(BATCH) };
}

/** One sipsec round: the same procedure as the C harness. */
function sipsecRound(suite: SuiteName, size: number, ms: number): Rate {
  const s = SUITES[suite];
  const keys = [{ key: randomBytes(s.keyLen), salt: randomBytes(s.saltLen) }];
  const tx = new SrtpSender({ suite, keys });
  const rx = new SrtpReceiver({ suite, keys });
  const { plain, wire, lens } = makeBatch(size);
  let seq = 0;
  let tp = 0n;
  let tu = 0n;
  let packets = 0;
  const deadline = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
  // Bounded by the deadline and by a packet cap.
  while (process.hrtime.bigint() < deadline && packets < 2 ** 31) {
    for (let i = 0; i < BATCH; i++, seq++) plain[i].writeUInt16BE(seq & 0xffff, 2);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) lens[i] = tx.protectRtp(plain[i], plain[i].length, wire[i]);
    const t1 = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) lens[i] = rx.unprotectRtp(wire[i], lens[i]);
    const t2 = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) {
      if (lens[i] !== HDR + size) throw new Error(`sipsec round trip failed: ${statusName(lens[i])}`);
    }
    // Spot-check the plaintext of the last packet (rx.out holds it).
    if (rx.out.compare(plain[BATCH - 1], 0, HDR + size, 0, HDR + size) !== 0) throw new Error('sipsec round trip: plaintext differs');
    tp += t1 - t0;
    tu += t2 - t1;
    packets += BATCH;
  }
  return { protect: packets / (Number(tp) / 1e9), unprotect: packets / (Number(tu) / 1e9) };
}

/** Per-packet cipher and HMAC objects, the obvious node:crypto code, for comparison (protect only). */
function naiveRound(suite: SuiteName, size: number, ms: number): number {
  const key = randomBytes(16);
  const authKey = randomBytes(20);
  const { plain } = makeBatch(size);
  const iv = Buffer.alloc(suite === 'AEAD_AES_128_GCM' ? 12 : 16);
  let t = 0n;
  let packets = 0;
  const deadline = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
  while (process.hrtime.bigint() < deadline && packets < 2 ** 31) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) {
      const p = plain[i];
      iv.writeUInt16BE(i, 10);
      if (suite === 'AEAD_AES_128_GCM') {
        const c = createCipheriv('aes-128-gcm', key, iv);
        c.setAAD(p.subarray(0, HDR));
        Buffer.concat([p.subarray(0, HDR), c.update(p.subarray(HDR)), c.final(), c.getAuthTag()]);
      } else {
        const c = createCipheriv('aes-128-ctr', key, iv);
        const body = Buffer.concat([p.subarray(0, HDR), c.update(p.subarray(HDR))]);
        const tag = createHmac('sha1', authKey).update(body).update(Buffer.alloc(4)).digest().subarray(0, 10);
        Buffer.concat([body, tag]);
      }
    }
    t += process.hrtime.bigint() - t0;
    packets += BATCH;
  }
  return packets / (Number(t) / 1e9);
}

/**
 * The node:crypto calls sipsec cannot avoid per packet, and nothing else:
 * what a protect would cost if all SRTP logic were free.
 *   AES-CM+HMAC: one ECB call for the keystream, two one-shot SHA-1 calls.
 *   GCM: createCipheriv (KeyObject), setAAD, update, final, getAuthTag.
 */
function floorRound(suite: SuiteName, size: number, ms: number): number {
  const key = createSecretKey(randomBytes(16));
  const ecb = createCipheriv('aes-128-ecb', randomBytes(16), null);
  ecb.setAutoPadding(false);
  const iv = Buffer.alloc(12);
  const aad = Buffer.alloc(HDR);
  const body = Buffer.alloc(size);
  const blocks = Buffer.alloc(Math.ceil(size / 16) * 16);
  const inner = Buffer.alloc(64 + HDR + size + 4);
  const outer = Buffer.alloc(84);
  let t = 0n;
  let packets = 0;
  const deadline = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
  while (process.hrtime.bigint() < deadline && packets < 2 ** 31) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < BATCH; i++) {
      if (suite === 'AEAD_AES_128_GCM') {
        const c = createCipheriv('aes-128-gcm', key, iv);
        c.setAAD(aad);
        c.update(body);
        c.final();
        c.getAuthTag();
      } else {
        ecb.update(blocks);
        hash('sha1', inner, 'buffer');
        hash('sha1', outer, 'buffer');
      }
    }
    t += process.hrtime.bigint() - t0;
    packets += BATCH;
  }
  return packets / (Number(t) / 1e9);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;

const PINNED_ENV = 'SIPSEC_BENCH_SRTP_CPU';

/** Re-runs this benchmark as `taskset -c CPU node ...`; resolves with its exit code. */
function rerunPinned(cpu: number, o: Options): Promise<number> {
  const script = process.argv[1];
  if (!script) return Promise.resolve(1);
  const child = spawn('taskset', ['-c', String(cpu), process.execPath, ...process.execArgv, script, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [PINNED_ENV]: String(cpu) },
  });
  // Bounded: each case runs 2·rounds·ms plus a warm-up; the alternatives 18·ms; allow 3x and a minute.
  const budget = (SUITE_LIST.length * SIZES.length * (2 * o.rounds + 1) + 20) * o.ms * 3 + 60_000;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      console.error(`srtp benchmark: no result after ${Math.round(budget / 1000)} s, stopping it`);
      child.kill('SIGKILL');
    }, budget);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code ?? 1);
    });
  });
}

export async function run(args: string[]): Promise<void> {
  const o = parseArgs(args);
  const root = repoRoot();
  const bin = buildHarness(root);
  const pinnedCpu = process.env[PINNED_ENV];
  if (o.pin && pinnedCpu === undefined) {
    if (hasTaskset()) {
      const code = await rerunPinned(o.cpu, o);
      if (code !== 0) process.exitCode = code;
      return;
    }
    console.log('taskset not found (apt-get install util-linux): running unpinned');
  }
  const pinned = pinnedCpu !== undefined ? `both pinned to CPU ${pinnedCpu} (taskset -c)` : 'not pinned';
  const harness = new Harness(bin, pinnedCpu !== undefined ? Number(pinnedCpu) : null);
  try {
    const ready = await harness.next(15_000);
    if (!ready.startsWith('READY')) throw new Error(`libsrtp harness: ${ready}`);
    console.log(`SRTP benchmark: sipsec (node ${process.version}, node:crypto / OpenSSL ${process.versions.openssl}) vs ${ready.slice(6)}`);
    console.log(`${o.rounds} alternating rounds of ${o.ms} ms per side and case, medians; ${pinned}; batches of ${BATCH}, ${HDR}-octet RTP header\n`);

    const head = ['suite', 'payload', 'libsrtp protect/s', 'sipsec protect/s', 'ratio', 'libsrtp unprotect/s', 'sipsec unprotect/s', 'ratio'];
    const rows: string[][] = [];
    const results = new Map<string, { lib: Rate; ours: Rate }>();
    for (const suite of SUITE_LIST) {
      for (const size of SIZES) {
        // One untimed warm-up so the JIT has compiled the path before round 1.
        sipsecRound(suite, size, 50);
        const lib: Rate[] = [];
        const ours: Rate[] = [];
        for (let r = 0; r < o.rounds; r++) {
          lib.push(await harness.run(suite, size, o.ms));
          ours.push(sipsecRound(suite, size, o.ms));
        }
        const l = { protect: median(lib.map((x) => x.protect)), unprotect: median(lib.map((x) => x.unprotect)) };
        const s = { protect: median(ours.map((x) => x.protect)), unprotect: median(ours.map((x) => x.unprotect)) };
        results.set(`${suite}/${size}`, { lib: l, ours: s });
        rows.push([suite, String(size), fmt(l.protect), fmt(s.protect), ratio(s.protect, l.protect), fmt(l.unprotect), fmt(s.unprotect), ratio(s.unprotect, l.unprotect)]);
      }
    }
    printTable(head, rows);

    console.log('\ntargets (protect at 160 octets, sipsec/libsrtp):');
    for (const [suite, target] of Object.entries(TARGETS) as Array<[SuiteName, number]>) {
      const r = results.get(`${suite}/160`);
      if (!r) continue;
      const got = r.ours.protect / r.lib.protect;
      const un = r.ours.unprotect / r.lib.unprotect;
      console.log(`  ${suite.padEnd(24)} >= ${target.toFixed(1)}x: protect ${got.toFixed(2)}x, unprotect ${un.toFixed(2)}x  ${got >= target ? 'met' : `MISSED by ${((target - got) / target * 100).toFixed(0)}%`}`);
    }

    if (o.alternatives) {
      console.log('\nat 160 octets, protect/s, medians of 3 alternating rounds:');
      console.log('  naive = per-packet createCipheriv (+ createHmac), Buffer keys, Buffer.concat;');
      console.log('  floor = only the node:crypto calls sipsec makes per packet, no SRTP work at all');
      for (const suite of SUITE_LIST) {
        const naive: number[] = [];
        const floor: number[] = [];
        const ours: number[] = [];
        for (let r = 0; r < 3; r++) {
          naive.push(naiveRound(suite, 160, o.ms));
          floor.push(floorRound(suite, 160, o.ms));
          ours.push(sipsecRound(suite, 160, o.ms).protect);
        }
        const [n, f, s] = [median(naive), median(floor), median(ours)];
        console.log(`  ${suite.padEnd(24)} naive ${fmt(n)}  sipsec ${fmt(s)}  floor ${fmt(f)}   sipsec = ${ratio(s, n)} naive, ${(s / f * 100).toFixed(0)}% of floor`);
      }
    }
  } finally {
    harness.stop();
  }
}

function printTable(head: string[], rows: string[][]): void {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}
