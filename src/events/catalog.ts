import { z } from 'zod';
import type { FailureCode } from './codes.js';

/**
 * The serve event catalog: every event `sipsec serve` writes (console,
 * `--json`, serve.log, `sipsec status`/`verify` over the control socket),
 * its fields and, for failures, the codes it may carry. One plain object
 * per thing that happened: `{ time, event: 'dotted.name', phone?, remote?,
 * ...fields }`. Schemas are strict: a misspelt field is a violation, so a
 * test that validates the stream catches it (test/helpers validate every
 * event serve writes).
 */

/** z.enum over failure codes: the compiler checks every code is in FAILURE_CODES. */
function codes<const C extends readonly [FailureCode, ...FailureCode[]]>(...list: C) {
  return z.enum(list);
}

const common = {
  /** ISO 8601, set by the bus. */
  time: z.string(),
  /** The phone the event is about, when known (by certificate, registration, digest or address). */
  phone: z.string().optional(),
  /** The peer, `ip:port` or `[ipv6]:port`. */
  remote: z.string().optional(),
};

type Common = typeof common;
/** The common fields, the name, and the event's own (which may make `phone` or `remote` required). */
type EventShape<N extends string, S extends z.ZodRawShape> = { [K in Exclude<keyof Common, keyof S>]: Common[K] } & { event: z.ZodLiteral<N> } & S;

function event<const N extends string, const S extends z.ZodRawShape>(name: N, shape: S): z.ZodObject<{ [K in keyof EventShape<N, S>]: EventShape<N, S>[K] }, z.core.$strict> {
  return z.strictObject({ ...common, event: z.literal(name), ...shape }) as never;
}

const tlsFields = {
  tlsVersion: z.string().optional(),
  cipher: z.string().optional(),
};
const transport = z.enum(['tls', 'tcp', 'udp']);
const provisionProtocol = z.enum(['https', 'http', 'tftp']);
const tftpResult = z.enum(['ok', 'not-found', 'denied', 'malformed', 'busy', 'timeout', 'aborted', 'error']);
const srtpMode = z.enum(['mandatory', 'optional', 'off']);

// ------------------------------------------------------------------ serve

const serveStart = event('serve.start', {
  bind: z.string(),
  ports: z.strictObject({ tftp: z.number().optional(), https: z.number().optional(), http: z.number().optional(), sip: z.number().optional() }),
  serverCert: z.string(),
  keyWindowMs: z.number(),
  routes: z.number(),
  /** A shared (PostgreSQL) store: this instance's name, and the store (URL without password). */
  instance: z.string().optional(),
  store: z.string().optional(),
});
const serveStop = event('serve.stop', {});
const serveReload = event('serve.reload', {
  phones: z.number(),
  routes: z.number(),
  crlNumber: z.number().optional(),
  /** Serials of the CAs trusted now: two during a CA rotation. */
  trustedCas: z.array(z.string()).optional(),
});
const serveError = event('serve.error', { reason: z.string(), code: codes('serve.reload_failed', 'serve.store_failed', 'serve.server_cert', 'serve.supersede_failed', 'sip.handler_failed', 'sip.extension_failed') });
const serveNotice = event('serve.notice', { note: z.string(), code: codes('sip.diagnostic_unavailable').optional() });
const serveCertificate = event('serve.certificate', {
  name: z.string(),
  serial: z.string(),
  sans: z.record(z.string(), z.array(z.string())),
  issued: z.boolean(),
  note: z.string(),
});

// ------------------------------------------------------------------ TLS

const CERT_CODES = [
  'tls.no_client_cert',
  'tls.cert_foreign',
  'tls.cert_not_in_index',
  'tls.cert_revoked',
  'tls.cert_expired',
  'tls.cert_not_yet_valid',
  'tls.cert_superseded',
  'tls.cert_not_phone',
  'tls.cert_phone_removed',
  'tls.cert_wrong_purpose',
  'tls.crl_unavailable',
  'tls.cert_invalid',
] as const;

