/**
 * A small RFC 1350 client for tests: lock-step by default, windowed
 * (RFC 7440) when the server grants a windowsize. It behaves like the
 * phones the server meets: it resends its last ACK when its own timer runs
 * out (RFC 1350 §2: "If a packet gets lost in the network, the intended
 * recipient will timeout and may retransmit his last packet"), and, like
 * the BSD/tftp-hpa client, re-ACKs a duplicate DATA. Everything it sees is
 * counted so tests can assert on retransmission behaviour.
 */
import dgram from 'node:dgram';
import type { RemoteInfo } from 'node:dgram';
import { ack, decode, errorPacket, rrq } from './packets.js';
import type { Options } from './packets.js';

export interface GetOptions {
  host?: string;
  port: number;
  file: string | Buffer;
  mode?: string;
  options?: Options;
  /** The client's own retransmission timer. Default 500 ms. */
  reAckMs?: number;
  /** Consecutive timer expiries before giving up. Default 5. */
  maxTries?: number;
  /** Re-ACK a duplicate DATA in lock-step mode (BSD tftp, tftp-hpa). Default true. */
  ackDuplicates?: boolean;
  /** After the final ACK, stay for this long and re-ACK a retransmitted final block. Default 0. */
  dallyMs?: number;
  /** Give up ("storm") once this many DATA packets arrived. Default: unbounded. */
  maxDataPackets?: number;
  /** Hard bound on the whole transfer. Default 30 s. */
  deadlineMs?: number;
  /** Hold back every ACK for this long (to keep a transfer open in a test). */
  ackDelayMs?: number;
  /** Acknowledge no block beyond this one, not even a duplicate (to make the server time out). */
  stopAckingAfter?: number;
  /** Undo netascii (CR LF → LF, CR NUL → CR) on the received bytes. */
  netascii?: boolean;
}

export interface GetResult {
  ok: boolean;
  data: Buffer;
  /** 'error' (server sent ERROR), 'timeout' (our timer), 'storm' (maxDataPackets), 'deadline'. */
  failure?: 'error' | 'timeout' | 'storm' | 'deadline';
  error?: { code: number; message: string };
  oack?: Record<string, string>;
  dataPackets: number;
  /** DATA packets for blocks already received. */
  duplicateData: number;
  /** The most copies of any one block received. */
  maxCopies: number;
  acksSent: number;
  /** ACKs sent because our own timer ran out. */
  timerReAcks: number;
  /** Final-block retransmissions answered while dallying. */
  dallyAcks: number;
  serverTid?: number;
  /** Packets from a port other than the server's TID. */
  strayPackets: number;
  blocks: number;
}

/** Downloads one file. Never rejects: failures are in the result. */
export function tftpGet(o: GetOptions): Promise<GetResult> {
  const host = o.host ?? '127.0.0.1';
  const reAckMs = o.reAckMs ?? 500;
  const maxTries = o.maxTries ?? 5;
  const ackDuplicates = o.ackDuplicates ?? true;
  const dallyMs = o.dallyMs ?? 0;
  const maxData = o.maxDataPackets ?? Number.POSITIVE_INFINITY;
  const request = rrq(o.file, o.mode ?? 'octet', o.options);

  return new Promise<GetResult>((resolve) => {
    const sock = dgram.createSocket('udp4');
    const chunks: Buffer[] = [];
    const copies = new Map<number, number>();
    const res: GetResult = {
      ok: false,
      data: Buffer.alloc(0),
      dataPackets: 0,
      duplicateData: 0,
      maxCopies: 0,
      acksSent: 0,
      timerReAcks: 0,
      dallyAcks: 0,
      strayPackets: 0,
      blocks: 0,
    };
    let blksize = 512;
    let windowsize = 1;
    let expected = 1; // absolute number of the next block we need
    let inWindow = 0; // blocks received since our last ACK
    let gapSignalled = false;
    let started = false; // first DATA or OACK seen
    let done = false;
    let finished = false;
    let tries = 0;

    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(deadline);
      clearTimeout(dally);
      res.data = Buffer.concat(chunks);
      if (o.netascii) res.data = fromNetascii(res.data);
      for (const n of copies.values()) res.maxCopies = Math.max(res.maxCopies, n);
      sock.close();
      resolve(res);
    };
    const fail = (why: NonNullable<GetResult['failure']>): void => {
      res.failure = why;
      finish();
    };
    const send = (buf: Buffer): void => {
      sock.send(buf, res.serverTid ?? o.port, host);
    };
    const sendAck = (block: number): void => {
      if (o.stopAckingAfter !== undefined && block > o.stopAckingAfter) return;
      res.acksSent++;
      const pkt = ack(block & 0xffff);
      if (o.ackDelayMs) setTimeout(() => !finished && send(pkt), o.ackDelayMs);
      else send(pkt);
    };

    const onTimer = (): void => {
      if (finished || done) return;
      if (++tries > maxTries) {
        fail('timeout');
        return;
      }
      if (!started) {
        send(request); // RFC 1350: the request is retransmitted like any packet
      } else {
        // RFC 7440 §4 (and lock-step alike): acknowledge the last block held in order.
        res.timerReAcks++;
        sendAck(expected - 1);
        inWindow = 0;
      }
      timer.refresh();
    };
    const timer = setTimeout(onTimer, reAckMs);
    const deadline = setTimeout(() => fail('deadline'), o.deadlineMs ?? 30_000);
    let dally: NodeJS.Timeout | undefined;

    const onData = (block: number, payload: Buffer): void => {
      res.dataPackets++;
      if (res.dataPackets > maxData) {
        fail('storm');
        return;
      }
      const behind = ((expected - 1) - block) & 0xffff;
      if (block === (expected & 0xffff) && !done) {
        chunks.push(Buffer.from(payload));
        copies.set(expected, 1);
        res.blocks++;
        expected++;
        inWindow++;
        gapSignalled = false;
        tries = 0;
        timer.refresh();
        const last = payload.length < blksize;
        if (last) {
          done = true;
          res.ok = true;
          clearTimeout(timer);
          res.acksSent++;
          // Close only once the final ACK has left: dgram sends are asynchronous.
          sock.send(ack((expected - 1) & 0xffff), res.serverTid ?? o.port, host, () => {
            if (dallyMs > 0) dally = setTimeout(finish, dallyMs);
            else finish();
          });
          return;
        }
        if (inWindow >= windowsize) {
          inWindow = 0;
          sendAck(expected - 1);
        }
        return;
      }
      if (behind < 0x8000) {
        // A block we already have.
        res.duplicateData++;
        const abs = expected - 1 - behind;
        copies.set(abs, (copies.get(abs) ?? 1) + 1);
        if (done) {
          // Our final ACK was lost: RFC 1350 §6 dally, acknowledge it again.
          res.dallyAcks++;
          sendAck(expected - 1);
          return;
        }
        if (ackDuplicates && windowsize === 1) sendAck(expected - 1);
        return;
      }
      // A block ahead of the one we need: RFC 7440 §4, tell the sender where we are.
      if (!gapSignalled) {
        gapSignalled = true;
        inWindow = 0;
        sendAck(expected - 1);
      }
    };

    sock.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      if (finished) return;
      if (res.serverTid === undefined) {
        res.serverTid = rinfo.port;
      } else if (rinfo.port !== res.serverTid) {
        // RFC 1350 §4: a packet from another TID gets error 5 and is otherwise ignored.
        res.strayPackets++;
        sock.send(errorPacket(5, 'unknown transfer ID'), rinfo.port, rinfo.address);
        return;
      }
      const p = decode(msg);
      switch (p.op) {
        case 'OACK': {
          if (expected > 1) return;
          if (!started) {
            res.oack = p.options;
            if (p.options.blksize) blksize = Number(p.options.blksize);
            if (p.options.windowsize) windowsize = Number(p.options.windowsize);
          }
          started = true;
          tries = 0;
          timer.refresh();
          sendAck(0);
          return;
        }
        case 'DATA':
          started = true;
          onData(p.block, p.data);
          return;
        case 'ERROR':
          res.error = { code: p.code, message: p.message };
          fail('error');
          return;
        default:
          return;
      }
    });
    sock.bind(0, '127.0.0.1', () => send(request));
  });
}

