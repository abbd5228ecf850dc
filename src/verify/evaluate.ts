import { isEvent, type AnyServeEvent, type ServeEvent, type ServeEventOf } from '../events/index.js';
import type { Phone } from '../home/schema.js';
import type { VendorDescriptor } from '../vendors/types.js';
import { plainIp } from '../core/net.js';
import { hint, type FailureMode, type HintContext } from './hints.js';

/**
 * What a phone did, step by step, judged from the serve event stream:
 * provisioning, TLS, registration, a call to the echo. Pure: the same
 * events always give the same verdict.
 */
export type StepState = 'PASS' | 'FAIL' | 'NOT SEEN';
export type StepName = 'provisioning' | 'tls' | 'registration' | 'call';
export const STEP_NAMES: readonly StepName[] = ['provisioning', 'tls', 'registration', 'call'];

export interface StepVerdict {
  step: StepName;
  state: StepState;
  summary: string;
  hint?: string;
  failure?: FailureMode;
  data: Record<string, unknown>;
}

export interface PhoneVerdict {
  phone: string;
  vendor: string;
  ok: boolean;
  steps: StepVerdict[];
  /** The events that concern this phone, oldest first (the timeline). */
  events: ServeEvent[];
}

export interface PhoneFacts {
  phone: Phone;
  vendor: VendorDescriptor | undefined;
  /** Route paths the phone should fetch (its own files). */
  expectedRoutes: string[];
  /** Serials of the phone's certificates: the current one first. */
  currentSerial: string | undefined;
  oldSerials: string[];
  echoExt: string;
}

type HandshakeFailed = Extract<ServeEventOf<'tls.handshake'>, { ok: false }>;
type EchoEnd = Extract<ServeEventOf<'call.end'>, { suite: unknown }>;
type HintTable<C extends string> = Readonly<Record<C, FailureMode | null>>;

/**
 * verify's hints, keyed on the events' failure codes only (src/events):
 * the human text of an event may change without changing a verdict. null:
 * no specific hint, the step FAILs with the event's own words. Each table
 * covers every code its events can carry (the compiler checks it, and
 * test/events/catalog.test.ts checks it against the schemas).
 */
const CERT_HINTS = {
  'tls.no_client_cert': 'client-cert-missing',
  'tls.cert_foreign': 'client-cert-foreign',
  'tls.cert_not_in_index': 'client-cert-foreign',
  'tls.cert_revoked': 'client-cert-revoked',
  'tls.cert_expired': 'client-cert-expired',
  'tls.cert_not_yet_valid': 'phone-clock',
  'tls.cert_superseded': 'client-cert-old',
  'tls.cert_not_phone': null,
  'tls.cert_phone_removed': null,
  'tls.cert_wrong_purpose': null,
  'tls.crl_unavailable': null,
  'tls.cert_invalid': null,
} as const satisfies HintTable<Extract<HandshakeFailed['code'], `tls.cert_${string}` | 'tls.no_client_cert' | 'tls.crl_unavailable'>>;

export const TLS_HINTS: HintTable<HandshakeFailed['code']> = {
  'tls.renegotiation_refused': null,
  'tls.unknown_ca': 'phone-rejects-ca',
  'tls.bad_certificate': 'phone-rejects-ca',
  'tls.certificate_expired': 'phone-clock',
  'tls.peer_alert': 'handshake-aborted',
  'tls.protocol_version': 'tls-version',
  'tls.no_shared_cipher': 'tls-version',
  'tls.peer_closed': 'handshake-aborted',
  'tls.handshake_timeout': 'handshake-aborted',
  'tls.handshake_failed': 'handshake-aborted',
  'tls.internal': null,
  ...CERT_HINTS,
};

/** sip.reject codes that mean "plain SIP on the diagnostic port": the TLS step's failure when no handshake came. */
export const PLAIN_SIP_HINTS: HintTable<'sip.udp_not_tls' | 'sip.tcp_not_tls'> = { 'sip.udp_not_tls': 'udp-registration', 'sip.tcp_not_tls': 'udp-registration' };

export const REGISTER_HINTS: HintTable<ServeEventOf<'register.fail'>['code'] | ServeEventOf<'security.block'>['code']> = {
  'register.bad_request': null,
  'register.bad_contact': null,
  'register.bad_expires': null,
  'http.auth_locked_out': 'locked-out',
  'register.interval_too_brief': null,
  'register.cseq_out_of_order': null,
  'register.too_many_contacts': null,
  'register.bad_credentials': null,
  'register.wrong_password': 'wrong-password',
  'register.unknown_user': 'wrong-password',
  'register.nonce_replayed': null,
  'register.locked_out': 'locked-out',
  'register.aor_mismatch': 'aor-mismatch',
  'register.cert_user_mismatch': 'aor-mismatch',
  'register.cert_required': 'client-cert-missing',
  'auth.locked_out': 'locked-out',
  ...CERT_HINTS,
};

