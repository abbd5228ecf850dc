import { createHash } from 'node:crypto';
import { spkiPublicKeyBits } from './der.js';

/**
 * The three certificate profiles sipsec issues (sip-srtp.md §3.3, RFC 5280,
 * RFC 5922); their extensions are written in certificate.ts.
 */
export type Profile = 'ca' | 'server' | 'phone';

export interface SubjectAltNames {
  dns: string[];
  ip: string[];
  uri: string[];
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spki: Uint8Array): string {
  return createHash('sha1').update(spkiPublicKeyBits(spki)).digest('hex');
}