const handshakeCommon = {
  remote: z.string(),
  protocol: z.enum(['sip', 'https']),
  version: z.string().optional(),
  cipher: z.string().optional(),
  certSerial: z.string().optional(),
  certSubject: z.string().optional(),
  /** With certSerial: the phone's current certificate (true), or its previous one inside the renewal overlap (false). */
  current: z.boolean().optional(),
};
const tlsHandshakeOk = event('tls.handshake', { ...handshakeCommon, ok: z.literal(true) });
const tlsHandshakeFailed = event('tls.handshake', {
  ...handshakeCommon,
  ok: z.literal(false),
  /** Why, in words (OpenSSL's reason, or sipsec's verdict on the certificate). */
  error: z.string(),
  /** The TLS alert involved: `received <name> (<n>)` from the phone, or what sipsec sent. */
  alert: z.string().optional(),
  /** With a code sipsec decided itself (timeout, renegotiation): the same in words. */
  reason: z.string().optional(),
  code: codes(
    'tls.unknown_ca',
    'tls.renegotiation_refused',
    'tls.bad_certificate',
    'tls.certificate_expired',
    'tls.peer_alert',
    'tls.protocol_version',
    'tls.no_shared_cipher',
    'tls.peer_closed',
    'tls.handshake_timeout',
    'tls.handshake_failed',
    'tls.internal',
    ...CERT_CODES,
  ),
});
const tlsHandshake = z.discriminatedUnion('ok', [tlsHandshakeOk, tlsHandshakeFailed]);

// ------------------------------------------------------------------ SIP

const sipListen = event('sip.listen', {
  port: z.number(),
  clientCert: z.enum(['required', 'optional', 'vendor']),
  tlsMin: z.string(),
  auth: z.enum(['both', 'cert']),
  diagnosticUdpPort: z.number().optional(),
  diagnosticTcpPort: z.number().optional(),
  endpoints: z.array(z.string()),
});
const sipReject = event('sip.reject', {
  remote: z.string(),
  transport,
  /** What was refused: `connection`, `REGISTER sip:...`, `malformed message` ... */
  what: z.string(),
  why: z.string(),
  /** The dialog, when what was refused belongs to one (an ACK). */
  callId: z.string().optional(),
  status: z.union([z.number(), z.literal('dropped')]),
  code: codes(
    'sip.udp_not_tls',
    'sip.tcp_not_tls',
    'sip.not_allowed',
    'conn.too_many_per_address',
    'conn.too_many_handshakes',
    'sip.first_message_timeout',
    'sip.ack_cseq_mismatch',
    'sip.malformed',
    'sip.invalid_request',
    'sip.locked_out',
    'sip.bad_credentials',
    'sip.wrong_password',
    'sip.unknown_user',
    'sip.nonce_replayed',
    'sip.cert_user_mismatch',
    'sip.cert_required',
    'sip.from_mismatch',
    'sip.foreign_route',
    'sip.foreign_domain',
    'sip.no_user',
    'sip.not_registered',
    'sip.no_such_user',
    'sip.unknown_flow',
    'sip.no_dialog',
    'sip.callee_gone',
    ...CERT_CODES,
  ),
});

const registerOk = event('register.ok', {
  phone: z.string(),
  remote: z.string(),
  aor: z.string(),
  contact: z.string(),
  transport,
  expires: z.number(),
  ...tlsFields,
  certSerial: z.string().optional(),
  /** `certificate`, or the digest algorithm (`MD5`, `SHA-256` ...). */
  algorithm: z.string(),
  refresh: z.literal(true).optional(),
});
const registerFail = event('register.fail', {
  remote: z.string(),
  aor: z.string().optional(),
  transport,
  reason: z.string(),
  status: z.number(),
  code: codes(
    'register.bad_request',
    'register.bad_contact',
    'register.bad_expires',
    'register.interval_too_brief',
    'register.cseq_out_of_order',
    'register.too_many_contacts',
    'register.bad_credentials',
    'register.wrong_password',
    'register.unknown_user',
    'register.nonce_replayed',
    'register.locked_out',
    'register.aor_mismatch',
    'register.cert_user_mismatch',
    'register.cert_required',
    ...CERT_CODES,
  ),
});
const registerEnd = event('register.end', {
  phone: z.string(),
  remote: z.string(),
  aor: z.string(),
  contact: z.string(),
  /** `unregistered`, `expired`, or `connection closed (...)`. */
  reason: z.string(),
});
const security = event('security', {
  remote: z.string(),
  securityEvent: z.enum(['InvalidAccountID', 'InvalidPassword', 'ChallengeResponseFailed', 'FailedACL']),
  account: z.string(),
  /** The line written to security.log (Asterisk's format, for fail2ban). */
  line: z.string(),
  /** The service the password was tried on (`SIP`, or `HTTPS` for provisioning: the same secret). */
  protocol: z.string().optional(),
  reason: z.string().optional(),
  code: codes('auth.unknown_user', 'auth.wrong_password', 'auth.nonce_replayed', 'auth.blocked', 'http.auth_failed'),
});
const securityBlock = event('security.block', {
  remote: z.string(),
  failures: z.number(),
  until: z.string(),
  reason: z.string(),
  protocol: z.string().optional(),
  code: codes('auth.locked_out', 'http.auth_locked_out'),
});
const callProxy = event('call.proxy', {
  phone: z.string(),
  remote: z.string(),
  from: z.string(),
  to: z.string(),
  callee: z.string(),
  calleeRemote: z.string(),
  callId: z.string().optional(),
  status: z.number(),
});
const dialogStart = event('dialog.start', { phone: z.string(), remote: z.string(), ext: z.string(), callId: z.string(), ...tlsFields });
const dialogEnd = event('dialog.end', {
  phone: z.string(),
  remote: z.string(),
  ext: z.string(),
  callId: z.string(),
  reason: z.enum(['bye', 'local-bye', 'cancel', 'rejected', 'no-ack', 'shutdown']),
});

