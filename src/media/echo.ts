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
  /** Send nothing until confirm() (the ACK of the 2xx, RFC 3261 §13.3.1.4), as chan_sip does. */
  awaitAck?: boolean;
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
  /** SRTP or SRTCP packets the replay window refused (RFC 3711 §3.3.2). */
  replays: number;
  /** RTP or RTCP packets that could not be processed otherwise: too short, bad header, unknown MKI, not RTP at all. */
  decryptErrors: number;
  /**
   * STUN packets on the media ports (RFC 7983 §7: first byte 0-3). Linphone
   * sends a binding request on its RTCP port every 0.5 s as a NAT
   * keep-alive; they are neither media nor an attack, so counted apart.
   */
  stunIn: number;
  /** Authentic RTP heard before the ACK confirmed the call: counted in packetsIn, not echoed (RFC 3261 §13.3.1.4). */
  heardBeforeAck: number;
  rtcpIn: number;
  rtcpOut: number;
  /** SRTCP packets whose tag did not verify (wrong key, tampered); other bad RTCP counts in decryptErrors. */
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

/** Output buffer size: an Ethernet MTU holds any audio packet; bigger ones get their own. */
const OUT_SIZE = 1500;
const MAX_STREAMS = 64;
const RTCP_INTERVAL_MS = 5000;
/**
 * With a `_32` suite the SRTCP tag is 32 bits for baresip, Asterisk and
 * linphone (mediastreamer2 hands libsrtp2 the SRTP policy for SRTCP too;
 * seen in test/serve/echo-linphone.test.ts) but 80 bits per RFC 4568
 * §6.2.2, and a receiver checks only its own length. So our reports wait
 * for the phone's first SRTCP packet, whose length we then use, for at
 * most this long; after that we send the RFC's 80 bits.
 */
const SRTCP_TAG_WAIT_MS = 12_000;

function isRtcp(b: Uint8Array): boolean {
  // RFC 5761 §4: RTCP packet types 192-223 collide with no RTP payload type in use.
  const pt = b[1]!;
  return pt >= 192 && pt <= 223;
}

/**
 * What a datagram on a media port is, by its first byte (RFC 7983 §7):
 * 128-191 RTP/RTCP, 0-3 STUN, anything else is not ours (DTLS, ZRTP,
 * TURN channel data or garbage).
 */
type Kind = 'media' | 'stun' | 'other';

function kindOf(b: Uint8Array): Kind {
  if (b.length === 0) return 'other';
  const b0 = b[0]!;
  if (b0 >= 128 && b0 <= 191) return 'media';
  return b0 <= 3 ? 'stun' : 'other';
}

export class EchoSession {
  readonly localPort: number;
  private readonly rtp: dgram.Socket;
  private readonly rtcp: dgram.Socket | undefined;
  private rx: SrtpReceiver | undefined;
  private tx: SrtpSender | undefined;
  private srtp: EchoSrtp | null;
  /** Our SSRC for the phone's current stream (what our RTCP speaks for). */
  private ourSsrc = randomBytes(4).readUInt32BE(0);
  /**
   * Our SSRC for each phone SSRC. The echo keeps the phone's sequence
   * numbers, so a new phone stream (a new SSRC with a random first
   * sequence number, RFC 3550 §5.1, after hold or a restart) must become a
   * new stream of ours: under the old SSRC its packet indexes would go
   * back, which the sender refuses (keystream reuse, RFC 3711 §9.1), or
   * jump ahead into a wrong rollover counter; either is one-way audio.
   */
  private readonly ssrcMap = new Map<number, number>();
  /** What the next echoed packet is sent from; see send(). */
  private outBuf = Buffer.allocUnsafe(OUT_SIZE);
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
  private confirmed: boolean;
  private readonly counts = { packetsOut: 0, bytesOut: 0, authFailures: 0, replays: 0, decryptErrors: 0, rtcpIn: 0, rtcpOut: 0, rtcpAuthFailures: 0, stunIn: 0, heardBeforeAck: 0, octetsSent: 0 };
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
    this.confirmed = o.awaitAck !== true;
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

