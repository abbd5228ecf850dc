/**
 * The load generator of `npm run bench -- echo`: N phones in one process
 * (pinned by bench/echo.ts to the core sipsec does not use), each sending
 * G.711 in SRTP, 20 ms packets (50/s), to its echo session and counting
 * what comes back.
 *
 * It must not be the bottleneck, so the per-packet work is minimal:
 *  - every packet of the run is SRTP-protected before the clock starts
 *    (each call has its own key, SSRC and rising sequence numbers: the
 *    echo's replay window refuses a reused index, RFC 3711 §3.3.2, so
 *    packets cannot be replayed from a template);
 *  - one UDP socket per call, connected to its echo port: sends skip
 *    node's per-send address lookup, and replies need no demultiplexing;
 *  - replies are matched by sequence number (the echo keeps it and
 *    rewrites only the SSRC), not decrypted; the first reply of every call
 *    is decrypted with the echo's key to prove the echo really re-keys;
 *  - calls are spread evenly over the 20 ms packet interval (as real,
 *    unsynchronised phones are), sent from a 1 ms timer that catches up on
 *    any slot it is late for, and records how late it ever was.
 */
import * as dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { SrtpReceiver, SrtpSender, SUITES, isSuiteName, type SrtpMasterKey, type SuiteName } from '../../src/srtp/index.js';
import { toneFrame } from '../../src/media/tone.js';
import type { FromGenerator, GeneratorCall, GeneratorResult, ToGenerator } from './protocol.js';

const PTIME_MS = 20;
const SLOTS = PTIME_MS; // one 1-ms slot per phase
const HIST_RES = 10; // histogram buckets per ms
const HIST_MAX_MS = 2000;

function master(suite: SuiteName, b64: string): SrtpMasterKey {
  const raw = Buffer.from(b64, 'base64');
  const k = SUITES[suite].keyLen;
  return { key: raw.subarray(0, k), salt: raw.subarray(k) };
}

function send(m: FromGenerator): void {
  process.send?.(m);
}

interface Run {
  suite: SuiteName;
  calls: GeneratorCall[];
  /** Packets per call in the whole run, and the first one inside the measured window. */
  perCall: number;
  firstMeasured: number;
  len: number;
  graceMs: number;
  lateMs: number;
  /** Check the first reply of each call with the echo's key (off against the plain reflector). */
  verify: boolean;
  sockets: dgram.Socket[];
  packets: Buffer[];
  seq0: Uint16Array;
  sentAt: Float64Array;
  got: Uint8Array;
  verified: Uint8Array;
  hist: Uint32Array;
  received: number;
  late: number;
  verifyFailures: number;
}

let run: Run | undefined;

/** One call's whole stream, protected: packet k at offset k·len. */
function stream(suite: SuiteName, key: SrtpMasterKey, count: number, seq0: number): { buf: Buffer; len: number } {
  const tx = new SrtpSender({ suite, keys: [key] });
  const ssrc = randomBytes(4).readUInt32BE(0);
  const plain = Buffer.alloc(12 + 160);
  plain[0] = 0x80;
  plain.writeUInt32BE(ssrc, 8);
  let len = 0;
  let buf = Buffer.alloc(0);
  for (let k = 0; k < count; k++) {
    plain[1] = k === 0 ? 0x80 : 0; // marker on the first packet of a talkspurt (RFC 3551 §4.1)
    plain.writeUInt16BE((seq0 + k) & 0xffff, 2);
    plain.writeUInt32BE((k * 160) >>> 0, 4);
    toneFrame(440, 8000, k * 160, 160).copy(plain, 12);
    const n = tx.protectRtp(plain);
    if (n < 0) throw new Error(`protect failed (${n})`);
    if (k === 0) {
      len = n;
      buf = Buffer.allocUnsafe(n * count);
    }
    tx.out.copy(buf, k * len, 0, n);
  }
  return { buf, len };
}

async function prepare(m: Extract<ToGenerator, { type: 'prepare' }>): Promise<void> {
  if (!isSuiteName(m.suite)) throw new Error(`unknown suite ${m.suite}`);
  const suite = m.suite;
  const started = performance.now();
  const perCall = Math.ceil((m.warmupMs + m.measureMs) / PTIME_MS);
  const n = m.calls.length;
  const r: Run = {
    suite,
    calls: m.calls,
    perCall,
    firstMeasured: Math.ceil(m.warmupMs / PTIME_MS),
    len: 0,
    graceMs: m.graceMs,
    lateMs: m.lateMs,
    verify: m.verify,
    sockets: [],
    packets: [],
    seq0: new Uint16Array(n),
    sentAt: new Float64Array(n * perCall),
    got: new Uint8Array(n * perCall),
    verified: new Uint8Array(n),
    hist: new Uint32Array(HIST_MAX_MS * HIST_RES + 1),
    received: 0,
    late: 0,
    verifyFailures: 0,
  };
  for (let c = 0; c < n; c++) {
    const seq0 = randomBytes(2).readUInt16BE(0);
    r.seq0[c] = seq0;
    const s = stream(suite, master(suite, m.calls[c]!.keys.phone), perCall, seq0);
    r.packets.push(s.buf);
    r.len = s.len;
  }
  for (let c = 0; c < n; c++) r.sockets.push(await connectedSocket(r, c));
  run = r;
  send({ type: 'prepared', packetsPerCall: perCall, prepareMs: Math.round(performance.now() - started) });
}

