/**
 * Sliding replay window, RFC 3711 §3.3.2.
 *
 * "The receiver only accepts packets with index greater than the highest
 * received, or inside the window and not yet received"; the window must be
 * at least 64 packets. It is a ring of bits indexed by (index mod size),
 * so advancing by one packet clears one bit, not a shift of the whole map.
 * SRTP (48-bit index) and SRTCP (31-bit index) each get their own window.
 *
 * Use check() before authentication (cheap rejection) and accept() only
 * after it (§3.3.2: "update the replay list ... only after authentication").
 *
 * Exports: ReplayWindow, DEFAULT_REPLAY_WINDOW, validateWindowSize(n).
 */
import { SipsecError } from '../core/errors.js';
import { SrtpStatus } from './status.js';

/** libsrtp's default for SRTP, and its fixed SRTCP window (srtp.c, rdb.c). */
export const DEFAULT_REPLAY_WINDOW = 128;

/** libsrtp caps the window below 0x8000; a larger one buys nothing for SEQ-based media. */
const MAX_WINDOW = 0x8000;

export function validateWindowSize(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 64 || n >= MAX_WINDOW || n % 32 !== 0) {
    throw new SipsecError(
      'BAD_INPUT',
      `${what} is ${n}`,
      'use a multiple of 32 from 64 (RFC 3711 §3.3.2 minimum) up to 32736; the default is 128',
    );
  }
  return n;
}

export class ReplayWindow {
  readonly size: number;
  private readonly bits: Uint32Array;
  /** Highest accepted index, or -1 while nothing was accepted. */
  private top = -1;

  constructor(size = DEFAULT_REPLAY_WINDOW) {
    this.size = size;
    this.bits = new Uint32Array(size >>> 5);
  }

  /** Highest accepted index, or -1. */
  get highest(): number {
    return this.top;
  }

  /** OK, REPLAY (seen) or REPLAY_OLD (left of the window). Changes nothing. */
  check(index: number): number {
    if (index > this.top) return SrtpStatus.OK;
    if (this.top - index >= this.size) return SrtpStatus.REPLAY_OLD;
    const bit = index % this.size;
    return (this.bits[bit >>> 5] & (1 << (bit & 31))) !== 0 ? SrtpStatus.REPLAY : SrtpStatus.OK;
  }

  /** Marks `index` received; call only after check() said OK and the packet authenticated. */
  accept(index: number): void {
    if (index > this.top) {
      const advance = this.top < 0 ? this.size : index - this.top;
      if (advance >= this.size) {
        this.bits.fill(0);
      } else {
        // Bounded by the window size: clear the slots the window slides over.
        for (let i = this.top + 1; i < index; i++) {
          const b = i % this.size;
          this.bits[b >>> 5] &= ~(1 << (b & 31));
        }
      }
      this.top = index;
    }
    const bit = index % this.size;
    this.bits[bit >>> 5] |= 1 << (bit & 31);
  }
}
