/**
 * The benchmark's load client: one UDP socket per transfer (each a phone's
 * TID), RFC 1350 lock-step or RFC 7440 windowed, used identically against
 * both servers. It runs in-process so that process start-up (which
 * dominates curl/atftp timings, shared/peers.md §7) is not measured.
 *
 * Lean on purpose: sends are synchronous (no per-packet dns.lookup tick),
 * one message handler and one timer per transfer.
 */
import dgram from 'node:dgram';
import type { RemoteInfo } from 'node:dgram';

export interface FetchOptions {
  port: number;
  name: string;
  /** RFC 2347 options to request, e.g. { blksize: 1428, tsize: 0 }. */
  options?: Record<string, number>;
  /** Resend the last ACK (or the RRQ) after this long. Default 1000 ms. */
  timeoutMs?: number;
  retries?: number;
  /**
   * The phone's own address. Any 127.x.y.z works on Linux loopback, so each
   * simulated phone can have its own IP as on a real LAN (per-IP limits and
   * per-peer state then behave as they would there). Default 127.0.0.1.
   */
  localAddress?: string;
}

export interface FetchResult {
  ok: boolean;
  data: Buffer;
  error?: string;
  /** What the server granted (OACK), or 512/1 without one. */
  blksize: number;
  windowsize: number;
  packets: number;
  timeouts: number;
}

function literalLookup(address: string, _family: unknown, cb: (err: Error | null, address: string, family: number) => void): void {
  cb(null, address, 4);
}

function buildRrq(name: string, options: Record<string, number>): Buffer {
  let s = `\0\u0001${name}\0octet\0`;
  for (const [k, v] of Object.entries(options)) s += `${k}\0${v}\0`;
  return Buffer.from(s, 'latin1');
}

function ackPacket(block: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b[0] = 0;
  b[1] = 4;
  b[2] = (block >>> 8) & 0xff;
  b[3] = block & 0xff;
  return b;
}

export function fetchFile(o: FetchOptions): Promise<FetchResult> {
  const timeoutMs = o.timeoutMs ?? 1000;
  const retries = o.retries ?? 5;
  const request = buildRrq(o.name, o.options ?? {});
  return new Promise((resolve) => {
    const sock = dgram.createSocket({ type: 'udp4', lookup: literalLookup });
    const chunks: Buffer[] = [];
    // With tsize from the OACK the file goes straight into one buffer.
    let whole: Buffer | undefined;
    let filled = 0;
    let blksize = 512;
    let windowsize = 1;
    let tid = 0;
    let expected = 1;
    let inWindow = 0;
    let packets = 0;
    let timeouts = 0;
    let tries = 0;
    let finished = false;

    const done = (ok: boolean, error?: string): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.close();
      const data = whole ? whole.subarray(0, filled) : Buffer.concat(chunks);
      resolve({ ok, data, error, blksize, windowsize, packets, timeouts });
    };
    const sendAck = (block: number): void => {
      sock.send(ackPacket(block & 0xffff), tid, '127.0.0.1');
    };
    const timer = setTimeout(() => {
      if (++tries > retries) {
        done(false, 'timeout');
        return;
      }
      timeouts++;
      if (tid === 0) sock.send(request, o.port, '127.0.0.1');
      else sendAck(expected - 1);
      inWindow = 0;
      timer.refresh();
    }, timeoutMs);

    sock.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      if (tid === 0) tid = rinfo.port;
      else if (rinfo.port !== tid) return;
      if (msg.length < 4) return;
      packets++;
      const op = msg[1];
      if (op === 3) {
        const block = (msg[2] << 8) | msg[3];
        if (block !== (expected & 0xffff)) {
          // Out of order or a duplicate: RFC 7440 §4, re-sync the sender.
          if (windowsize > 1 && ((block - expected) & 0xffff) < 0x8000) {
            inWindow = 0;
            sendAck(expected - 1);
          }
          return;
        }
        const len = msg.length - 4;
        if (whole && filled + len <= whole.length) {
          msg.copy(whole, filled, 4);
          filled += len;
        } else {
          if (whole) {
            // More data than tsize announced: keep what we have and go on in chunks.
            chunks.push(whole.subarray(0, filled));
            whole = undefined;
          }
          chunks.push(msg.subarray(4));
        }
        expected++;
        tries = 0;
        timer.refresh();
        if (len < blksize) {
          sock.send(ackPacket((expected - 1) & 0xffff), tid, '127.0.0.1', () => done(true));
          return;
        }
        if (++inWindow >= windowsize) {
          inWindow = 0;
          sendAck(expected - 1);
        }
      } else if (op === 6) {
        // OACK: take what the server granted; anything not echoed keeps its
        // default (tftpd-hpa 5.2 answers without windowsize).
        const fields = msg.toString('latin1', 2).split('\0');
        for (let i = 0; i + 1 < fields.length; i += 2) {
          const k = fields[i].toLowerCase();
          if (k === 'blksize') blksize = Number(fields[i + 1]);
          else if (k === 'windowsize') windowsize = Number(fields[i + 1]);
          else if (k === 'tsize' && expected === 1) whole = Buffer.allocUnsafe(Number(fields[i + 1]));
        }
        sendAck(0);
      } else if (op === 5) {
        const end = msg.indexOf(0, 4);
        done(false, `error ${(msg[2] << 8) | msg[3]}: ${msg.toString('latin1', 4, end < 0 ? msg.length : end)}`);
      }
    });
    sock.bind(0, o.localAddress ?? '127.0.0.1', () => sock.send(request, o.port, '127.0.0.1'));
  });
}
