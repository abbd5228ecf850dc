import type { CertFailureCode, TlsFailureCode } from '../events/codes.js';

/**
 * OpenSSL's failures as stable codes (src/events/codes.ts), for the SIP
 * TLS transport, HTTPS provisioning and the certificate judge alike. The
 * human text stays where it is; this is what programs key on.
 */

/** OpenSSL verify codes (node's authorizationError). */
const VERIFY_CODES: Readonly<Record<string, CertFailureCode>> = {
  CERT_REVOKED: 'tls.cert_revoked',
  CERT_HAS_EXPIRED: 'tls.cert_expired',
  CERT_NOT_YET_VALID: 'tls.cert_not_yet_valid',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'tls.cert_foreign',
  SELF_SIGNED_CERT_IN_CHAIN: 'tls.cert_foreign',
  UNABLE_TO_GET_ISSUER_CERT: 'tls.cert_foreign',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'tls.cert_foreign',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'tls.cert_foreign',
  CERT_SIGNATURE_FAILURE: 'tls.cert_foreign',
  INVALID_PURPOSE: 'tls.cert_wrong_purpose',
  UNABLE_TO_GET_CRL: 'tls.crl_unavailable',
  CRL_HAS_EXPIRED: 'tls.crl_unavailable',
};

export function certFailureCode(opensslCode: string): CertFailureCode {
  return VERIFY_CODES[opensslCode] ?? 'tls.cert_invalid';
}

/** TLS alert numbers (RFC 8446 §6, RFC 5246 §7.2) the peer sent. */
const ALERT_CODES: Readonly<Record<number, TlsFailureCode>> = {
  48: 'tls.unknown_ca',
  42: 'tls.bad_certificate',
  43: 'tls.bad_certificate',
  46: 'tls.bad_certificate',
  49: 'tls.bad_certificate',
  45: 'tls.certificate_expired',
  70: 'tls.protocol_version',
  40: 'tls.no_shared_cipher',
  71: 'tls.no_shared_cipher',
};

/** A failed handshake (tlsClientError): the alert the peer sent first, then what OpenSSL refused. */
export function handshakeFailureCode(err: Error & { code?: string }): TlsFailureCode {
  if (err.code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return 'tls.no_client_cert';
  if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'tls.handshake_timeout';
  if (err.code === 'ECONNRESET') return 'tls.peer_closed';
  const alert = /alert number (\d+)/.exec(err.message)?.[1];
  if (alert !== undefined) return ALERT_CODES[Number(alert)] ?? 'tls.peer_alert';
  if (/unsupported protocol|wrong version number|no protocols available|protocol version/i.test(err.message)) return 'tls.protocol_version';
  if (/no shared cipher|no suitable signature|insufficient security/i.test(err.message)) return 'tls.no_shared_cipher';
  return 'tls.handshake_failed';
}
