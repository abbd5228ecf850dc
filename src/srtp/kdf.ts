/**
 * SRTP key derivation, RFC 3711 §4.3 (AES-CM PRF, §4.3.3), as used by all
 * suites: RFC 6188 keeps it with AES-192/256 keyed PRFs, RFC 7714 §11 keeps
 * it for AES-GCM.
 *
 *   r      = index DIV kdr               (r = 0 when kdr = 0)
 *   key_id = label || r                  (8 + 48 bits)
 *   x      = key_id XOR master_salt      (right-aligned, 112 bits)
 *   out    = AES-CM(master_key, IV = x·2^16) truncated to n octets
 *
 * As octets: block = master_salt(14) || 00 00, block[7] ^= label,
 * block[8..13] ^= r (48-bit big-endian); the last two octets count blocks.
 *
 * SRTCP and kdr != 0: §4.3.2 says to use "0 || SRTCP index" (32 bits) for
 * the index. We read that as: r = SRTCP index DIV kdr, placed in the same
 * 48-bit field as for SRTP (zero-extended), label still at octet 7. The
 * other reading (label moving next to a 32-bit r) is not what libsrtp's
 * layout suggests and nobody interoperates with kdr != 0 anyway (Asterisk
 * rejects `KDR=`, libsrtp 2 has no kdr).
 *
 * GCM: the master salt is 12 octets; libsrtp pads it with two zero octets
 * on the right to feed the 14-octet PRF and keeps the first 12 octets of
 * the derived salt ("GCM mode uses a shorter master SALT (96 bits), but
 * still relies on the legacy CTR mode KDF", libsrtp srtp.c).
 *
 * AES-192 and libsrtp: every libsrtp release up to 2.7 (so Asterisk and
 * pjsip builds linking it) runs the AES-192 KDF as AES-256 keyed with
 * key(24) || salt[0..8], with salt[8..14] || 00×8 as the PRF salt: its
 * kdf_keylen jumps from 30 to 46 for any longer key (srtp.c
 * srtp_stream_init_keys; fixed on libsrtp main in 2025, commit 6ad7749
 * "set kdf_key_len to correct value", after 9035389 "add failing AES 192
 * validation test"). Verified against Debian's libsrtp 2.5.0 by the
 * interop test. RFC 6188 is the default; `libsrtpAes192Kdf` opts in.
 *
 * Exports: LABEL, prfInput(masterSalt, label, r), prf(masterKey, x, n),
 * deriveSessionKeys(suite, masterKey, masterSalt, kind, r, libsrtpAes192),
 * SessionKeys, validateKdr(kdr), kdrIndex(index, kdr).
 */
import { createCipheriv } from 'node:crypto';
import { SipsecError } from '../core/errors.js';
import type { SuiteInfo } from './suites.js';

/** §4.3.1 (SRTP) and §4.3.2 (SRTCP) labels. */
export const LABEL = {
  SRTP_ENCRYPTION: 0x00,
  SRTP_AUTH: 0x01,
  SRTP_SALT: 0x02,
  SRTCP_ENCRYPTION: 0x03,
  SRTCP_AUTH: 0x04,
  SRTCP_SALT: 0x05,
} as const;

/** HMAC-SHA1 session authentication key length (§4.2.1: n_a = 160 bits). */
export const AUTH_KEY_LEN = 20;

const ECB = { 16: 'aes-128-ecb', 24: 'aes-192-ecb', 32: 'aes-256-ecb' } as const;

export function ecbName(keyLen: number): string {
  const name = (ECB as Record<number, string | undefined>)[keyLen];
  if (!name) throw new SipsecError('BAD_INPUT', `AES key is ${keyLen} octets`, 'use 16, 24 or 32');
  return name;
}

/**
 * The 14-octet PRF input x for `label` and `r` (§4.3.1). `masterSalt` may
 * be 12 octets (GCM): it is zero-padded on the right first.
 */
export function prfInput(masterSalt: Uint8Array, label: number, r: number): Buffer {
  const x = Buffer.alloc(14);
  x.set(masterSalt.subarray(0, 14), 0);
  x[7] ^= label;
  // r is up to 48 bits: split so the XOR stays in 32-bit integer range.
  const hi = Math.floor(r / 0x100000000);
  const lo = r >>> 0;
  x[8] ^= (hi >>> 8) & 0xff;
  x[9] ^= hi & 0xff;
  x.writeUInt32BE((x.readUInt32BE(10) ^ lo) >>> 0, 10);
  return x;
}

/** §4.3.3: PRF_n(k_master, x) = first n octets of AES-CM keystream with IV = x·2^16. */
export function prf(masterKey: Uint8Array, x: Uint8Array, n: number): Buffer {
  const blocks = Math.ceil(n / 16);
  const counters = Buffer.alloc(blocks * 16);
  for (let b = 0; b < blocks; b++) {
    counters.set(x.subarray(0, 14), b * 16);
    counters.writeUInt16BE(b, b * 16 + 14);
  }
  const ecb = createCipheriv(ecbName(masterKey.length), masterKey, null);
  ecb.setAutoPadding(false);
  const ks = ecb.update(counters);
  return ks.subarray(0, n);
}

/** The session keys for one direction kind (SRTP or SRTCP) and one r. */
export interface SessionKeys {
  /** Cipher key, as long as the master key. */
  readonly encKey: Buffer;
  /** HMAC-SHA1 key (20 octets); null for AEAD suites, which need none. */
  readonly authKey: Buffer | null;
  /** Session salt: 14 octets for AES-CM, 12 for GCM. */
  readonly salt: Buffer;
}

export function deriveSessionKeys(
  suite: SuiteInfo,
  masterKey: Uint8Array,
  masterSalt: Uint8Array,
  kind: 'srtp' | 'srtcp',
  r: number,
  libsrtpAes192 = false,
): SessionKeys {
  if (libsrtpAes192 && suite.keyLen === 24) {
    // The libsrtp <= 2.7 quirk described above.
    const salt = Buffer.from(masterSalt);
    masterKey = Buffer.concat([masterKey, salt.subarray(0, 8)]);
    masterSalt = Buffer.concat([salt.subarray(8, 14), Buffer.alloc(8)]);
  }
  const base = kind === 'srtp' ? LABEL.SRTP_ENCRYPTION : LABEL.SRTCP_ENCRYPTION;
  const encKey = prf(masterKey, prfInput(masterSalt, base, r), suite.keyLen);
  const authKey = suite.aead ? null : prf(masterKey, prfInput(masterSalt, base + 1, r), AUTH_KEY_LEN);
  const salt = prf(masterKey, prfInput(masterSalt, base + 2, r), suite.saltLen);
  return { encKey, authKey, salt };
}

/**
 * kdr is 0 (derive once) or a power of two up to 2^24 (RFC 3711 §4.3.1;
 * RFC 4568 §6.3.1 signals it as `KDR=n` meaning 2^n). We take the rate
 * itself, not the exponent.
 */
export function validateKdr(kdr: number): number {
  if (kdr === 0) return 0;
  if (Number.isInteger(kdr) && kdr >= 1 && kdr <= 2 ** 24 && (kdr & (kdr - 1)) === 0) return kdr;
  throw new SipsecError('BAD_INPUT', `key derivation rate is ${kdr}`, 'use 0 or a power of two up to 2^24 (RFC 3711 §4.3.1)');
}

/** r = index DIV kdr (0 when kdr is 0). */
export function kdrIndex(index: number, kdr: number): number {
  return kdr === 0 ? 0 : Math.floor(index / kdr);
}
