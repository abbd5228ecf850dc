import type * as dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { SrtpReceiver, SrtpSender, SrtpStatus, type SrtpMasterKey, type SuiteName } from '../srtp/index.js';
import { plainIp, remoteString } from '../core/net.js';
import { parseRtcp, rtpHeaderLength, rtpSsrc, writeSsrc, RTP_MIN, type RtcpReportBlock } from './rtp.js';
import { StreamStats, type StreamReport } from './stats.js';
import type { PortPool } from './ports.js';

/**
 * The echo: one call's media. Every RTP packet from the phone is verified
 * and decrypted with the phone's key, counted, given our SSRC, re-encrypted
 * with our key and sent back to where it came from (symmetric RTP,
 * RFC 4961: the phone's real address behind NAT is the packet's source,
 * latched on the first packet that authenticates). RTCP is answered with
 * our own SR + SDES, and the phone's reports about our stream tell whether
 * it hears us (one-way audio).
 */
export interface EchoSrtp {
  suite: SuiteName;
  /** The phone's master key(s): what we decrypt with. */
  remote: SrtpMasterKey[];
  /** Ours: what we encrypt with (the key in our SDP answer). */
  local: SrtpMasterKey;
  unencryptedSrtp?: boolean;
  unencryptedSrtcp?: boolean;
  unauthenticatedSrtp?: boolean;
  kdr?: number;
}

export interface EchoOptions {
  callId: string;
  phone: string | undefined;
  bind: string;
  pool: PortPool;
  rtcpMux: boolean;
  /** Where the SDP says the phone's media is (latching may correct it). */
  remote: { address: string; rtpPort: number; rtcpPort: number };
  /** null: plain RTP (only when the phone's policy allows it). */
  srtp: EchoSrtp | null;
  clockRate: number;
  now?: () => number;
}

export interface EchoReport {
  callId: string;
  phone: string | undefined;
  suite: SuiteName | null;
  /** SRTCP tag length the phone used (32 for `_32` suites on Asterisk/baresip style, 80 per RFC, 128 GCM). */
  srtcpTagBits: 32 | 80 | 128 | null;
  packetsIn: number;
  packetsOut: number;
  bytesIn: number;
  bytesOut: number;
  authFailures: number;
  replays: number;
  /** Packets that could not be processed otherwise: too short, bad header, unknown MKI. */
  decryptErrors: number;
  rtcpIn: number;
  rtcpOut: number;
  rtcpAuthFailures: number;
  oneWayAudio: boolean;
  oneWayReason: string | undefined;
  /** What the phone's RTCP said about hearing us, when it sent any. */
  phoneHears: { highestSeq: number; fractionLost: number; cumulativeLost: number } | null;
  latchedTo: string | undefined;
  relatches: number;
  localPort: number;
  durationMs: number;
  phoneStream: StreamReport;
}

const RING = 256;
const RTCP_INTERVAL_MS = 5000;

function isRtcp(b: Uint8Array): boolean {
  // RFC 5761 §4: RTCP packet types 192-223 collide with no RTP payload type in use.
  const pt = b[1]!;
  return pt >= 192 && pt <= 223;
}

export class EchoSession {
  readonly localPort: number;
  private readonly rtp: dgram.Socket;
  private readonly rtcp: dgram.Socket | undefined;
  private rx: SrtpReceiver | undefined;
  private tx: SrtpSender | undefined;
  private srtp: EchoSrtp | null;
  private readonly ourSsrc = randomBytes(4).readUInt32BE(0);
  private readonly ring: Buffer[] = Array.from({ length: RING }, () => Buffer.allocUnsafe(1500));
  private ringAt = 0;
  private readonly stats: StreamStats;
  private readonly now: () => number;
  private readonly started: number;
  private latched: { address: string; port: number } | undefined;
  private latchedRtcp: { address: string; port: number } | undefined;
  private relatches = 0;
  private phoneSsrc: number | undefined;
  private phoneHears: RtcpReportBlock | undefined;
  private rtcpTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly counts = { packetsOut: 0, bytesOut: 0, authFailures: 0, replays: 0, decryptErrors: 0, rtcpIn: 0, rtcpOut: 0, rtcpAuthFailures: 0, octetsSent: 0 };
  private lastSentTs = 0;

  private constructor(
    private readonly o: EchoOptions,
    sockets: { rtp: dgram.Socket; rtcp: dgram.Socket | undefined; port: number },
  ) {
    this.rtp = sockets.rtp;
    this.rtcp = sockets.rtcp;
    this.localPort = sockets.port;
    this.now = o.now ?? Date.now;
    this.started = this.now();
    this.stats = new StreamStats(o.clockRate);
    this.srtp = o.srtp;
    this.rekey(o.srtp);
    this.rtp.on('message', (msg, rinfo) => (this.rtcp === undefined && isRtcp(msg) ? this.onRtcp(msg, rinfo, true) : this.onRtp(msg, rinfo)));
    this.rtcp?.on('message', (msg, rinfo) => this.onRtcp(msg, rinfo, false));
    // A socket error on one call never takes the server down.
    this.rtp.on('error', () => undefined);
    this.rtcp?.on('error', () => undefined);
  }

