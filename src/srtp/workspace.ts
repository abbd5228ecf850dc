/**
 * The one preallocated buffer each context works in.
 *
 * Layout: `buf = [ 64-octet hash prefix | packet (up to 65535) | trailer room ]`
 * and `out = buf.subarray(64)`, created once. Every protect/unprotect copies
 * the input packet into `out` and transforms it there, so:
 *   - the caller's input is never written to (unless it *is* `out`);
 *   - the result is `out[0, n)`, valid until the next call on the same
 *     context (copy it, or pass a `dst`, to keep it);
 *   - the 64 octets in front of the packet hold the HMAC-SHA1 inner pad
 *     (RFC 2104), so the inner hash of HMAC is one `crypto.hash()` over a
 *     contiguous view instead of a keyed object per packet (see hmac.ts);
 *   - `words` aliases the same memory as 32-bit words, so keystream is
 *     XORed a word at a time (payloads start 4-aligned, see aes-cm.ts).
 *
 * Exports: Workspace, MAX_PACKET, MAX_MKI, HASH_PREFIX.
 */

/** Largest RTP/RTCP packet accepted: what a 16-bit length can say (UDP carries a little less). */
export const MAX_PACKET = 65535;

/** One SHA-1 block: room for the HMAC inner pad in front of the packet. */
export const HASH_PREFIX = 64;

/**
 * Trailer room after the packet: SRTCP index (4) + MKI (up to 128 octets,
 * libsrtp's SRTP_MAX_MKI_LEN) + tag (up to 16) + slack for the ROC that
 * HMAC appends (RFC 3711 §4.2).
 */
const TRAILER_ROOM = 4 + 128 + 16 + 16;

/** Largest MKI accepted, for the same reason as the trailer room. */
export const MAX_MKI = 128;

export class Workspace {
  readonly buf: Buffer;
  /** `buf` from HASH_PREFIX on: results live at `out[0, n)`. */
  readonly out: Buffer;
  /** The same memory as 32-bit words, for XOR-ing keystream a word at a time. */
  readonly words: Int32Array;
  /** Which HMAC key's inner pad sits in `buf[0, 64)`; avoids rewriting it per packet. */
  ipadOwner: object | null = null;
  /** Last `buf[0, HASH_PREFIX + n)` view handed out: packets of a stream mostly repeat their length. */
  private hashLen = -1;
  private hashView: Buffer;
  /** `out[0, h)` views by header length h (< 256): the GCM AAD, without a view per packet. */
  private readonly heads: Buffer[] = [];

  constructor() {
    // A fresh ArrayBuffer (4-aligned, offset 0), zeroed so the first packet never sees old heap bytes.
    const ab = new ArrayBuffer(HASH_PREFIX + MAX_PACKET + TRAILER_ROOM + 3);
    this.buf = Buffer.from(ab, 0, HASH_PREFIX + MAX_PACKET + TRAILER_ROOM);
    this.words = new Int32Array(ab, 0, ab.byteLength >>> 2);
    this.out = this.buf.subarray(HASH_PREFIX);
    this.hashView = this.buf.subarray(0, 0);
  }

  /** `buf[0, HASH_PREFIX + n)`: the HMAC inner pad followed by n packet octets. */
  hashInput(n: number): Buffer {
    if (n !== this.hashLen) {
      this.hashView = this.buf.subarray(0, HASH_PREFIX + n);
      this.hashLen = n;
    }
    return this.hashView;
  }

  /** `out[0, h)`. */
  head(h: number): Buffer {
    if (h >= 256) return this.out.subarray(0, h);
    let v = this.heads[h];
    if (v === undefined) {
      v = this.out.subarray(0, h);
      this.heads[h] = v;
    }
    return v;
  }

  /** True when `p` is `out` itself (relay / in-place callers); then no copy is needed. */
  isOut(p: Uint8Array): boolean {
    // byteOffset first: reading .buffer is the costlier check and rarely needed.
    return p === this.out || (p.byteOffset === HASH_PREFIX && p.buffer === this.buf.buffer);
  }

  /** Copies `src[0, len)` to `out[0, len)` unless it is already there. */
  load(src: Uint8Array, len: number): void {
    if (this.isOut(src)) return;
    this.out.set(len === src.length ? src : src.subarray(0, len), 0);
  }
}
