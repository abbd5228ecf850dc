import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  generatePrime,
  randomBytes,
  sign as nodeSign,
  verify as nodeVerify,
  webcrypto,
  type KeyObject,
} from 'node:crypto';
import { promisify } from 'node:util';
import { SipsecError, messageOf } from '../core/errors.js';

export const KEY_SPECS = ['rsa2048', 'rsa3072', 'rsa4096', 'p256', 'p384'] as const;
export type KeySpec = (typeof KEY_SPECS)[number];

export const HASHES = ['sha256', 'sha384', 'sha512', 'sha1'] as const;
export type HashName = (typeof HASHES)[number];

const WEB_HASH: Record<HashName, string> = { sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512', sha1: 'SHA-1' };

const generateKeyPairAsync = promisify(generateKeyPair);
function generatePrimeAsync(bits: number): Promise<bigint> {
  return new Promise((resolve, reject) => {
    generatePrime(bits, { bigint: true }, (err, prime) => (err ? reject(err) : resolve(prime)));
  });
}

export function isRsa(spec: KeySpec): boolean {
  return spec.startsWith('rsa');
}

export function rsaBits(spec: KeySpec): number {
  return Number(spec.slice(3));
}

/** The KeySpec that describes an existing key (for `cert renew` and reports). */
export function specOf(key: KeyObject): KeySpec {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa') {
    const spec = `rsa${d?.modulusLength ?? 0}`;
    if ((KEY_SPECS as readonly string[]).includes(spec)) return spec as KeySpec;
  }
  if (key.asymmetricKeyType === 'ec') {
    if (d?.namedCurve === 'prime256v1' || d?.namedCurve === 'P-256') return 'p256';
    if (d?.namedCurve === 'secp384r1' || d?.namedCurve === 'P-384') return 'p384';
  }
  throw new SipsecError('UNSUPPORTED', `unsupported key type ${key.asymmetricKeyType ?? '?'} ${d?.modulusLength ?? d?.namedCurve ?? ''}`, `sipsec handles ${KEY_SPECS.join(', ')}`);
}

// --- RSA -------------------------------------------------------------------

function modPow(base: bigint, exp: bigint, mod: bigint): bigint {
  let result = 1n;
  let b = base % mod;
  let e = exp;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % mod;
    b = (b * b) % mod;
    e >>= 1n;
  }
  return result;
}

function modInverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [a % m, m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  if (oldR !== 1n) throw new Error('not invertible');
  return ((oldS % m) + m) % m;
}

function gcd(a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b];
  return a;
}

function bitLength(n: bigint): number {
  return n.toString(2).length;
}

function b64url(n: bigint): string {
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  return Buffer.from(hex, 'hex').toString('base64url');
}

const E = 65537n;

/**
 * RSA key generation from two native primes.
 *
 * Why not `generateKeyPair('rsa')`: OpenSSL 3's RSA key generation takes
 * ~190 ms per 2048-bit key on this class of machine, while its prime
 * generator (`crypto.generatePrime`, BN_generate_prime_ex2 with OpenSSL's
 * own Miller-Rabin round count, on the libuv thread pool) yields the two
 * 1024-bit primes in about half that. The rest is a few BigInt operations.
 * The FIPS 186-5 §A.1.3 conditions that matter are checked: exact modulus
 * size, gcd(e, p-1) = gcd(e, q-1) = 1, |p - q| > 2^(nlen/2 - 100) and
 * d > 2^(nlen/2); and a pairwise sign/verify test runs on every key before
 * it is used, as FIPS 140 requires of a key generator.
 */
async function generateRsa(bits: number): Promise<KeyObject> {
  const half = bits / 2;
  const minDiff = 1n << BigInt(half - 100);
  const minD = 1n << BigInt(half);
  for (let attempt = 0; attempt < 64; attempt++) {
    const [p0, q0] = await Promise.all([generatePrimeAsync(half), generatePrimeAsync(half)]);
    const [p, q] = p0 > q0 ? [p0, q0] : [q0, p0];
    const n = p * q;
    if (bitLength(n) !== bits) continue;
    if (p - q <= minDiff) continue;
    if (gcd(E, p - 1n) !== 1n || gcd(E, q - 1n) !== 1n) continue;
    const lambda = ((p - 1n) * (q - 1n)) / gcd(p - 1n, q - 1n);
    const d = modInverse(E, lambda);
    if (d <= minD) continue;
    const jwk = {
      kty: 'RSA',
      n: b64url(n),
      e: b64url(E),
      d: b64url(d),
      p: b64url(p),
      q: b64url(q),
      dp: b64url(d % (p - 1n)),
      dq: b64url(d % (q - 1n)),
      qi: b64url(modInverse(q, p)),
    };
    // Cheap arithmetic self-check before handing the key to OpenSSL.
    if (modPow(modPow(2n, E, n), d, n) !== 2n) continue;
    const key = createPrivateKey({ key: jwk, format: 'jwk' });
    pairwiseTest(key);
    return key;
  }
  throw new SipsecError('INTERNAL', 'RSA key generation did not converge', 'retry; this should not happen');
}

