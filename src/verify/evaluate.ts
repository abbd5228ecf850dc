import type { ServeEvent } from '../serve/events.js';
import type { Phone } from '../home/schema.js';
import type { VendorDescriptor } from '../vendors/types.js';
import { plainIp } from '../core/net.js';
import { hint, type FailureMode } from './hints.js';

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
const ADDRESS_ONLY = /^(tls\.handshake|sip\.reject|provision\.denied|security)/;

type Identity = 'mine' | 'other' | 'unknown';

/**
 * Whom an event names: by phone name (the registrar identified it), by
 * certificate serial (one of this phone's, current or older), or by the
 * address of record of a refused REGISTER. A certificate serial that is
 * not one of this phone's is someone else's (another phone's, or one from
 * another CA), never "unknown": an address must not pull it in.
 */
function identityOf(ev: ServeEvent, f: PhoneFacts, mySerials: ReadonlySet<string>, user: string): Identity {
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
export function eventsOf(f: PhoneFacts, all: readonly ServeEvent[]): ServeEvent[] {
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
    if (typeof ev.remote === 'string' && myConnections.has(ev.remote) && ADDRESS_ONLY.test(ev.event)) return true;
    if (id !== 'unknown') return false;
    const ip = ipOf(ev.remote);
    return ip !== undefined && addresses.has(ip) && ADDRESS_ONLY.test(ev.event);
  });
}

/** Does this one event concern the phone (without the context of the others)? */
export function concerns(ev: ServeEvent, f: PhoneFacts): boolean {
  return eventsOf(f, [ev]).length === 1;
}

function step(step: StepName, state: StepState, summary: string, data: Record<string, unknown> = {}, failure?: FailureMode, f?: PhoneFacts, detail?: string, ip?: string): StepVerdict {
  const v: StepVerdict = { step, state, summary, data };
  if (failure && f) {
    v.failure = failure;
    v.hint = hint(failure, { phone: f.phone.name, vendor: f.vendor, ip, detail });
  }
  return v;
}

function provisioning(evs: ServeEvent[], f: PhoneFacts): StepVerdict {
  const fetched = evs.filter((e) => e.event === 'provision.fetch' && e.result === 'ok');
  const denied = evs.filter((e) => e.event === 'provision.denied');
  const got = new Set(fetched.map((e) => str(e.file).toLowerCase()));
  const missing = f.expectedRoutes.filter((r) => !got.has(r.toLowerCase()));
  const data = { fetched: fetched.map((e) => ({ file: e.file, protocol: e.protocol, bytes: e.bytes, time: e.time })), neverFetched: missing, denied: denied.map((e) => ({ file: e.file, reason: e.reason, protocol: e.protocol })) };
  if (fetched.length === 0 && denied.length > 0) {
    const d = denied[denied.length - 1]!;
    const reason = str(d.reason);
    return step('provisioning', 'FAIL', `refused ${str(d.file) || 'a request'} over ${str(d.protocol)}: ${reason}`, data, /key window/.test(reason) ? 'key-window' : 'provisioning-denied', f, reason);
  }
  if (fetched.length === 0) return step('provisioning', 'NOT SEEN', 'no file fetched yet (softphones configured by hand skip this)', data);
  const via = [...new Set(fetched.map((e) => str(e.protocol)))].join('+');
  return step('provisioning', 'PASS', `${fetched.length} file(s) over ${via}${missing.length ? `; never fetched: ${missing.join(', ')}` : ''}`, data);
}