  /** The dialog is confirmed (its ACK came): the echo may send. */
  confirm(): void {
    this.confirmed = true;
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

  /**
   * Sends `len` octets of `buf`. dgram hands a datagram to the kernel at
   * once (uv_udp_try_send) unless the socket buffer is full; then the
   * request waits in a queue and keeps pointing at `buf`. So a call needs
   * one output buffer, and only a send left queued makes the next packet
   * take a fresh one (a ring of buffers per call cost 384 KiB of memory a
   * call and a cache miss a packet).
   */
  private send(sock: dgram.Socket, buf: Buffer, len: number, port: number, address: string): void {
    sock.send(buf, 0, len, port, address);
    if (buf === this.outBuf && sock.getSendQueueCount() > 0) this.outBuf = Buffer.allocUnsafe(OUT_SIZE);
  }

  /** The SRTP result in tx.out, in the output buffer (a bigger one for a jumbo packet). */
  private output(m: number): Buffer {
    const out = m <= this.outBuf.length ? this.outBuf : Buffer.allocUnsafe(m);
    this.tx!.out.copy(out, 0, 0, m);
    return out;
  }

  /** Not RTP/RTCP: STUN keep-alives are counted apart, the rest as errors. */
  private notMedia(msg: Buffer): boolean {
    const kind = kindOf(msg);
    if (kind === 'media') return false;
    if (kind === 'stun') this.counts.stunIn++;
    else this.counts.decryptErrors++;
    return true;
  }

  private onRtp(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed || this.notMedia(msg)) return;
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
    const phoneSsrc = rtpSsrc(plain);
    if (phoneSsrc !== this.phoneSsrc) this.follow(phoneSsrc);
    this.stats.add(plain, n, phoneSsrc, this.now());
    // Heard, but not echoed before the ACK: audio goes out only in a confirmed call.
    if (!this.confirmed) {
      this.counts.heardBeforeAck++;
      return;
    }
    writeSsrc(plain, this.ourSsrc);
    // Plain RTP goes back in the datagram node handed us (fresh per message, ours to keep).
    let out: Buffer = plain;
    let m = n;
    if (this.tx) {
      m = this.tx.protectRtp(plain, n);
      if (m < 0) {
        this.counts.decryptErrors++;
        return;
      }
      out = this.output(m);
    }
    this.lastSentTs = ((plain[4]! << 24) >>> 0) + (plain[5]! << 16) + (plain[6]! << 8) + plain[7]!;
    this.counts.packetsOut++;
    this.counts.bytesOut += m;
    this.counts.octetsSent += n - RTP_MIN;
    this.send(this.rtp, out, m, rinfo.port, rinfo.address);
    if (!this.rtcpTimer) this.scheduleRtcp();
  }

  private isOurs(ssrc: number): boolean {
    for (const ours of this.ssrcMap.values()) if (ours === ssrc) return true;
    return false;
  }

  /** The phone switched to (or started) stream `phoneSsrc`: answer it on its own SSRC of ours. */
  private follow(phoneSsrc: number): void {
    let ours = this.ssrcMap.get(phoneSsrc);
    if (ours === undefined) {
      ours = this.ssrcMap.size === 0 ? this.ourSsrc : randomBytes(4).readUInt32BE(0);
      // Bounded like the SRTP contexts' stream table: a phone has one stream, a few after re-INVITEs.
      if (this.ssrcMap.size < MAX_STREAMS) this.ssrcMap.set(phoneSsrc, ours);
    }
    this.phoneSsrc = phoneSsrc;
    this.ourSsrc = ours;
  }

  private onRtcp(msg: Buffer, rinfo: dgram.RemoteInfo, muxed: boolean): void {
    if (this.closed || this.notMedia(msg)) return;
    if (msg.length < 8) {
      this.counts.decryptErrors++;
      return;
    }
    let plain: Buffer = msg;
    let n = msg.length;
    if (this.rx) {
      n = this.rx.unprotectRtcp(msg, msg.length);
      if (n < 0) {
        // Only a tag that did not verify is an authentication failure; baresip 1.0's first
        // RTCP packet (an APP "PINGPONG" sent before SRTP starts) is plain and too short.
        if (n === SrtpStatus.AUTH_FAIL) this.counts.rtcpAuthFailures++;
        else if (n === SrtpStatus.REPLAY || n === SrtpStatus.REPLAY_OLD) this.counts.replays++;
        else this.counts.decryptErrors++;
        return;
      }
      plain = this.rx.out;
      // Answer in the tag length the phone uses (RFC says 80 bits for _32; Asterisk/baresip use 32).
      if (this.rx.srtcpTagBits === 32) this.tx?.setSrtcpTagLen(4);
    }
    this.counts.rtcpIn++;
    this.latchedRtcp = { address: rinfo.address, port: muxed ? rinfo.port : rinfo.port };
    const summary = parseRtcp(plain, n);
    // About our current stream if it says, else about an earlier one (a phone keeps reporting on a source for a while after a switch).
    const reports = summary?.reports ?? [];
    const aboutUs = reports.find((r) => r.ssrc === this.ourSsrc) ?? reports.find((r) => this.isOurs(r.ssrc));
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
    if (this.awaitingPhoneTagLength()) return;
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
      m = this.tx.protectRtcp(buf, buf.length);
      if (m < 0) return;
      out = Buffer.from(this.tx.out.subarray(0, m));
    }
    (this.rtcp ?? this.rtp).send(out, 0, m, dest.port, dest.address);
    this.counts.rtcpOut++;
  }

  private awaitingPhoneTagLength(): boolean {
    if (!this.srtp || !this.rx || this.rx.suite.aead || this.rx.suite.tagLen !== 4) return false;
    return this.rx.srtcpTagBits === undefined && this.now() - this.started < SRTCP_TAG_WAIT_MS;
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
      stunIn: this.counts.stunIn,
      heardBeforeAck: this.counts.heardBeforeAck,
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
