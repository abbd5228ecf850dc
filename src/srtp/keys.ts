/**
 * Master keys and the session transforms derived from them.
 *
 * A context holds one or more master keys; with more than one, each has an
 * MKI (RFC 3711 §3.1, RFC 4568 §6.1 `|mki:length`) and all MKIs have the
 * same length, which is how a receiver knows where to read it. Each master
 * key derives SRTP and SRTCP session keys (kdf.ts); with kdr != 0 they are
 * re-derived whenever r = index DIV kdr changes (RFC 3711 §4.3.1). Two r
 * values are cached per kind so that late packets from the previous r do
 * not thrash the derivation.
 *
 * Exports: SrtpMasterKey (input), MasterKeyState, validateMasterKeys(),
 * splitKeySalt(suite, material).
 */
import { SipsecError } from '../core/errors.js';
import { deriveSessionKeys, kdrIndex } from './kdf.js';
import type { SuiteInfo } from './suites.js';
import { SUITES, type SuiteName } from './suites.js';
import { createTransform, type SrtpTransform } from './transform.js';
import { MAX_MKI } from './workspace.js';

export interface SrtpMasterKey {
  /** Master key: 16, 24 or 32 octets per the suite. */
  readonly key: Uint8Array;
  /** Master salt: 14 octets for AES-CM suites, 12 for GCM. */
  readonly salt: Uint8Array;
  /** MKI value (1..128 octets) sent in, and expected from, every packet; omit for none. */
  readonly mki?: Uint8Array;
}

/**
 * Splits SDES `inline:` key material (RFC 4568 §6.1: key || salt) into
 * key and salt for `suite`; BAD_INPUT when the length is wrong.
 */
export function splitKeySalt(suite: SuiteName, material: Uint8Array): { key: Buffer; salt: Buffer } {
  const s = SUITES[suite];
  if (material.length !== s.keyLen + s.saltLen) {
    throw new SipsecError('BAD_INPUT', `${suite} key material is ${material.length} octets`,
      `it must be ${s.keyLen + s.saltLen} (${s.keyLen}-octet key + ${s.saltLen}-octet salt)`);
  }
  const buf = Buffer.from(material);
  return { key: buf.subarray(0, s.keyLen), salt: buf.subarray(s.keyLen) };
}

export class MasterKeyState {
  readonly position: number;
  readonly mki: Buffer | null;
  private readonly suite: SuiteInfo;
  private readonly key: Buffer;
  private readonly salt: Buffer;
  private readonly kdr: number;
  private readonly libsrtpAes192: boolean;
  private srtpCur: SrtpTransform;
  private srtpPrev: SrtpTransform | null = null;
  private srtcpCur: SrtpTransform;
  private srtcpPrev: SrtpTransform | null = null;

  constructor(suite: SuiteInfo, input: SrtpMasterKey, position: number, kdr: number, libsrtpAes192 = false) {
    this.suite = suite;
    this.position = position;
    // Copies: callers may reuse or wipe their buffers.
    this.key = Buffer.from(input.key);
    this.salt = Buffer.from(input.salt);
    this.mki = input.mki && input.mki.length > 0 ? Buffer.from(input.mki) : null;
    this.kdr = kdr;
    this.libsrtpAes192 = libsrtpAes192;
    this.srtpCur = this.derive('srtp', 0);
    this.srtcpCur = this.derive('srtcp', 0);
  }

  private derive(kind: 'srtp' | 'srtcp', r: number): SrtpTransform {
    return createTransform(this.suite, deriveSessionKeys(this.suite, this.key, this.salt, kind, r, this.libsrtpAes192), r);
  }

  /** The SRTP transform for 48-bit packet index `index`. */
  srtp(index: number): SrtpTransform {
    if (this.kdr === 0) return this.srtpCur;
    const r = kdrIndex(index, this.kdr);
    if (r === this.srtpCur.r) return this.srtpCur;
    if (this.srtpPrev && r === this.srtpPrev.r) return this.srtpPrev;
    const t = this.derive('srtp', r);
    if (r > this.srtpCur.r) {
      this.srtpPrev = this.srtpCur;
      this.srtpCur = t;
    } else {
      this.srtpPrev = t;
    }
    return t;
  }

  /** The SRTCP transform for 31-bit SRTCP index `index` (kdr reading: see kdf.ts). */
  srtcp(index: number): SrtpTransform {
    if (this.kdr === 0) return this.srtcpCur;
    const r = kdrIndex(index, this.kdr);
    if (r === this.srtcpCur.r) return this.srtcpCur;
    if (this.srtcpPrev && r === this.srtcpPrev.r) return this.srtcpPrev;
    const t = this.derive('srtcp', r);
    if (r > this.srtcpCur.r) {
      this.srtcpPrev = this.srtcpCur;
      this.srtcpCur = t;
    } else {
      this.srtcpPrev = t;
    }
    return t;
  }

  /** True when `p[off, off+mki.length)` is this key's MKI. */
  mkiAt(p: Uint8Array, off: number): boolean {
    const m = this.mki;
    if (!m) return false;
    for (let i = 0; i < m.length; i++) if (p[off + i] !== m[i]) return false;
    return true;
  }
}

/** Checks lengths and MKI rules; returns the common MKI length (0 = none). */
export function validateMasterKeys(suite: SuiteInfo, keys: readonly SrtpMasterKey[]): number {
  if (keys.length === 0) throw new SipsecError('BAD_INPUT', 'no SRTP master key given', 'pass at least one { key, salt }');
  const mkiLen = keys[0].mki?.length ?? 0;
  keys.forEach((k, i) => {
    const at = keys.length > 1 ? ` (key ${i + 1})` : '';
    if (k.key.length !== suite.keyLen) {
      throw new SipsecError('BAD_INPUT', `${suite.name} master key is ${k.key.length} octets${at}`, `it must be ${suite.keyLen} (${suite.rfc})`);
    }
    if (k.salt.length !== suite.saltLen) {
      throw new SipsecError('BAD_INPUT', `${suite.name} master salt is ${k.salt.length} octets${at}`, `it must be ${suite.saltLen} (${suite.rfc})`);
    }
    const len = k.mki?.length ?? 0;
    if (len !== mkiLen) {
      throw new SipsecError('BAD_INPUT', `MKI lengths differ between master keys${at}`, 'all keys of one crypto attribute share one MKI length (RFC 4568 §6.1)');
    }
    if (len > MAX_MKI) throw new SipsecError('BAD_INPUT', `MKI is ${len} octets${at}`, `use 1 to ${MAX_MKI} octets`);
  });
  if (keys.length > 1 && mkiLen === 0) {
    throw new SipsecError('BAD_INPUT', `${keys.length} master keys but no MKI`, 'several keys need an MKI each so the receiver can tell them apart (RFC 3711 §3.1)');
  }
  const seen = new Set<string>();
  for (const k of keys) {
    if (!k.mki) continue;
    const hex = Buffer.from(k.mki).toString('hex');
    if (seen.has(hex)) throw new SipsecError('BAD_INPUT', `duplicate MKI ${hex}`, 'each master key needs its own MKI value');
    seen.add(hex);
  }
  return mkiLen;
}
