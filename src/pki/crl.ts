import { bitString, explicit, implicit, integer, octets, oid, seq, time, tlv } from './der.js';
import { signAsync, signatureAlgorithm, type Signer } from './certificate.js';

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
 * include: authorityKeyIdentifier and cRLNumber. Encoded here with the same
 * DER writer as the certificates and signed with node:crypto: loading an
 * ASN.1 library for it cost every revocation, renewal and `phone remove`
 * ~140 ms of start-up (@peculiar/x509 stays as the tests' oracle).
 */
export async function buildCrl(signer: Signer, revoked: RevokedEntry[], crlNumber: bigint, thisUpdate: Date, nextUpdate: Date): Promise<Buffer> {
  const algId = signatureAlgorithm(signer.key, signer.hash);
  const entries = revoked.map((r) =>
    seq(
      integer(Buffer.from(r.serial.length % 2 ? `0${r.serial}` : r.serial, 'hex')),
      time(r.revokedAt),
      // RFC 5280 §5.3.1: omit the reason rather than say "unspecified".
      ...(r.reason === 'unspecified' ? [] : [seq(seq(oid(REASON_OID), octets(tlv(0x0a, Buffer.from([REASON_CODE[r.reason]])))))]),
    ),
  );
  const tbs = seq(
    integer(1),
    algId,
    Buffer.from(signer.subjectDer),
    time(thisUpdate),
    time(nextUpdate),
    // An empty list is left out, not written empty (§5.1.2.6).
    ...(entries.length > 0 ? [seq(...entries)] : []),
    explicit(0, seq(seq(oid(AKI_OID), octets(seq(implicit(0, Buffer.from(signer.keyId, 'hex'))))), seq(oid(CRL_NUMBER_OID), octets(integer(crlNumber))))),
  );
  const signature = await signAsync(signer.hash, tbs, signer.key);
  return seq(tbs, algId, bitString(signature));
}

const REASON_OID = '2.5.29.21';
const AKI_OID = '2.5.29.35';
const CRL_NUMBER_OID = '2.5.29.20';
