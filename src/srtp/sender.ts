/**
 * SrtpSender: the sending side of one SRTP session (our key), per-SSRC
 * state inside.
 *
 *   const tx = new SrtpSender({ suite: 'AES_CM_128_HMAC_SHA1_80', keys: [{ key, salt }] });
 *   const n = tx.protectRtp(rtp);           // n < 0: SrtpStatus
 *   if (n >= 0) sock.send(tx.out, 0, n, port, host);
 *
 * Buffer contract: protect*(packet, length = packet.length, dst?) reads
 * packet[0, length) and never writes it (unless it is `out`). The result
 * is written to `out[0, n)`, a buffer owned by this sender that the next
 * call overwrites; with `dst` it is copied to dst[0, n) as well (NO_ROOM
 * if dst is too small). Nothing is retained from `packet`.
 *
 * Per SSRC the sender keeps ROC/s_l (RFC 3711 §3.3.1: the ROC is inferred
 * from SEQ wrapping, so callers just send RTP), a send-side replay window
 * (refuses to reuse a packet index: keystream reuse, and fatal for GCM),
 * and the next SRTCP index (starts at 0, RFC 3711 §3.4; settable).
 *
 * Exports: SrtpSender.
 */
import { SipsecError } from '../core/errors.js';
import type { MasterKeyState } from './keys.js';
import { readSeq, readSsrc, rtcpCheck, rtpHeaderLength } from './packet.js';
import { resolvePolicy, validateSrtcpTagLen, type Policy, type SrtpOptions } from './policy.js';
import { ReplayWindow } from './replay.js';
import { MAX_ROC, RocState } from './rollover.js';
import { Counters, SrtpStatus, type SrtpCounters } from './status.js';
import type { SuiteInfo } from './suites.js';
import { MAX_PACKET, Workspace } from './workspace.js';

/** SRTCP index is 31 bits and must not wrap under one master key (RFC 3711 §3.4, §9.2). */
const MAX_SRTCP_INDEX = 0x7fffffff;

class SendStream {
  readonly rtp: RocState;
  readonly window: ReplayWindow | null;
  srtcpIndex = 0;

  constructor(windowSize: number, allowRepeat: boolean) {
    this.rtp = new RocState(0);
    this.window = allowRepeat ? null : new ReplayWindow(windowSize);
  }
}

export class SrtpSender {
  readonly suite: SuiteInfo;
  /** Where results land: `out[0, n)` after a call returned n >= 0. */
  readonly out: Buffer;
  private readonly ws = new Workspace();
  private readonly policy: Policy;
  private active: MasterKeyState;
  private srtcpTagLen: number;
  private readonly streams = new Map<number, SendStream>();
  private lastSsrc = -1;
  private lastStream: SendStream | null = null;
  private readonly tally = new Counters();

  constructor(opts: SrtpOptions) {
    this.policy = resolvePolicy(opts);
    this.suite = this.policy.suite;
    this.active = this.policy.keys[0];
    this.srtcpTagLen = this.policy.srtcpTagLen;
    this.out = this.ws.out;
  }

  /** SRTP-protects one RTP packet. Returns the SRTP length or a negative SrtpStatus. */
  protectRtp(packet: Uint8Array, length: number = packet.length, dst?: Uint8Array): number {
    return this.tally.count(this.finish(this.rtp(packet, length), dst));
  }

  /** SRTCP-protects one (compound) RTCP packet. Returns the SRTCP length or a negative SrtpStatus. */
  protectRtcp(packet: Uint8Array, length: number = packet.length, dst?: Uint8Array): number {
    return this.tally.count(this.finish(this.rtcp(packet, length), dst));
  }

  /** Sends with master key number `position` (0-based, in `keys` order) from now on. */
  selectKey(position: number): void {
    const k = this.policy.keys[position];
    if (!k) throw new SipsecError('BAD_INPUT', `no master key ${position}`, `this context has ${this.policy.keys.length}`);
    this.active = k;
  }

  /** The master key in use (its position in `keys`). */
  get activeKey(): number {
    return this.active.position;
  }

  /** Sets the SRTCP tag length from now on (the echo mirrors the phone's: 4 or 10 for `_32`). */
  setSrtcpTagLen(len: 4 | 10 | 16): void {
    this.srtcpTagLen = validateSrtcpTagLen(this.suite, len);
  }

