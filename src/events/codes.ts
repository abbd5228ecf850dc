/**
 * Stable, machine-readable failure codes. Every failure event carries one
 * in `code`, beside its human `reason` (or `error`, `why`, `warning`):
 * programs (verify's hints, `--json` consumers, fail2ban-style tooling)
 * key on the code, people read the text, and the text may be reworded
 * without breaking anything. A code never changes meaning; a new cause
 * gets a new code. `dotted.prefix` = where the failure is decided.
 */
export const FAILURE_CODES = {
  // TLS: what the phone said about sipsec's certificate (alerts it sent)
  'tls.unknown_ca': 'the phone sent unknown_ca (48): it does not trust sipsec\'s CA ("unable to get local issuer certificate")',
  'tls.bad_certificate': 'the phone refused sipsec\'s certificate (bad_certificate 42, unsupported_certificate 43, certificate_unknown 46 or access_denied 49): CA not trusted, or the name it dials is not in the certificate',
  'tls.certificate_expired': 'the phone sent certificate_expired (45) for sipsec\'s certificate: its clock is outside the certificate\'s validity',
  'tls.peer_alert': 'the phone ended the handshake with another TLS alert',
  // TLS: no common ground, or the connection broke
  'tls.protocol_version': 'no TLS version in common (protocol_version 70, unsupported protocol)',
  'tls.no_shared_cipher': 'no cipher or signature algorithm in common (handshake_failure 40, insufficient_security 71)',
  'tls.peer_closed': 'the phone closed the connection during the handshake without an alert',
  'tls.handshake_timeout': 'the TLS handshake did not finish in time',
  'tls.handshake_failed': 'another TLS handshake failure (OpenSSL\'s reason in the event)',
  'tls.internal': 'sipsec could not read the peer certificate (internal error)',
  // TLS: what sipsec said about the phone's certificate
  'tls.no_client_cert': 'the phone presented no client certificate where one is required (--client-cert required)',
  'tls.cert_foreign': 'the phone\'s certificate was not issued by this CA (another CA, self-signed, or its signature does not verify with the CA key)',
  'tls.cert_not_in_index': 'the certificate verifies, but its serial is not in this CA\'s index',
  'tls.cert_revoked': 'the phone\'s certificate is revoked (CRL or CA index)',
  'tls.cert_expired': 'the phone\'s certificate has expired',
  'tls.cert_not_yet_valid': 'the phone\'s certificate is not valid yet (a clock is wrong)',
  'tls.cert_superseded': 'an older certificate of the phone: it was renewed since',
  'tls.cert_not_phone': 'a certificate of this CA that was not issued to a phone (a server\'s)',
  'tls.cert_phone_removed': 'the certificate\'s phone is no longer in the inventory',
  'tls.cert_wrong_purpose': 'the certificate is not for TLS client use (extendedKeyUsage lacks clientAuth)',
  'tls.crl_unavailable': 'the CA\'s CRL is missing or has expired: publish a fresh one (sipsec ca crl)',
  'tls.cert_invalid': 'the phone\'s certificate does not verify for another reason (OpenSSL code in the event)',
  // SIP on the wrong transport
  'sip.udp_not_tls': 'the phone sent SIP over UDP to the plain-SIP diagnostic port instead of TLS',
  'sip.tcp_not_tls': 'the phone sent SIP over TCP to the plain-SIP diagnostic port instead of TLS',
  'sip.diagnostic_unavailable': 'the plain-SIP diagnostic listener could not start (port busy)',
  // SIP: connections and messages refused
  'sip.not_allowed': 'a connection from an address outside --allow',
  'sip.malformed': 'a message that does not parse (RFC 3261 §7)',
  'sip.invalid_request': 'a request that parses but breaks a rule of RFC 3261 (§8.2, §16.3: Max-Forwards, Require, Content-Type ...)',
  'sip.locked_out': 'a request from an address locked out after repeated authentication failures',
  'sip.bad_credentials': 'malformed digest credentials, or credentials for another URI (400)',
  'sip.wrong_password': 'proxy digest authentication failed: wrong password',
  'sip.unknown_user': 'proxy digest authentication failed: no phone has this SIP user',
  'sip.nonce_replayed': 'digest credentials that replay a nonce count',
  'sip.cert_user_mismatch': 'the client certificate belongs to another phone than the digest user',
  'sip.cert_required': 'the phone must present its client certificate for this request',
  'sip.from_mismatch': 'the From of a request is not the AOR of the phone that sent it',
  'sip.foreign_route': 'a Route header names another server (sipsec routes only to its own phones)',
  'sip.foreign_domain': 'the Request-URI names another domain',
  'sip.no_user': 'no user in the Request-URI',
  'sip.not_registered': 'the called phone exists but is not registered (480)',
  'sip.no_such_user': 'no phone or extension with that user (404)',
  'sip.unknown_flow': 'an in-dialog request from a connection that is not a known phone',
  'sip.no_dialog': 'no dialog through sipsec matches the in-dialog request (481)',
  'sip.callee_gone': 'the other phone\'s connection is gone (480)',
  'sip.handler_failed': 'sipsec failed handling a SIP message (internal error)',
  'sip.extension_failed': 'a local extension (the echo) failed on a call (internal error)',
  // REGISTER
  'register.bad_request': 'a REGISTER whose To, Call-ID, CSeq or Contact cannot be used (400)',
  'register.bad_contact': 'a Contact that is not a sip:/sips: URI, a bad q, or `*` without Expires: 0 (400)',
  'register.interval_too_brief': 'the asked registration interval is below the minimum (423, RFC 3261 §10.3 step 7)',
  'register.cseq_out_of_order': 'a REGISTER whose CSeq is not above the binding\'s last one (RFC 3261 §10.3 step 8)',
  'register.too_many_contacts': 'more contacts than the registrar keeps for one AOR',
  'register.bad_credentials': 'malformed digest credentials, or credentials for another URI (400)',
  'register.wrong_password': 'digest authentication failed: the phone\'s SIP password differs from sipsec\'s',
  'register.unknown_user': 'digest authentication failed: no phone has this SIP user',
  'register.nonce_replayed': 'digest credentials that replay a nonce count',
  'register.locked_out': 'the address is locked out after repeated authentication failures',
  'register.aor_mismatch': 'the phone registers an address of record that is not its own (or that its certificate does not name)',
  'register.cert_user_mismatch': 'the client certificate belongs to another phone than the digest user',
  'register.cert_required': 'the phone must present its client certificate to register (--client-cert, or its vendor can present one)',
  // authentication (the security log)
  'auth.wrong_password': 'security event InvalidPassword: a known user with a wrong password',
  'auth.unknown_user': 'security event InvalidAccountID: a user that does not exist',
  'auth.nonce_replayed': 'security event ChallengeResponseFailed: a replayed nonce count',
  'auth.blocked': 'security event FailedACL: a request from a locked-out address',
  'auth.locked_out': 'the address reached the failure limit and is refused for a while',
  // calls to the echo
  'sdp.no_offer': 'an INVITE without an SDP offer (the echo needs one)',
  'sdp.malformed': 'an SDP offer that does not parse (400)',
  'sdp.no_audio': 'no usable audio stream in the offer (304)',
  'sdp.unsupported_transport': 'an m-line transport sipsec does not answer (DTLS-SRTP, or not RTP/AVP, RTP/SAVP, RTP/SAVPF) (302)',
  'sdp.no_common_codec': 'no audio codec in common (305)',
  'srtp.plain_rtp_offered': 'the phone offered plain RTP (no a=crypto) although sipsec holds it to SRTP',
  'srtp.offered_while_off': 'the phone offered RTP/SAVP although the inventory holds it at --srtp off',
  'sdes.no_crypto': 'RTP/SAVP offered without any a=crypto line (RFC 4568)',
  'sdes.no_acceptable_suite': 'no offered a=crypto line is acceptable: no SRTP suite in common (the talk\'s _80 versus _32)',
  'sdes.lifetime_refused': 'the only acceptable lines carry a key lifetime and the policy refuses lifetimes (as Asterisk before 13 did)',
  'srtp.plain_rtp': 'the call ran in plain RTP, without SRTP',
  'srtp.auth_failures': 'every SRTP packet from the phone failed authentication (wrong key or suite)',
  'media.one_way_audio': 'media flowed in one direction only',
  // provisioning (HTTPS, HTTP, TFTP)
  'provision.method_not_allowed': 'an HTTP method other than GET and HEAD (405)',
  'provision.bad_path': 'a request path that is malformed, too long, or outside the provisioning URL (400)',
  'provision.malformed_request': 'an HTTP request that does not parse (400)',
  'provision.not_found': 'no route serves this file name',
  'provision.not_allowed': 'the address is not in --allow',
  'provision.wrong_protocol': 'the vendor\'s files are not served over this protocol (answered as not found)',
  'provision.auth_required': 'a phone\'s file over HTTPS without credentials or client certificate (401)',
  'provision.wrong_credentials': 'HTTP credentials that do not match the phone\'s (401)',
  'provision.cert_required': 'this phone must present its client certificate (--https-client-cert required) (403)',
  'provision.other_phone': 'an authenticated phone asked for another phone\'s file (answered as not found)',
  'provision.wrong_address': 'a phone\'s file over TFTP or plain HTTP from an address that is not the phone\'s --ip',
  'provision.key_cleartext_refused': 'a file holding a private key over cleartext while --key-window is 0',
  'provision.key_window_closed': 'a file holding a private key over cleartext after the key window closed',
  'tftp.not_found': 'TFTP: the file was not found (error 1)',
  'tftp.denied': 'TFTP: a write request or a name refused by the file-name rules (error 2)',
  'tftp.malformed': 'TFTP: a request that does not parse or names an unsupported mode (error 4)',
  'tftp.busy': 'TFTP: too many transfers (in all, or from this address): dropped, the phone retries',
  'tftp.timeout': 'TFTP: the client stopped acknowledging',
  'tftp.aborted': 'TFTP: the client ended the transfer with an ERROR',
  'tftp.error': 'TFTP: a server-side failure (lookup threw, socket error, server closed)',
  'tftp.bad_packet': 'TFTP: a datagram on the server port that is not a request',
  // serve itself
  'serve.reload_failed': 're-reading the CA home failed; serve keeps the previous state',
  'serve.store_failed': 'the shared PostgreSQL store: the listening connection, the heartbeat or publishing registrations failed; serve goes on, retrying',
  // phone resync (NOTIFY over the phone's own flow)
  'resync.not_registered': 'the phone has no registration on this serve: nothing to send the NOTIFY over',
  'resync.refused': 'the phone answered the resync NOTIFY with an error status',
  'resync.no_answer': 'the phone did not answer the resync NOTIFY in time',
  'resync.connection_closed': 'the phone\'s connection closed before it answered the resync NOTIFY',
  // connection guard (every listener): what one address, or everyone at once, may hold
  'conn.too_many_per_address': 'a connection refused: this address already holds --max-conn-per-ip connections',
  'conn.too_many_handshakes': 'a connection refused: --max-handshakes connections are already in their handshake',
  'tls.renegotiation_refused': 'the peer tried to renegotiate TLS: refused and the connection closed',
  'sip.first_message_timeout': 'a plain TCP connection to the diagnostic port sent no complete SIP message in time',
  'http.first_request_timeout': 'a plain HTTP connection sent no complete request in time',
  'http.auth_failed': 'a wrong password (Basic or Digest) on HTTPS provisioning: it counts in the same lockout as SIP',
  'http.auth_locked_out': 'an address locked out after repeated authentication failures (SIP or HTTPS) was refused over HTTPS',
  'register.bad_expires': 'a REGISTER with a malformed Expires header or expires Contact parameter (400)',
  'sip.ack_cseq_mismatch': 'an ACK whose CSeq number is not its INVITE\'s (RFC 3261 §17.1.1.3): it confirms nothing, as chan_sip treats it',
  'serve.server_cert': 'serve could not switch to a renewed or rotated server certificate; it keeps presenting the current one',
  'serve.supersede_failed': 'ending a renewal overlap (revoking the old certificate) failed; it is tried again',
} as const satisfies Record<string, string>;

export type FailureCode = keyof typeof FAILURE_CODES;

export const ALL_FAILURE_CODES = Object.keys(FAILURE_CODES) as FailureCode[];

export function isFailureCode(code: unknown): code is FailureCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(FAILURE_CODES, code);
}

/** The codes a TLS handshake failure (tls.handshake ok:false) can carry. */
export const TLS_FAILURE_CODES = ALL_FAILURE_CODES.filter((c): c is Extract<FailureCode, `tls.${string}`> => c.startsWith('tls.'));
export type TlsFailureCode = Extract<FailureCode, `tls.${string}`>;
/** A TLS code that judges the phone's certificate (rather than the handshake). */
export type CertFailureCode = Extract<TlsFailureCode, 'tls.no_client_cert' | `tls.cert_${string}` | 'tls.crl_unavailable'>;