export const CALL_REJECT_HINTS: HintTable<ServeEventOf<'call.reject'>['code']> = {
  'sdp.no_offer': null,
  'sdp.malformed': null,
  'sdp.no_audio': null,
  'sdp.unsupported_transport': null,
  'sdp.no_common_codec': null,
  'srtp.plain_rtp_offered': 'srtp-off',
  'srtp.offered_while_off': null,
  'sdes.no_crypto': 'suite-mismatch',
  'sdes.no_acceptable_suite': 'suite-mismatch',
  'sdes.lifetime_refused': 'lifetime-refused',
};

export const CALL_END_HINTS: HintTable<NonNullable<EchoEnd['code']>> = {
  'srtp.plain_rtp': 'srtp-off',
  'srtp.auth_failures': 'srtp-auth',
  'media.one_way_audio': 'one-way-audio',
};

export const PROVISION_HINTS: HintTable<ServeEventOf<'provision.denied'>['code']> = {
  'http.auth_locked_out': 'locked-out',
  'http.first_request_timeout': null,
  'conn.too_many_per_address': null,
  'conn.too_many_handshakes': null,
  'provision.method_not_allowed': 'provisioning-denied',
  'provision.bad_path': 'provisioning-denied',
  'provision.malformed_request': 'provisioning-denied',
  'provision.not_found': 'provisioning-denied',
  'provision.not_allowed': 'provisioning-denied',
  'provision.wrong_protocol': 'provisioning-denied',
  'provision.auth_required': 'provisioning-denied',
  'provision.wrong_credentials': 'provisioning-denied',
  'provision.cert_required': 'provisioning-denied',
  'provision.other_phone': 'provisioning-denied',
  'provision.wrong_address': 'provisioning-denied',
  'provision.key_cleartext_refused': 'provisioning-denied',
  'provision.key_window_closed': 'key-window',
  'tftp.not_found': 'provisioning-denied',
  'tftp.denied': 'provisioning-denied',
  'tftp.malformed': 'provisioning-denied',
  'tftp.busy': 'provisioning-denied',
  'tftp.bad_packet': 'provisioning-denied',
};

/** Which events each hint table reads (for the catalog test). */
export const HINT_TABLES = [
  { step: 'tls', events: ['tls.handshake'], table: TLS_HINTS },
  { step: 'tls', events: [], table: PLAIN_SIP_HINTS },
  { step: 'registration', events: ['register.fail', 'security.block'], table: REGISTER_HINTS },
  { step: 'call', events: ['call.reject'], table: CALL_REJECT_HINTS },
  { step: 'call', events: ['call.end'], table: CALL_END_HINTS },
  { step: 'provisioning', events: ['provision.denied'], table: PROVISION_HINTS },
] as const;

const ipOf = (remote: unknown): string | undefined => {
  if (typeof remote !== 'string') return undefined;
  const m = /^\[(.*)\]:\d+$/.exec(remote) ?? /^(.*):\d+$/.exec(remote);
  return m ? plainIp(m[1]!) : undefined;
};

const str = (v: unknown): string => (typeof v === 'string' ? v : v === undefined || v === null ? '' : String(v));

const normSerial = (v: unknown): string => str(v).toLowerCase().replace(/^0+/, '');

/** The user part of a `sip:user@host` (an event's `aor`), lower-case. */
const userOfAor = (aor: unknown): string | undefined => {
  const m = /^<?sips?:([^@;>]+)@/i.exec(str(aor));
  return m ? decodeURIComponent(m[1]!).toLowerCase() : undefined;
};

/** Events that only an address can tie to a phone (nothing in them names it). */
const ADDRESS_ONLY: ReadonlySet<string> = new Set(['tls.handshake', 'sip.reject', 'provision.denied', 'security', 'security.block']);

type Identity = 'mine' | 'other' | 'unknown';

/**
 * Whom an event names: by phone name (the registrar identified it), by
 * certificate serial (one of this phone's, current or older), or by the
 * address of record of a refused REGISTER. A certificate serial that is
 * not one of this phone's is someone else's (another phone's, or one from
 * another CA), never "unknown": an address must not pull it in.
 */
