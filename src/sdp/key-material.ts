/**
 * SDES key material (RFC 4568 §6.1): the keys an a=crypto line carries,
 * fresh keys of ours from an injected random source, and when a re-offered
 * line is the same crypto as before.
 */
import { SipsecError } from '../core/errors.js';
import { SUITES, type SuiteName } from '../srtp/suites.js';
import type { Lifetime, MasterKey, Mki, SessionParams } from './sdes.js';

/** Same shape as node:crypto randomBytes; tests inject a seeded one. */
export type RandomSource = (size: number) => Buffer;

export interface KeyMaterial {
  key: Buffer;
  salt: Buffer;
  mki?: Mki;
  lifetime?: Lifetime;
}

export function keyMaterial(k: MasterKey): KeyMaterial {
  const out: KeyMaterial = { key: k.key, salt: k.salt };
  if (k.mki) out.mki = k.mki;
  if (k.lifetime) out.lifetime = k.lifetime;
  return out;
}

export function freshKey(canonical: SuiteName, random: RandomSource): KeyMaterial {
  const info = SUITES[canonical];
  const n = info.keyLen + info.saltLen;
  const bytes = random(n);
  if (!Buffer.isBuffer(bytes) || bytes.length < n) {
    throw new SipsecError('INTERNAL', `random source returned ${Buffer.isBuffer(bytes) ? bytes.length : 'no'} octets, needed ${n}`);
  }
  return { key: Buffer.from(bytes.subarray(0, info.keyLen)), salt: Buffer.from(bytes.subarray(info.keyLen, n)) };
}

export function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && a.equals(b);
}

// ---------------------------------------------------------------------------
// crypto identity, for re-offers

/** Everything that, if changed, requires new SRTP contexts for the phone's stream. */
export function sameRemoteCrypto(
  a: { canonical: SuiteName; remoteKey: KeyMaterial; remoteKeys: readonly KeyMaterial[]; sessionParams: SessionParams },
  b: { canonical: SuiteName; remoteKey: KeyMaterial; remoteKeys: readonly KeyMaterial[]; sessionParams: SessionParams },
): string | undefined {
  if (a.canonical !== b.canonical) return `suite changed from ${a.canonical} to ${b.canonical}`;
  if (a.remoteKeys.length !== b.remoteKeys.length) return `number of keys changed from ${a.remoteKeys.length} to ${b.remoteKeys.length}`;
  for (let i = 0; i < a.remoteKeys.length; i++) {
    const x = a.remoteKeys[i];
    const y = b.remoteKeys[i];
    if (!sameBytes(x.key, y.key) || !sameBytes(x.salt, y.salt)) return 'master key changed';
    if ((x.mki?.value ?? -1n) !== (y.mki?.value ?? -1n) || (x.mki?.length ?? 0) !== (y.mki?.length ?? 0)) return 'MKI changed';
    if ((x.lifetime?.packets ?? -1n) !== (y.lifetime?.packets ?? -1n)) return 'key lifetime changed';
  }
  const p = a.sessionParams;
  const q = b.sessionParams;
  if (p.unencryptedSrtp !== q.unencryptedSrtp || p.unencryptedSrtcp !== q.unencryptedSrtcp || p.unauthenticatedSrtp !== q.unauthenticatedSrtp) {
    return 'UNENCRYPTED/UNAUTHENTICATED session parameters changed';
  }
  if (p.kdr !== q.kdr) return 'KDR changed';
  return undefined;
}
