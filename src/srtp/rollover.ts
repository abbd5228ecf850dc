/**
 * Rollover counter (ROC) and packet index estimation, RFC 3711 §3.3.1 and
 * Appendix A.
 *
 * The 48-bit SRTP index is i = 2^16·ROC + SEQ. Only SEQ travels in the
 * packet; each side keeps ROC and s_l (the highest SEQ seen) per SSRC and
 * guesses which of ROC-1, ROC, ROC+1 the sender used. Indices are plain
 * numbers: 2^48 is far inside the 2^53 doubles represent exactly.
 *
 * Exports: estimateRoc(roc, sl, seq), RocState (per-SSRC state with
 * `guess` and `commit`), MAX_ROC.
 */

/** ROC is a 32-bit counter; one more would reuse indices (RFC 3711 §3.3.1, §9.2). */
export const MAX_ROC = 0xffffffff;

/**
 * Appendix A: "v ∈ {ROC-1, ROC, ROC+1} such that i = 2^16·v + SEQ is
 * closest to 2^16·ROC + s_l". Returns v; may be -1 when ROC is 0 (a packet
 * from before the stream began, which callers reject as too old) and
 * MAX_ROC + 1 when the counter would wrap (key exhausted).
 */
export function estimateRoc(roc: number, sl: number, seq: number): number {
  if (sl < 32768) {
    return seq - sl > 32768 ? roc - 1 : roc;
  }
  return sl - 32768 > seq ? roc + 1 : roc;
}

/**
 * One direction of one SSRC. `started` is false until the first packet is
 * committed: that packet's SEQ initialises s_l ("unless signalled",
 * §3.3.1), and `roc` holds the signalled or default initial ROC.
 */
export class RocState {
  roc: number;
  sl = 0;
  started = false;

  constructor(initialRoc = 0) {
    this.roc = initialRoc;
  }

  /** The estimated v for `seq`; the caller checks the -1 / MAX_ROC+1 edges. */
  guess(seq: number): number {
    return this.started ? estimateRoc(this.roc, this.sl, seq) : this.roc;
  }

  /**
   * §3.3.1: update only after the packet authenticated. v = ROC-1 changes
   * nothing; v = ROC advances s_l; v = ROC+1 moves to the new ROC.
   */
  commit(v: number, seq: number): void {
    if (!this.started) {
      this.started = true;
      this.roc = v;
      this.sl = seq;
      return;
    }
    if (v === this.roc) {
      if (seq > this.sl) this.sl = seq;
    } else if (v > this.roc) {
      this.roc = v;
      this.sl = seq;
    }
  }
}
