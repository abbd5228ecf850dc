/**
 * A TLS REGISTER load generator (node:tls), used identically against
 * sipsec and Kamailio.
 *
 * - persistent: C connections, each presenting one phone's certificate and
 *   keeping W REGISTERs in flight (pipelined): requests are built from a
 *   template by string concatenation and written in batches (one TLS
 *   record for many requests), responses are counted by scanning for the
 *   end of each header section, never parsed further. Each REGISTER has a
 *   fresh Call-ID and branch and refreshes the connection's one binding
 *   (RFC 3261 §10.3 step 8: a new Call-ID updates it), so the location
 *   table stays bounded (peers.md K2).
 * - new-connection: K workers, each looping connect (full TLS handshake
 *   with the client certificate, no session resumption) → REGISTER →
 *   200 → close.
 *
 * Only 200 OK counts as a registration; anything else is a failure.
 */
import * as tls from 'node:tls';
import { registerText, ResponseScanner } from './wire.js';

export interface PhoneCreds {
  user: string;
  cert: string;
  key: string;
}

export interface LoadTarget {
  host: string;
  port: number;
  ca: string;
  domain: string;
  phones: PhoneCreds[];
}

export interface LoadResult {
  ok: number;
  failed: number;
  ms: number;
  /** Client process CPU (user + system) during the window, ms. */
  clientCpuMs: number;
  statuses: Record<string, number>;
}

/** One REGISTER of the throughput runs: a fresh Call-ID each (seq), CSeq 1. */
function registerOf(user: string, domain: string, localPort: number, tag: string, seq: number): string {
  return registerText({ user, domain, localAddress: '127.0.0.1', localPort, tag, callId: `${tag}c${seq}`, cseq: 1, branch: `${tag}x${seq}`, expires: 3600 });
}

function connect(t: LoadTarget, phone: PhoneCreds): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: t.host, port: t.port, ca: t.ca, cert: phone.cert, key: phone.key, servername: 'localhost' });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error('connect timeout'));
    }, 10_000);
    s.once('secureConnect', () => {
      clearTimeout(timer);
      s.setNoDelay(true);
      resolve(s);
    });
    s.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function cpuMs(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1000;
}

/** Pipelined REGISTERs over `connections` long-lived connections, `window` in flight on each, for `ms`. */
export async function persistent(t: LoadTarget, connections: number, window: number, ms: number, warmupMs: number): Promise<LoadResult> {
  const sockets = await Promise.all(Array.from({ length: connections }, (_, i) => connect(t, t.phones[i % t.phones.length]!)));
  const statuses: Record<string, number> = {};
  let ok = 0;
  let failed = 0;
  let measuring = false;
  let stopping = false;
  let t0 = 0;
  let cpu0: NodeJS.CpuUsage = process.cpuUsage();
  const done: Array<Promise<void>> = [];
  sockets.forEach((s, i) => {
    const phone = t.phones[i % t.phones.length]!;
    const tag = `b${i}r${Math.floor(Math.random() * 1e9).toString(36)}`;
    const localPort = s.localPort ?? 0;
    const scanner = new ResponseScanner();
    let seq = 0;
    let inflight = 0;
    const fill = () => {
      if (stopping) return;
      let text = '';
      while (inflight < window) {
        text += registerOf(phone.user, t.domain, localPort, tag, ++seq);
        inflight++;
      }
      if (text) s.write(text);
    };
    done.push(
      new Promise<void>((resolve) => {
        s.on('data', (chunk: Buffer) => {
          scanner.push(chunk, (status) => {
            if (status < 200) return;
            inflight--;
            if (measuring) {
              statuses[status] = (statuses[status] ?? 0) + 1;
              if (status === 200) ok++;
              else failed++;
            }
          });
          if (stopping && inflight === 0) resolve();
          // Refill in batches: one write (one TLS record) per quarter window.
          if (inflight <= (window * 3) / 4) fill();
        });
        s.on('close', () => resolve());
        s.on('error', () => resolve());
      }),
    );
    fill();
  });
  await new Promise((r) => setTimeout(r, warmupMs));
  measuring = true;
  t0 = performance.now();
  cpu0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, ms));
  measuring = false;
  const elapsed = performance.now() - t0;
  const cpu = cpuMs(process.cpuUsage(cpu0));
  stopping = true;
  await Promise.race([Promise.all(done), new Promise((r) => setTimeout(r, 5000))]);
  for (const s of sockets) s.destroy();
  return { ok, failed, ms: elapsed, clientCpuMs: cpu, statuses };
}

/** One registration per TLS connection, `concurrency` workers at a time, for `ms`. */
export async function newConnections(t: LoadTarget, concurrency: number, ms: number, warmupMs: number): Promise<LoadResult> {
  const statuses: Record<string, number> = {};
  let ok = 0;
  let failed = 0;
  let measuring = false;
  let stopping = false;
  let counter = 0;
  const one = (worker: number): Promise<void> =>
    new Promise((resolve) => {
      const phone = t.phones[(counter++ + worker) % t.phones.length]!;
      const s = tls.connect({ host: t.host, port: t.port, ca: t.ca, cert: phone.cert, key: phone.key, servername: 'localhost' });
      const scanner = new ResponseScanner();
      const timer = setTimeout(() => finish(0), 10_000);
      let finished = false;
      const finish = (status: number) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        if (measuring) {
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (status === 200) ok++;
          else failed++;
        }
        s.destroy();
        resolve();
      };
      s.once('secureConnect', () => s.write(registerOf(phone.user, t.domain, s.localPort ?? 0, `n${worker}x${counter}`, counter)));
      s.on('data', (chunk: Buffer) => scanner.push(chunk, (status) => status >= 200 && finish(status)));
      s.on('error', () => finish(0));
      s.on('close', () => finish(0));
    });
  const workers = Array.from({ length: concurrency }, async (_, w) => {
    while (!stopping) await one(w);
  });
  await new Promise((r) => setTimeout(r, warmupMs));
  measuring = true;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await new Promise((r) => setTimeout(r, ms));
  measuring = false;
  const elapsed = performance.now() - t0;
  const cpu = cpuMs(process.cpuUsage(cpu0));
  stopping = true;
  await Promise.race([Promise.all(workers), new Promise((r) => setTimeout(r, 10_000))]);
  return { ok, failed, ms: elapsed, clientCpuMs: cpu, statuses };
}
