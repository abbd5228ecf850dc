import { createPublicKey, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { SipsecError } from '../core/errors.js';
import { bitString, bool, directoryString, explicit, implicit, integer, namedBits, nullValue, octets, oid, readTlv, seq, set, time, type Tlv } from './der.js';
import { keyIdentifier, type Profile, type SubjectAltNames } from './profiles.js';
import type { HashName } from './keys.js';

/**
 * X.509 v3 certificates (RFC 5280 §4.1) encoded directly in DER and signed
 * with node:crypto on the thread pool.
 *
 * Why not @peculiar/x509's generator: its pure-JS ASN.1 layer (asn1js)
 * costs about 5 ms of main-thread time per certificate on this machine,
 * which caps a 500-phone import at ~150 certificates/s whatever the key
 * type. The profiles here are fixed, so a template encoder is small,
 * exact, and ~10x faster. @peculiar/x509 still writes CRLs and parses
 * certificates in tests, which cross-checks this encoder.
 */

export interface Signer {
  /** DER of the issuer's Name, copied byte for byte into each certificate. */
  subjectDer: Buffer;
  /** The issuer's subject key identifier (hex). */
  keyId: string;
  key: KeyObject;
  hash: HashName;
  /** The issuer's certificate (DER). */
  certDer: Buffer;
}

/** A subject's public key as the certificate carries it, without a KeyObject (see generateLeafKey). */
export interface SubjectPublicKey {
  spki: Buffer;
  kind: 'rsa' | 'ec';
}

export function publicPart(key: KeyObject): SubjectPublicKey {
  return { spki: createPublicKey(key).export({ type: 'spki', format: 'der' }), kind: key.asymmetricKeyType === 'rsa' ? 'rsa' : 'ec' };
}

export interface IssueRequest {
  profile: Profile;
  cn: string;
  org: string;
  sans: SubjectAltNames;
  /** The subject's key: a KeyObject (the CA signing itself needs its private one) or its public part. */
  subjectKey: KeyObject | SubjectPublicKey;
  notBefore: Date;
  notAfter: Date;
  /** Hex serial; random when absent. */
  serial?: string;
}

export interface IssuedCert {
  der: Buffer;
  serial: string;
  subject: string;
  notBefore: Date;
  notAfter: Date;
}

/**
 * A positive serial of 127 random bits (RFC 5280 §4.1.2.2 allows up to 20
 * octets; CA/B Forum asks for ≥ 64 bits of entropy). ast_tls_cert gave
 * every leaf serial 01, which NSS rejects as a reused issuer+serial.
 */
export function randomSerial(rand: (n: number) => Buffer = randomBytes): string {
  const b = rand(16);
  b[0] = (b[0]! & 0x7f) | 0x01;
  return b.toString('hex');
}

const OID = {
  cn: '2.5.4.3',
  o: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  ski: '2.5.29.14',
  aki: '2.5.29.35',
  san: '2.5.29.17',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
};

const SIG_OID: Record<'rsa' | 'ec', Record<HashName, string>> = {
  rsa: { sha1: '1.2.840.113549.1.1.5', sha256: '1.2.840.113549.1.1.11', sha384: '1.2.840.113549.1.1.12', sha512: '1.2.840.113549.1.1.13' },
  ec: { sha1: '1.2.840.10045.4.1', sha256: '1.2.840.10045.4.3.2', sha384: '1.2.840.10045.4.3.3', sha512: '1.2.840.10045.4.3.4' },
};

function keyKind(key: KeyObject): 'rsa' | 'ec' {
  if (key.asymmetricKeyType === 'rsa') return 'rsa';
  if (key.asymmetricKeyType === 'ec') return 'ec';
  throw new SipsecError('UNSUPPORTED', `cannot sign with a ${key.asymmetricKeyType ?? 'unknown'} key`, 'use an RSA or ECDSA CA');
}

/** AlgorithmIdentifier: RSA carries an explicit NULL parameter, ECDSA none (RFC 5754 §3). */
export function signatureAlgorithm(key: KeyObject, hash: HashName): Buffer {
  const kind = keyKind(key);
  return kind === 'rsa' ? seq(oid(SIG_OID.rsa[hash]), nullValue()) : seq(oid(SIG_OID.ec[hash]));
}

export function encodeName(cn: string, org: string): Buffer {
  return seq(set(seq(oid(OID.o), directoryString(org))), set(seq(oid(OID.cn), directoryString(cn))));
}

/** RFC 4514 string form for listings: `O=..., CN=...`. */
export function nameString(cn: string, org: string): string {
  const esc = (s: string) => s.replace(/([,+"\\<>;=])/g, '\\$1').replace(/^([ #])/, '\\$1').replace(/ $/, '\\ ');
  return `O=${esc(org)}, CN=${esc(cn)}`;
}

function v4Groups(g: string): number[] {
  const [a = 0, b = 0, c = 0, d = 0] = g.split('.').map(Number);
  return [(a << 8) | b, (c << 8) | d];
}

/** iPAddress SAN octets: 4 for IPv4, 16 for IPv6 (:: expanded, embedded IPv4 allowed). */
export function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split('.').map(Number));
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').flatMap((g) => (g.includes('.') ? v4Groups(g) : [parseInt(g, 16)])));
  const [head = '', tail] = ip.split('::');
  const h = groups(head);
  const t = tail === undefined ? [] : groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return critical ? seq(oid(id), bool(true), octets(value)) : seq(oid(id), octets(value));
}

function extensions(profile: Profile, kind: 'rsa' | 'ec', spki: Buffer, sans: SubjectAltNames, issuerKeyId: string | undefined): Buffer {
  const skid = keyIdentifier(spki);
  const exts: Buffer[] = [];
  // pathLen 0 on the CA: sipsec signs leaves directly and has no intermediates.
  exts.push(extension(OID.basicConstraints, true, profile === 'ca' ? seq(bool(true), integer(0)) : seq()));
  // keyUsage bits: digitalSignature(0), keyEncipherment(2), keyCertSign(5), cRLSign(6).
  // RSA key exchange (TLS 1.0-era firmware) needs keyEncipherment; ECDSA keys never encipher.
  const ku = profile === 'ca' ? [5, 6] : kind === 'rsa' ? [0, 2] : [0];
  exts.push(extension(OID.keyUsage, true, namedBits(ku)));
  if (profile !== 'ca') {
    // Phones are TLS clients to the registrar and servers for inbound
    // requests; with an EKU present OpenSSL enforces the purpose, so both.
    exts.push(extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth), oid(OID.clientAuth))));
  }
  exts.push(extension(OID.ski, false, octets(Buffer.from(skid, 'hex'))));
  exts.push(extension(OID.aki, false, seq(implicit(0, Buffer.from(issuerKeyId ?? skid, 'hex')))));
  const names = [
    ...sans.dns.map((d) => implicit(2, Buffer.from(d, 'ascii'))),
    ...sans.ip.map((ip) => implicit(7, ipBytes(ip))),
    ...sans.uri.map((u) => implicit(6, Buffer.from(u, 'ascii'))),
  ];
  if (profile !== 'ca' && names.length > 0) exts.push(extension(OID.san, false, seq(...names)));
  return explicit(3, seq(...exts));
}

