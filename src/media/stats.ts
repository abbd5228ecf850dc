import { rtpMarker, rtpPayloadType, rtpSeq, rtpTimestamp } from './rtp.js';

/**
 * What one direction of a call looked like: counts, payload types, losses
 * and reordering (RFC 3550 §6.4.1 and A.3), interarrival jitter (A.8), and
 * RTP timestamp anomalies: consecutive packets whose timestamp step is not
 * the stream's usual step (what Wireshark's "Wrong timestamp" flags).
 */
export interface StreamReport {
  packets: number;
  bytes: number;
  payloadTypes: Record<string, number>;
  /** Sequence numbers expected from the first to the highest, minus those received. */
  lost: number;
  /** Sequence gaps seen (a jump of more than one). */
  gaps: number;
  duplicates: number;
  reordered: number;
  /** Interarrival jitter in milliseconds (RFC 3550 A.8). */
  jitterMs: number;
  /** The most common timestamp step, in clock units, and how many steps differed from it. */
  tsStep: number | undefined;
  timestampAnomalies: number;
  /** Packets from more than one SSRC. */
  ssrcs: number;
  firstAt: number | undefined;
  lastAt: number | undefined;
}

export class StreamStats {
  packets = 0;
  bytes = 0;
  private readonly pts = new Map<number, number>();
  private baseSeq = -1;
  private maxSeq = 0;
  private cycles = 0;
  private received = 0;
  gaps = 0;
  duplicates = 0;
  reordered = 0;
  private jitter = 0;
  private lastTransit: number | undefined;
  private lastTs = 0;
  private lastSeq = -1;
  private readonly steps = new Map<number, number>();
  private stepCount = 0;
  private readonly ssrcSet = new Set<number>();
  private currentSsrc: number | undefined;
  /** Expected and received packets of the streams before the current SSRC. */
  private priorExpected = 0;
  private priorReceived = 0;
  private recentSeqs = new Uint8Array(8192);
  firstAt: number | undefined;
  lastAt: number | undefined;

  constructor(private readonly clockRate: number) {}

  /** One authenticated, decrypted RTP packet (header at offset 0). */
  add(b: Uint8Array, len: number, ssrc: number, nowMs: number): void {
    this.packets++;
    this.bytes += len;
    this.firstAt ??= nowMs;
    this.lastAt = nowMs;
    const pt = rtpPayloadType(b);
    this.pts.set(pt, (this.pts.get(pt) ?? 0) + 1);
    if (ssrc !== this.currentSsrc) this.newSource(ssrc);
    const seq = rtpSeq(b);
    const ts = rtpTimestamp(b);
    if (this.baseSeq < 0) {
      this.baseSeq = seq;
      this.maxSeq = seq;
      this.received = 1;
      this.mark(seq);
      this.lastSeq = seq;
      this.lastTs = ts;
      this.lastTransit = (nowMs * this.clockRate) / 1000 - ts;
      return;
    }
    if (this.seen(seq)) {
      this.duplicates++;
      return;
    }
    this.mark(seq);
    this.received++;
    const delta = (seq - this.maxSeq + 0x10000) & 0xffff;
    if (delta > 0 && delta < 0x8000) {
      if (seq < this.maxSeq) this.cycles += 0x10000;
      if (delta > 1) this.gaps++;
      this.maxSeq = seq;
    } else {
      this.reordered++;
    }
    // Jitter in timestamp units (A.8), then the step check on in-order neighbours.
    const transit = (nowMs * this.clockRate) / 1000 - ts;
    if (this.lastTransit !== undefined) {
      const d = Math.abs(transit - this.lastTransit);
      this.jitter += (d - this.jitter) / 16;
    }
    this.lastTransit = transit;
    if (seq === ((this.lastSeq + 1) & 0xffff) && !rtpMarker(b)) {
      const step = (ts - this.lastTs + 0x100000000) % 0x100000000;
      this.steps.set(step, (this.steps.get(step) ?? 0) + 1);
      this.stepCount++;
    }
    this.lastSeq = seq;
    this.lastTs = ts;
  }

  /**
   * A new SSRC is a new sequence-number space: a phone that restarts its
   * stream (e.g. after hold) picks a new SSRC (RFC 3550 §8) and a random
   * first sequence number (§5.1). The old stream's counts are kept, the
   * loss and reordering accounting starts over.
   */
  private newSource(ssrc: number): void {
    if (this.baseSeq >= 0) {
      this.priorExpected += this.cycles + this.maxSeq - this.baseSeq + 1;
      this.priorReceived += this.received;
    }
    this.ssrcSet.add(ssrc);
    this.currentSsrc = ssrc;
    this.baseSeq = -1;
    this.cycles = 0;
    this.received = 0;
    this.lastSeq = -1;
    this.lastTransit = undefined;
    this.recentSeqs.fill(0);
  }

  private mark(seq: number): void {
    this.recentSeqs[seq >> 3]! |= 1 << (seq & 7);
    // Forget the half of the sequence space opposite to seq, so wrap-around stays correct.
    const opposite = (seq + 0x8000) & 0xffff;
    this.recentSeqs[opposite >> 3] = 0;
  }

  private seen(seq: number): boolean {
    return (this.recentSeqs[seq >> 3]! & (1 << (seq & 7))) !== 0;
  }

  report(): StreamReport {
    let tsStep: number | undefined;
    let best = 0;
    for (const [step, n] of this.steps) {
      if (n > best) {
        best = n;
        tsStep = step;
      }
    }
    const expected = this.priorExpected + (this.baseSeq < 0 ? 0 : this.cycles + this.maxSeq - this.baseSeq + 1);
    return {
      packets: this.packets,
      bytes: this.bytes,
      payloadTypes: Object.fromEntries([...this.pts].map(([pt, n]) => [String(pt), n])),
      lost: Math.max(0, expected - this.priorReceived - this.received),
      gaps: this.gaps,
      duplicates: this.duplicates,
      reordered: this.reordered,
      jitterMs: Math.round(((this.jitter * 1000) / this.clockRate) * 100) / 100,
      tsStep,
      timestampAnomalies: this.stepCount - best,
      ssrcs: this.ssrcSet.size,
      firstAt: this.firstAt,
      lastAt: this.lastAt,
    };
  }
}
