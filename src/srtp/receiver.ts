/**
 * SrtpReceiver: the receiving side of one SRTP session (the peer's key),
 * per-SSRC state inside.
 *
 *   const rx = new SrtpReceiver({ suite, keys: [{ key, salt }] });
 *   const n = rx.unprotectRtp(msg);         // n < 0: SrtpStatus, count it
 *   if (n >= 0) handle(rx.out, n);
 *
 * Buffer contract: as SrtpSender. unprotect*(packet, length?, dst?) never
 * writes `packet` (unless it is `out`); the plaintext is `out[0, n)` until
 * the next call, or copied to `dst`. On failure `out` holds garbage.
 *
 * Order of checks (RFC 3711 §3.3): header → MKI → index estimate (§3.3.1)
 * → replay window (§3.3.2) → authenticate → decrypt → only then update
 * ROC/s_l and the window. A forged, replayed or garbled packet changes no
 * state (a new SSRC only gets state once a packet of it authenticates).
 *
 * SRTCP tag length for `_32` suites: RFC 4568 says 80 bits, Asterisk and
 * baresip send 32. Both are tried (the last one that worked first) and
 * `srtcpTagBits` reports which one authenticated: an interop diagnostic.
 * The E flag of each SRTCP packet decides decryption (RFC 3711 §3.4);
 * `srtcpEncrypted` reports the last one.
 *
 * Exports: SrtpReceiver.
 */
import { SipsecError } from '../core/errors.js';
import type { MasterKeyState } from './keys.js';
import { readSeq, readSsrc, rtcpCheck, rtpHeaderLength } from './packet.js';
import { resolvePolicy, type Policy, type SrtpOptions } from './policy.js';
import { ReplayWindow } from './replay.js';
import { MAX_ROC, RocState } from './rollover.js';
import { Counters, SrtpStatus, type SrtpCounters } from './status.js';
import type { SuiteInfo } from './suites.js';
import { Layout } from './transform.js';
import { MAX_PACKET, Workspace } from './workspace.js';

class RecvStream {
  readonly rtp: RocState;
  readonly window: ReplayWindow;
  readonly rtcpWindow: ReplayWindow;

  constructor(policy: Policy, initialRoc: number) {
    this.rtp = new RocState(initialRoc);
    this.window = new ReplayWindow(policy.replayWindow);
    this.rtcpWindow = new ReplayWindow(policy.srtcpReplayWindow);
  }
}

export class SrtpReceiver {
  readonly suite: SuiteInfo;
  /** Where results land: `out[0, n)` after a call returned n >= 0. */
  readonly out: Buffer;
  /**
   * SRTCP tag length (bits) of the last authentic SRTCP packet: 80 or 32
   * for HMAC suites (32 only with `_32`), 128 for GCM; undefined before any.
   */
  srtcpTagBits: 32 | 80 | 128 | undefined = undefined;
  /** E flag of the last authentic SRTCP packet; undefined before any. */
  srtcpEncrypted: boolean | undefined = undefined;
  /** Position (in `keys`) of the master key of the last authentic packet. */
  lastKey = 0;

  private readonly ws = new Workspace();
  private readonly policy: Policy;
  private readonly aead: boolean;
  /** SRTCP tag lengths to try, most recently successful first. */
  private readonly rtcpTags: number[];
  private readonly streams = new Map<number, RecvStream>();
  private lastSsrc = -1;
  private lastStream: RecvStream | undefined = undefined;
  private readonly tally = new Counters();
  private readonly tagTally = { 32: 0, 80: 0, 128: 0 };

  constructor(opts: SrtpOptions) {
    this.policy = resolvePolicy(opts);
    this.suite = this.policy.suite;
    this.aead = this.suite.aead;
    this.out = this.ws.out;
    this.rtcpTags = this.suite.aead ? [16] : this.suite.tagLen === 4 ? [10, 4] : [10];
  }

  /** Verifies and decrypts one SRTP packet. Returns the RTP length or a negative SrtpStatus. */
  unprotectRtp(packet: Uint8Array, length: number = packet.length, dst?: Uint8Array): number {
    return this.tally.count(this.finish(this.rtp(packet, length), dst));
  }

  /** Verifies and decrypts one SRTCP packet. Returns the RTCP length or a negative SrtpStatus. */
  unprotectRtcp(packet: Uint8Array, length: number = packet.length, dst?: Uint8Array): number {
    return this.tally.count(this.finish(this.rtcp(packet, length), dst));
  }

  /** Tells the receiver that `ssrc` starts at rollover counter `roc` (e.g. joining mid-stream). */
  setRoc(ssrc: number, roc: number): void {
    if (!Number.isInteger(roc) || roc < 0 || roc > MAX_ROC) throw new SipsecError('BAD_INPUT', `ROC ${roc}`, 'a 32-bit unsigned integer');
    const key = ssrc >>> 0;
    let st = this.streams.get(key);
    if (!st) {
      if (this.streams.size >= this.policy.maxStreams) {
        throw new SipsecError('BAD_INPUT', `cannot track SSRC ${key}`, `the context already has maxStreams (${this.policy.maxStreams}) streams`);
      }
      st = new RecvStream(this.policy, roc);
      this.streams.set(key, st);
    }
    st.rtp.roc = roc;
    st.rtp.started = false;
  }

  /** Current ROC of `ssrc`, or undefined if nothing authentic arrived from it. */
  rocOf(ssrc: number): number | undefined {
    return this.streams.get(ssrc >>> 0)?.rtp.roc;
  }