async function connectedSocket(r: Run, c: number): Promise<dgram.Socket> {
  const sock = dgram.createSocket('udp4');
  sock.on('error', () => undefined);
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => sock.connect(r.calls[c]!.port, '127.0.0.1', resolve));
  const base = c * r.perCall;
  const seq0 = r.seq0[c]!;
  let rx: SrtpReceiver | undefined;
  sock.on('message', (msg) => {
    // The echo's RTCP goes to its latched RTP port + 1 (not us); anything RTCP-shaped here is ignored.
    if (msg.length < 12 || (msg[1]! >= 192 && msg[1]! <= 223)) return;
    const k = (((msg[2]! << 8) | msg[3]!) - seq0) & 0xffff;
    if (k >= r.perCall) return;
    const i = base + k;
    if (r.got[i]) return;
    r.got[i] = 1;
    if (!r.verified[c]) {
      r.verified[c] = 1;
      if (r.verify) {
        rx ??= new SrtpReceiver({ suite: r.suite, keys: [master(r.suite, r.calls[c]!.keys.echo)] });
        if (rx.unprotectRtp(msg) < 0) r.verifyFailures++;
      }
    }
    if (k < r.firstMeasured) return;
    const rtt = performance.now() - r.sentAt[i]!;
    r.received++;
    if (rtt > r.lateMs) r.late++;
    r.hist[Math.min(HIST_MAX_MS * HIST_RES, Math.floor(rtt * HIST_RES))]!++;
  });
  return sock;
}

function percentile(hist: Uint32Array, total: number, p: number): number {
  if (total === 0) return 0;
  const target = Math.ceil(total * p);
  let acc = 0;
  for (let i = 0; i < hist.length; i++) {
    acc += hist[i]!;
    if (acc >= target) return (i + 1) / HIST_RES;
  }
  return HIST_MAX_MS;
}

function start(r: Run): void {
  const n = r.calls.length;
  // Call c sends in slot c mod 20: phases spread evenly over the packet interval.
  const slots: number[][] = Array.from({ length: SLOTS }, () => []);
  for (let c = 0; c < n; c++) slots[c % SLOTS]!.push(c);
  const totalTicks = r.perCall * SLOTS;
  const firstMeasuredTick = r.firstMeasured * SLOTS;
  const t0 = performance.now() + 5;
  let tick = 0;
  let maxLag = 0;
  let lateSlots = 0;
  let cpuAtStart = process.cpuUsage();
  let wallAtStart = 0;
  const len = r.len;
  const pump = (): void => {
    const now = performance.now();
    const due = Math.floor(now - t0);
    while (tick <= due && tick < totalTicks) {
      if (tick === firstMeasuredTick) {
        cpuAtStart = process.cpuUsage();
        wallAtStart = now;
        send({ type: 'window-start' });
      }
      const k = Math.floor(tick / SLOTS);
      if (tick >= firstMeasuredTick) {
        const lag = now - (t0 + tick);
        if (lag > maxLag) maxLag = lag;
        if (lag > PTIME_MS) lateSlots++;
      }
      const off = k * len;
      for (const c of slots[tick % SLOTS]!) {
        r.sockets[c]!.send(r.packets[c]!, off, len);
        r.sentAt[c * r.perCall + k] = now;
      }
      tick++;
    }
    if (tick < totalTicks) {
      setTimeout(pump, 1);
      return;
    }
    const cpu = process.cpuUsage(cpuAtStart);
    const wall = performance.now() - wallAtStart;
    send({ type: 'window-end' });
    const lateSlotShare = lateSlots / (totalTicks - firstMeasuredTick);
    setTimeout(() => finish(r, { cpuPercent: (100 * (cpu.user + cpu.system)) / 1000 / wall, maxSendLagMs: maxLag, lateSlotShare }), r.graceMs);
  };
  setTimeout(pump, 5);
}

function finish(r: Run, o: { cpuPercent: number; maxSendLagMs: number; lateSlotShare: number }): void {
  const sent = r.calls.length * (r.perCall - r.firstMeasured);
  let rttMax = 0;
  for (let i = r.hist.length - 1; i >= 0; i--) {
    if (r.hist[i]! > 0) {
      rttMax = (i + 1) / HIST_RES;
      break;
    }
  }
  const result: GeneratorResult = {
    calls: r.calls.length,
    sent,
    received: r.received,
    late: r.late,
    rttP50: percentile(r.hist, r.received, 0.5),
    rttP99: percentile(r.hist, r.received, 0.99),
    rttMax,
    verifyFailures: r.verifyFailures,
    silentCalls: r.calls.length - r.verified.reduce((a, b) => a + b, 0),
    cpuPercent: Math.round(o.cpuPercent * 10) / 10,
    maxSendLagMs: Math.round(o.maxSendLagMs * 10) / 10,
    lateSlotShare: o.lateSlotShare,
  };
  for (const s of r.sockets) s.close();
  run = undefined;
  send({ type: 'result', result });
}

process.on('message', (m: ToGenerator) => {
  const fail = (e: unknown) => send({ type: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  try {
    if (m.type === 'prepare') prepare(m).catch(fail);
    else if (m.type === 'run') {
      if (!run) throw new Error('run before prepare');
      start(run);
    } else if (m.type === 'quit') process.exit(0);
  } catch (e) {
    fail(e);
  }
});
process.on('disconnect', () => process.exit(0));
