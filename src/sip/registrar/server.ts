/**
 * The registrar/proxy core: what happens to every message a phone sends
 * over its flow. Transports hand in parse results; this file decides.
 *
 * Order of work for a request (each step can answer and stop):
 *  1. a flow whose client certificate did not verify: 403 with the reason
 *     (Warning), then the connection closes (transport-tls.ts);
 *  2. the role the request is for (registrar, local extension, proxy,
 *     in-dialog, or us as a UAS), so validation applies the right rules
 *     (RFC 3261 §16.3 for a proxy, §8.2 for a UAS: 483, 420, 415, 406 ...);
 *  3. validation (validate.ts), answered statelessly;
 *  4. the transaction layer: retransmissions absorbed, ACK/CANCEL matched;
 *  5. the address's lockout (403), authentication (401/407), identity
 *     (403), and only then routing (404/480) or registration. Checks that
 *     depend on no secret come before authentication; everything that
 *     could tell whether a user exists comes after it (no enumeration).
 *
 * Authentication. REGISTER: `--auth both` (default) asks for digest from
 * everyone, on top of the client certificate where there is one (device
 * key and SIP secret: two factors); `--auth cert` lets a verified phone
 * certificate alone authenticate (Kamailio's model, peers.md §3), digest
 * only for phones without a certificate. Other requests: a flow that
 * carries the phone's live registration is trusted for it (it passed the
 * registrar's checks on that very connection), and so is a certificate
 * flow under `--auth cert`; anything else is challenged with 407 (proxy
 * digest, RFC 3261 §22.3).
 */
import { plainIp } from '../../core/net.js';
import type { EventInput, FailureCode } from '../../events/index.js';
import { DigestAuthenticator, type AuthFailure } from '../../auth/authenticator.js';
import type { DigestAlgorithm } from '../../auth/digest.js';
import { hostPort, type Flow } from '../transport/flow.js';
import type { IdentityResolver, RegistrarPhone as Phone } from './identity.js';
import { LocalCall, type CallEndReason, type CallParty, type DialogHost, type LocalEndpoint } from './local-endpoint.js';
import { FailureTracker, formatSecurityEvent, type LockoutOptions, type SecurityEvent } from '../../auth/lockout.js';
import type { SipRequest, SipResponse } from '../message/message.js';
import { tagOf } from '../message/name-addr.js';
import { NonceManager } from '../../auth/nonce.js';
import type { ParseResult } from '../message/parser.js';
import { createsDialog, Proxy, type ProxyHost } from './proxy.js';
import { stampReceived } from '../transport/received.js';
import { Registrar, type Binding, type RegistrarOptions } from './bindings.js';
import { buildResponse, responseFor, serialize } from '../message/serializer.js';
import { TransactionLayer, type ServerTransaction, type TransactionTimers } from '../transaction/transaction.js';
import { holdFlow } from '../transport/tls.js';
import { isSipUri, sipUriEquals, unescapeBinary, type SipUri } from '../message/uri.js';
import { validateRequest, validateResponse } from '../message/validate.js';

export type AuthMode = 'both' | 'cert';

export interface SipServerOptions {
  identities: IdentityResolver;
  auth?: AuthMode;
  /**
   * Offered digest algorithms in preference order, one challenge each
   * (RFC 8760 §2). Default MD5 alone: libre 1.1 (baresip 1.0) refuses the
   * whole 401 with "Function not implemented" as soon as one challenge
   * names an algorithm it lacks, whatever the order (tested here), and the
   * digest runs inside TLS, so MD5's weakness (offline guessing from a
   * captured exchange) first needs the TLS session broken.
   */
  digestAlgorithms?: readonly DigestAlgorithm[];
  /** null: no lockout. */
  lockout?: LockoutOptions | null;
  /** A lockout shared with other services (HTTPS provisioning); null: none. Wins over `lockout`. */
  lockoutTracker?: FailureTracker | null;
  registrar?: RegistrarOptions;
  endpoints?: readonly LocalEndpoint[];
  timers?: Partial<TransactionTimers>;
  /** Our listening port (Route/Record-Route recognition); set once listening. */
  port?: number;
  /** The host named in Warning headers (RFC 3261 §20.43 warn-agent). */
  warnAgent: string;
  emit: (ev: EventInput) => void;
  /** One fail2ban-readable line per security event. */
  securityLog?: (line: string) => void;
  now?: () => number;
}

