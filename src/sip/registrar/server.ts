/**
 * The SIP server: the one object the application wires to its transports
 * (serve/registrar-service.ts) and asks about registrations and calls.
 * A façade over the parts that do the work: router.ts (where each
 * message goes), register.ts (REGISTER, RFC 3261 §10.3), auth-gate.ts
 * (lockout, digest, security log), bindings.ts (the location service),
 * proxy.ts (§16 forwarding) and local-endpoint.ts (calls answered here).
 * It keeps the open flows (RFC 5626 §5.3: requests to a phone go over the
 * flow it registered on), the names that mean this server, and the
 * binding expiry clock.
 */
import { plainIp } from '../../core/net.js';
import type { EventInput } from '../../events/index.js';
import type { SipRequest } from '../message/message.js';
import type { ParseResult } from '../message/parser.js';
import type { SipUri } from '../message/uri.js';
import { TransactionLayer, type TransactionTimers } from '../transaction/transaction.js';
import { hostPort, type Flow } from '../transport/flow.js';
import { AuthGate, type AuthGateOptions } from './auth-gate.js';
import { Registrar, type RegistrarOptions } from './bindings.js';
import type { AuthMode, ServerContext } from './context.js';
import type { IdentityResolver } from './identity.js';
import type { CallEndReason, DialogHost, LocalCall, LocalEndpoint } from './local-endpoint.js';
import { Proxy, type ProxyHost } from './proxy.js';
import { RegisterHandler } from './register.js';
import { Router } from './router.js';

export type { AuthMode } from './context.js';

export interface SipServerOptions extends AuthGateOptions {
  identities: IdentityResolver;
  auth?: AuthMode;
  registrar?: RegistrarOptions;
  endpoints?: readonly LocalEndpoint[];
  timers?: Partial<TransactionTimers>;
  /** Our listening port (Route/Record-Route recognition); set once listening. */
  port?: number;
  /** The host named in Warning headers (RFC 3261 §20.43 warn-agent). */
  warnAgent: string;
  emit: (ev: EventInput) => void;
  now?: () => number;
}

function quoteText(s: string): string {
  return s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[\r\n]+/g, ' ');
}

export class SipServer implements ProxyHost, DialogHost {
  readonly transactions: TransactionLayer;
  readonly registrar: Registrar;
  readonly identities: IdentityResolver;
  readonly auth: AuthMode;
  readonly #o: SipServerOptions;
  readonly #register: RegisterHandler;
  readonly #router: Router;
  readonly #endpoints = new Map<string, LocalEndpoint>();
  readonly #flows = new Map<string, Flow>();
  readonly #ownHosts = new Set<string>(['localhost']);
  readonly #expiry: NodeJS.Timeout;
  port: number;

  constructor(o: SipServerOptions) {
    this.#o = o;
    this.identities = o.identities;
    this.auth = o.auth ?? 'both';
    const now = o.now ?? Date.now;
    this.port = o.port ?? 5061;
    this.transactions = new TransactionLayer(o.timers);
    this.registrar = new Registrar({ ...o.registrar, now });
    const ctx: ServerContext = { identities: this.identities, registrar: this.registrar, auth: this.auth, now, emit: o.emit, warning: (text) => this.warning(text) };
    const gate = new AuthGate(ctx, o);
    this.#register = new RegisterHandler(ctx, gate);
    this.#router = new Router({
      ctx,
      gate,
      register: this.#register,
      transactions: this.transactions,
      proxy: new Proxy(this),
      endpoints: this.#endpoints,
      dialogs: this,
      isOwnHost: (host) => this.#isOwnHost(host),
    });
    for (const e of o.endpoints ?? []) this.#endpoints.set(e.ext, e);
    this.#ownHosts.add(o.identities.domain.toLowerCase());
    this.#expiry = setInterval(() => this.#expireBindings(), 1000);
    this.#expiry.unref();
  }

  close(): void {
    clearInterval(this.#expiry);
    this.#router.shutdown();
    this.transactions.close();
  }

  addEndpoint(e: LocalEndpoint): void {
    this.#endpoints.set(e.ext, e);
  }

  endpoints(): LocalEndpoint[] {
    return [...this.#endpoints.values()];
  }

  get calls(): number {
    return this.#router.calls;
  }

  /** A host name or address that means this server (besides its flows' local addresses). */
  addOwnHost(host: string): void {
    this.#ownHosts.add(host.toLowerCase());
  }

  /** Entry point of the transports. Never throws. */
  handle(result: ParseResult, flow: Flow): void {
    this.#router.handle(result, flow);
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
    this.#router.callEnded(call);
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
    this.#register.forget(flow);
    for (const b of this.registrar.removeFlow(flow)) {
      this.#o.emit({ event: 'register.end', phone: b.source.phone, aor: b.aor, contact: b.contactUri, remote: flow.remote, reason: `connection closed (${reason})` });
    }
  }

  #expireBindings(): void {
    for (const b of this.registrar.expire()) {
      this.#o.emit({ event: 'register.end', phone: b.source.phone, aor: b.aor, contact: b.contactUri, remote: b.source.flow.remote, reason: 'expired' });
    }
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