function pairwiseTest(key: KeyObject): void {
  const msg = randomBytes(32);
  const sig = nodeSign('sha256', msg, key);
  if (!nodeVerify('sha256', msg, createPublicKey(key), sig)) {
    throw new SipsecError('INTERNAL', 'generated key failed its pairwise consistency test', 'retry');
  }
}

export async function generateKey(spec: KeySpec): Promise<KeyObject> {
  switch (spec) {
    case 'rsa2048':
    case 'rsa3072':
    case 'rsa4096':
      return generateRsa(rsaBits(spec));
    case 'p256':
    case 'p384': {
      const { privateKey } = await generateKeyPairAsync('ec', { namedCurve: spec === 'p256' ? 'P-256' : 'P-384' });
      return privateKey;
    }
  }
}

/**
 * A leaf key as the store needs it: the public part for the certificate
 * and the private key as PKCS#8 PEM for the file. ECDSA keys are generated
 * *and encoded* on the thread pool, so a batch of P-256 phones costs the
 * main thread almost nothing per key.
 */
export async function generateLeafKey(spec: KeySpec): Promise<{ spki: Buffer; kind: 'rsa' | 'ec'; pem: string }> {
  if (spec === 'p256' || spec === 'p384') {
    const { publicKey, privateKey } = await generateKeyPairAsync('ec', {
      namedCurve: spec === 'p256' ? 'P-256' : 'P-384',
      publicKeyEncoding: { type: 'spki', format: 'der' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    return { spki: publicKey, kind: 'ec', pem: privateKey };
  }
  const key = await generateKey(spec);
  return { spki: createPublicKey(key).export({ type: 'spki', format: 'der' }), kind: 'rsa', pem: privateKeyPem(key) };
}

// --- encodings -------------------------------------------------------------

/** PKCS#8 PEM; with a passphrase, `ENCRYPTED PRIVATE KEY` (PBES2, PBKDF2-HMAC-SHA256, AES-256-CBC). */
export function privateKeyPem(key: KeyObject, passphrase?: string): string {
  if (passphrase !== undefined) {
    return key.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }) as string;
  }
  return key.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** Traditional `RSA PRIVATE KEY` / `EC PRIVATE KEY` PEM, for firmware that predates PKCS#8. */
export function legacyPrivateKeyPem(key: KeyObject): string {
  const type = key.asymmetricKeyType === 'ec' ? 'sec1' : 'pkcs1';
  return key.export({ type, format: 'pem' }) as string;
}


export function isEncryptedPem(pem: string): boolean {
  return pem.includes('ENCRYPTED PRIVATE KEY') || /Proc-Type:\s*4,ENCRYPTED/.test(pem);
}

/** Load a PEM private key; a wrong or missing passphrase is a clear error, not an OpenSSL stack. */
export function loadPrivateKey(pem: string, passphrase: string | undefined, what = 'key'): KeyObject {
  const encrypted = isEncryptedPem(pem);
  if (encrypted && passphrase === undefined) {
    throw new SipsecError('PASSPHRASE_REQUIRED', `the ${what} is encrypted`, 'give the passphrase with --passphrase-file F or SIPSEC_CA_PASSPHRASE');
  }
  try {
    return createPrivateKey(encrypted ? { key: pem, format: 'pem', passphrase: passphrase ?? '' } : { key: pem, format: 'pem' });
  } catch (e) {
    if (encrypted) {
      throw new SipsecError('WRONG_PASSPHRASE', `cannot decrypt the ${what}: wrong passphrase`, 'check --passphrase-file or SIPSEC_CA_PASSPHRASE');
    }
    throw new SipsecError('UNREADABLE', `cannot read the ${what}: ${messageOf(e)}`, 'is it a PEM private key?');
  }
}

/** A WebCrypto signing key for @peculiar/x509, with the hash chosen independently of the key size. */
export async function signingKey(key: KeyObject, hash: HashName): Promise<webcrypto.CryptoKey> {
  const der = key.export({ type: 'pkcs8', format: 'der' });
  if (key.asymmetricKeyType === 'rsa') {
    return webcrypto.subtle.importKey('pkcs8', der, { name: 'RSASSA-PKCS1-v1_5', hash: WEB_HASH[hash] }, false, ['sign']);
  }
  const spec = specOf(key);
  return webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: spec === 'p256' ? 'P-256' : 'P-384' }, false, ['sign']);
}

/** The algorithm parameters @peculiar/x509 wants for signing with this key. */
export function signingAlgorithm(key: KeyObject, hash: HashName): { name: string; hash: string } {
  return key.asymmetricKeyType === 'rsa' ? { name: 'RSASSA-PKCS1-v1_5', hash: WEB_HASH[hash] } : { name: 'ECDSA', hash: WEB_HASH[hash] };
}
