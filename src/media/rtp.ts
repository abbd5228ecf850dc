/**
 * Reading RTP/RTCP fields straight from a buffer (RFC 3550 §5.1, §6.4):
 * no header objects per packet on the echo's hot path.
 */
export const RTP_MIN = 12;

export function rtpVersion(b: Uint8Array): number {
  return b[0]! >> 6;
}

export function rtpPayloadType(b: Uint8Array): number {
  return b[1]! & 0x7f;
}

export function rtpMarker(b: Uint8Array): boolean {
  return (b[1]! & 0x80) !== 0;
}

export function rtpSeq(b: Uint8Array): number {
  return (b[2]! << 8) | b[3]!;
}

export function rtpTimestamp(b: Uint8Array): number {
  return ((b[4]! << 24) >>> 0) + (b[5]! << 16) + (b[6]! << 8) + b[7]!;
}

export function rtpSsrc(b: Uint8Array): number {
  return ((b[8]! << 24) >>> 0) + (b[9]! << 16) + (b[10]! << 8) + b[11]!;
}

export function writeSsrc(b: Uint8Array, ssrc: number): void {
  b[8] = ssrc >>> 24;
  b[9] = (ssrc >>> 16) & 0xff;
  b[10] = (ssrc >>> 8) & 0xff;
  b[11] = ssrc & 0xff;
}

/** Header length including CSRCs and the extension; -1 if the packet is shorter. */
export function rtpHeaderLength(b: Uint8Array, len: number): number {
  if (len < RTP_MIN) return -1;
  let n = RTP_MIN + (b[0]! & 0x0f) * 4;
  if (b[0]! & 0x10) {
    if (len < n + 4) return -1;
    n += 4 + ((b[n + 2]! << 8) | b[n + 3]!) * 4;
  }
  return n <= len ? n : -1;
}


/** RTCP compound walk: each packet's type and the SSRC it is about. */
export interface RtcpReportBlock {
  ssrc: number;
  fractionLost: number;
  cumulativeLost: number;
  highestSeq: number;
  jitter: number;
}

export interface RtcpSummary {
  types: number[];
  senderSsrc: number | undefined;
  reports: RtcpReportBlock[];
  bye: boolean;
}

/** Parse a (decrypted) compound RTCP packet; undefined when it is malformed. */
export function parseRtcp(b: Uint8Array, len: number): RtcpSummary | undefined {
  const out: RtcpSummary = { types: [], senderSsrc: undefined, reports: [], bye: false };
  let at = 0;
  while (at + 4 <= len) {
    if (b[at]! >> 6 !== 2) return undefined;
    const count = b[at]! & 0x1f;
    const pt = b[at + 1]!;
    const words = (b[at + 2]! << 8) | b[at + 3]!;
    const end = at + 4 + words * 4;
    if (end > len) return undefined;
    out.types.push(pt);
    if ((pt === 200 || pt === 201) && at + 8 <= end) {
      out.senderSsrc ??= ((b[at + 4]! << 24) >>> 0) + (b[at + 5]! << 16) + (b[at + 6]! << 8) + b[at + 7]!;
      let blk = at + 8 + (pt === 200 ? 20 : 0);
      for (let i = 0; i < count && blk + 24 <= end; i++, blk += 24) {
        const u32 = (o: number) => ((b[o]! << 24) >>> 0) + (b[o + 1]! << 16) + (b[o + 2]! << 8) + b[o + 3]!;
        const lost = (b[blk + 5]! << 16) | (b[blk + 6]! << 8) | b[blk + 7]!;
        out.reports.push({ ssrc: u32(blk), fractionLost: b[blk + 4]! / 256, cumulativeLost: lost & 0x800000 ? lost - 0x1000000 : lost, highestSeq: u32(blk + 8), jitter: u32(blk + 12) });
      }
    }
    if (pt === 203) out.bye = true;
    at = end;
  }
  return at === len ? out : undefined;
}
