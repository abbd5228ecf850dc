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

const CRLFCRLF = Buffer.from('\r\n\r\n');
const CL = Buffer.from('Content-Length:');

function registerText(user: string, domain: string, localPort: number, tag: string, seq: number): string {
  return (
    `REGISTER sip:${domain} SIP/2.0\r\n` +
    `Via: SIP/2.0/TLS 127.0.0.1:${localPort};branch=z9hG4bK${tag}x${seq}\r\n` +
    `Max-Forwards: 70\r\n` +
    `From: <sip:${user}@${domain}>;tag=${tag}\r\n` +
    `To: <sip:${user}@${domain}>\r\n` +
    `Call-ID: ${tag}c${seq}\r\n` +
    `CSeq: 1 REGISTER\r\n` +
    `Contact: <sip:${user}@127.0.0.1:${localPort};transport=tls>\r\n` +
    `Expires: 3600\r\n` +
    `User-Agent: sipsec-bench\r\n` +
    `Content-Length: 0\r\n\r\n`
  );
}

/** Counts complete responses in a byte stream; returns the status codes seen. */
class ResponseScanner {
  #buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer, onStatus: (status: number) => void): void {
    let buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    let start = 0;
    for (;;) {
      // Skip keep-alive CRLFs between messages.
      while (start + 1 < buf.length && buf[start] === 0x0d && buf[start + 1] === 0x0a) start += 2;
      const end = buf.indexOf(CRLFCRLF, start);
      if (end < 0) break;
      let body = 0;
      const cl = buf.indexOf(CL, start);
      if (cl >= 0 && cl < end) {
        let i = cl + CL.length;
        while (buf[i] === 0x20) i++;
        let n = 0;
        while (i < end && buf[i]! >= 0x30 && buf[i]! <= 0x39) n = n * 10 + (buf[i++]! - 0x30);
        body = n;
      }
      const total = end + 4 + body;
      if (total > buf.length) break;
      // "SIP/2.0 200": the code is at offset 8.
      const status = (buf[start + 8]! - 0x30) * 100 + (buf[start + 9]! - 0x30) * 10 + (buf[start + 10]! - 0x30);
      onStatus(status);
      start = total;
    }
    this.#buf = start < buf.length ? Buffer.from(buf.subarray(start)) : Buffer.alloc(0);
    buf = this.#buf;
  }
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
        text += registerText(phone.user, t.domain, localPort, tag, ++seq);
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
      s.once('secureConnect', () => s.write(registerText(phone.user, t.domain, s.localPort ?? 0, `n${worker}x${counter}`, counter)));
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