/** The receiving side of netascii: CR LF → LF, CR NUL → CR. */
export function fromNetascii(buf: Buffer): Buffer {
  const out = Buffer.allocUnsafe(buf.length);
  let o = 0;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (c === 0x0d && i + 1 < buf.length && (buf[i + 1] === 0x0a || buf[i + 1] === 0)) {
      out[o++] = buf[i + 1] === 0x0a ? 0x0a : 0x0d;
      i++;
    } else {
      out[o++] = c;
    }
  }
  return out.subarray(0, o);
}

/**
 * Sends one datagram from a fresh socket and collects what comes back
 * within `waitMs` (or until `count` replies). For probing refusals.
 */
export function exchange(
  port: number,
  packet: Buffer,
  opts: { count?: number; waitMs?: number; host?: string } = {},
): Promise<Array<{ msg: Buffer; port: number }>> {
  const count = opts.count ?? 1;
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const got: Array<{ msg: Buffer; port: number }> = [];
    const end = (): void => {
      clearTimeout(t);
      sock.close();
      resolve(got);
    };
    const t = setTimeout(end, opts.waitMs ?? 2000);
    sock.on('message', (msg, rinfo) => {
      got.push({ msg, port: rinfo.port });
      if (got.length >= count) end();
    });
    sock.bind(0, '127.0.0.1', () => sock.send(packet, port, opts.host ?? '127.0.0.1'));
  });
}

/**
 * A bare UDP endpoint for step-by-step protocol tests: send a packet, await
 * the next reply. Every wait is bounded; a missing reply rejects.
 */
export class RawPeer {
  private readonly sock = dgram.createSocket('udp4');
  private readonly inbox: Array<{ msg: Buffer; port: number }> = [];
  private waiter: ((m: { msg: Buffer; port: number }) => void) | undefined;

  static async open(): Promise<RawPeer> {
    const p = new RawPeer();
    p.sock.on('message', (msg, rinfo) => {
      const m = { msg, port: rinfo.port };
      if (p.waiter) {
        const w = p.waiter;
        p.waiter = undefined;
        w(m);
      } else {
        p.inbox.push(m);
      }
    });
    await new Promise<void>((resolve) => p.sock.bind(0, '127.0.0.1', () => resolve()));
    return p;
  }

  get port(): number {
    return this.sock.address().port;
  }

  send(packet: Buffer, port: number): void {
    this.sock.send(packet, port, '127.0.0.1');
  }

  next(waitMs = 5000): Promise<{ msg: Buffer; port: number }> {
    const queued = this.inbox.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no packet within ${waitMs} ms`));
      }, waitMs);
      this.waiter = (m) => {
        clearTimeout(t);
        resolve(m);
      };
    });
  }

  close(): void {
    this.sock.close();
  }
}