function identityOf(ev: AnyServeEvent, f: PhoneFacts, mySerials: ReadonlySet<string>, user: string): Identity {
  if (ev.phone !== undefined) return ev.phone === f.phone.name ? 'mine' : 'other';
  const serial = normSerial(ev.certSerial);
  if (serial) return mySerials.has(serial) ? 'mine' : 'other';
  const aorUser = userOfAor(ev.aor);
  if (aorUser !== undefined) return aorUser === user ? 'mine' : 'other';
  return 'unknown';
}

/**
 * The events that concern the phone. Beyond what names it (identityOf):
 * - everything on a TLS connection (same source address and port) where
 *   the phone was identified: a certificate from another CA names no
 *   phone, but the REGISTER that follows on that connection names its AOR;
 * - events that name nobody (a handshake the phone aborted before sending
 *   its certificate: the talk's "unable to get local issuer certificate")
 *   from the phone's addresses: those in the inventory (--ip), and those
 *   it was identified from in this stream (it fetched its files over
 *   HTTPS from there) unless another phone was identified from the same
 *   address too (NAT, or all on 127.0.0.1 in a lab).
 */
export function eventsOf<E extends ServeEvent>(f: PhoneFacts, all: readonly E[]): E[] {
  const mySerials = new Set([f.currentSerial, ...f.oldSerials].filter((x): x is string => !!x).map(normSerial));
  const user = (f.phone.ext ?? f.phone.name).toLowerCase();
  const ids = all.map((ev) => identityOf(ev, f, mySerials, user));
  const myConnections = new Set<string>();
  const learned = new Set<string>();
  const othersIps = new Set<string>();
  all.forEach((ev, i) => {
    const ip = ipOf(ev.remote);
    if (ids[i] === 'mine') {
      if (typeof ev.remote === 'string') myConnections.add(ev.remote);
      if (ip) learned.add(ip);
    } else if (ids[i] === 'other' && ip) {
      othersIps.add(ip);
    }
  });
  const addresses = new Set(f.phone.ips.map(plainIp));
  for (const ip of learned) if (!othersIps.has(ip)) addresses.add(ip);
  return all.filter((ev, i) => {
    const id = ids[i];
    if (id === 'mine') return true;
    if (ev.phone !== undefined && ev.phone !== f.phone.name) return false;
    if (typeof ev.remote === 'string' && myConnections.has(ev.remote) && ADDRESS_ONLY.has(ev.event)) return true;
    if (id !== 'unknown') return false;
    const ip = ipOf(ev.remote);
    return ip !== undefined && addresses.has(ip) && ADDRESS_ONLY.has(ev.event);
  });
}

/** Does this one event concern the phone (without the context of the others)? */
export function concerns(ev: ServeEvent, f: PhoneFacts): boolean {
  return eventsOf(f, [ev]).length === 1;
}

interface Failure {
  mode: FailureMode | null;
  context?: Omit<HintContext, 'phone' | 'vendor'>;
}

function step(step: StepName, state: StepState, summary: string, data: Record<string, unknown> = {}, failure?: Failure, f?: PhoneFacts): StepVerdict {
  const v: StepVerdict = { step, state, summary, data };
  if (failure?.mode && f) {
    v.failure = failure.mode;
    v.hint = hint(failure.mode, { phone: f.phone.name, vendor: f.vendor, ...failure.context });
  }
  return v;
}

const latest = <E>(evs: readonly E[]): E | undefined => evs[evs.length - 1];

function provisioning(evs: readonly AnyServeEvent[], f: PhoneFacts): StepVerdict {
  const fetched = evs.filter(isEvent('provision.fetch')).filter((e) => e.result === 'ok');
  const denied = evs.filter(isEvent('provision.denied'));
  const got = new Set(fetched.map((e) => e.file.toLowerCase()));
  const missing = f.expectedRoutes.filter((r) => !got.has(r.toLowerCase()));
  const data = { fetched: fetched.map((e) => ({ file: e.file, protocol: e.protocol, bytes: e.bytes, time: e.time })), neverFetched: missing, denied: denied.map((e) => ({ file: e.file, reason: e.reason, protocol: e.protocol })) };
  const d = latest(denied);
  if (fetched.length === 0 && d) {
    return step('provisioning', 'FAIL', `refused ${d.file || 'a request'} over ${d.protocol}: ${d.reason}`, data, { mode: PROVISION_HINTS[d.code] ?? null, context: { detail: d.reason, code: d.code } }, f);
  }
  if (fetched.length === 0) return step('provisioning', 'NOT SEEN', 'no file fetched yet (softphones configured by hand skip this)', data);
  const via = [...new Set(fetched.map((e) => e.protocol))].join('+');
  return step('provisioning', 'PASS', `${fetched.length} file(s) over ${via}${missing.length ? `; never fetched: ${missing.join(', ')}` : ''}`, data);
}

