/**
 * What the parts of the SIP server share (server.ts builds it once for
 * the auth gate, the REGISTER handler and the router), and how any of
 * them says no: the reply outside a transaction, and the two failure
 * events, register.fail for a REGISTER and sip.reject for every other
 * request (RFC 3261 §20.43: the reason goes in a Warning header).
 */
import type { EventInput } from '../../events/index.js';
import type { SipRequest } from '../message/message.js';
import { buildResponse, serialize } from '../message/serializer.js';
import { isSipUri } from '../message/uri.js';
import type { ServerTransaction } from '../transaction/transaction.js';
import type { Flow } from '../transport/flow.js';
import type { Registrar } from './bindings.js';
import type { IdentityResolver } from './identity.js';

/** `--auth`: digest on top of the certificate (both), or the certificate alone (cert). */
export type AuthMode = 'both' | 'cert';

export type RegisterFailCode = Extract<EventInput, { event: 'register.fail' }>['code'];
export type SipRejectCode = Extract<EventInput, { event: 'sip.reject' }>['code'];

export interface ServerContext {
  readonly identities: IdentityResolver;
  readonly registrar: Registrar;
  readonly auth: AuthMode;
  readonly now: () => number;
  readonly emit: (ev: EventInput) => void;
  /** A Warning header value: `399 <host> "text"` (RFC 3261 §20.43). */
  warning(text: string): string;
}

/** A request as events name it: `INVITE sip:102@pbx.example`. */
export function requestLabel(req: SipRequest): string {
  return `${req.method} ${req.uri.slice(0, 80)}`;
}

/** Answers outside any transaction (validation failures, refusals before one exists); an ACK gets no answer. */
export function statelessReply(req: SipRequest, flow: Flow, status: number, headers: Array<readonly [string, string]> = []): void {
  if (req.method === 'ACK') return;
  flow.send(serialize(buildResponse(req, status, undefined, { headers })));
}

/** Refuses a request in its transaction with the reason in a Warning; the caller reports the event. */
export function replyWarning(ctx: ServerContext, tx: ServerTransaction, status: number, reason: string, headers: ReadonlyArray<readonly [string, string]> = []): void {
  tx.reply(status, { headers: [...headers, ['Warning', ctx.warning(reason)]] });
}

export function reject(ctx: ServerContext, flow: Flow, code: SipRejectCode, what: string, why: string, status: number | undefined): void {
  ctx.emit({ event: 'sip.reject', remote: flow.remote, phone: flow.phone, transport: flow.transport, what, why, status: status ?? 'dropped', code });
}

export function registerFail(ctx: ServerContext, req: SipRequest, flow: Flow, phone: string | undefined, code: RegisterFailCode, reason: string, status: number): void {
  const to = req.to();
  const aor = to.ok && isSipUri(to.value.uri) ? to.value.uri.raw.slice(0, 120) : undefined;
  ctx.emit({ event: 'register.fail', phone, aor, remote: flow.remote, transport: flow.transport, reason, status, code });
}
