import { integer } from './der.js';
import { signingAlgorithm, signingKey } from './keys.js';
import type { Signer } from './certificate.js';

export const REVOCATION_REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'privilegeWithdrawn',
  'aACompromise',
] as const;
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/** RFC 5280 §5.3.1 CRLReason codes (7 is unused). */
const REASON_CODE: Record<RevocationReason, number> = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  privilegeWithdrawn: 9,
  aACompromise: 10,
};

export interface RevokedEntry {
  serial: string;
  revokedAt: Date;
  reason: RevocationReason;
}

/**
 * A CRL v2 (RFC 5280 §5) with the two extensions conforming issuers must
 * include: authorityKeyIdentifier and cRLNumber.
 */
export async function buildCrl(signer: Signer, revoked: RevokedEntry[], crlNumber: bigint, thisUpdate: Date, nextUpdate: Date): Promise<Buffer> {
  // Loaded on first use: @peculiar/x509 and its ASN.1 stack cost every CLI start ~50 ms otherwise.
  const { x509 } = await import('./x509.js');
  const crl = await x509.X509CrlGenerator.create({
    issuer: new x509.Name(signer.subjectDer),
    thisUpdate,
    nextUpdate,
    signingKey: await signingKey(signer.key, signer.hash),
    signingAlgorithm: signingAlgorithm(signer.key, signer.hash),
    extensions: [new x509.AuthorityKeyIdentifierExtension(signer.keyId, false), new x509.Extension('2.5.29.20', false, integer(crlNumber))],
    entries: revoked.map((r) => ({
      serialNumber: r.serial,
      revocationDate: r.revokedAt,
      // RFC 5280 §5.3.1: omit the reason rather than say "unspecified".
      ...(r.reason === 'unspecified' ? {} : { reason: REASON_CODE[r.reason] as import('@peculiar/x509').X509CrlReason }),
    })),
  });
  return Buffer.from(crl.rawData);
}