const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, INFO, UPDATE, REFER, NOTIFY, PRACK';
/** Out-of-dialog requests answered without forwarding (RFC 6665 §4.2.1.2 for events sipsec does not serve). */
const ANSWERED_HERE: Readonly<Record<string, number>> = { SUBSCRIBE: 489, PUBLISH: 489, NOTIFY: 481, BYE: 481, PRACK: 481, UPDATE: 481, INFO: 481 };

type Role = 'registrar' | 'self' | 'local' | 'proxy' | 'dialog' | 'uas';

/** The digest failure (auth/authenticator.ts) as the code of each event that reports it. */
const DIGEST_FAILURE_CODES = {
  InvalidPassword: { register: 'register.wrong_password', sip: 'sip.wrong_password', security: 'auth.wrong_password' },
  InvalidAccountID: { register: 'register.unknown_user', sip: 'sip.unknown_user', security: 'auth.unknown_user' },
  ChallengeResponseFailed: { register: 'register.nonce_replayed', sip: 'sip.nonce_replayed', security: 'auth.nonce_replayed' },
} as const satisfies Record<AuthFailure['event'], { register: FailureCode; sip: FailureCode; security: FailureCode }>;

type RegisterFailCode = Extract<EventInput, { event: 'register.fail' }>['code'];
type SipRejectCode = Extract<EventInput, { event: 'sip.reject' }>['code'];

function quoteText(s: string): string {
  return s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ');
}

export class SipServer implements ProxyHost, DialogHost {
  readonly transactions: TransactionLayer;
  readonly registrar: Registrar;
  readonly identities: IdentityResolver;
  readonly auth: AuthMode;
  readonly #o: SipServerOptions;
  readonly #proxy: Proxy;
  readonly #regAuth: DigestAuthenticator;
  readonly #proxyAuth: DigestAuthenticator;
  readonly #lockout: FailureTracker | undefined;
  readonly #endpoints = new Map<string, LocalEndpoint>();
  readonly #calls = new Map<string, LocalCall>();
  readonly #flows = new Map<string, Flow>();
  readonly #ownHosts = new Set<string>(['localhost']);
  readonly #lastEvent = new Map<Binding['source']['flow'], number>();
  readonly #aclLogged = new Map<string, number>();
  readonly #expiry: NodeJS.Timeout;
  readonly #now: () => number;
  port: number;

