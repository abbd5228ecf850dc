import { readTlv, tlv } from './der.js';

/**
 * Reading sipsec's own unencrypted PKCS#8 keys (RFC 5208) without OpenSSL:
 * the key's type and its traditional form (PKCS#1 for RSA, SEC1 for EC) are
 * a re-wrapping of the DER. OpenSSL 3 spends ~0.5 ms decoding each PEM key
 * (its decoder lookup, not the key), which at 10,000 phones was seconds of
 * every full render for vendors that only want the key in another wrapper
 * (issue 14). Anything not laid out as expected returns undefined, and the
 * caller asks OpenSSL (src/pki/keys.ts legacyPrivateKeyPem).
 */

const RSA_OID = Buffer.from('06092a864886f70d010101', 'hex'); // rsaEncryption (RFC 8017 A.1)
const EC_OID = Buffer.from('06072a8648ce3d0201', 'hex'); // id-ecPublicKey (RFC 5480 §2.1.1)

interface Pkcs8 {
  type: 'rsa' | 'ec';
  /** The AlgorithmIdentifier's parameters TLV (the named curve for EC). */
  params: Buffer;
  /** The privateKey OCTET STRING's content: RSAPrivateKey or ECPrivateKey DER. */
  inner: Buffer;
}

function derOf(pem: string): Buffer | undefined {
  const m = /^-----BEGIN PRIVATE KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END PRIVATE KEY-----\r?\n?$/.exec(pem);
  return m ? Buffer.from(m[1]!, 'base64') : undefined;
}

function parse(pem: string): Pkcs8 | undefined {
  const der = derOf(pem);
  if (!der) return undefined;
  try {
    const info = readTlv(der, 0);
    if (info.tag !== 0x30 || info.end !== der.length) return undefined;
    const version = readTlv(der, info.start);
    if (version.tag !== 0x02 || version.end - version.start !== 1 || der[version.start] !== 0) return undefined;
    const alg = readTlv(der, version.end);
    if (alg.tag !== 0x30) return undefined;
    const algOid = readTlv(der, alg.start);
    const oid = der.subarray(alg.start, algOid.end);
    const params = der.subarray(algOid.end, alg.end);
    const key = readTlv(der, alg.end);
    // Attributes or a public key after the key (PKCS#8 v2): not what sipsec writes; OpenSSL decides.
    if (key.tag !== 0x04 || key.end !== info.end) return undefined;
    const inner = der.subarray(key.start, key.end);
    if (oid.equals(RSA_OID)) return { type: 'rsa', params, inner };
    if (oid.equals(EC_OID)) return { type: 'ec', params, inner };
    return undefined;
  } catch {
    return undefined;
  }
}

/** 'rsa' or 'ec' for an unencrypted PKCS#8 PEM of either; undefined for anything else. */
export function pkcs8KeyType(pem: string): 'rsa' | 'ec' | undefined {
  return parse(pem)?.type;
}

function toPem(label: string, der: Buffer): string {
  const b64 = der.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/**
 * The traditional form OpenSSL exports (`pkcs1` / `sec1` PEM): for RSA the
 * RSAPrivateKey inside the PKCS#8 as it is (RFC 8017 A.1.2); for EC the
 * ECPrivateKey (RFC 5915 §3) with the curve moved in from the
 * AlgorithmIdentifier as `[0] parameters`, before `[1] publicKey`, as
 * OpenSSL writes it. An EC key without its public key is left to OpenSSL
 * (it computes the point).
 */
export function legacyPemFromPkcs8(pem: string): string | undefined {
  const k = parse(pem);
  if (!k) return undefined;
  if (k.type === 'rsa') return toPem('RSA PRIVATE KEY', k.inner);
  try {
    const ecKey = readTlv(k.inner, 0);
    if (ecKey.tag !== 0x30 || ecKey.end !== k.inner.length) return undefined;
    const version = readTlv(k.inner, ecKey.start);
    const priv = readTlv(k.inner, version.end);
    if (version.tag !== 0x02 || priv.tag !== 0x04 || priv.end >= ecKey.end) return undefined;
    const pub = readTlv(k.inner, priv.end);
    if (pub.tag !== 0xa1 || pub.end !== ecKey.end || k.params[0] !== 0x06) return undefined;
    const head = k.inner.subarray(ecKey.start, priv.end);
    const tail = k.inner.subarray(priv.end, pub.end);
    return toPem('EC PRIVATE KEY', tlv(0x30, Buffer.concat([head, tlv(0xa0, k.params), tail])));
  } catch {
    return undefined;
  }
}
