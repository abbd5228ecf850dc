/**
 * The per-packet cryptographic transform of one set of session keys: what
 * differs between AES-CM + HMAC-SHA1 (cm.ts, RFC 3711) and AES-GCM
 * (gcm.ts, RFC 7714). Contexts (sender.ts, receiver.ts) do everything
 * else: header parsing, ROC and index, replay, MKI lookup, key choice.
 *
 * Contract for every method: the input `src[0, len)` is read, never
 * written (unless it is `ws.out` itself); the result goes to `ws.out` and
 * its length (or a negative SrtpStatus) is returned. `tagLen` is the tag
 * length in use (0 = UNAUTHENTICATED_SRTP, 4, 10, or 16 for GCM).
 *
 * Packet layouts (MKI optional everywhere):
 *   AES-CM RTP    header | payload' | MKI | tag                RFC 3711 §3.1
 *   AES-CM RTCP   header(8) | rest' | E|index | MKI | tag      RFC 3711 §3.4
 *   GCM RTP       header | payload' | tag | MKI                RFC 7714 §8.1
 *   GCM RTCP      header(8) | rest' | tag | E|index | MKI      RFC 7714 §9.1
 *
 * Exports: SrtpTransform, createTransform(suite, keys, r), Layout and the
 * layout helpers the contexts use to find the MKI and the SRTCP trailer.
 */
import { CmTransform } from './cm.js';
import { GcmTransform } from './gcm.js';
import type { SessionKeys } from './kdf.js';
import type { SuiteInfo } from './suites.js';
import type { Workspace } from './workspace.js';

export interface SrtpTransform {
  /** The key derivation r these session keys belong to (RFC 3711 §4.3.1). */
  readonly r: number;

  protectRtp(ws: Workspace, src: Uint8Array, len: number, hdrLen: number, ssrc: number, roc: number, seq: number,
    mki: Uint8Array | null, tagLen: number, encrypt: boolean): number;

  unprotectRtp(ws: Workspace, src: Uint8Array, len: number, hdrLen: number, ssrc: number, roc: number, seq: number,
    mkiLen: number, tagLen: number, encrypted: boolean): number;

  protectRtcp(ws: Workspace, src: Uint8Array, len: number, ssrc: number, index: number, encrypt: boolean,
    mki: Uint8Array | null, tagLen: number): number;

  unprotectRtcp(ws: Workspace, src: Uint8Array, len: number, ssrc: number, index: number, encrypted: boolean,
    mkiLen: number, tagLen: number): number;
}

export function createTransform(suite: SuiteInfo, keys: SessionKeys, r: number): SrtpTransform {
  return suite.aead ? new GcmTransform(suite, keys, r) : new CmTransform(keys, r);
}

/**
 * Where things sit at the end of a protected packet of length `len`.
 * `aead` picks the RFC 7714 layout (tag before MKI / before E|index).
 */
export const Layout = {
  /** Offset of the MKI in an SRTP packet. */
  rtpMki(aead: boolean, len: number, mkiLen: number, tagLen: number): number {
    return aead ? len - mkiLen : len - tagLen - mkiLen;
  },
  /** Offset of the MKI in an SRTCP packet. */
  rtcpMki(aead: boolean, len: number, mkiLen: number, tagLen: number): number {
    return aead ? len - mkiLen : len - tagLen - mkiLen;
  },
  /** Offset of the 4-octet E||SRTCP index word. */
  rtcpTrailer(aead: boolean, len: number, mkiLen: number, tagLen: number): number {
    return aead ? len - mkiLen - 4 : len - tagLen - mkiLen - 4;
  },
  /** Smallest offset the SRTCP trailer may have: after the 8-octet header (and the GCM tag). */
  rtcpMinTrailer(aead: boolean, tagLen: number): number {
    return aead ? 8 + tagLen : 8;
  },
} as const;
