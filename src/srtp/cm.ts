/**
 * The AES-CM + HMAC-SHA1 transform (RFC 3711 §4.1.1, §4.2.1; RFC 4568
 * §6.2 for the _80/_32 tag lengths; RFC 6188 for AES-192/256).
 *
 * SRTP:  encrypt the payload, then tag = HMAC(k_a, header || payload' || ROC)
 *        truncated to 10 or 4 octets (§4.2: M = authenticated portion || ROC).
 *        The MKI goes between payload and tag and is not authenticated (§3.1).
 * SRTCP: encrypt octet 8 onwards (when E = 1), append E||index, then
 *        tag = HMAC(k_a, header || rest' || E||index) (§3.4).
 * Receiving: authenticate first, decrypt only an authentic packet (§3.3).
 *
 * Exports: CmTransform (implements SrtpTransform).
 */
import { AesCmKeystream } from './aes-cm.js';
import { HmacSha1, tagEquals } from './hmac.js';
import type { SessionKeys } from './kdf.js';
import { SrtpStatus } from './status.js';
import type { SrtpTransform } from './transform.js';
import type { Workspace } from './workspace.js';

export class CmTransform implements SrtpTransform {
  readonly r: number;
  private readonly cm: AesCmKeystream;
  private readonly hmac: HmacSha1;
  /** The received tag when it must be saved before the ROC overwrites it (in-place calls). */
  private readonly tagSaved = Buffer.alloc(20);

  constructor(keys: SessionKeys, r: number) {
    if (!keys.authKey) throw new TypeError('AES-CM transform needs an authentication key');
    this.r = r;
    this.cm = new AesCmKeystream(keys.encKey, keys.salt);
    this.hmac = new HmacSha1(keys.authKey);
  }

  protectRtp(ws: Workspace, src: Uint8Array, len: number, hdrLen: number, ssrc: number, roc: number, seq: number,
    mki: Uint8Array | null, tagLen: number, encrypt: boolean): number {
    ws.load(src, len);
    const out = ws.out;
    if (encrypt) this.cm.xor(ws, hdrLen, len - hdrLen, ssrc, roc, seq);
    let end = len;
    if (tagLen === 0) {
      if (mki) {
        out.set(mki, end);
        end += mki.length;
      }
      return end;
    }
    out.writeUInt32BE(roc, end);
    const tag = this.hmac.macWorkspace(ws, end + 4);
    if (mki) {
      out.set(mki, end);
      end += mki.length;
    }
    for (let i = 0; i < tagLen; i++) out[end + i] = tag[i];
    return end + tagLen;
  }

  unprotectRtp(ws: Workspace, src: Uint8Array, len: number, hdrLen: number, ssrc: number, roc: number, seq: number,
    mkiLen: number, tagLen: number, encrypted: boolean): number {
    const authLen = len - mkiLen - tagLen;
    const out = ws.out;
    if (tagLen > 0) {
      let tagSrc = src;
      let tagOff = authLen + mkiLen;
      if (ws.isOut(src)) {
        // In place: the ROC is about to overwrite the received MKI/tag.
        for (let i = 0; i < tagLen; i++) this.tagSaved[i] = src[tagOff + i];
        tagSrc = this.tagSaved;
        tagOff = 0;
      }
      ws.load(src, len);
      out.writeUInt32BE(roc, authLen);
      const tag = this.hmac.macWorkspace(ws, authLen + 4);
      if (!tagEquals(tag, 0, tagSrc, tagOff, tagLen)) return SrtpStatus.AUTH_FAIL;
    } else {
      ws.load(src, len);
    }
    if (encrypted) this.cm.xor(ws, hdrLen, authLen - hdrLen, ssrc, roc, seq);
    return authLen;
  }

  protectRtcp(ws: Workspace, src: Uint8Array, len: number, ssrc: number, index: number, encrypt: boolean,
    mki: Uint8Array | null, tagLen: number): number {
    ws.load(src, len);
    const out = ws.out;
    if (encrypt) this.cm.xor(ws, 8, len - 8, ssrc, index >>> 16, index & 0xffff);
    out.writeUInt32BE((encrypt ? 0x80000000 | index : index) >>> 0, len);
    let end = len + 4;
    const tag = this.hmac.macWorkspace(ws, end);
    if (mki) {
      out.set(mki, end);
      end += mki.length;
    }
    for (let i = 0; i < tagLen; i++) out[end + i] = tag[i];
    return end + tagLen;
  }

  unprotectRtcp(ws: Workspace, src: Uint8Array, len: number, ssrc: number, index: number, encrypted: boolean,
    mkiLen: number, tagLen: number): number {
    const authLen = len - mkiLen - tagLen;
    // No ROC for SRTCP, so nothing overwrites the received tag: compare in src.
    ws.load(src, len);
    const tag = this.hmac.macWorkspace(ws, authLen);
    if (!tagEquals(tag, 0, src, authLen + mkiLen, tagLen)) return SrtpStatus.AUTH_FAIL;
    const plainLen = authLen - 4;
    if (encrypted) this.cm.xor(ws, 8, plainLen - 8, ssrc, index >>> 16, index & 0xffff);
    return plainLen;
  }
}