function tlsStep(evs: readonly AnyServeEvent[], f: PhoneFacts): StepVerdict {
  const hs = evs.filter(isEvent('tls.handshake')).filter((e) => e.protocol !== 'https');
  const plain = evs.filter(isEvent('sip.reject')).filter((e) => e.code === 'sip.udp_not_tls' || e.code === 'sip.tcp_not_tls');
  const ok = [...hs].reverse().find((e) => e.ok);
  const last = latest(hs);
  if (ok && (!last || last.ok)) {
    const serial = str(ok.certSerial).toLowerCase();
    const current = serial !== '' && normSerial(serial) === normSerial(f.currentSerial);
    const data = { version: ok.version, cipher: ok.cipher, presentedCertificate: serial !== '', certSerial: serial || null, currentCertificate: current, certSubject: ok.certSubject ?? null, remote: ok.remote };
    // Accepted in its renewal overlap: the phone works, it just has not fetched its new certificate yet.
    if (serial && !current && ok.current === false) return step('tls', 'PASS', `${str(ok.version)} ${str(ok.cipher)}, its previous certificate ${serial.slice(0, 16)}… (still valid while its renewal overlap lasts; it has not fetched its new one yet)`, data);
    if (serial && !current && f.oldSerials.some((o) => normSerial(o) === normSerial(serial))) return step('tls', 'FAIL', `presented an older certificate (${serial}), not its current one (${f.currentSerial ?? '?'})`, data, { mode: 'client-cert-old' }, f);
    const cert = serial ? (current ? `its current certificate ${serial.slice(0, 16)}…` : `certificate ${serial.slice(0, 16)}…`) : 'no client certificate';
    return step('tls', 'PASS', `${str(ok.version)} ${str(ok.cipher)}, ${cert}`, data);
  }
  if (last && !last.ok) {
    const alert = last.alert ?? '';
    const data = { error: last.error, alert: alert || null, remote: last.remote, version: last.version ?? null, code: last.code };
    // The alert's own words, for the summary: `received <name> (<n>)` is what the phone sent.
    const sent = alert.startsWith('received ') ? alert.slice('received '.length) : undefined;
    const said = sent !== undefined ? `the phone aborted the handshake: ${sent}` : last.error;
    const mode = TLS_HINTS[last.code] ?? null;
    return step('tls', 'FAIL', said, data, { mode, context: { detail: mode === 'phone-rejects-ca' ? (sent ?? alert) : last.error, code: last.code, ip: ipOf(last.remote) } }, f);
  }
  const u = latest(plain);
  if (u) {
    const transport = u.transport.toUpperCase();
    return step('tls', 'FAIL', `the phone sent ${u.what} over ${transport} to the plain SIP (diagnostic) port instead of TLS`, { remote: u.remote, transport: u.transport, what: u.what }, { mode: PLAIN_SIP_HINTS[u.code as keyof typeof PLAIN_SIP_HINTS], context: { detail: transport, code: u.code, ip: ipOf(u.remote) } }, f);
  }
  return step('tls', 'NOT SEEN', 'no TLS connection from this phone yet', {});
}

function registration(evs: readonly AnyServeEvent[], f: PhoneFacts): StepVerdict {
  const ok = [...evs].reverse().find(isEvent('register.ok'));
  const fail = [...evs].reverse().find((e): e is ServeEventOf<'register.fail'> | ServeEventOf<'security.block'> => e.event === 'register.fail' || e.event === 'security.block');
  const okAt = ok ? Date.parse(ok.time) : -1;
  const failAt = fail ? Date.parse(fail.time) : -1;
  if (ok && okAt >= failAt) {
    return step('registration', 'PASS', `${ok.aor} via ${ok.transport.toUpperCase()} from ${ok.remote}, ${ok.expires} s, ${ok.algorithm === 'certificate' ? 'certificate' : `digest ${ok.algorithm}`}`, {
      aor: ok.aor,
      contact: ok.contact,
      remote: ok.remote,
      transport: ok.transport,
      expires: ok.expires,
      algorithm: ok.algorithm,
      certSerial: ok.certSerial,
    });
  }
  if (fail) {
    const status = fail.event === 'register.fail' ? fail.status : undefined;
    return step('registration', 'FAIL', `${str(status)} ${fail.reason}`.trim(), { reason: fail.reason, status, remote: fail.remote, code: fail.code }, { mode: REGISTER_HINTS[fail.code] ?? null, context: { detail: fail.reason, code: fail.code, ip: ipOf(fail.remote) } }, f);
  }
  return step('registration', 'NOT SEEN', 'no REGISTER from this phone yet', {});
}