// ------------------------------------------------------------------ renewal

const certSuperseded = event('cert.superseded', {
  /** The certificate's name (a phone's, or a server's). */
  name: z.string(),
  serial: z.string(),
  supersededBy: z.string(),
  /** What ended the overlap: the new certificate presented, the new files fetched, or the grace period. */
  why: z.enum(['presented', 'fetched', 'grace']),
  /** Whether the CRL was rewritten at once (false: the CA key is encrypted and serve has no passphrase). */
  crl: z.boolean(),
});

// ------------------------------------------------------------------ inventory

const phoneChanged = event('phone.changed', {
  phone: z.string(),
  change: z.enum(['added', 'edited', 'removed']),
  /** The names of the fields that changed, never their values (a rotated secret is not logged). */
  fields: z.array(z.string()),
});

// ------------------------------------------------------------------ resync

const phoneResync = event('phone.resync', {
  phone: z.string(),
  /** The Event header sent (`check-sync;reboot=false`, `resync`, ...). */
  notifyEvent: z.string(),
  contact: z.string().optional(),
  /** The phone's final SIP status, or not-registered when there was no flow to send on. */
  status: z.union([z.number(), z.literal('not-registered')]),
  reason: z.string(),
  code: codes('resync.not_registered', 'resync.refused', 'resync.no_answer', 'resync.connection_closed').optional(),
});

// ------------------------------------------------------------------ the echo

