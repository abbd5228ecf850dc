/**
 * The router: where every message a phone sends over its flow goes.
 * Transports hand in parse results; this file decides.
 *
 * Order of work for a request (each step can answer and stop):
 *  1. a flow whose client certificate did not verify: 403 with the reason
 *     (Warning), then the connection closes (transport/tls.ts);
 *  2. the role the request is for (registrar, local extension, proxy,
 *     in-dialog, or us as a UAS), so validation applies the right rules
 *     (RFC 3261 §16.3 for a proxy, §8.2 for a UAS: 483, 420, 415, 406 ...);
 *  3. validation (message/validate.ts), answered statelessly;
 *  4. the transaction layer: retransmissions absorbed, ACK/CANCEL matched
 *     (§9.2, §17.2.3);
 *  5. the address's lockout (403), authentication (401/407), identity
 *     (403), and only then routing (404/480) or registration
 *     (register.ts). Checks that depend on no secret come before
 *     authentication; everything that could tell whether a user exists
 *     comes after it (no enumeration).
 *
 * Out of dialog, a flow that carries the phone's live registration is
 * trusted for it (it passed the registrar's checks on that very
 * connection), and so is a certificate flow under `--auth cert`; anything
 * else is challenged with 407 (proxy digest, RFC 3261 §22.3). In dialog,
 * requests follow our Record-Route (proxy.ts) or a binding's Contact; the
 * ACK of a 2xx is routed like its dialog (§13.2.2.4, §16.11).
 */
import type { SipRequest, SipResponse } from '../message/message.js';
import { tagOf } from '../message/name-addr.js';
import type { ParseResult } from '../message/parser.js';
import { responseFor, serialize } from '../message/serializer.js';
import { isSipUri, sipUriEquals, unescapeBinary } from '../message/uri.js';
import { validateRequest, validateResponse } from '../message/validate.js';
import type { ServerTransaction, TransactionLayer } from '../transaction/transaction.js';
import type { Flow } from '../transport/flow.js';
import { stampReceived } from '../transport/received.js';
import { DIGEST_CODES, type AuthGate } from './auth-gate.js';
import { registerFail, reject, replyWarning, requestLabel, statelessReply, type ServerContext, type SipRejectCode } from './context.js';
import type { RegistrarPhone as Phone } from './identity.js';
import { LocalCall, type CallParty, type DialogHost, type LocalEndpoint } from './local-endpoint.js';
import { createsDialog, type Proxy } from './proxy.js';
import type { RegisterHandler } from './register.js';

/** What the router hands requests to, built by server.ts. */
export interface RouterParts {
  readonly ctx: ServerContext;
  readonly gate: AuthGate;
  readonly register: RegisterHandler;
  readonly transactions: TransactionLayer;
  readonly proxy: Proxy;
  /** The local extensions by number (the echo ...). */
  readonly endpoints: ReadonlyMap<string, LocalEndpoint>;
  /** What a local call needs from the server (its flows, Via, end). */
  readonly dialogs: DialogHost;
  /** Whether a host (name or address) means this server. */
  isOwnHost(host: string): boolean;
}

const ALLOW = 'INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, MESSAGE, INFO, UPDATE, REFER, NOTIFY, PRACK';
/** Out-of-dialog requests answered without forwarding (RFC 6665 §4.2.1.2 for events sipsec does not serve). */
const ANSWERED_HERE: Readonly<Record<string, number>> = { SUBSCRIBE: 489, PUBLISH: 489, NOTIFY: 481, BYE: 481, PRACK: 481, UPDATE: 481, INFO: 481 };

type Role = 'registrar' | 'self' | 'local' | 'proxy' | 'dialog' | 'uas';

export class Router {
  readonly #p: RouterParts;
  readonly #ctx: ServerContext;
  /** Calls answered by a local extension, by Call-ID and our To tag. */
  readonly #calls = new Map<string, LocalCall>();

  constructor(parts: RouterParts) {
    this.#p = parts;
    this.#ctx = parts.ctx;
  }

  get calls(): number {
    return this.#calls.size;
  }

  callEnded(call: LocalCall): void {
    this.#calls.delete(`${call.callId}\0${call.localTag}`);
  }