  static async open(o: EchoOptions): Promise<EchoSession> {
    return new EchoSession(o, await o.pool.open(o.bind, o.rtcpMux));
  }

  /** With sockets opened beforehand (the port goes into the SDP answer before the keys are known). */
  static attach(o: EchoOptions, sockets: { rtp: dgram.Socket; rtcp: dgram.Socket | undefined; port: number }): EchoSession {
    return new EchoSession(o, sockets);
  }

  /** New keys (a re-INVITE that changed them): fresh contexts; the counters carry on. */
  rekey(srtp: EchoSrtp | null): void {
    this.srtp = srtp;
    if (!srtp) {
      this.rx = undefined;
      this.tx = undefined;
      return;
    }
    const common = { suite: srtp.suite, unencryptedSrtp: srtp.unencryptedSrtp, unencryptedSrtcp: srtp.unencryptedSrtcp, unauthenticatedSrtp: srtp.unauthenticatedSrtp, kdr: srtp.kdr };
    this.rx = new SrtpReceiver({ ...common, keys: srtp.remote });
    this.tx = new SrtpSender({ ...common, keys: [srtp.local] });
  }

  private slot(): Buffer {
    const b = this.ring[this.ringAt]!;
    this.ringAt = (this.ringAt + 1) % RING;
    return b;
  }

  private onRtp(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    if (msg.length < RTP_MIN) {
      this.counts.decryptErrors++;
      return;
    }
    let plain: Buffer = msg;
    let n = msg.length;
    if (this.rx) {
      n = this.rx.unprotectRtp(msg, msg.length);
      if (n < 0) {
        if (n === SrtpStatus.AUTH_FAIL) this.counts.authFailures++;
        else if (n === SrtpStatus.REPLAY || n === SrtpStatus.REPLAY_OLD) this.counts.replays++;
        else this.counts.decryptErrors++;
        return;
      }
      plain = this.rx.out;
    } else if (rtpHeaderLength(msg, n) < 0) {
      this.counts.decryptErrors++;
      return;
    }
    // Latch only on authenticated media: a forged packet cannot redirect the echo.
    if (!this.latched || this.latched.port !== rinfo.port || this.latched.address !== rinfo.address) {
      if (this.latched) this.relatches++;
      this.latched = { address: rinfo.address, port: rinfo.port };
    }
    this.phoneSsrc = rtpSsrc(plain);
    this.stats.add(plain, n, this.phoneSsrc, this.now());
    writeSsrc(plain, this.ourSsrc);
    const out = this.slot();
    let m: number;
    if (this.tx) {
      m = this.tx.protectRtp(plain, n, out);
      if (m < 0) {
        this.counts.decryptErrors++;
        return;
      }
    } else {
      plain.copy(out, 0, 0, n);
      m = n;
    }
    this.lastSentTs = ((plain[4]! << 24) >>> 0) + (plain[5]! << 16) + (plain[6]! << 8) + plain[7]!;
    this.counts.packetsOut++;
    this.counts.bytesOut += m;
    this.counts.octetsSent += n - RTP_MIN;
    this.rtp.send(out, 0, m, rinfo.port, rinfo.address);
    if (!this.rtcpTimer) this.scheduleRtcp();
  }

  private onRtcp(msg: Buffer, rinfo: dgram.RemoteInfo, muxed: boolean): void {
    if (this.closed || msg.length < 8) return;
    let plain: Buffer = msg;
    let n = msg.length;
    if (this.rx) {
      n = this.rx.unprotectRtcp(msg, msg.length);
      if (n < 0) {
        this.counts.rtcpAuthFailures++;
        return;
      }
      plain = this.rx.out;
      // Answer in the tag length the phone uses (RFC says 80 bits for _32; Asterisk/baresip use 32).
      if (this.rx.srtcpTagBits === 32) this.tx?.setSrtcpTagLen(4);
    }
    this.counts.rtcpIn++;
    this.latchedRtcp = { address: rinfo.address, port: muxed ? rinfo.port : rinfo.port };
    const summary = parseRtcp(plain, n);
    const aboutUs = summary?.reports.find((r) => r.ssrc === this.ourSsrc);
    if (aboutUs) this.phoneHears = aboutUs;
  }

  private scheduleRtcp(): void {
    const delay = RTCP_INTERVAL_MS * (0.5 + Math.random());
    this.rtcpTimer = setTimeout(() => {
      this.sendRtcp();
      if (!this.closed) this.scheduleRtcp();
    }, delay);
    this.rtcpTimer.unref();
  }