  constructor(o: SipServerOptions) {
    this.#o = o;
    this.identities = o.identities;
    this.auth = o.auth ?? 'both';
    this.#now = o.now ?? Date.now;
    this.port = o.port ?? 5061;
    this.transactions = new TransactionLayer(o.timers);
    this.registrar = new Registrar({ ...o.registrar, now: this.#now });
    this.#proxy = new Proxy(this);
    const nonces = new NonceManager({ now: this.#now });
    const algorithms = o.digestAlgorithms ?? ['MD5'];
    this.#regAuth = new DigestAuthenticator({ realm: o.identities.domain, algorithms, nonces });
    this.#proxyAuth = new DigestAuthenticator({ realm: o.identities.domain, algorithms, nonces, proxy: true });
    this.#lockout = o.lockoutTracker !== undefined ? (o.lockoutTracker ?? undefined) : o.lockout === null ? undefined : new FailureTracker({ ...o.lockout, now: this.#now });
    for (const e of o.endpoints ?? []) this.#endpoints.set(e.ext, e);
    this.#ownHosts.add(o.identities.domain.toLowerCase());
    this.#expiry = setInterval(() => this.#expireBindings(), 1000);
    this.#expiry.unref();
  }

  close(): void {
    clearInterval(this.#expiry);
    for (const c of [...this.#calls.values()]) c.shutdown();
    this.transactions.close();
  }

  addEndpoint(e: LocalEndpoint): void {
    this.#endpoints.set(e.ext, e);
  }

  endpoints(): LocalEndpoint[] {
    return [...this.#endpoints.values()];
  }

  get calls(): number {
    return this.#calls.size;
  }

  /** A host name or address that means this server (besides its flows' local addresses). */
  addOwnHost(host: string): void {
    this.#ownHosts.add(host.toLowerCase());
  }

  // ------------------------------------------------------------ host APIs

  flowById(id: string): Flow | undefined {
    const f = this.#flows.get(id);
    return f && f.open ? f : undefined;
  }

  isOwnUri(uri: SipUri): boolean {
    const port = uri.port ?? (uri.scheme === 'sips' || uri.params.some((p) => p.key === 'transport' && p.value?.toLowerCase() === 'tls') ? 5061 : 5060);
    return port === this.port && this.#isOwnHost(uri.host);
  }

  #isOwnHost(host: string): boolean {
    const h = plainIp(host.startsWith('[') ? host.slice(1, -1) : host).toLowerCase();
    return this.#ownHosts.has(h) || this.identities.isOurHost(h);
  }

  via(flow: Flow, branch: string, extra = ''): string {
    return `SIP/2.0/${flow.transport.toUpperCase()} ${hostPort(flow.localAddress, flow.localPort)};branch=${branch}${extra}`;
  }

  warning(text: string): string {
    return `399 ${this.#o.warnAgent} "${quoteText(text)}"`;
  }

  flowFor(phone: string, preferred: Flow): Flow | undefined {
    if (preferred.open) return preferred;
    const p = this.identities.phone(phone);
    if (!p) return undefined;
    return this.registrar.lookup(this.identities.aorOf(p)).find((b) => b.source.flow.open)?.source.flow;
  }

  onEnd(call: LocalCall, reason: CallEndReason): void {
    this.#calls.delete(`${call.callId}\0${call.localTag}`);
    // call.start/call.end belong to the endpoint (the echo reports media there); this is the dialog's own lifecycle.
    this.#o.emit({ event: 'dialog.end', phone: call.caller.phone, remote: call.caller.remote, ext: call.ext, callId: call.callId, reason });
  }

  onIgnoredAck(call: LocalCall, ack: SipRequest, why: string): void {
    const transport = call.caller.transport === 'udp' || call.caller.transport === 'tcp' ? call.caller.transport : 'tls';
    this.#o.emit({ event: 'sip.reject', phone: call.caller.phone, remote: call.caller.remote, transport, what: `ACK ${ack.uri.slice(0, 80)}`, why, status: 'dropped', code: 'sip.ack_cseq_mismatch', callId: call.callId });
  }

  // ------------------------------------------------------------ flows

  /** A transport's new flow (after the TLS handshake). */
  flowOpened(flow: Flow): void {
    this.#flows.set(flow.id, flow);
    this.#ownHosts.add(flow.localAddress.toLowerCase());
    flow.onClose((reason) => this.#flowClosed(flow, reason));
  }

  #flowClosed(flow: Flow, reason: string): void {
    this.#flows.delete(flow.id);
    this.#lastEvent.delete(flow);
    for (const b of this.registrar.removeFlow(flow)) {
      this.#o.emit({ event: 'register.end', phone: b.source.phone, aor: b.aor, contact: b.contactUri, remote: flow.remote, reason: `connection closed (${reason})` });
    }
  }

  #expireBindings(): void {
    for (const b of this.registrar.expire()) {
      this.#o.emit({ event: 'register.end', phone: b.source.phone, aor: b.aor, contact: b.contactUri, remote: b.source.flow.remote, reason: 'expired' });
    }
  }

  // ------------------------------------------------------------ messages

  /** Entry point of the transports. Never throws. */
  handle(result: ParseResult, flow: Flow): void {
    try {
      if (!result.ok) {
        const what = result.partial?.kind === 'request' ? `${result.partial.method.slice(0, 20)} request` : result.partial?.kind === 'response' ? 'response' : 'message';
        const status = result.reaction.action === 'respond' ? result.reaction.status : undefined;
        this.#reject(flow, 'sip.malformed', `malformed ${what}`, result.reason, status);
        return;
      }
      const msg = result.message;
      if (msg.kind === 'response') this.#onResponse(msg);
      else this.#onRequest(msg, flow);
    } catch (e) {
      this.#o.emit({ event: 'serve.error', remote: flow.remote, reason: `SIP handling failed: ${(e as Error).message}`.slice(0, 300), code: 'sip.handler_failed' });
    }
  }

  #reject(flow: Flow, code: SipRejectCode, what: string, why: string, status: number | undefined): void {
    this.#o.emit({ event: 'sip.reject', remote: flow.remote, phone: flow.phone, transport: flow.transport, what, why, status: status ?? 'dropped', code });
  }

  #onResponse(res: SipResponse): void {
    const v = validateResponse(res, { role: 'proxy' });
    if (!v.ok) return;
    if (this.transactions.receiveResponse(res)) return;
    this.#proxy.forwardStray(res);
  }

  /** Answers outside any transaction (validation failures, refusals before one exists). */
  #statelessReply(req: SipRequest, flow: Flow, status: number, headers: Array<readonly [string, string]> = []): void {
    if (req.method === 'ACK') return;
    flow.send(serialize(buildResponse(req, status, undefined, { headers })));
  }

  #onRequest(req: SipRequest, flow: Flow): void {
    stampReceived(req, flow.remoteAddress, flow.remotePort);
    if (flow.tls?.certError) {
      const why = `client certificate not accepted: ${flow.tls.certError}`;
      this.#statelessReply(req, flow, 403, [['Warning', this.warning(why)]]);
      const code = flow.tls.certErrorCode ?? 'tls.cert_invalid';
      if (req.method === 'REGISTER') this.#registerFail(req, flow, undefined, code, why, 403);
      else this.#reject(flow, code, `${req.method} ${req.uri.slice(0, 80)}`, why, 403);
      flow.close('client certificate not accepted');
      return;
    }
    const role = this.#role(req);
    const verdict = validateRequest(req, {
      proxy: role === 'proxy' || role === 'dialog',
      supportedExtensions: ['outbound', 'path'],
    });
    if (!verdict.ok) {
      const res = responseFor(req, verdict.reaction);
      if (res) flow.send(serialize(res));
      this.#reject(flow, 'sip.invalid_request', `${req.method.slice(0, 20)} ${req.uri.slice(0, 80)}`, verdict.reason, res?.status);
      return;
    }
    const arrival = this.transactions.receive(req, flow);
    if (!arrival || arrival.kind === 'absorbed') return;
    if (arrival.kind === 'ack') {
      this.#ack(req, flow);
      return;
    }
    if (arrival.kind === 'cancel') {
      if (!arrival.invite) {
        arrival.tx.reply(481);
        return;
      }
      // §9.2: the CANCEL is answered at once; the INVITE then ends with 487.
      arrival.tx.reply(200);
      arrival.invite.onCancel?.();
      return;
    }
    const tx = arrival.tx;
    switch (role) {
      case 'registrar':
        this.#register(tx);
        return;
      case 'self':
        tx.reply(200, { headers: [['Allow', ALLOW], ['Accept', 'application/sdp'], ['Supported', 'outbound'], ['Server', 'sipsec']] });
        return;
      case 'dialog':
        this.#inDialog(tx);
        return;
      default:
        this.#outOfDialog(tx, role);
    }
  }

  /** Which part of the server a validated request is for. */
  #role(req: SipRequest): Role {
    if (req.method === 'REGISTER') return 'registrar';
    const to = req.to();
    if (to.ok && tagOf(to.value) !== undefined) return 'dialog';
    const ruri = req.requestUri();
    if (!ruri.ok || !isSipUri(ruri.value)) return 'uas';
    const u = ruri.value;
    if (!this.#isOwnHost(u.host)) return 'uas';
    if (u.user === undefined || u.user === '') return req.method === 'OPTIONS' ? 'self' : 'uas';
    const user = unescapeBinary(u.user);
    if (this.#endpoints.has(user)) return 'local';
    // A user of our domain is a proxy target whether registered or not:
    // §16.3 checks (Max-Forwards 483 first) come before the target lookup
    // that answers 480/404, and alike for every user (no enumeration).
    return 'proxy';
  }

  // ------------------------------------------------------------ lockout and security log

  #blocked(req: SipRequest, flow: Flow): boolean {
    if (!this.#lockout?.isBlocked(flow.remoteAddress)) return false;
    const until = this.#lockout.blockedUntil(flow.remoteAddress) ?? this.#now();
    const why = `too many authentication failures from ${flow.remoteAddress}: refused until ${new Date(until).toISOString()}`;
    this.#statelessReplyTx(req, flow, 403, why);
    const last = this.#aclLogged.get(flow.remoteAddress) ?? 0;
    if (this.#now() - last > 10_000) {
      if (this.#aclLogged.size > 10_000) this.#aclLogged.clear();
      this.#aclLogged.set(flow.remoteAddress, this.#now());
      this.#security(req, flow, 'FailedACL', '', undefined);
      this.#reject(flow, 'sip.locked_out', `${req.method} ${req.uri.slice(0, 80)}`, why, 403);
    }
    return true;
  }

  #statelessReplyTx(req: SipRequest, flow: Flow, status: number, why: string): void {
    this.#statelessReply(req, flow, status, [['Warning', this.warning(why)]]);
  }

  #security(req: SipRequest, flow: Flow, event: SecurityEvent['event'], account: string, failure: AuthFailure | undefined): void {
    const callId = req.callId();
    const line = formatSecurityEvent({
      event,
      accountId: account,
      sessionId: callId.ok ? callId.value : '',
      transport: flow.transport === 'tls' ? 'TLS' : flow.transport === 'tcp' ? 'TCP' : 'UDP',
      local: { address: flow.localAddress, port: flow.localPort },
      remote: { address: flow.remoteAddress, port: flow.remotePort },
      // The nonce only: never the response hash (an offline guess at a mistyped password).
      ...(failure ? { receivedChallenge: failure.nonce } : {}),
    });
    this.#o.securityLog?.(line);
    const code = event === 'FailedACL' ? 'auth.blocked' : DIGEST_FAILURE_CODES[event].security;
    this.#o.emit({ event: 'security', remote: flow.remote, securityEvent: event, account: account.slice(0, 64), line, code });
  }

  /** A failed authentication: security log, lockout count; true when the address is now blocked. */
  #authFailed(req: SipRequest, flow: Flow, failure: AuthFailure): void {
    this.#security(req, flow, failure.event, failure.username, failure);
    if (!this.#lockout) return;
    const r = this.#lockout.recordFailure(flow.remoteAddress);
    if (r.blocked && r.blockedUntil !== undefined && r.failures >= this.#lockout.maxFailures) {
      this.#o.emit({ event: 'security.block', remote: flow.remote, failures: r.failures, until: new Date(r.blockedUntil).toISOString(), reason: `${r.failures} authentication failures within ${Math.round(this.#lockout.windowMs / 1000)} s`, code: 'auth.locked_out' });
    }
  }

  // ------------------------------------------------------------ REGISTER

  #registerFail(req: SipRequest, flow: Flow, phone: string | undefined, code: RegisterFailCode, reason: string, status: number): void {
    const to = req.to();
    const aor = to.ok && isSipUri(to.value.uri) ? to.value.uri.raw.slice(0, 120) : undefined;
    this.#o.emit({ event: 'register.fail', phone, aor, remote: flow.remote, transport: flow.transport, reason, status, code });
  }

  #refuse(tx: ServerTransaction, phone: string | undefined, status: number, code: RegisterFailCode, reason: string, headers: ReadonlyArray<readonly [string, string]> = []): void {
    tx.reply(status, { headers: [...headers, ['Warning', this.warning(reason)]] });
    this.#registerFail(tx.request, tx.flow, phone, code, reason, status);
  }