  /** Ends every local call (the server is closing). */
  shutdown(): void {
    for (const c of [...this.#calls.values()]) c.shutdown();
  }

  /** Entry point of the transports. Never throws. */
  handle(result: ParseResult, flow: Flow): void {
    try {
      if (!result.ok) {
        const what = result.partial?.kind === 'request' ? `${result.partial.method.slice(0, 20)} request` : result.partial?.kind === 'response' ? 'response' : 'message';
        const status = result.reaction.action === 'respond' ? result.reaction.status : undefined;
        reject(this.#ctx, flow, 'sip.malformed', `malformed ${what}`, result.reason, status);
        return;
      }
      const msg = result.message;
      if (msg.kind === 'response') this.#onResponse(msg);
      else this.#onRequest(msg, flow);
    } catch (e) {
      this.#ctx.emit({ event: 'serve.error', remote: flow.remote, reason: `SIP handling failed: ${(e as Error).message}`.slice(0, 300), code: 'sip.handler_failed' });
    }
  }

  #onResponse(res: SipResponse): void {
    const v = validateResponse(res, { role: 'proxy' });
    if (!v.ok) return;
    if (this.#p.transactions.receiveResponse(res)) return;
    this.#p.proxy.forwardStray(res);
  }

  #onRequest(req: SipRequest, flow: Flow): void {
    stampReceived(req, flow.remoteAddress, flow.remotePort);
    if (flow.tls?.certError) {
      const why = `client certificate not accepted: ${flow.tls.certError}`;
      statelessReply(req, flow, 403, [['Warning', this.#ctx.warning(why)]]);
      const code = flow.tls.certErrorCode ?? 'tls.cert_invalid';
      if (req.method === 'REGISTER') registerFail(this.#ctx, req, flow, undefined, code, why, 403);
      else reject(this.#ctx, flow, code, requestLabel(req), why, 403);
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
      reject(this.#ctx, flow, 'sip.invalid_request', `${req.method.slice(0, 20)} ${req.uri.slice(0, 80)}`, verdict.reason, res?.status);
      return;
    }
    const arrival = this.#p.transactions.receive(req, flow);
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
        this.#p.register.handle(tx);
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
    if (!this.#p.isOwnHost(u.host)) return 'uas';
    if (u.user === undefined || u.user === '') return req.method === 'OPTIONS' ? 'self' : 'uas';
    const user = unescapeBinary(u.user);
    if (this.#p.endpoints.has(user)) return 'local';
    // A user of our domain is a proxy target whether registered or not:
    // §16.3 checks (Max-Forwards 483 first) come before the target lookup
    // that answers 480/404, and alike for every user (no enumeration).
    return 'proxy';
  }

  /** The phone a flow may send requests for, or undefined (then proxy digest decides). */
  #callerOf(flow: Flow): Phone | undefined {
    if (!flow.phone) return undefined;
    if (flow.identifiedBy === 'certificate' && this.#ctx.auth !== 'cert' && !this.#ctx.registrar.hasBindingOn(flow)) return undefined;
    return this.#ctx.identities.phone(flow.phone);
  }

  /** The caller's phone, from its flow or proved by proxy digest; undefined once the request is answered. */
  #caller(tx: ServerTransaction, refuse: (status: number, code: SipRejectCode, why: string) => void): Phone | undefined {
    const flow = tx.flow;
    const known = this.#callerOf(flow);
    if (known) return known;
    const what = requestLabel(tx.request);
    const certPhone = flow.tls?.certPhone;
    const proved = this.#p.gate.authenticate(tx, certPhone, DIGEST_CODES.sip, (status, code, reason) => reject(this.#ctx, flow, code, what, reason, status));
    if (!proved) return undefined;
    const caller = proved.phone;
    if (!certPhone && this.#ctx.identities.certRequired(caller)) {
      refuse(403, 'sip.cert_required', `${caller.name} must present its client certificate`);
      return undefined;
    }
    flow.phone = caller.name;
    flow.identifiedBy = 'digest';
    return caller;
  }

  #party(phone: Phone, flow: Flow): CallParty {
    return {
      phone: phone.name,
      aor: this.#ctx.identities.aorOf(phone),
      remote: flow.remote,
      localAddress: flow.localAddress,
      transport: flow.transport,
      tlsVersion: flow.tls?.version,
      cipher: flow.tls?.cipher,
      certSerial: flow.tls?.certPhone ? flow.tls.certSerial : undefined,
    };
  }

  /** A request refused in its transaction: the reason in a Warning (RFC 3261 §20.43) and a sip.reject event. */
  #refuser(tx: ServerTransaction): (status: number, code: SipRejectCode, why: string) => void {
    return (status, code, why) => {
      replyWarning(this.#ctx, tx, status, why);
      reject(this.#ctx, tx.flow, code, requestLabel(tx.request), why, status);
    };
  }

  #outOfDialog(tx: ServerTransaction, role: Role): void {
    const req = tx.request;
    const flow = tx.flow;
    const { identities, registrar } = this.#ctx;
    const refuse = this.#refuser(tx);
    const here = ANSWERED_HERE[req.method];
    if (here !== undefined) {
      tx.reply(here);
      return;
    }
    if (this.#p.gate.blocked(req, flow)) return;
    const caller = this.#caller(tx, refuse);
    if (!caller) return;
    const from = req.from();
    if (from.ok && (!isSipUri(from.value.uri) || !identities.isAorOf(caller, from.value.uri))) {
      return refuse(403, 'sip.from_mismatch', `From ${from.value.uri.raw.slice(0, 80)} is not ${caller.name}'s AOR ${identities.aorOf(caller)}`);
    }
    const popped = this.#p.proxy.popOwnRoutes(req);
    if (popped && popped.rest.length > 0) return refuse(403, 'sip.foreign_route', 'sipsec routes only to its own phones (a Route names another server)');
    const ruri = req.requestUri();
    if (!ruri.ok || !isSipUri(ruri.value) || !this.#p.isOwnHost(ruri.value.host)) return refuse(404, 'sip.foreign_domain', `sipsec routes only to ${identities.domain}`);
    const user = ruri.value.user === undefined ? '' : unescapeBinary(ruri.value.user);
    if (role === 'local') {
      this.#local(tx, this.#p.endpoints.get(user)!, caller);
      return;
    }
    if (user === '') return refuse(404, 'sip.no_user', 'no user in the Request-URI');
    const target = identities.byUser(user);
    const aor = `sip:${user}@${identities.domain}`;
    const binding = registrar.lookup(aor).find((b) => b.source.flow.open);
    if (!binding) {
      if (target) return refuse(480, 'sip.not_registered', `${target.name} is not registered`);
      return refuse(404, 'sip.no_such_user', `no phone or extension ${user}`);
    }
    const callId = req.callId();
    this.#p.proxy.forward(tx, { uri: binding.contactUri, flow: binding.source.flow }, {
      recordRoute: createsDialog(req.method),
      onFinal: (status) => {
        if (req.method !== 'INVITE') return;
        this.#ctx.emit({
          event: 'call.proxy',
          phone: caller.name,
          remote: flow.remote,
          from: identities.aorOf(caller),
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
    const call = new LocalCall(endpoint.ext, tx, this.#party(caller, tx.flow), this.#p.dialogs);
    this.#calls.set(`${call.callId}\0${call.localTag}`, call);
    tx.onCancel = () => call.cancel();
    this.#ctx.emit({ event: 'dialog.start', phone: caller.name, remote: tx.flow.remote, ext: endpoint.ext, callId: call.callId, tlsVersion: tx.flow.tls?.version, cipher: tx.flow.tls?.cipher });
    const failed = (e: unknown) => {
      this.#ctx.emit({ event: 'serve.error', phone: caller.name, reason: `extension ${endpoint.ext} failed: ${(e as Error)?.message ?? String(e)}`.slice(0, 300), code: 'sip.extension_failed' });
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
    const refuse = this.#refuser(tx);
    if (!flow.phone) return refuse(403, 'sip.unknown_flow', 'in-dialog request from a connection that is not a known phone');
    const target = this.#dialogFlow(req);
    if (target === 'foreign') return refuse(403, 'sip.foreign_route', 'sipsec routes only to its own phones (a Route names another server)');
    if (!target) return refuse(481, 'sip.no_dialog', 'no dialog through sipsec matches this request');
    if (!target.open) return refuse(480, 'sip.callee_gone', 'the other phone\'s TLS connection is gone');
    const callId = req.callId();
    this.#p.proxy.forward(tx, { uri: req.uri, flow: target }, {
      recordRoute: false,
      onFinal: (status) => {
        if (req.method === 'BYE') this.#ctx.emit({ event: 'call.end', phone: flow.phone, remote: flow.remote, callId: callId.ok ? callId.value : undefined, by: flow.phone, status });
      },
    });
  }

  /** The flow an in-dialog request goes to: our Record-Route tokens, else a binding whose Contact is the Request-URI. */
  #dialogFlow(req: SipRequest): Flow | 'foreign' | undefined {
    const popped = this.#p.proxy.popOwnRoutes(req);
    if (!popped) return undefined;
    if (popped.rest.length > 0) return 'foreign';
    if (popped.ours.length > 0) {
      const f = this.#p.proxy.dialogTarget(req, popped.ours);
      if (f) return f;
    }
    const ruri = req.requestUri();
    if (!ruri.ok || !isSipUri(ruri.value)) return undefined;
    const u = ruri.value;
    for (const b of this.#ctx.registrar.all()) if (b.source.flow.open && sipUriEquals(b.uri, u)) return b.source.flow;
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
    if (target && target !== 'foreign' && target.open) this.#p.proxy.forwardAck(req, target);
  }
}