  /** SR (we send) with one report block about the phone's stream, then SDES CNAME (RFC 3550 §6.1 compound). */
  private sendRtcp(): void {
    const dest = this.latchedRtcp ?? (this.rtcp ? (this.latched ? { address: this.latched.address, port: this.latched.port + 1 } : undefined) : this.latched);
    if (!dest || this.closed) return;
    const r = this.stats.report();
    const cname = Buffer.from(`sipsec-echo@${this.o.bind}`);
    const sdesLen = 4 + 4 + 2 + cname.length;
    const sdesPadded = Math.ceil((sdesLen + 1) / 4) * 4;
    const hasBlock = this.phoneSsrc !== undefined;
    const srLen = 28 + (hasBlock ? 24 : 0);
    const buf = Buffer.alloc(srLen + sdesPadded);
    buf[0] = 0x80 | (hasBlock ? 1 : 0);
    buf[1] = 200;
    buf.writeUInt16BE(srLen / 4 - 1, 2);
    buf.writeUInt32BE(this.ourSsrc, 4);
    const ms = Date.now();
    const ntpSec = Math.floor(ms / 1000) + 2208988800;
    buf.writeUInt32BE(ntpSec >>> 0, 8);
    buf.writeUInt32BE(Math.floor(((ms % 1000) / 1000) * 0x100000000) >>> 0, 12);
    buf.writeUInt32BE(this.lastSentTs >>> 0, 16);
    buf.writeUInt32BE(this.counts.packetsOut >>> 0, 20);
    buf.writeUInt32BE(this.counts.octetsSent >>> 0, 24);
    if (hasBlock) {
      buf.writeUInt32BE(this.phoneSsrc! >>> 0, 28);
      const expected = r.packets + r.lost;
      buf[32] = expected > 0 ? Math.min(255, Math.floor((r.lost * 256) / expected)) : 0;
      buf.writeUIntBE(Math.min(r.lost, 0x7fffff), 33, 3);
      buf.writeUInt32BE(0, 36);
      buf.writeUInt32BE(Math.round((r.jitterMs * this.o.clockRate) / 1000) >>> 0, 40);
    }
    const s = srLen;
    buf[s] = 0x81;
    buf[s + 1] = 202;
    buf.writeUInt16BE(sdesPadded / 4 - 1, s + 2);
    buf.writeUInt32BE(this.ourSsrc, s + 4);
    buf[s + 8] = 1;
    buf[s + 9] = cname.length;
    cname.copy(buf, s + 10);
    let out: Buffer = buf;
    let m = buf.length;
    if (this.tx) {
      out = this.slot();
      m = this.tx.protectRtcp(buf, buf.length, out);
      if (m < 0) return;
    }
    (this.rtcp ?? this.rtp).send(out, 0, m, dest.port, dest.address);
    this.counts.rtcpOut++;
  }

  /** Live numbers for `sipsec status`. */
  snapshot(): Omit<EchoReport, 'phoneStream' | 'durationMs'> & { durationMs: number } {
    const r = this.report();
    const { phoneStream: _s, ...rest } = r;
    return rest;
  }

  report(): EchoReport {
    const stream = this.stats.report();
    const hears = this.phoneHears ? { highestSeq: this.phoneHears.highestSeq, fractionLost: this.phoneHears.fractionLost, cumulativeLost: this.phoneHears.cumulativeLost } : null;
    const { oneWay, reason } = this.oneWay(stream, hears);
    return {
      callId: this.o.callId,
      phone: this.o.phone,
      suite: this.srtp?.suite ?? null,
      srtcpTagBits: this.rx?.srtcpTagBits ?? null,
      packetsIn: stream.packets,
      packetsOut: this.counts.packetsOut,
      bytesIn: stream.bytes,
      bytesOut: this.counts.bytesOut,
      authFailures: this.counts.authFailures,
      replays: this.counts.replays,
      decryptErrors: this.counts.decryptErrors,
      rtcpIn: this.counts.rtcpIn,
      rtcpOut: this.counts.rtcpOut,
      rtcpAuthFailures: this.counts.rtcpAuthFailures,
      oneWayAudio: oneWay,
      oneWayReason: reason,
      phoneHears: hears,
      latchedTo: this.latched ? remoteString(plainIp(this.latched.address), this.latched.port) : undefined,
      relatches: this.relatches,
      localPort: this.localPort,
      durationMs: this.now() - this.started,
      phoneStream: stream,
    };
  }

  private oneWay(s: StreamReport, hears: EchoReport['phoneHears']): { oneWay: boolean; reason: string | undefined } {
    if (s.packets === 0 && this.counts.authFailures > 0) return { oneWay: true, reason: `every packet from the phone failed SRTP authentication (${this.counts.authFailures}): wrong key or suite` };
    if (s.packets === 0) return { oneWay: true, reason: 'no media from the phone reached sipsec (firewall/NAT, wrong address in its SDP, or it never started sending)' };
    if (this.counts.packetsOut === 0) return { oneWay: true, reason: 'sipsec received audio but sent none back' };
    if (hears && hears.fractionLost >= 0.99) return { oneWay: true, reason: 'the phone reports losing all of sipsec\'s audio (it cannot decrypt or does not receive it)' };
    return { oneWay: false, reason: undefined };
  }

  close(): EchoReport {
    if (!this.closed) {
      this.closed = true;
      if (this.rtcpTimer) clearTimeout(this.rtcpTimer);
      this.rtp.close();
      this.rtcp?.close();
      this.o.pool.release(this.localPort);
    }
    return this.report();
  }
}
