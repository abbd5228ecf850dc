/**
 * The sipsec side of `npm run bench -- echo`: a process that runs only the
 * echo's media path, the same EchoSession and PortPool `sipsec serve` uses
 * for extension 200 (src/media), one session per call with its RTP/RTCP
 * socket pair, as the registrar would after answering the INVITE. Started
 * under `taskset -c <cpu>` by bench/echo.ts; driven over IPC.
 */
import { performance } from 'node:perf_hooks';
import { EchoSession } from '../../src/media/echo.js';
import { PortPool } from '../../src/media/ports.js';
import { isSuiteName, SUITES, type SrtpMasterKey, type SuiteName } from '../../src/srtp/index.js';
import type { EchoTotals, FromServer, ToServer } from './protocol.js';

function master(suite: SuiteName, b64: string): SrtpMasterKey {
  const raw = Buffer.from(b64, 'base64');
  const k = SUITES[suite].keyLen;
  return { key: raw.subarray(0, k), salt: raw.subarray(k) };
}

function send(m: FromServer): void {
  process.send?.(m);
}

const minPort = Number(process.argv[2] ?? 20000);
const maxPort = Number(process.argv[3] ?? 29999);
/**
 * srtp: the echo as serve runs it. plain: the same EchoSession without SRTP
 * (the generator's SRTP packets are valid RTP to it). reflect: no echo
 * logic, each datagram sent straight back: node's UDP floor.
 */
const mode = process.argv[4] ?? 'srtp';
const reflectOnly = mode === 'reflect';
const pool = new PortPool(minPort, maxPort);
let sessions: EchoSession[] = [];
let reflectors: Array<{ close(): void; port: number; count: () => number }> = [];

async function openReflectors(n: number): Promise<void> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = await pool.open('127.0.0.1', false);
    let count = 0;
    s.rtp.on('message', (msg, rinfo) => {
      count++;
      s.rtp.send(msg, rinfo.port, rinfo.address);
    });
    reflectors.push({
      port: s.port,
      count: () => count,
      close: () => {
        s.rtp.close();
        s.rtcp?.close();
        pool.release(s.port);
      },
    });
    ports.push(s.port);
  }
  send({ type: 'opened', ports });
}

async function open(calls: Array<{ phone: string; echo: string }>, suiteName: string): Promise<void> {
  if (!isSuiteName(suiteName)) throw new Error(`unknown suite ${suiteName}`);
  const suite = suiteName;
  const ports: number[] = [];
  for (let i = 0; i < calls.length; i++) {
    const c = calls[i]!;
    const s = await EchoSession.open({
      callId: `bench-${i}`,
      phone: 'bench',
      bind: '127.0.0.1',
      pool,
      // As serve's echo answers: RTCP on its own port (no rtcp-mux in the answer).
      rtcpMux: false,
      remote: { address: '127.0.0.1', rtpPort: 0, rtcpPort: 0 },
      srtp: mode === 'plain' ? null : { suite, remote: [master(suite, c.phone)], local: master(suite, c.echo) },
      clockRate: 8000,
    });
    sessions.push(s);
    ports.push(s.localPort);
  }
  send({ type: 'opened', ports });
}

function close(): void {
  const totals: EchoTotals = { calls: sessions.length + reflectors.length, packetsIn: 0, packetsOut: 0, authFailures: 0, replays: 0, decryptErrors: 0 };
  for (const r of reflectors) {
    totals.packetsIn += r.count();
    totals.packetsOut += r.count();
    r.close();
  }
  reflectors = [];
  for (const s of sessions) {
    const r = s.close();
    totals.packetsIn += r.packetsIn;
    totals.packetsOut += r.packetsOut;
    totals.authFailures += r.authFailures;
    totals.replays += r.replays;
    totals.decryptErrors += r.decryptErrors;
  }
  sessions = [];
  send({ type: 'closed', totals });
}

process.on('message', (m: ToServer) => {
  try {
    if (m.type === 'open') {
      (reflectOnly ? openReflectors(m.calls.length) : open(m.calls, m.suite)).catch((e: unknown) => send({ type: 'error', message: e instanceof Error ? e.message : String(e) }));
    } else if (m.type === 'usage') {
      const cpu = process.cpuUsage();
      send({ type: 'usage', cpuMicros: cpu.user + cpu.system, wallMs: performance.now() });
    } else if (m.type === 'close') {
      close();
    }
  } catch (e) {
    send({ type: 'error', message: e instanceof Error ? e.message : String(e) });
  }
});
process.on('disconnect', () => process.exit(0));
