/**
 * One read transfer: the sending side of RFC 1350, windowed per RFC 7440.
 *
 * State is three block numbers, kept as absolute counts (1, 2, ... past
 * 65535) and put on the wire modulo 2^16, so block-number rollover needs no
 * special case: block 65536 goes out as 0, as tftpd-hpa, curl, atftp and
 * the tftp-hpa client all expect.
 *
 *   acked  highest block the client has acknowledged (0 = none yet)
 *   sent   highest block sent in the current window (≤ acked + windowsize)
 *   last   the final block, always shorter than blksize (possibly empty)
 *
 * Loss recovery is driven by our own timer only. RFC 1123 §4.2.3.1: "The
 * sender (i.e., the side originating the DATA packets) must never resend
 * the current DATA packet on receipt of a duplicate ACK" — that is the
 * Sorcerer's Apprentice bug, where every duplicate doubles the traffic from
 * then on (the npm `tftp` package has it, see test/provision/tftp-loss.test.ts).
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { TftpErrorCode, Op, describeError, encodeError } from './packet.js';

export type TransferEnd = 'ok' | 'timeout' | 'aborted' | 'error';

export interface ReadTransferInit {
  /** A socket of its own, already bound: its port is the server's TID (RFC 1350 §4). */
  socket: Socket;
  address: string;
  port: number;
  data: Buffer;
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  /** Double the timeout on each consecutive loss (capped); off when the client chose a timeout. */
  backoff: boolean;
  /** Retransmissions of one window before giving up. */
  retries: number;
  /** The OACK to send first, or null to start with DATA 1 (no options acknowledged). */
  oack: Buffer | null;
  onEnd: (transfer: ReadTransfer, result: TransferEnd, reason: string | undefined) => void;
}

/** Backoff stops growing at this multiple of the base timeout. */
const MAX_BACKOFF = 4;

export class ReadTransfer {
  /** Packets (DATA or OACK) sent again after their first transmission. */
  retransmits = 0;

  private readonly socket: Socket;
  private readonly address: string;
  private readonly port: number;
  private readonly data: Buffer;
  private readonly blksize: number;
  private readonly windowsize: number;
  private readonly baseTimeoutMs: number;
  private readonly backoff: boolean;
  private readonly retries: number;
  private readonly oack: Buffer | null;
  private readonly onEnd: ReadTransferInit['onEnd'];
  private readonly last: number;
  /** One packet buffer per window position, allocated on first use and reused. */
  private readonly slots: Buffer[] = [];

  private acked = 0;
  private sent = 0;
  /** Consecutive timeouts without progress. */
  private tries = 0;
  private waitingForOackAck: boolean;
  /** A partial-ACK restart is under way (see onAck). */
  private recovering = false;
  private ended = false;
  private timer: NodeJS.Timeout | undefined;
  private timerMs: number;

  constructor(init: ReadTransferInit) {
    this.socket = init.socket;
    this.address = init.address;
    this.port = init.port;
    this.data = init.data;
    this.blksize = init.blksize;
    this.windowsize = init.windowsize;
    this.baseTimeoutMs = init.timeoutMs;
    this.timerMs = init.timeoutMs;
    this.backoff = init.backoff;
    this.retries = init.retries;
    this.oack = init.oack;
    this.onEnd = init.onEnd;
    this.waitingForOackAck = init.oack !== null;
    // The final block is the first one shorter than blksize; a file that is
    // an exact multiple of blksize ends with an empty block (RFC 1350 §6).
    this.last = Math.floor(init.data.length / init.blksize) + 1;
    this.socket.on('message', this.onMessage);
    this.socket.on('error', this.onSocketError);
  }

  /** Payload bytes the client has acknowledged so far. */
  get bytesAcked(): number {
    return Math.min(this.acked * this.blksize, this.data.length);
  }

  get size(): number {
    return this.data.length;
  }

  start(): void {
    if (this.oack) this.send(this.oack);
    else this.sendWindow(1);
    this.timer = setTimeout(this.onTimeout, this.timerMs);
  }

  /** Ends the transfer from our side, telling the client why (RFC 1350 §7: errors end a transfer). */
  abort(reason: string): void {
    if (this.ended) return;
    this.send(encodeError(TftpErrorCode.NOT_DEFINED, reason));
    this.end('error', reason);
  }

