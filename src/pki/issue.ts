import { randomBytes, type KeyObject } from 'node:crypto';
import type { webcrypto } from 'node:crypto';
import { x509 } from './x509.js';
import { spkiDer, signingAlgorithm, type HashName } from './keys.js';
import { extensionsFor, keyIdentifier, type Profile, type SubjectAltNames } from './profiles.js';

export interface Signer {
  /** The issuer's certificate; undefined when self-signing the CA. */
  cert: x509.X509Certificate | undefined;
  key: KeyObject;
  webKey: webcrypto.CryptoKey;
  hash: HashName;
}

export interface IssueRequest {
  profile: Profile;
  cn: string;
  org: string;
  sans: SubjectAltNames;
  /** The subject's key (private or public KeyObject). */
  subjectKey: KeyObject;
  notBefore: Date;
  notAfter: Date;
  /** Hex serial; random when absent. */
  serial?: string;
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

/** Subject/issuer in the conventional O, CN order. */
export function subjectName(cn: string, org: string): x509.Name {
  return new x509.Name([{ O: [org] }, { CN: [cn] }]);
}

export async function issueCertificate(req: IssueRequest, signer: Signer): Promise<x509.X509Certificate> {
  const spki = spkiDer(req.subjectKey);
  const subject = subjectName(req.cn, req.org);
  const issuerKeyId = signer.cert ? keyIdentifier(new Uint8Array(signer.cert.publicKey.rawData)) : undefined;
  return x509.X509CertificateGenerator.create({
    serialNumber: req.serial ?? randomSerial(),
    subject,
    // The issuer DN is copied from the CA certificate byte for byte, so
    // chain building never depends on string encodings matching.
    issuer: signer.cert ? signer.cert.subjectName : subject,
    notBefore: req.notBefore,
    notAfter: req.notAfter,
    publicKey: spki,
    signingKey: signer.webKey,
    signingAlgorithm: signingAlgorithm(signer.key, signer.hash),
    extensions: extensionsFor(req.profile, req.subjectKey, spki, req.sans, issuerKeyId),
  });
}
