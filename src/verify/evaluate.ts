import type { ServeEvent } from '../serve/events.js';
import type { Phone } from '../pki/schema.js';
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

/** Does this event concern the phone? By name, by certificate serial, or by its recorded address. */
export function concerns(ev: ServeEvent, f: PhoneFacts): boolean {
  if (ev.phone !== undefined) return ev.phone === f.phone.name;
  const serial = str(ev.certSerial).toLowerCase();
  if (serial && (serial === f.currentSerial || f.oldSerials.includes(serial))) return true;
  const ip = ipOf(ev.remote);
  return ip !== undefined && f.phone.ips.map(plainIp).includes(ip) && /^(tls\.handshake|sip\.reject|provision\.denied|security)/.test(ev.event);
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
    const data = { version: ok.version, cipher: ok.cipher, certSerial: serial || null, certSubject: ok.certSubject ?? null, remote: ok.remote };
    if (serial && serial !== f.currentSerial && f.oldSerials.includes(serial)) return step('tls', 'FAIL', `presented an older certificate (${serial}), not its current one (${f.currentSerial ?? '?'})`, data, 'client-cert-old', f);
    const cert = serial ? (serial === f.currentSerial ? `its current certificate ${serial.slice(0, 16)}…` : `certificate ${serial.slice(0, 16)}…`) : 'no client certificate';
    return step('tls', 'PASS', `${str(ok.version)} ${str(ok.cipher)}, ${cert}`, data);
  }
  if (last) {
    const err = str(last.error);
    const alert = str(last.alert);
    const data = { error: err, alert: alert || null, remote: last.remote, version: last.version ?? null };
    const ip = ipOf(last.remote);
    let mode: FailureMode = 'tls-version';
    if (/unknown ca|bad certificate|certificate unknown|unsupported certificate/.test(alert)) mode = 'phone-rejects-ca';
    else if (/certificate expired/.test(alert)) mode = 'phone-clock';
    else if (/revoked/i.test(err)) mode = 'client-cert-revoked';
    else if (/expired/i.test(err)) mode = 'client-cert-expired';
    else if (/not valid yet/i.test(err)) mode = 'phone-clock';
    else if (/not issued by this CA|another CA|self-signed|signature does not verify/i.test(err)) mode = 'client-cert-foreign';
    else if (/no client certificate/i.test(err)) mode = 'client-cert-missing';
    else if (/no longer a phone's current|older/i.test(err)) mode = 'client-cert-old';
    const said = alert.startsWith('received') ? `the phone aborted the handshake: ${alert.replace(/^received /, '')}` : err;
    return step('tls', 'FAIL', said, data, mode, f, err, ip);
  }
  if (udp.length > 0) {
    const u = udp[udp.length - 1]!;
    return step('tls', 'FAIL', `the phone sent ${str(u.what)} over ${str(u.transport).toUpperCase()} to the diagnostic port instead of TLS`, { remote: u.remote, transport: u.transport }, 'udp-registration', f);
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
    else if (/cannot register|aor|address of record/i.test(reason)) mode = 'aor-mismatch';
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
    if (end.suite === null || end.suite === undefined) return step('call', 'FAIL', 'the call was answered without SRTP (plain RTP)', data, 'srtp-off', f);
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
    if (/^302|no a=crypto|plain RTP|RTP\/AVP/i.test(w + str(reject.reason)) && !offered) mode = 'srtp-off';
    else if (/lifetime/i.test(w + offered)) mode = 'lifetime-refused';
    return step('call', 'FAIL', `${str(reject.status)} to the echo: ${w || str(reject.reason)}`, { status: reject.status, warning: w, offered: reject.offered }, mode, f, offered || w);
  }
  if (start) return step('call', 'NOT SEEN', `a call to ${f.echoExt} is in progress (${str(start.chosen)})`, { offered: start.offered, chosen: start.chosen });
  return step('call', 'NOT SEEN', `no call to the echo extension ${f.echoExt} yet`, {});
}

export function evaluatePhone(f: PhoneFacts, all: readonly ServeEvent[]): PhoneVerdict {
  const events = all.filter((e) => concerns(e, f));
  const steps = [provisioning(events, f), tlsStep(events, f), registration(events, f), call(events, f)];
  return { phone: f.phone.name, vendor: f.phone.vendor, ok: steps.every((s) => s.state === 'PASS' || (s.step === 'provisioning' && s.state === 'NOT SEEN' && f.vendor?.kind !== 'hardware')), steps, events };
}
