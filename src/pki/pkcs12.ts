import * as crypto from 'node:crypto';
import { createCipheriv, createHash, createHmac, randomBytes, type KeyObject } from 'node:crypto';
import { SipsecError } from '../core/errors.js';
import { bmpString, explicit, integer, nullValue, octets, oid, seq, set } from './der.js';

/**
 * PKCS#12 (RFC 7292) in two named profiles, because devices disagree:
 * - modern: the key bag is PBES2 / PBKDF2-HMAC-SHA256 / AES-256-CBC, the
 *   MAC HMAC-SHA256, as OpenSSL 3 writes by default. Any key type.
 * - legacy: pbeWithSHAAnd3-KeyTripleDES-CBC key bag and a SHA-1 MAC, the
 *   newest thing old phones and OSes read, and still readable by OpenSSL 3
 *   without `-legacy` (no RC2 anywhere). RSA keys only: that is what such
 *   devices read. (node-forge was the first choice for this profile, but it
 *   cannot parse a chain whose CA is ECDSA; test/pki/pkcs12.test.ts shows
 *   it. Both profiles are now built here from node:crypto primitives.)
 * Certificates travel unencrypted in both: they are public, and encrypting
 * them is what forces RC2/`-legacy` in other tools.
 */
export type P12Profile = 'modern' | 'legacy';

export interface P12Input {
  key: KeyObject;
  /** DER certificates: the leaf first, then its chain. */
  certs: Buffer[];
  password: string;
  friendlyName: string;
  profile: P12Profile;
}

const OID = {
  data: '1.2.840.113549.1.7.1',
  certBag: '1.2.840.113549.1.12.10.1.3',
  keyBag: '1.2.840.113549.1.12.10.1.2',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  localKeyId: '1.2.840.113549.1.9.21',
  friendlyName: '1.2.840.113549.1.9.20',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha1: '1.3.14.3.2.26',
  pbeSha1TripleDes: '1.2.840.113549.1.12.1.3',
};

const ITERATIONS = 2048;

/**
 * node:crypto's one-shot `hash` (node 20.12+; package.json asks for 20.17),
 * which the @types/node here predates. The KDF below hashes 2048 times per
 * derivation: a Hash object each time was most of a PKCS#12's cost (and its
 * garbage) when a full render makes hundreds of them (issue 14).
 */
const hashOnce = (crypto as unknown as { hash: (algorithm: string, data: Buffer, encoding: 'buffer') => Buffer }).hash;

/** RFC 7292 Appendix B.2: the PKCS#12 key derivation, used for the MAC key (ID 3). */
export function pkcs12Kdf(hash: 'sha256' | 'sha1', password: string, salt: Buffer, id: number, iterations: number, n: number): Buffer {
  const u = hash === 'sha256' ? 32 : 20;
  const v = 64;
  // Password as BMPString with a terminating NUL pair (B.1).
  const pw = Buffer.concat([bmpString(password).subarray(2), Buffer.alloc(2)]);
  const fill = (src: Buffer): Buffer => {
    if (src.length === 0) return Buffer.alloc(0);
    const out = Buffer.alloc(v * Math.ceil(src.length / v));
    for (let i = 0; i < out.length; i++) out[i] = src[i % src.length]!;
    return out;
  };
  const D = Buffer.alloc(v, id);
  const I = Buffer.concat([fill(salt), fill(pw)]);
  const out: Buffer[] = [];
  for (let produced = 0; produced < n; produced += u) {
    let A = createHash(hash).update(D).update(I).digest();
    for (let r = 1; r < iterations; r++) A = hashOnce(hash, A, 'buffer');
    out.push(A);
    const B = fill(A).subarray(0, v);
    for (let j = 0; j < I.length; j += v) {
      let carry = 1;
      for (let k = v - 1; k >= 0; k--) {
        const sum = I[j + k]! + B[k]! + carry;
        I[j + k] = sum & 0xff;
        carry = sum >> 8;
      }
    }
  }
  return Buffer.concat(out).subarray(0, n);
}