  /** Starts (or moves) `ssrc` at rollover counter `roc` (signalled out of band, RFC 3711 §3.3.1). */
  setRoc(ssrc: number, roc: number): void {
    if (!Number.isInteger(roc) || roc < 0 || roc > MAX_ROC) throw new SipsecError('BAD_INPUT', `ROC ${roc}`, 'a 32-bit unsigned integer');
    const st = this.settable(ssrc);
    st.rtp.roc = roc;
    st.rtp.started = false;
  }

  /** Sets the next SRTCP index for `ssrc` (0..2^31-1). */
  setSrtcpIndex(ssrc: number, index: number): void {
    if (!Number.isInteger(index) || index < 0 || index > MAX_SRTCP_INDEX) throw new SipsecError('BAD_INPUT', `SRTCP index ${index}`, 'use 0..2^31-1');
    this.settable(ssrc).srtcpIndex = index;
  }

  /** Current ROC of `ssrc`, or undefined if it never sent. */
  rocOf(ssrc: number): number | undefined {
    return this.streams.get(ssrc >>> 0)?.rtp.roc;
  }

  /** Results so far, by status (OK counts successes). */
  counters(): SrtpCounters {
    return this.tally.snapshot();
  }

  private settable(ssrc: number): SendStream {
    const st = this.streamFor(ssrc >>> 0, true);
    if (!st) throw new SipsecError('BAD_INPUT', `cannot track SSRC ${ssrc >>> 0}`, `the context already has maxStreams (${this.policy.maxStreams}) streams`);
    return st;
  }

  private finish(n: number, dst: Uint8Array | undefined): number {
    if (n < 0 || dst === undefined || this.ws.isOut(dst)) return n;
    if (dst.length < n) return SrtpStatus.NO_ROOM;
    dst.set(this.out.subarray(0, n), 0);
    return n;
  }

  private streamFor(ssrc: number, create: boolean): SendStream | null {
    if (ssrc === this.lastSsrc) return this.lastStream;
    let st = this.streams.get(ssrc);
    if (!st) {
      if (!create || this.streams.size >= this.policy.maxStreams) return null;
      st = new SendStream(this.policy.replayWindow, this.policy.allowRepeatTx);
      this.streams.set(ssrc, st);
    }
    this.lastSsrc = ssrc;
    this.lastStream = st;
    return st;
  }

  private rtp(p: Uint8Array, len: number): number {
    if (len > MAX_PACKET || len > p.length) return len > p.length ? SrtpStatus.TOO_SHORT : SrtpStatus.TOO_LONG;
    const h = rtpHeaderLength(p, len);
    if (h < 0) return h;
    const ssrc = readSsrc(p, 8);
    const st = this.streamFor(ssrc, true);
    if (!st) return SrtpStatus.STREAM_LIMIT;
    const seq = readSeq(p);
    const v = st.rtp.guess(seq);
    if (v < 0) return SrtpStatus.REPLAY_OLD;
    if (v > MAX_ROC) return SrtpStatus.KEY_LIMIT;
    const index = v * 65536 + seq;
    if (st.window) {
      const c = st.window.check(index);
      if (c !== SrtpStatus.OK) return c;
    }
    const pol = this.policy;
    const key = this.active;
    const n = key.srtp(index).protectRtp(this.ws, p, len, h, ssrc, v, seq, key.mki, pol.rtpTagLen, pol.encryptSrtp);
    st.rtp.commit(v, seq);
    st.window?.accept(index);
    return n;
  }

  private rtcp(p: Uint8Array, len: number): number {
    if (len > MAX_PACKET || len > p.length) return len > p.length ? SrtpStatus.TOO_SHORT : SrtpStatus.TOO_LONG;
    const c = rtcpCheck(p, len);
    if (c !== SrtpStatus.OK) return c;
    const ssrc = readSsrc(p, 4);
    const st = this.streamFor(ssrc, true);
    if (!st) return SrtpStatus.STREAM_LIMIT;
    const index = st.srtcpIndex;
    if (index > MAX_SRTCP_INDEX) return SrtpStatus.KEY_LIMIT;
    const key = this.active;
    const n = key.srtcp(index).protectRtcp(this.ws, p, len, ssrc, index, this.policy.encryptSrtcp, key.mki, this.srtcpTagLen);
    st.srtcpIndex = index + 1;
    return n;
  }
}