export function signAsync(hash: HashName, data: Buffer, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => sign(hash, data, key, (err, sig) => (err ? reject(err) : resolve(sig))));
}

/** Issue a certificate; with no signer, self-sign (the CA: subjectKey is then its private key). */
export async function issueCertificate(req: IssueRequest, signer: Signer | undefined): Promise<IssuedCert> {
  const pub = 'spki' in req.subjectKey ? req.subjectKey : publicPart(req.subjectKey);
  const spki = pub.spki;
  const serial = req.serial ?? randomSerial();
  const subjectDer = encodeName(req.cn, req.org);
  if (!signer && 'spki' in req.subjectKey) throw new SipsecError('INTERNAL', 'a self-signed certificate needs the private key', 'pass the KeyObject');
  const signingKey = signer?.key ?? (req.subjectKey as KeyObject);
  const hash = signer?.hash ?? 'sha256';
  const algId = signatureAlgorithm(signingKey, hash);
  const tbs = seq(
    explicit(0, integer(2)),
    integer(Buffer.from(serial, 'hex')),
    algId,
    signer?.subjectDer ?? subjectDer,
    seq(time(req.notBefore), time(req.notAfter)),
    subjectDer,
    spki,
    extensions(req.profile, pub.kind, spki, req.sans, signer?.keyId),
  );
  const signature = await signAsync(hash, tbs, signingKey);
  const der = seq(tbs, algId, bitString(signature));
  return { der, serial, subject: nameString(req.cn, req.org), notBefore: req.notBefore, notAfter: req.notAfter };
}

/** The TBSCertificate fields we need from an existing certificate. */
function tbsFields(der: Uint8Array): { subject: Buffer; spki: Buffer } {
  const cert = readTlv(der, 0);
  const tbs = readTlv(der, cert.start);
  let at = tbs.start;
  const next = (): Tlv => {
    const t = readTlv(der, at);
    at = t.end;
    return t;
  };
  let first = next();
  if (first.tag === 0xa0) first = next(); // version; then serial
  next(); // signature algorithm
  next(); // issuer
  next(); // validity
  const subjectStart = at;
  const subject = next();
  const spkiStart = at;
  const spki = next();
  return { subject: Buffer.from(der.subarray(subjectStart, subject.end)), spki: Buffer.from(der.subarray(spkiStart, spki.end)) };
}

/** A Signer from a CA certificate (ours, or an existing one as with ast-tls-cert -c). */
export function signerFromCert(certDer: Buffer, key: KeyObject, hash: HashName): Signer {
  const { subject, spki } = tbsFields(certDer);
  const keySpki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  if (!keySpki.equals(spki)) {
    throw new SipsecError('BAD_INPUT', 'the CA key does not belong to the CA certificate', 'give the key that matches the certificate (-k / private/ca.key)');
  }
  return { subjectDer: subject, keyId: keyIdentifier(spki), key, hash, certDer };
}