function bagAttributes(localKeyId: Buffer, friendlyName: string): Buffer {
  return set(seq(oid(OID.friendlyName), set(bmpString(friendlyName))), seq(oid(OID.localKeyId), set(octets(localKeyId))));
}

/** The PFX around a shrouded key bag: certificates in the clear, then the MAC over both. */
function assemble(input: P12Input, shroudedKey: Buffer, macHash: 'sha256' | 'sha1'): Buffer {
  const [leaf, ...chain] = input.certs;
  if (!leaf) throw new SipsecError('BAD_INPUT', 'PKCS#12 needs a certificate', 'internal');
  const localKeyId = createHash('sha1').update(leaf).digest();
  const certBag = (der: Buffer, attrs?: Buffer) =>
    seq(oid(OID.certBag), explicit(0, seq(oid(OID.x509Certificate), explicit(0, octets(der)))), ...(attrs ? [attrs] : []));
  const certs = seq(certBag(leaf, bagAttributes(localKeyId, input.friendlyName)), ...chain.map((c) => certBag(c)));
  const keys = seq(seq(oid(OID.keyBag), explicit(0, shroudedKey), bagAttributes(localKeyId, input.friendlyName)));
  const dataInfo = (content: Buffer) => seq(oid(OID.data), explicit(0, octets(content)));
  const authSafe = seq(dataInfo(certs), dataInfo(keys));
  const salt = randomBytes(macHash === 'sha256' ? 16 : 8);
  const macKey = pkcs12Kdf(macHash, input.password, salt, 3, ITERATIONS, macHash === 'sha256' ? 32 : 20);
  const mac = createHmac(macHash, macKey).update(authSafe).digest();
  const macData = seq(seq(seq(oid(macHash === 'sha256' ? OID.sha256 : OID.sha1), nullValue()), octets(mac)), octets(salt), integer(ITERATIONS));
  return seq(integer(3), dataInfo(authSafe), macData);
}

function modernPkcs12(input: P12Input): Buffer {
  // PBES2 / PBKDF2-HMAC-SHA256 / AES-256-CBC, as OpenSSL 3 writes by default.
  const shrouded = input.key.export({ type: 'pkcs8', format: 'der', cipher: 'aes-256-cbc', passphrase: input.password });
  return assemble(input, shrouded, 'sha256');
}

/**
 * RFC 7292 Appendix C: pbeWithSHAAnd3-KeyTripleDES-CBC. Key and IV come
 * from the PKCS#12 KDF (IDs 1 and 2, SHA-1); the cipher is OpenSSL's
 * 3DES through node:crypto.
 */
function shroudLegacy(key: KeyObject, password: string): Buffer {
  const salt = randomBytes(8);
  const k = pkcs12Kdf('sha1', password, salt, 1, ITERATIONS, 24);
  const iv = pkcs12Kdf('sha1', password, salt, 2, ITERATIONS, 8);
  const plain = key.export({ type: 'pkcs8', format: 'der' });
  const cipher = createCipheriv('des-ede3-cbc', k, iv);
  const enc = Buffer.concat([cipher.update(plain), cipher.final()]);
  return seq(seq(oid(OID.pbeSha1TripleDes), seq(octets(salt), integer(ITERATIONS))), octets(enc));
}

function legacyPkcs12(input: P12Input): Buffer {
  if (input.key.asymmetricKeyType !== 'rsa') {
    throw new SipsecError(
      'UNSUPPORTED',
      `the legacy PKCS#12 profile cannot carry a ${input.key.asymmetricKeyType?.toUpperCase() ?? ''} key`,
      'use --p12 modern, or issue the certificate with --key rsa2048 for devices that need legacy PKCS#12',
    );
  }
  return assemble(input, shroudLegacy(input.key, input.password), 'sha1');
}

export function buildPkcs12(input: P12Input): Buffer {
  if (input.password.length === 0) {
    throw new SipsecError('BAD_INPUT', 'a PKCS#12 file needs a password', 'give one with --password-file F; an empty password protects nothing');
  }
  return input.profile === 'modern' ? modernPkcs12(input) : legacyPkcs12(input);
}