  /** Results so far, by status (OK counts successes). */
  counters(): SrtpCounters {
    return this.tally.snapshot();
  }

  /** How many authentic SRTCP packets carried a 32-, 80- or 128-bit tag. */
  srtcpTagCounts(): { 32: number; 80: number; 128: number } {
    return { ...this.tagTally };
  }

  private finish(n: number, dst: Uint8Array | undefined): number {
    if (n < 0 || dst === undefined || this.ws.isOut(dst)) return n;
    if (dst.length < n) return SrtpStatus.NO_ROOM;
    dst.set(this.out.subarray(0, n), 0);
    return n;
  }

  private stream(ssrc: number): RecvStream | undefined {
    if (ssrc === this.lastSsrc) return this.lastStream;
    const st = this.streams.get(ssrc);
    if (st) {
      this.lastSsrc = ssrc;
      this.lastStream = st;
    }
    return st;
  }

  /** Creates state for a new SSRC once its first packet authenticated. */
  private adopt(ssrc: number): RecvStream {
    const st = new RecvStream(this.policy, 0);
    this.streams.set(ssrc, st);
    this.lastSsrc = ssrc;
    this.lastStream = st;
    return st;
  }

  /** The master key whose MKI sits at p[off]; keys[0] when there are no MKIs. */
  private keyAt(p: Uint8Array, off: number): MasterKeyState | null {
    const keys = this.policy.keys;
    if (this.policy.mkiLen === 0) return keys[0];
    for (let i = 0; i < keys.length; i++) if (keys[i].mkiAt(p, off)) return keys[i];
    return null;
  }

  private rtp(p: Uint8Array, len: number): number {
    if (len > p.length) return SrtpStatus.TOO_SHORT;
    if (len > MAX_PACKET) return SrtpStatus.TOO_LONG;
    const h = rtpHeaderLength(p, len);
    if (h < 0) return h;
    const pol = this.policy;
    const tagLen = pol.rtpTagLen;
    if (len - tagLen - pol.mkiLen < h) return SrtpStatus.TOO_SHORT;
    const key = this.keyAt(p, Layout.rtpMki(this.aead, len, pol.mkiLen, tagLen));
    if (!key) return SrtpStatus.BAD_MKI;
    const ssrc = readSsrc(p, 8);
    const seq = readSeq(p);
    const st = this.stream(ssrc);
    const v = st ? st.rtp.guess(seq) : 0;
    if (v < 0) return SrtpStatus.REPLAY_OLD;
    if (v > MAX_ROC) return SrtpStatus.KEY_LIMIT;
    const index = v * 65536 + seq;
    if (st) {
      const c = st.window.check(index);
      if (c !== SrtpStatus.OK) return c;
    } else if (this.streams.size >= pol.maxStreams) {
      return SrtpStatus.STREAM_LIMIT;
    }
    const n = key.srtp(index).unprotectRtp(this.ws, p, len, h, ssrc, v, seq, pol.mkiLen, tagLen, pol.encryptSrtp);
    if (n < 0) return n;
    const s = st ?? this.adopt(ssrc);
    s.rtp.commit(v, seq);
    s.window.accept(index);
    this.lastKey = key.position;
    return n;
  }

  private rtcp(p: Uint8Array, len: number): number {
    if (len > p.length) return SrtpStatus.TOO_SHORT;
    if (len > MAX_PACKET) return SrtpStatus.TOO_LONG;
    const c = rtcpCheck(p, len);
    if (c !== SrtpStatus.OK) return c;
    const pol = this.policy;
    const ssrc = readSsrc(p, 4);
    const tags = this.rtcpTags;
    // Best failure seen: AUTH_FAIL beats BAD_MKI beats TOO_SHORT.
    let failure: number = SrtpStatus.TOO_SHORT;
    for (let t = 0; t < tags.length; t++) {
      const tagLen = tags[t];
      const trailerOff = Layout.rtcpTrailer(this.aead, len, pol.mkiLen, tagLen);
      if (trailerOff < Layout.rtcpMinTrailer(this.aead, tagLen)) continue;
      const key = this.keyAt(p, Layout.rtcpMki(this.aead, len, pol.mkiLen, tagLen));
      if (!key) {
        if (failure === SrtpStatus.TOO_SHORT) failure = SrtpStatus.BAD_MKI;
        continue;
      }
      const word = readSsrc(p, trailerOff);
      const encrypted = word >>> 31 === 1;
      const index = word & 0x7fffffff;
      const n = key.srtcp(index).unprotectRtcp(this.ws, p, len, ssrc, index, encrypted, pol.mkiLen, tagLen);
      if (n < 0) {
        failure = n;
        continue;
      }
      // The index is only trustworthy once authentic, so the window is checked here (§3.4 index, §3.3.2).
      let st = this.stream(ssrc);
      if (st) {
        const r = st.rtcpWindow.check(index);
        if (r !== SrtpStatus.OK) return r;
      } else {
        if (this.streams.size >= pol.maxStreams) return SrtpStatus.STREAM_LIMIT;
        st = this.adopt(ssrc);
      }
      st.rtcpWindow.accept(index);
      if (t > 0) {
        // Try this length first from now on: a peer sticks to one.
        tags[t] = tags[0];
        tags[0] = tagLen;
      }
      const bits = (tagLen * 8) as 32 | 80 | 128;
      this.srtcpTagBits = bits;
      this.tagTally[bits]++;
      this.srtcpEncrypted = encrypted;
      this.lastKey = key.position;
      return n;
    }
    return failure;
  }
}
