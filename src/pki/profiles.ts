import * as x509 from '@peculiar/x509';
import { createHash, type KeyObject } from 'node:crypto';
import { spkiPublicKeyBits } from './der.js';

/**
 * The three certificate profiles sipsec issues (sip-srtp.md §3.3, RFC 5280,
 * RFC 5922). One place decides every extension, so a profile can be read at
 * a glance and tested on its own.
 */
export type Profile = 'ca' | 'server' | 'phone';

export interface SubjectAltNames {
  dns: string[];
  ip: string[];
  uri: string[];
}

const EKU_SERVER = '1.3.6.1.5.5.7.3.1';
const EKU_CLIENT = '1.3.6.1.5.5.7.3.2';

export function keyUsageFor(profile: Profile, key: KeyObject): x509.KeyUsageFlags {
  if (profile === 'ca') return x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;
  // RSA key exchange (TLS 1.0-era firmware) needs keyEncipherment; ECDSA keys never encipher.
  return key.asymmetricKeyType === 'rsa'
    ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
    : x509.KeyUsageFlags.digitalSignature;
}

function sanExtension(sans: SubjectAltNames): x509.SubjectAlternativeNameExtension {
  const names: x509.JsonGeneralName[] = [
    ...sans.dns.map((value) => ({ type: 'dns' as const, value })),
    ...sans.ip.map((value) => ({ type: 'ip' as const, value })),
    ...sans.uri.map((value) => ({ type: 'url' as const, value })),
  ];
  return new x509.SubjectAlternativeNameExtension(names, false);
}

/** RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits. */
export function keyIdentifier(spki: Uint8Array): string {
  return createHash('sha1').update(spkiPublicKeyBits(spki)).digest('hex');
}

export function extensionsFor(
  profile: Profile,
  subjectKey: KeyObject,
  subjectSpki: Uint8Array,
  sans: SubjectAltNames,
  issuerKeyId: string | undefined,
): x509.Extension[] {
  const skid = keyIdentifier(subjectSpki);
  const exts: x509.Extension[] = [];
  if (profile === 'ca') {
    // pathLen 0: sipsec signs leaves directly and has no intermediates.
    exts.push(new x509.BasicConstraintsExtension(true, 0, true));
  } else {
    exts.push(new x509.BasicConstraintsExtension(false, undefined, true));
  }
  exts.push(new x509.KeyUsagesExtension(keyUsageFor(profile, subjectKey), true));
  if (profile !== 'ca') {
    // Phones are TLS clients to the registrar and servers for inbound
    // requests; with an EKU present OpenSSL enforces the purpose, so both.
    exts.push(new x509.ExtendedKeyUsageExtension([EKU_SERVER, EKU_CLIENT], false));
  }
  exts.push(new x509.SubjectKeyIdentifierExtension(skid, false));
  exts.push(new x509.AuthorityKeyIdentifierExtension(issuerKeyId ?? skid, false));
  if (profile !== 'ca' && sans.dns.length + sans.ip.length + sans.uri.length > 0) {
    exts.push(sanExtension(sans));
  }
  return exts;
}