  private readonly onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (this.ended) return;
    if (rinfo.port !== this.port || rinfo.address !== this.address) {
      this.wrongTid(msg, rinfo);
      return;
    }
    if (msg.length < 4) return; // too short to be an ACK or ERROR: a reply would not help
    const op = (msg[0] << 8) | msg[1];
    if (op === Op.ACK) {
      this.onAck((msg[2] << 8) | msg[3]);
    } else if (op === Op.ERROR) {
      // RFC 1350 §7: an ERROR ends the transfer and is never acknowledged.
      this.end('aborted', `client sent ${describeError(msg)}`);
    } else {
      const reason = `illegal operation: opcode ${op} during a read transfer`;
      this.send(encodeError(TftpErrorCode.ILLEGAL_OPERATION, reason));
      this.end('error', reason);
    }
  };

  /**
   * RFC 1350 §4: "If a source TID does not match, the packet should be
   * discarded as erroneously sent from somewhere else. An error packet
   * should be sent to the source of the incorrect packet, while not
   * disturbing the transfer." ERROR packets get no reply, so two servers
   * can never bounce errors at each other.
   */
  private wrongTid(msg: Buffer, rinfo: RemoteInfo): void {
    if (msg.length >= 2 && msg[1] === Op.ERROR && msg[0] === 0) return;
    if (rinfo.port === 0) return;
    this.socket.send(encodeError(TftpErrorCode.UNKNOWN_TID, 'unknown transfer ID'), rinfo.port, rinfo.address);
  }

  private onAck(block: number): void {
    if (this.waitingForOackAck) {
      // RFC 2347 §2: the client confirms the OACK with ACK 0.
      if (block !== 0) return;
      this.waitingForOackAck = false;
      this.progress();
      this.sendWindow(1);
      return;
    }
    // Distance forward from the last acknowledged block, modulo 2^16.
    const ahead = (block - this.acked) & 0xffff;
    // 0: a duplicate ACK, ignored per RFC 1123 §4.2.3.1. More than the
    // window: a stale ACK from before a rollover or a restart, ignored too.
    if (ahead === 0 || ahead > this.sent - this.acked) return;
    this.acked += ahead;
    this.progress();
    if (this.acked === this.last) {
      // The final ACK (RFC 1350 §6): the transfer is complete.
      this.end('ok', undefined);
      return;
    }
    if (this.acked === this.sent) {
      this.recovering = false;
      this.sendWindow(this.acked + 1);
      return;
    }
    // An ACK inside the window: RFC 7440 §4, the receiver saw a gap (or
    // timed out) and tells us the last block it has in order; resend from
    // the next one. Only once per loss episode: further in-window ACKs may
    // answer copies still in flight from before the restart, and resending
    // for each would send every block once per such ACK. Those ACKs only
    // slide the window; a second loss in the same episode waits for the
    // timer (or a full-window ACK ends the episode).
    if (!this.recovering) {
      this.recovering = true;
      this.sendWindow(this.acked + 1);
    } else {
      this.sendWindow(this.sent + 1);
    }
  }

  /** New ACKed data: reset the retry budget and the backoff, restart the timer. */
  private progress(): void {
    this.tries = 0;
    if (this.timerMs !== this.baseTimeoutMs) {
      this.timerMs = this.baseTimeoutMs;
      clearTimeout(this.timer);
      this.timer = setTimeout(this.onTimeout, this.timerMs);
    } else {
      this.timer?.refresh();
    }
  }

  /** Sends blocks from..min(acked + windowsize, last), counting the ones sent before. */
  private sendWindow(from: number): void {
    const to = Math.min(this.acked + this.windowsize, this.last);
    for (let b = from; b <= to; b++) this.sendBlock(b);
    if (from <= this.sent) this.retransmits += Math.min(this.sent, to) - from + 1;
    if (to > this.sent) this.sent = to;
  }

  private sendBlock(block: number): void {
    const start = (block - 1) * this.blksize;
    const end = Math.min(start + this.blksize, this.data.length);
    const index = block % this.windowsize;
    let packet = this.slots[index];
    // A slot is rewritten in place once its block was acknowledged. If the
    // kernel refused a send (EAGAIN) Node queues it and still references the
    // buffer, so then this block gets a fresh one.
    if (packet === undefined || this.socket.getSendQueueCount() > 0) {
      packet = Buffer.allocUnsafe(4 + this.blksize);
      this.slots[index] = packet;
    }
    packet[0] = 0;
    packet[1] = Op.DATA;
    packet[2] = (block >>> 8) & 0xff;
    packet[3] = block & 0xff;
    const len = 4 + this.data.copy(packet, 4, start, end);
    this.send(len === packet.length ? packet : packet.subarray(0, len));
  }

  private readonly onTimeout = (): void => {
    if (this.ended) return;
    if (this.tries >= this.retries) {
      const what = this.waitingForOackAck ? 'the OACK' : `block ${this.acked + 1}`;
      const reason = `no ACK for ${what} after ${this.retries + 1} tries`;
      this.send(encodeError(TftpErrorCode.NOT_DEFINED, 'timed out'));
      this.end('timeout', reason);
      return;
    }
    this.tries++;
    // The next gap ACK may restart the window again.
    this.recovering = false;
    if (this.waitingForOackAck && this.oack) {
      this.send(this.oack);
      this.retransmits++;
    } else {
      this.sendWindow(this.acked + 1);
    }
    if (this.backoff && this.timerMs < this.baseTimeoutMs * MAX_BACKOFF) {
      this.timerMs *= 2;
      this.timer = setTimeout(this.onTimeout, this.timerMs);
    } else {
      this.timer?.refresh();
    }
  };

  private readonly onSocketError = (err: Error): void => {
    this.end('error', `socket error: ${err.message}`);
  };

  private send(packet: Buffer): void {
    // No callback: an unconnected UDP socket's send errors are not actionable
    // per packet; a dead peer shows up as a timeout.
    this.socket.send(packet, this.port, this.address);
  }

  private end(result: TransferEnd, reason: string | undefined): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.socket.close();
    this.onEnd(this, result, reason);
  }
}
