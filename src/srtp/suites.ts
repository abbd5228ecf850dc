/**
 * The SDES crypto suites sipsec understands (RFC 4568 §6.2, RFC 6188,
 * RFC 7714 §12), with their key material sizes and tag lengths.
 * Lengths in octets. `srtcpTagLen` is the RFC value; for the `_32` suites
 * Asterisk and baresip send a 4-octet SRTCP tag instead (see the SRTP
 * engine, which accepts either and reports which).
 */
export interface SuiteInfo {
  readonly name: SuiteName;
  /** AES key length: 16, 24 or 32. */
  readonly keyLen: number;
  /** Master salt length: 14 for AES-CM, 12 for GCM. */
  readonly saltLen: number;
  /** SRTP authentication tag length (HMAC-SHA1 truncated, or the GCM tag). */
  readonly tagLen: number;
  /** SRTCP tag length per the RFCs. */
  readonly srtcpTagLen: number;
  readonly aead: boolean;
  /** node:crypto cipher names. */
  readonly ctrCipher: 'aes-128-ctr' | 'aes-192-ctr' | 'aes-256-ctr';
  readonly gcmCipher?: 'aes-128-gcm' | 'aes-256-gcm';
  /** Defined by; for messages and reports. */
  readonly rfc: string;
}

export const SUITE_NAMES = [
  'AES_CM_128_HMAC_SHA1_80',
  'AES_CM_128_HMAC_SHA1_32',
  'AES_192_CM_HMAC_SHA1_80',
  'AES_192_CM_HMAC_SHA1_32',
  'AES_256_CM_HMAC_SHA1_80',
  'AES_256_CM_HMAC_SHA1_32',
  'AEAD_AES_128_GCM',
  'AEAD_AES_256_GCM',
] as const;

export type SuiteName = (typeof SUITE_NAMES)[number];

function cm(name: SuiteName, keyLen: 16 | 24 | 32, tagLen: 10 | 4, rfc: string): SuiteInfo {
  const ctrCipher = keyLen === 16 ? 'aes-128-ctr' : keyLen === 24 ? 'aes-192-ctr' : 'aes-256-ctr';
  return { name, keyLen, saltLen: 14, tagLen, srtcpTagLen: 10, aead: false, ctrCipher, rfc };
}

function gcm(name: SuiteName, keyLen: 16 | 32): SuiteInfo {
  return {
    name,
    keyLen,
    saltLen: 12,
    tagLen: 16,
    srtcpTagLen: 16,
    aead: true,
    // RFC 7714 §11: the KDF is still the AES-CM PRF of the same key size.
    ctrCipher: keyLen === 16 ? 'aes-128-ctr' : 'aes-256-ctr',
    gcmCipher: keyLen === 16 ? 'aes-128-gcm' : 'aes-256-gcm',
    rfc: 'RFC 7714',
  };
}

export const SUITES: Readonly<Record<SuiteName, SuiteInfo>> = {
  AES_CM_128_HMAC_SHA1_80: cm('AES_CM_128_HMAC_SHA1_80', 16, 10, 'RFC 4568'),
  AES_CM_128_HMAC_SHA1_32: cm('AES_CM_128_HMAC_SHA1_32', 16, 4, 'RFC 4568'),
  AES_192_CM_HMAC_SHA1_80: cm('AES_192_CM_HMAC_SHA1_80', 24, 10, 'RFC 6188'),
  AES_192_CM_HMAC_SHA1_32: cm('AES_192_CM_HMAC_SHA1_32', 24, 4, 'RFC 6188'),
  AES_256_CM_HMAC_SHA1_80: cm('AES_256_CM_HMAC_SHA1_80', 32, 10, 'RFC 6188'),
  AES_256_CM_HMAC_SHA1_32: cm('AES_256_CM_HMAC_SHA1_32', 32, 4, 'RFC 6188'),
  AEAD_AES_128_GCM: gcm('AEAD_AES_128_GCM', 16),
  AEAD_AES_256_GCM: gcm('AEAD_AES_256_GCM', 32),
};

/**
 * Draft-era spellings still seen in the wild (Asterisk accepts and echoes
 * them: "RFC used a different name while in draft, some still use that").
 */
export const SUITE_ALIASES: Readonly<Record<string, SuiteName>> = {
  AES_CM_192_HMAC_SHA1_80: 'AES_192_CM_HMAC_SHA1_80',
  AES_CM_192_HMAC_SHA1_32: 'AES_192_CM_HMAC_SHA1_32',
  AES_CM_256_HMAC_SHA1_80: 'AES_256_CM_HMAC_SHA1_80',
  AES_CM_256_HMAC_SHA1_32: 'AES_256_CM_HMAC_SHA1_32',
};

export function isSuiteName(s: string): s is SuiteName {
  return (SUITE_NAMES as readonly string[]).includes(s);
}

/** Master key + salt length for a suite: what `inline:` must decode to. */
export function masterLength(suite: SuiteName): number {
  const s = SUITES[suite];
  return s.keyLen + s.saltLen;
}