function tlsStep(evs: ServeEvent[], f: PhoneFacts): StepVerdict {
  const hs = evs.filter((e) => e.event === 'tls.handshake' && e.protocol !== 'https');
  const udp = evs.filter((e) => e.event === 'sip.reject' && (e.transport === 'udp' || e.transport === 'tcp'));
  const ok = [...hs].reverse().find((e) => e.ok === true);
  const last = hs[hs.length - 1];
  if (ok && (!last || last.ok === true || last === ok)) {
    const serial = str(ok.certSerial).toLowerCase();
    const current = serial !== '' && normSerial(serial) === normSerial(f.currentSerial);
    const data = { version: ok.version, cipher: ok.cipher, presentedCertificate: serial !== '', certSerial: serial || null, currentCertificate: current, certSubject: ok.certSubject ?? null, remote: ok.remote };
    // Accepted in its renewal overlap: the phone works, it just has not fetched its new certificate yet.
    if (serial && !current && ok.current === false) return step('tls', 'PASS', `${str(ok.version)} ${str(ok.cipher)}, its previous certificate ${serial.slice(0, 16)}… (still valid while its renewal overlap lasts; it has not fetched its new one yet)`, data);
    if (serial && !current && f.oldSerials.some((o) => normSerial(o) === normSerial(serial))) return step('tls', 'FAIL', `presented an older certificate (${serial}), not its current one (${f.currentSerial ?? '?'})`, data, 'client-cert-old', f);
    const cert = serial ? (current ? `its current certificate ${serial.slice(0, 16)}…` : `certificate ${serial.slice(0, 16)}…`) : 'no client certificate';
    return step('tls', 'PASS', `${str(ok.version)} ${str(ok.cipher)}, ${cert}`, data);
  }
  if (last) {
    const err = str(last.error);
    const alert = str(last.alert);
    const data = { error: err, alert: alert || null, remote: last.remote, version: last.version ?? null };
    const ip = ipOf(last.remote);
    // Alerts the phone sent say what it thought of sipsec's certificate; errors about the
    // client certificate say what sipsec thought of the phone's.
    const received = alert.startsWith('received');
    let mode: FailureMode = 'handshake-aborted';
    if (received && /unknown ca|bad certificate|certificate unknown|unsupported certificate|access denied/.test(alert)) mode = 'phone-rejects-ca';
    else if (received && /certificate expired/.test(alert)) mode = 'phone-clock';
    else if (/revoked/i.test(err)) mode = 'client-cert-revoked';
    else if (/has expired/i.test(err)) mode = 'client-cert-expired';
    else if (/not valid yet/i.test(err)) mode = 'phone-clock';
    else if (/not issued by this CA|another CA|self-signed|signature does not verify/i.test(err)) mode = 'client-cert-foreign';
    else if (/no client certificate/i.test(err)) mode = 'client-cert-missing';
    else if (/no longer a phone's current|older/i.test(err)) mode = 'client-cert-old';
    else if (/protocol[ _]version|unsupported protocol|wrong version|no protocols available|no shared cipher|handshake[ _]failure|insufficient security/i.test(`${err} ${alert}`)) mode = 'tls-version';
    const said = alert.startsWith('received') ? `the phone aborted the handshake: ${alert.replace(/^received /, '')}` : err;
    return step('tls', 'FAIL', said, data, mode, f, mode === 'phone-rejects-ca' ? alert.replace(/^received /, '') : err, ip);
  }
  if (udp.length > 0) {
    const u = udp[udp.length - 1]!;
    const transport = str(u.transport).toUpperCase();
    return step('tls', 'FAIL', `the phone sent ${str(u.what)} over ${transport} to the plain SIP (diagnostic) port instead of TLS`, { remote: u.remote, transport: u.transport, what: u.what }, 'udp-registration', f, transport, ipOf(u.remote));
  }
  return step('tls', 'NOT SEEN', 'no TLS connection from this phone yet', {});
}

function registration(evs: ServeEvent[], f: PhoneFacts): StepVerdict {
  const ok = [...evs].reverse().find((e) => e.event === 'register.ok');
  const fail = [...evs].reverse().find((e) => e.event === 'register.fail' || e.event === 'security.block');
  const okAt = ok ? Date.parse(ok.time) : -1;
  const failAt = fail ? Date.parse(fail.time) : -1;
  if (ok && okAt >= failAt) {
    return step('registration', 'PASS', `${str(ok.aor)} via ${str(ok.transport).toUpperCase()} from ${str(ok.remote)}, ${str(ok.expires)} s, ${str(ok.algorithm) === 'certificate' ? 'certificate' : `digest ${str(ok.algorithm)}`}`, {
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
    const reason = str(fail.reason);
    const ip = ipOf(fail.remote);
    let mode: FailureMode = 'wrong-password';
    if (fail.event === 'security.block' || /locked|blocked/i.test(reason)) mode = 'locked-out';
    else if (/cannot register|\baor\b|address of record/i.test(reason)) mode = 'aor-mismatch';
    else if (/revoked/i.test(reason)) mode = 'client-cert-revoked';
    else if (/certificate/i.test(reason) && /required|no client|without/i.test(reason)) mode = 'client-cert-missing';
    else if (/certificate/i.test(reason)) mode = 'client-cert-foreign';
    return step('registration', 'FAIL', `${str(fail.status)} ${reason}`.trim(), { reason, status: fail.status, remote: fail.remote }, mode, f, reason, ip);
  }
  return step('registration', 'NOT SEEN', 'no REGISTER from this phone yet', {});
}

function call(evs: ServeEvent[], f: PhoneFacts): StepVerdict {
  const echo = evs.filter((e) => (e.event === 'call.start' || e.event === 'call.end' || e.event === 'call.reject') && (e.ext === undefined || e.ext === f.echoExt));
  const end = [...echo].reverse().find((e) => e.event === 'call.end');
  const reject = [...echo].reverse().find((e) => e.event === 'call.reject');
  const start = [...echo].reverse().find((e) => e.event === 'call.start');
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
    };
    const pin = Number(end.packetsIn ?? 0);
    const pout = Number(end.packetsOut ?? 0);
    const auth = Number(end.authFailures ?? 0);
    // A phone held at --srtp off is answered in clear (the echo still proves the audio path),
    // but a call without SRTP is never a PASS: proving encrypted audio is what verify is for.
    if (end.suite === null || end.suite === undefined) return step('call', 'FAIL', `the call ran in plain RTP, without SRTP (${pin} packets in, ${pout} out)`, data, 'srtp-off', f, f.phone.srtp);
    if (pin === 0 && auth > 0) return step('call', 'FAIL', `every SRTP packet from the phone failed authentication (${auth})`, data, 'srtp-auth', f);
    if (end.oneWayAudio === true) return step('call', 'FAIL', `one-way audio: ${str(end.oneWayReason)}`, data, 'one-way-audio', f, str(end.oneWayReason));
    const anomalies = Number(end.timestampAnomalies ?? 0);
    const extra = [auth ? `${auth} authentication failure(s)` : '', anomalies ? `${anomalies} RTP timestamp anomalies` : '', end.srtcpTagBits ? `SRTCP tag ${String(end.srtcpTagBits)} bits` : ''].filter(Boolean).join(', ');
    return step('call', 'PASS', `${str(end.suite)}: ${pin} packets in, ${pout} out${extra ? `; ${extra}` : ''}`, data);
  }
  if (reject) {
    const w = str(reject.warning);
    const offered = Array.isArray(reject.offered) ? (reject.offered as string[]).join('; ') : '';
    let mode: FailureMode = 'suite-mismatch';
    const srtpOff = /^302|no a=crypto|plain RTP|RTP\/AVP/i.test(w + str(reject.reason)) && !offered;
    if (srtpOff) mode = 'srtp-off';
    else if (/lifetime/i.test(w + offered)) mode = 'lifetime-refused';
    return step('call', 'FAIL', `${str(reject.status)} to the echo: ${w || str(reject.reason)}`, { status: reject.status, warning: w, offered: reject.offered, reason: reject.reason }, mode, f, srtpOff ? f.phone.srtp : offered || w);
  }
  if (start) return step('call', 'NOT SEEN', `a call to ${f.echoExt} is in progress (${str(start.chosen)})`, { offered: start.offered, chosen: start.chosen });
  return step('call', 'NOT SEEN', `no call to the echo extension ${f.echoExt} yet`, {});
}

export function evaluatePhone(f: PhoneFacts, all: readonly ServeEvent[]): PhoneVerdict {
  const events = eventsOf(f, all);
  const steps = [provisioning(events, f), tlsStep(events, f), registration(events, f), call(events, f)];
  return { phone: f.phone.name, vendor: f.phone.vendor, ok: steps.every((s) => s.state === 'PASS' || (s.step === 'provisioning' && s.state === 'NOT SEEN' && f.vendor?.kind !== 'hardware')), steps, events };
}