const echoBase = { phone: z.string(), remote: z.string(), callId: z.string(), ext: z.string() };
const callStart = event('call.start', {
  ...echoBase,
  proto: z.string(),
  srtp: z.enum(['sdes', 'none']),
  /** The offered a=crypto lines, `<tag> <suite>` with why a line was refused. */
  offered: z.array(z.string()),
  chosen: z.string().nullable(),
  suite: z.string().nullable(),
  codec: z.string().optional(),
  localPort: z.number(),
  /** The whole negotiation report (sdp/negotiate.ts reportNegotiation). */
  negotiation: z.record(z.string(), z.unknown()),
  ...tlsFields,
});
const callReject = event('call.reject', {
  ...echoBase,
  status: z.number(),
  /** The Warning header value sent with the refusal. */
  warning: z.string(),
  reason: z.string().optional(),
  offered: z.array(z.string()).optional(),
  /** The suites of the offered a=crypto lines, in the phone's order. */
  offeredSuites: z.array(z.string()).optional(),
  /** The suites the echo accepts, when serve limits them (--echo-suites). */
  acceptSuites: z.array(z.string()).optional(),
  policy: srtpMode.optional(),
  code: codes(
    'sdp.no_offer',
    'sdp.malformed',
    'sdp.no_audio',
    'sdp.unsupported_transport',
    'sdp.no_common_codec',
    'srtp.plain_rtp_offered',
    'srtp.offered_while_off',
    'sdes.no_crypto',
    'sdes.no_acceptable_suite',
    'sdes.lifetime_refused',
  ),
});
/** The echo's report of a call (media/echo.ts EchoReport). */
const callEndEcho = event('call.end', {
  ...echoBase,
  reason: z.enum(['bye', 'local-bye', 'cancel', 'rejected', 'no-ack', 'shutdown']),
  suite: z.string().nullable(),
  srtcpTagBits: z.union([z.literal(32), z.literal(80), z.literal(128)]).nullable(),
  packetsIn: z.number(),
  packetsOut: z.number(),
  bytesIn: z.number(),
  bytesOut: z.number(),
  authFailures: z.number(),
  replays: z.number(),
  decryptErrors: z.number(),
  stunIn: z.number(),
  /** RTP heard before the ACK confirmed the call: not echoed (phones often send before the ACK arrives). */
  heardBeforeAck: z.number().optional(),
  rtcpIn: z.number(),
  rtcpOut: z.number(),
  rtcpAuthFailures: z.number(),
  oneWayAudio: z.boolean(),
  oneWayReason: z.string().optional(),
  phoneHears: z.strictObject({ highestSeq: z.number(), fractionLost: z.number(), cumulativeLost: z.number() }).nullable(),
  latchedTo: z.string().optional(),
  relatches: z.number(),
  localPort: z.number(),
  durationMs: z.number(),
  payloadTypes: z.record(z.string(), z.number()),
  lost: z.number(),
  gaps: z.number(),
  jitterMs: z.number(),
  tsStep: z.number().optional(),
  timestampAnomalies: z.number(),
  /** Set when the call failed verify's test: plain RTP, SRTP that never authenticated, one-way audio. */
  code: codes('srtp.plain_rtp', 'srtp.auth_failures', 'media.one_way_audio').optional(),
});
/** A BYE sipsec proxied between two phones. */
const callEndProxied = event('call.end', {
  phone: z.string().optional(),
  remote: z.string(),
  callId: z.string().optional(),
  by: z.string().optional(),
  status: z.number(),
});
const callEnd = z.union([callEndEcho, callEndProxied]);

// ------------------------------------------------------------------ provisioning

const provisionFetch = event('provision.fetch', {
  remote: z.string(),
  protocol: provisionProtocol,
  file: z.string(),
  bytes: z.number(),
  ms: z.number(),
  /** `ok`; over TFTP also a transfer that started and broke off. */
  result: z.enum(['ok', 'timeout', 'aborted', 'error']),
  reason: z.string().optional(),
  auth: z.enum(['certificate', 'digest', 'basic']).optional(),
  holdsKey: z.literal(true).optional(),
  /** A private key sent in clear (inside the key window). */
  warning: z.string().optional(),
  blksize: z.number().optional(),
  windowsize: z.number().optional(),
  retransmits: z.number().optional(),
  code: codes('tftp.timeout', 'tftp.aborted', 'tftp.error').optional(),
}).superRefine((ev, ctx) => {
  if ((ev.result === 'ok') !== (ev.code === undefined)) ctx.addIssue({ code: 'custom', path: ['code'], message: 'code is required exactly when result is not ok' });
});
const provisionDenied = event('provision.denied', {
  remote: z.string(),
  protocol: provisionProtocol,
  file: z.string().optional(),
  status: z.union([z.number(), z.literal('dropped')]).optional(),
  reason: z.string(),
  ms: z.number().optional(),
  bytes: z.number().optional(),
  result: tftpResult.optional(),
  blksize: z.number().optional(),
  windowsize: z.number().optional(),
  retransmits: z.number().optional(),
  code: codes(
    'provision.method_not_allowed',
    'http.auth_locked_out',
    'http.first_request_timeout',
    'conn.too_many_per_address',
    'conn.too_many_handshakes',
    'provision.bad_path',
    'provision.malformed_request',
    'provision.not_found',
    'provision.not_allowed',
    'provision.wrong_protocol',
    'provision.auth_required',
    'provision.wrong_credentials',
    'provision.cert_required',
    'provision.other_phone',
    'provision.wrong_address',
    'provision.key_cleartext_refused',
    'provision.key_window_closed',
    'tftp.not_found',
    'tftp.denied',
    'tftp.malformed',
    'tftp.busy',
    'tftp.bad_packet',
  ),
});
const provisionSuppressed = event('provision.suppressed', { protocol: z.literal('tftp'), count: z.number(), by: z.record(z.string(), z.number()) });

