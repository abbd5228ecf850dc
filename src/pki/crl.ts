import { x509 } from './x509.js';
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

const REASON_CODE: Record<RevocationReason, x509.X509CrlReason> = {
  unspecified: x509.X509CrlReason.unspecified,
  keyCompromise: x509.X509CrlReason.keyCompromise,
  cACompromise: x509.X509CrlReason.cACompromise,
  affiliationChanged: x509.X509CrlReason.affiliationChanged,
  superseded: x509.X509CrlReason.superseded,
  cessationOfOperation: x509.X509CrlReason.cessationOfOperation,
  certificateHold: x509.X509CrlReason.certificateHold,
  privilegeWithdrawn: x509.X509CrlReason.privilegeWithdrawn,
  aACompromise: x509.X509CrlReason.aACompromise,
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
export async function buildCrl(signer: Signer, revoked: RevokedEntry[], crlNumber: bigint, thisUpdate: Date, nextUpdate: Date): Promise<x509.X509Crl> {
  return x509.X509CrlGenerator.create({
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
      ...(r.reason === 'unspecified' ? {} : { reason: REASON_CODE[r.reason] }),
    })),
  });
}
