/**
 * The AEAD_AES_128_GCM / AEAD_AES_256_GCM transform, RFC 7714.
 *
 * SRTP (§8):   IV  = salt XOR (00 00 || SSRC || ROC || SEQ)          (§8.1)
 *              AAD = the RTP header incl. CSRCs and extension       (§8.2)
 *              out = header || ciphertext || 16-octet tag || MKI
 * SRTCP (§9):  IV  = salt XOR (00 00 || SSRC || 00 00 || 0|index)   (§9.1)
 *              AAD = first 8 octets || E||index                     (§9.2)
 *              out = header || ciphertext || tag || E||index || MKI
 * E = 0 (UNENCRYPTED_SRTCP): nothing is encrypted and the whole RTCP
 * packet, then E||index, is the AAD (§9.3). We apply the same rule to
 * UNENCRYPTED_SRTP (whole RTP packet as AAD, tag appended), which is what
 * pion does and matches its "NULL cipher" RFC 7714 vectors; libsrtp 2.5
 * always encrypts GCM RTP. An AEAD cannot be unauthenticated, so
 * UNAUTHENTICATED_SRTP is refused when the context is built.
 *
 * The MKI position follows libsrtp 2.5 (after the tag for RTP, after
 * E||index for RTCP), checked by the interop test.
 *
 * Cost: node:crypto cannot re-IV a GCM object, so every packet pays for
 * createCipheriv/createDecipheriv (OpenSSL 3 re-fetches the cipher and
 * sets up a fresh context: ~2 µs here) plus setAAD/update/final/getAuthTag,
 * each a native call that allocates its result. Those calls are ~80% of
 * the time per packet (profiled); the SRTP work around them is the rest.
 * A KeyObject made once per session key measured the same as a raw key
 * Buffer and is kept. A bad tag makes decipher.final() throw; that is
 * caught here and becomes AUTH_FAIL.
 *
 * Exports: GcmTransform (implements SrtpTransform).
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import type { SessionKeys } from './kdf.js';
import type { SuiteInfo } from './suites.js';
import { SrtpStatus } from './status.js';
import type { SrtpTransform } from './transform.js';
import type { Workspace } from './workspace.js';

const TAG = 16;

export class GcmTransform implements SrtpTransform {
  readonly r: number;
  private readonly name: 'aes-128-gcm' | 'aes-256-gcm';
  private readonly key: KeyObject;
  private readonly salt0: number;
  private readonly salt1: number;
  private readonly salt2: number;
  /** Reused per packet: node copies the IV and AAD when they are passed in. */
  private readonly iv = Buffer.alloc(12);
  private readonly aad = Buffer.alloc(12);
  private readonly tagSaved = Buffer.alloc(TAG);

  constructor(suite: SuiteInfo, keys: SessionKeys, r: number) {
    if (!suite.gcmCipher) throw new TypeError(`${suite.name} is not an AEAD suite`);
    this.r = r;
    this.name = suite.gcmCipher;
    this.key = createSecretKey(keys.encKey);
    this.salt0 = keys.salt.readUInt32BE(0);
    this.salt1 = keys.salt.readUInt32BE(4);
    this.salt2 = keys.salt.readUInt32BE(8);
  }

  /** 00 00 || SSRC || w1(4) || w2(2), XOR the 12-octet salt. */
  private setIv(ssrc: number, mid: number, low32: number): void {
    const iv = this.iv;
    iv.writeUInt32BE((this.salt0 ^ (ssrc >>> 16)) >>> 0, 0);
    iv.writeUInt32BE((this.salt1 ^ (((ssrc & 0xffff) << 16) | (mid >>> 16))) >>> 0, 4);
    iv.writeUInt32BE((this.salt2 ^ low32) >>> 0, 8);
  }

  /** §8.1: ROC occupies IV octets 6..9 and SEQ 10..11. */
  private setRtpIv(ssrc: number, roc: number, seq: number): void {
    this.setIv(ssrc, roc, (((roc & 0xffff) << 16) | seq) >>> 0);
  }

  protectRtp(ws: Workspace, src: Uint8Array, len: number, hdrLen: number, ssrc: number, roc: number, seq: number,
    mki: Uint8Array | null, _tagLen: number, encrypt: boolean): number {
    this.setRtpIv(ssrc, roc, seq);
    const out = ws.out;
    const c = createCipheriv(this.name, this.key, this.iv);
    if (encrypt) {
      copyHead(ws, src, hdrLen);
      c.setAAD(ws.head(hdrLen));
      out.set(c.update(src.subarray(hdrLen, len)), hdrLen);
    } else {
      ws.load(src, len);
      c.setAAD(out.subarray(0, len));
    }
    c.final();
    out.set(c.getAuthTag(), len);
    let end = len + TAG;
    if (mki) {
      out.set(mki, end);
      end += mki.length;
    }
    return end;
  }

  unprotectRtp(ws: Workspace, src: Uint8Array, len: number, hdrLen: number, ssrc: number, roc: number, seq: number,
    mkiLen: number, _tagLen: number, encrypted: boolean): number {
    const tagOff = len - mkiLen - TAG;
    this.setRtpIv(ssrc, roc, seq);
    // Work on a copy in the workspace: the AAD view is cached there and the
    // tag is taken by value, so only the ciphertext needs a view of its own.
    ws.load(src, len);
    const out = ws.out;
    const tag = this.tagSaved;
    for (let i = 0; i < TAG; i++) tag[i] = out[tagOff + i];
    const d = createDecipheriv(this.name, this.key, this.iv);
    d.setAuthTag(tag);
    if (encrypted) {
      d.setAAD(ws.head(hdrLen));
      const pt = d.update(out.subarray(hdrLen, tagOff));
      if (!finalOk(d)) return SrtpStatus.AUTH_FAIL;
      out.set(pt, hdrLen);
    } else {
      d.setAAD(out.subarray(0, tagOff));
      if (!finalOk(d)) return SrtpStatus.AUTH_FAIL;
    }
    return tagOff;
  }

  protectRtcp(ws: Workspace, src: Uint8Array, len: number, ssrc: number, index: number, encrypt: boolean,
    mki: Uint8Array | null, _tagLen: number): number {
    this.setIv(ssrc, 0, index);
    const trailer = (encrypt ? 0x80000000 | index : index) >>> 0;
    const out = ws.out;
    const c = createCipheriv(this.name, this.key, this.iv);
    if (encrypt) {
      const aad = this.aad;
      for (let i = 0; i < 8; i++) aad[i] = src[i];
      aad.writeUInt32BE(trailer, 8);
      c.setAAD(aad);
      const ct = c.update(src.subarray(8, len));
      copyHead(ws, src, 8);
      out.set(ct, 8);
    } else {
      // §9.3: the whole packet then E||index is authenticated, nothing encrypted.
      ws.load(src, len);
      out.writeUInt32BE(trailer, len);
      c.setAAD(out.subarray(0, len + 4));
    }
    c.final();
    out.set(c.getAuthTag(), len);
    out.writeUInt32BE(trailer, len + TAG);
    let end = len + TAG + 4;
    if (mki) {
      out.set(mki, end);
      end += mki.length;
    }
    return end;
  }

  unprotectRtcp(ws: Workspace, src: Uint8Array, len: number, ssrc: number, index: number, encrypted: boolean,
    mkiLen: number, _tagLen: number): number {
    const trailerOff = len - mkiLen - 4;
    const tagOff = trailerOff - TAG;
    this.setIv(ssrc, 0, index);
    const d = createDecipheriv(this.name, this.key, this.iv);
    if (encrypted) {
      const aad = this.aad;
      for (let i = 0; i < 8; i++) aad[i] = src[i];
      for (let i = 0; i < 4; i++) aad[8 + i] = src[trailerOff + i];
      d.setAAD(aad);
      d.setAuthTag(src.subarray(tagOff, trailerOff));
      const pt = d.update(src.subarray(8, tagOff));
      if (!finalOk(d)) return SrtpStatus.AUTH_FAIL;
      copyHead(ws, src, 8);
      ws.out.set(pt, 8);
      return tagOff;
    }
    // AAD = packet || E||index must be contiguous: build it in the workspace,
    // saving tag and trailer first in case src is the workspace itself.
    const saved = this.tagSaved;
    for (let i = 0; i < TAG; i++) saved[i] = src[tagOff + i];
    const trailer = ((src[trailerOff] << 24) | (src[trailerOff + 1] << 16) | (src[trailerOff + 2] << 8) | src[trailerOff + 3]) >>> 0;
    ws.load(src, tagOff);
    ws.out.writeUInt32BE(trailer, tagOff);
    d.setAAD(ws.out.subarray(0, tagOff + 4));
    d.setAuthTag(saved);
    if (!finalOk(d)) return SrtpStatus.AUTH_FAIL;
    return tagOff;
  }
}

/** out[0, n) = src[0, n) for a header: a loop beats a view + set() at these sizes. */
function copyHead(ws: Workspace, src: Uint8Array, n: number): void {
  if (ws.isOut(src)) return;
  const out = ws.out;
  for (let i = 0; i < n; i++) out[i] = src[i];
}

/** decipher.final() throws on a bad tag; packets must not make us throw. */
function finalOk(d: { final(): Buffer }): boolean {
  try {
    d.final();
    return true;
  } catch {
    return false;
  }
}