/** Every event serve writes, by name, with a one-line summary for the README table. */
export const SERVE_EVENTS = {
  'serve.start': { schema: serveStart, summary: 'serve is listening (ports, server certificate)' },
  'serve.stop': { schema: serveStop, summary: 'serve is stopping' },
  'serve.reload': { schema: serveReload, summary: 'the CA home changed and was re-read' },
  'serve.error': { schema: serveError, summary: 'something failed inside serve; it keeps running' },
  'serve.notice': { schema: serveNotice, summary: 'something the operator should know' },
  'serve.certificate': { schema: serveCertificate, summary: 'serve issued itself a server certificate' },
  'sip.listen': { schema: sipListen, summary: 'the SIP/TLS registrar is listening' },
  'sip.reject': { schema: sipReject, summary: 'a connection or SIP request refused (or plain SIP on the diagnostic port)' },
  'tls.handshake': { schema: tlsHandshake, summary: 'a TLS handshake on the SIP or HTTPS port, with its verdict' },
  'register.ok': { schema: registerOk, summary: 'a binding added (or refreshed, at most once a minute per connection)' },
  'register.fail': { schema: registerFail, summary: 'a REGISTER refused' },
  'register.end': { schema: registerEnd, summary: 'a binding removed' },
  security: { schema: security, summary: 'an authentication failure (also a line in security.log)' },
  'security.block': { schema: securityBlock, summary: 'an address locked out after repeated failures' },
  'call.proxy': { schema: callProxy, summary: 'an INVITE proxied between two phones got its final answer' },
  'dialog.start': { schema: dialogStart, summary: 'a call to a local extension (the echo) began' },
  'dialog.end': { schema: dialogEnd, summary: 'a call to a local extension ended' },
  'call.start': { schema: callStart, summary: 'the echo answered a call: offered and chosen crypto' },
  'call.reject': { schema: callReject, summary: 'the echo refused a call (488 and why)' },
  'call.end': { schema: callEnd, summary: 'a call ended: the echo\'s media counters, or a proxied BYE' },
  'provision.fetch': { schema: provisionFetch, summary: 'a provisioning file served (HTTPS, HTTP, TFTP)' },
  'provision.denied': { schema: provisionDenied, summary: 'a provisioning request refused' },
  'phone.changed': { schema: phoneChanged, summary: 'serve saw a phone added, edited or removed in the CA home (field names only)' },
  'cert.superseded': { schema: certSuperseded, summary: 'a renewal overlap ended: the old certificate is revoked as superseded' },
  'phone.resync': { schema: phoneResync, summary: 'a registered phone was told to fetch its files again (NOTIFY), and what it answered' },
  'provision.suppressed': { schema: provisionSuppressed, summary: 'TFTP refusals counted instead of reported (flood)' },
} as const;

export type ServeEventName = keyof typeof SERVE_EVENTS;
type SchemaOf<N extends ServeEventName> = (typeof SERVE_EVENTS)[N]['schema'];

/** One event as written, discriminated by `event`. */
export type ServeEvent = { [N in ServeEventName]: z.output<SchemaOf<N>> }[ServeEventName];
/** A catalog event read generically: any field by name (unknown unless narrowed by `event`). */
export type AnyServeEvent = ServeEvent & { readonly [field: string]: unknown };
/** The event named N. */
export type ServeEventOf<N extends ServeEventName> = Extract<ServeEvent, { event: N }>;

type WithOptionalTime<T> = T extends { time: string } ? Omit<T, 'time'> & { time?: string } : never;
/** What an emitter hands the bus: an event without its time (the bus stamps it). */
export type EventInput = WithOptionalTime<z.input<SchemaOf<ServeEventName>>>;

/** Where protocol code reports events; serve's EventBus is one. */
export interface EventSink {
  emit(input: EventInput): unknown;
}

export const SERVE_EVENT_NAMES = Object.keys(SERVE_EVENTS) as ServeEventName[];

export function isServeEventName(name: unknown): name is ServeEventName {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(SERVE_EVENTS, name);
}

/** A type guard for `events.filter(isEvent('register.fail'))`. */
export function isEvent<N extends ServeEventName>(name: N): (ev: { event: string }) => ev is ServeEventOf<N> {
  return (ev): ev is ServeEventOf<N> => ev.event === name;
}
