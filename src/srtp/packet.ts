/**
 * The few RTP/RTCP header fields SRTP needs, read without allocating.
 *
 * RTP (RFC 3550 §5.1): V(2) P X CC(4) | M PT | SEQ(16) | TS(32) | SSRC(32)
 * | CSRC × CC | [extension: profile(16) length(16, in 32-bit words) ...].
 * SRTP encrypts from the end of all that (RFC 3711 §3.1).
 * RTCP (RFC 3550 §6.4.1): V P RC | PT | length | SSRC; SRTCP encrypts from
 * octet 8 (RFC 3711 §3.4).
 *
 * Exports: rtpHeaderLength(p, len), rtcpCheck(p, len), readSsrc(p, off),
 * readSeq(p).
 */
import { SrtpStatus } from './status.js';

/** RTP header length incl. CSRCs and extension, or a negative SrtpStatus. */
export function rtpHeaderLength(p: Uint8Array, len: number): number {
  if (len < 12) return SrtpStatus.TOO_SHORT;
  const b0 = p[0];
  if (b0 >>> 6 !== 2) return SrtpStatus.BAD_VERSION;
  let h = 12 + (b0 & 0x0f) * 4;
  if ((b0 & 0x10) !== 0) {
    if (h + 4 > len) return SrtpStatus.BAD_HEADER;
    h += 4 + ((p[h + 2] << 8) | p[h + 3]) * 4;
  }
  return h > len ? SrtpStatus.BAD_HEADER : h;
}

/** OK when `p` can be an RTCP packet header (first packet of a compound), else a status. */
export function rtcpCheck(p: Uint8Array, len: number): number {
  if (len < 8) return SrtpStatus.TOO_SHORT;
  return p[0] >>> 6 === 2 ? SrtpStatus.OK : SrtpStatus.BAD_VERSION;
}

export function readSsrc(p: Uint8Array, off: number): number {
  return ((p[off] << 24) | (p[off + 1] << 16) | (p[off + 2] << 8) | p[off + 3]) >>> 0;
}

export function readSeq(p: Uint8Array): number {
  return (p[2] << 8) | p[3];
}