  #register(tx: ServerTransaction): void {
    const req = tx.request;
    const flow = tx.flow;
    const to = req.to();
    if (!to.ok || !isSipUri(to.value.uri)) {
      this.#refuse(tx, undefined, 400, 'register.bad_request', 'the To of a REGISTER must be a sip: or sips: URI (the address-of-record)');
      return;
    }
    const toUri = to.value.uri;
    if (this.#blocked(req, flow)) {
      this.#registerFail(req, flow, undefined, 'register.locked_out', 'address locked out after repeated authentication failures', 403);
      return;
    }
    const certPhoneName = flow.tls?.certPhone;
    const certPhone = certPhoneName ? this.identities.phone(certPhoneName) : undefined;
    if (certPhone && !this.identities.isAorOf(certPhone, toUri)) {
      this.#refuse(tx, certPhone.name, 403, 'register.aor_mismatch', `certificate of ${certPhone.name} cannot register ${toUri.raw.slice(0, 100)}`);
      return;
    }
    let phone: Phone;
    let auth: string;
    if (certPhone && this.auth === 'cert') {
      phone = certPhone;
      auth = 'certificate';
    } else {
      const r = this.#regAuth.verify(req, (user) => this.identities.secretOf(user), flow.remoteAddress);
      if (r.outcome === 'bad-request') {
        this.#refuse(tx, undefined, 400, 'register.bad_credentials', r.reason);
        return;
      }
      if (r.outcome === 'challenge') {
        tx.reply(r.status, { headers: r.headers });
        if (r.failure) {
          this.#registerFail(req, flow, undefined, DIGEST_FAILURE_CODES[r.failure.event].register, r.failure.reason, r.status);
          this.#authFailed(req, flow, r.failure);
        }
        return;
      }
      const byUser = this.identities.byUser(r.username);
      if (!byUser) {
        this.#refuse(tx, undefined, 403, 'register.unknown_user', `${r.username} is not a phone`);
        return;
      }
      if (certPhone && byUser.name !== certPhone.name) {
        this.#refuse(tx, certPhone.name, 403, 'register.cert_user_mismatch', `certificate of ${certPhone.name} does not match digest user ${r.username}`);
        return;
      }
      phone = byUser;
      auth = r.algorithm;
    }
    if (!this.identities.isAorOf(phone, toUri)) {
      this.#refuse(tx, phone.name, 403, 'register.aor_mismatch', `${phone.name} cannot register ${toUri.raw.slice(0, 100)} (its AOR is ${this.identities.aorOf(phone)})`);
      return;
    }
    if (!certPhone && this.identities.certRequired(phone)) {
      const why = this.identities.mode === 'required' ? '--client-cert required' : `its vendor ${phone.vendor} can present one`;
      this.#refuse(tx, phone.name, 403, 'register.cert_required', `${phone.name} must present its client certificate (${why})`);
      return;
    }
    const aor = this.identities.aorOf(phone);
    const outcome = this.registrar.register(req, aor, { flow, phone: phone.name, auth });
    if (!outcome.ok) {
      this.#refuse(tx, phone.name, outcome.status, outcome.code, outcome.reason, outcome.headers);
      return;
    }
    const headers: Array<[string, string]> = outcome.bindings.map((b) => ['Contact', this.registrar.contactValue(b)]);
    if (outcome.outbound) headers.push(['Require', 'outbound']);
    headers.push(['Date', new Date(this.#now()).toUTCString()]);
    tx.reply(200, { headers });
    if (outcome.added.length + outcome.refreshed.length > 0) {
      if (flow.identifiedBy !== 'certificate') {
        flow.phone = phone.name;
        flow.identifiedBy = 'registration';
      }
      holdFlow(flow, this.registrar.heldUntil(flow) + 32_000);
    }
    this.#registerEvents(flow, phone, aor, auth, outcome.added, outcome.refreshed, outcome.removed);
  }

  /**
   * register.ok for new bindings, and for refreshes at most once a minute
   * per connection (a phone refreshing every 30 s, or a load test, must
   * not flood the stream; `sipsec status` shows every binding live).
   */
  #registerEvents(flow: Flow, phone: Phone, aor: string, auth: string, added: readonly Binding[], refreshed: readonly Binding[], removed: readonly Binding[]): void {
    const now = this.#now();
    const last = this.#lastEvent.get(flow) ?? 0;
    const report = added.length > 0 ? added : now - last >= 60_000 ? refreshed : [];
    if (report.length > 0) this.#lastEvent.set(flow, now);
    for (const b of report) {
      this.#o.emit({
        event: 'register.ok',
        phone: phone.name,
        aor,
        contact: b.contactUri,
        remote: flow.remote,
        transport: flow.transport,
        expires: this.registrar.secondsLeft(b),
        tlsVersion: flow.tls?.version,
        cipher: flow.tls?.cipher,
        certSerial: flow.tls?.certPhone ? flow.tls.certSerial : undefined,
        algorithm: auth,
        ...(added.includes(b) ? {} : { refresh: true }),
      });
    }
    for (const b of removed) {
      this.#o.emit({ event: 'register.end', phone: phone.name, aor, contact: b.contactUri, remote: flow.remote, reason: 'unregistered' });
    }
  }

  // ------------------------------------------------------------ calls and other requests

  /** The phone a flow may send requests for, or undefined (then proxy digest decides). */
  #callerOf(flow: Flow): Phone | undefined {
    if (!flow.phone) return undefined;
    if (flow.identifiedBy === 'certificate' && this.auth !== 'cert' && !this.registrar.hasBindingOn(flow)) return undefined;
    return this.identities.phone(flow.phone);
  }

  #party(phone: Phone, flow: Flow): CallParty {
    return {
      phone: phone.name,
      aor: this.identities.aorOf(phone),
      remote: flow.remote,
      localAddress: flow.localAddress,
      transport: flow.transport,
      tlsVersion: flow.tls?.version,
      cipher: flow.tls?.cipher,
      certSerial: flow.tls?.certPhone ? flow.tls.certSerial : undefined,
    };
  }

  /** A request refused in its transaction: the reason in a Warning (RFC 3261 §20.43) and a sip.reject event. */
  #refuseRequest(tx: ServerTransaction, status: number, code: SipRejectCode, why: string): void {
    tx.reply(status, { headers: [['Warning', this.warning(why)]] });
    this.#reject(tx.flow, code, `${tx.request.method} ${tx.request.uri.slice(0, 80)}`, why, status);
  }

  #outOfDialog(tx: ServerTransaction, role: Role): void {
    const req = tx.request;
    const flow = tx.flow;
    const what = `${req.method} ${req.uri.slice(0, 80)}`;
    const refuse = (status: number, code: SipRejectCode, why: string) => this.#refuseRequest(tx, status, code, why);
    const here = ANSWERED_HERE[req.method];
    if (here !== undefined) {
      tx.reply(here);
      return;
    }
    if (this.#blocked(req, flow)) return;
    let caller = this.#callerOf(flow);
    if (!caller) {
      const r = this.#proxyAuth.verify(req, (user) => this.identities.secretOf(user), flow.remoteAddress);
      if (r.outcome === 'bad-request') return refuse(400, 'sip.bad_credentials', r.reason);
      if (r.outcome === 'challenge') {
        tx.reply(r.status, { headers: r.headers });
        if (r.failure) {
          this.#reject(flow, DIGEST_FAILURE_CODES[r.failure.event].sip, what, r.failure.reason, r.status);
          this.#authFailed(req, flow, r.failure);
        }
        return;
      }
      caller = this.identities.byUser(r.username);
      if (!caller) return refuse(403, 'sip.unknown_user', `${r.username} is not a phone`);
      if (flow.tls?.certPhone && flow.tls.certPhone !== caller.name) return refuse(403, 'sip.cert_user_mismatch', `certificate of ${flow.tls.certPhone} does not match digest user ${r.username}`);
      if (!flow.tls?.certPhone && this.identities.certRequired(caller)) return refuse(403, 'sip.cert_required', `${caller.name} must present its client certificate`);
      flow.phone = caller.name;
      flow.identifiedBy = 'digest';
    }
    const from = req.from();
    if (from.ok && (!isSipUri(from.value.uri) || !this.identities.isAorOf(caller, from.value.uri))) {
      return refuse(403, 'sip.from_mismatch', `From ${from.value.uri.raw.slice(0, 80)} is not ${caller.name}'s AOR ${this.identities.aorOf(caller)}`);
    }
    const popped = this.#proxy.popOwnRoutes(req);
    if (popped && popped.rest.length > 0) return refuse(403, 'sip.foreign_route', 'sipsec routes only to its own phones (a Route names another server)');
    const ruri = req.requestUri();
    if (!ruri.ok || !isSipUri(ruri.value) || !this.#isOwnHost(ruri.value.host)) return refuse(404, 'sip.foreign_domain', `sipsec routes only to ${this.identities.domain}`);
    const user = ruri.value.user === undefined ? '' : unescapeBinary(ruri.value.user);
    if (role === 'local') {
      this.#local(tx, this.#endpoints.get(user)!, caller);
      return;
    }
    if (user === '') return refuse(404, 'sip.no_user', 'no user in the Request-URI');
    const target = this.identities.byUser(user);
    const aor = `sip:${user}@${this.identities.domain}`;
    const binding = this.registrar.lookup(aor).find((b) => b.source.flow.open);
    if (!binding) {
      if (target) return refuse(480, 'sip.not_registered', `${target.name} is not registered`);
      return refuse(404, 'sip.no_such_user', `no phone or extension ${user}`);
    }
    const callId = req.callId();
    this.#proxy.forward(tx, { uri: binding.contactUri, flow: binding.source.flow }, {
      recordRoute: createsDialog(req.method),
      onFinal: (status) => {
        if (req.method !== 'INVITE') return;
        this.#o.emit({
          event: 'call.proxy',
          phone: caller.name,
          remote: flow.remote,
          from: this.identities.aorOf(caller),
          to: aor,
          callee: binding.source.phone,
          calleeRemote: binding.source.flow.remote,
          callId: callId.ok ? callId.value : undefined,
          status,
        });
      },
    });
  }

  #local(tx: ServerTransaction, endpoint: LocalEndpoint, caller: Phone): void {
    const req = tx.request;
    if (req.method === 'OPTIONS') {
      tx.reply(200, { headers: [['Allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO'], ['Accept', 'application/sdp']] });
      return;
    }
    if (req.method !== 'INVITE') {
      tx.reply(405, { headers: [['Allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO']] });
      return;
    }
    const call = new LocalCall(endpoint.ext, tx, this.#party(caller, tx.flow), this);
    this.#calls.set(`${call.callId}\0${call.localTag}`, call);
    tx.onCancel = () => call.cancel();
    this.#o.emit({ event: 'dialog.start', phone: caller.name, remote: tx.flow.remote, ext: endpoint.ext, callId: call.callId, tlsVersion: tx.flow.tls?.version, cipher: tx.flow.tls?.cipher });
    const failed = (e: unknown) => {
      this.#o.emit({ event: 'serve.error', phone: caller.name, reason: `extension ${endpoint.ext} failed: ${(e as Error)?.message ?? String(e)}`.slice(0, 300), code: 'sip.extension_failed' });
      call.reject(500);
    };
    try {
      const p = endpoint.onInvite(call);
      if (p && typeof (p as Promise<void>).catch === 'function') (p as Promise<void>).catch(failed);
    } catch (e) {
      failed(e);
    }
  }

  #localCallFor(req: SipRequest): LocalCall | undefined {
    const callId = req.callId();
    const to = req.to();
    if (!callId.ok || !to.ok) return undefined;
    const tag = tagOf(to.value);
    return tag === undefined ? undefined : this.#calls.get(`${callId.value}\0${tag}`);
  }

  #inDialog(tx: ServerTransaction): void {
    const req = tx.request;
    const flow = tx.flow;
    const local = this.#localCallFor(req);
    if (local) {
      local.handle(req, tx, flow);
      return;
    }
    const refuse = (status: number, code: SipRejectCode, why: string) => this.#refuseRequest(tx, status, code, why);
    if (!flow.phone) return refuse(403, 'sip.unknown_flow', 'in-dialog request from a connection that is not a known phone');
    const target = this.#dialogFlow(req);
    if (target === 'foreign') return refuse(403, 'sip.foreign_route', 'sipsec routes only to its own phones (a Route names another server)');
    if (!target) return refuse(481, 'sip.no_dialog', 'no dialog through sipsec matches this request');
    if (!target.open) return refuse(480, 'sip.callee_gone', 'the other phone\'s TLS connection is gone');
    const callId = req.callId();
    this.#proxy.forward(tx, { uri: req.uri, flow: target }, {
      recordRoute: false,
      onFinal: (status) => {
        if (req.method === 'BYE') this.#o.emit({ event: 'call.end', phone: flow.phone, remote: flow.remote, callId: callId.ok ? callId.value : undefined, by: flow.phone, status });
      },
    });
  }

  /** The flow an in-dialog request goes to: our Record-Route tokens, else a binding whose Contact is the Request-URI. */
  #dialogFlow(req: SipRequest): Flow | 'foreign' | undefined {
    const popped = this.#proxy.popOwnRoutes(req);
    if (!popped) return undefined;
    if (popped.rest.length > 0) return 'foreign';
    if (popped.ours.length > 0) {
      const f = this.#proxy.dialogTarget(req, popped.ours);
      if (f) return f;
    }
    const ruri = req.requestUri();
    if (!ruri.ok || !isSipUri(ruri.value)) return undefined;
    const u = ruri.value;
    for (const b of this.registrar.all()) if (b.source.flow.open && sipUriEquals(b.uri, u)) return b.source.flow;
    return undefined;
  }

  /** An ACK outside any transaction: the ACK of a 2xx (§13.2.2.4), routed like the dialog. */
  #ack(req: SipRequest, flow: Flow): void {
    const local = this.#localCallFor(req);
    if (local) {
      local.handle(req, undefined, flow);
      return;
    }
    if (!flow.phone) return;
    const target = this.#dialogFlow(req);
    if (target && target !== 'foreign' && target.open) this.#proxy.forwardAck(req, target);
  }

  // ------------------------------------------------------------ status

  registrations(): Array<Record<string, unknown>> {
    return this.registrar.all().map((b) => ({
      phone: b.source.phone,
      aor: b.aor,
      contact: b.contactUri,
      remote: b.source.flow.remote,
      transport: b.source.flow.transport,
      tlsVersion: b.source.flow.tls?.version,
      cipher: b.source.flow.tls?.cipher,
      certSerial: b.source.flow.tls?.certPhone ? b.source.flow.tls.certSerial : undefined,
      expires: this.registrar.secondsLeft(b),
    }));
  }
}