function call(evs: readonly AnyServeEvent[], f: PhoneFacts): StepVerdict {
  const mine = (ext: unknown) => ext === undefined || ext === f.echoExt;
  // A proxied BYE between two phones is a call.end too, but not the echo's (it has no ext).
  const ends = evs.filter(isEvent('call.end')).filter((e): e is EchoEnd => 'ext' in e && e.ext === f.echoExt);
  const rejects = evs.filter(isEvent('call.reject')).filter((e) => mine(e.ext));
  const starts = evs.filter(isEvent('call.start')).filter((e) => mine(e.ext));
  const end = latest(ends);
  const reject = latest(rejects);
  const start = latest(starts);
  if (end && (!reject || Date.parse(end.time) >= Date.parse(reject.time))) {
    const data = {
      suite: end.suite,
      srtcpTagBits: end.srtcpTagBits,
      packetsIn: end.packetsIn,
      packetsOut: end.packetsOut,
      authFailures: end.authFailures,
      replays: end.replays,
      rtcpIn: end.rtcpIn,
      oneWayAudio: end.oneWayAudio,
      timestampAnomalies: end.timestampAnomalies,
      offered: start?.offered,
      chosen: start?.chosen,
      code: end.code,
    };
    const pin = Number(end.packetsIn ?? 0);
    const pout = Number(end.packetsOut ?? 0);
    const auth = Number(end.authFailures ?? 0);
    // A phone held at --srtp off is answered in clear (the echo still proves the audio path),
    // but a call without SRTP is never a PASS: proving encrypted audio is what verify is for.
    if (end.code) {
      const summary = {
        'srtp.plain_rtp': `the call ran in plain RTP, without SRTP (${pin} packets in, ${pout} out)`,
        'srtp.auth_failures': `every SRTP packet from the phone failed authentication (${auth})`,
        'media.one_way_audio': `one-way audio: ${str(end.oneWayReason)}`,
      }[end.code];
      const detail = end.code === 'srtp.plain_rtp' ? f.phone.srtp : end.code === 'media.one_way_audio' ? str(end.oneWayReason) : undefined;
      return step('call', 'FAIL', summary, data, { mode: CALL_END_HINTS[end.code], context: { detail, code: end.code } }, f);
    }
    const anomalies = Number(end.timestampAnomalies ?? 0);
    const extra = [auth ? `${auth} authentication failure(s)` : '', anomalies ? `${anomalies} RTP timestamp anomalies` : '', end.srtcpTagBits ? `SRTCP tag ${String(end.srtcpTagBits)} bits` : ''].filter(Boolean).join(', ');
    return step('call', 'PASS', `${str(end.suite)}: ${pin} packets in, ${pout} out${extra ? `; ${extra}` : ''}`, data);
  }
  if (reject) {
    const w = reject.warning;
    const offered = (reject.offered ?? []).join('; ');
    const mode = CALL_REJECT_HINTS[reject.code] ?? null;
    const detail = mode === 'srtp-off' ? f.phone.srtp : offered || w;
    const suites = { offered: reject.offeredSuites ?? [], accepted: reject.acceptSuites ?? [] };
    return step('call', 'FAIL', `${reject.status} to the echo: ${w || str(reject.reason)}`, { status: reject.status, warning: w, offered: reject.offered, reason: reject.reason, code: reject.code }, { mode, context: { detail, code: reject.code, suites } }, f);
  }
  if (start) return step('call', 'NOT SEEN', `a call to ${f.echoExt} is in progress (${str(start.chosen)})`, { offered: start.offered, chosen: start.chosen });
  return step('call', 'NOT SEEN', `no call to the echo extension ${f.echoExt} yet`, {});
}

export function evaluatePhone(f: PhoneFacts, all: readonly ServeEvent[]): PhoneVerdict {
  const events = eventsOf(f, all);
  const loose: readonly AnyServeEvent[] = events;
  const steps = [provisioning(loose, f), tlsStep(loose, f), registration(loose, f), call(loose, f)];
  return { phone: f.phone.name, vendor: f.phone.vendor, ok: steps.every((s) => s.state === 'PASS' || (s.step === 'provisioning' && s.state === 'NOT SEEN' && f.vendor?.kind !== 'hardware')), steps, events };
}
