/**
 * A stateful proxy between phones registered over TLS (RFC 3261 §16).
 *
 * sipsec never dials a phone: every request it forwards goes over the
 * flow the target registered on (RFC 5626 §5.3), and every response over
 * the flow its request came from (§18.2.2). So:
 *
 * - Out-of-dialog requests go to one binding of the target AOR (highest
 *   q, then most recent; no parallel forking, see known gaps) in a client
 *   transaction (§16.6); responses come back through it (§16.7): 100 is
 *   absorbed (we sent our own), the rest is forwarded without our Via.
 * - Dialog-creating requests are record-routed (§16.6 step 4) with our
 *   URI on the flow's local address, `;transport=tls;lr`, plus flow tokens
 *   (RFC 5626 §5.3) and the caller's From tag (`ftag`): an in-dialog
 *   request that comes back through us is sent over the other party's
 *   flow, whatever its Request-URI says. When the two phones reached
 *   different local addresses, two Record-Route entries are added
 *   (RFC 5658 double record-routing), one per side.
 * - In-dialog requests (§16.4 loose routing): our Route entries are
 *   popped, the direction comes from `ftag`, and the request is forwarded
 *   (statelessly for the ACK of a 2xx, §16.11; statefully otherwise).
 * - CANCEL (§16.10): answered 200 hop by hop and sent downstream once a
 *   provisional response arrived (§9.1).
 * - Timer C (§16.8) and Timer B/F: a silent target gets CANCEL and the
 *   caller 408; a target whose flow closes, 480 with a Warning.
 * - 2xx retransmissions of an INVITE after its transaction ended (RFC 6026
 *   §7.2) are forwarded statelessly using the upstream flow token in our
 *   Via (`fl`).
 *
 * The SDP is relayed untouched.
 */
import type { Flow } from '../transport/flow.js';
import { hostPort } from '../transport/flow.js';
import { splitList } from '../message/headers.js';
import { SipRequest, SipResponse } from '../message/message.js';
import { tagOf, type NameAddr } from '../message/name-addr.js';
import { createRequest, serialize } from '../message/serializer.js';
import type { ClientTransaction, ServerTransaction, TransactionLayer } from '../transaction/transaction.js';
import { isSipUri, uriParam, type SipUri } from '../message/uri.js';

/** What the proxy needs from the server around it. */
export interface ProxyHost {
  readonly transactions: TransactionLayer;
  /** A flow by its token, if still open. */
  flowById(id: string): Flow | undefined;
  /** Whether a Route/Request-URI names this server (host and port). */
  isOwnUri(uri: SipUri): boolean;
  /** Our Via header value for a request sent over `flow`. */
  via(flow: Flow, branch: string, extra?: string): string;
  /** A Warning header value: `399 <host> "text"`. */
  warning(text: string): string;
}

export interface ForwardTarget {
  /** The new Request-URI (the binding's Contact). */
  uri: string;
  flow: Flow;
}

export interface ForwardOptions {
  recordRoute: boolean;
  /** Called once with the final status that went upstream. */
  onFinal?: (status: number, res: SipResponse | undefined) => void;
}

/** Methods that create a dialog and so get our Record-Route (RFC 3261 §12, RFC 6665 §4.1, RFC 3515). */
const DIALOG_CREATING = new Set(['INVITE', 'SUBSCRIBE', 'REFER']);

export function createsDialog(method: string): boolean {
  return DIALOG_CREATING.has(method);
}

/** The response without its first Via value (ours), to forward it (§16.7 step 3). */
export function popVia(res: SipResponse): SipResponse | undefined {
  const out: Array<readonly [string, string]> = [];
  let popped = false;
  for (const f of res.headers.fields()) {
    if (!popped && f.key === 'via') {
      popped = true;
      const items = splitList(f.value);
      if (!items.ok || items.value.length === 0) return undefined;
      if (items.value.length > 1) out.push([f.name, items.value.slice(1).join(', ')]);
      continue;
    }
    out.push([f.name, f.value]);
  }
  if (!popped) return undefined;
  return new SipResponse({ status: res.status, reason: res.reason, version: res.version, headers: out, body: res.body });
}

/** A copy of a request with its own header list, for forwarding (§16.6 step 1). */
export function copyRequest(req: SipRequest): SipRequest {
  return new SipRequest({ method: req.method, uri: req.uri, version: req.version, headers: req.headers.clone(), body: req.body });
}

/** §16.6 step 3: decrement Max-Forwards, or add 70. */
function decrementMaxForwards(req: SipRequest): void {
  const mf = req.maxForwards();
  req.headers.set('Max-Forwards', String(mf.ok && mf.value !== undefined ? Math.max(0, mf.value - 1) : 70));
}

/** Our Route entries at the top of the Route set, popped (§16.4), and what they carried. */
export interface PoppedRoutes {
  ours: SipUri[];
  rest: NameAddr[];
}

export class Proxy {
  readonly #host: ProxyHost;

  constructor(host: ProxyHost) {
    this.#host = host;
  }

  /** Pops the leading Route entries that name us (§16.4); the request keeps the rest. */
  popOwnRoutes(req: SipRequest): PoppedRoutes | undefined {
    const routes = req.nameAddrs('route');
    if (!routes.ok) return undefined;
    const ours: SipUri[] = [];
    let i = 0;
    for (; i < routes.value.length; i++) {
      const u = routes.value[i]!.uri;
      if (!isSipUri(u) || !this.#host.isOwnUri(u)) break;
      ours.push(u);
    }
    if (ours.length > 0) {
      const rest = routes.value.slice(i);
      req.headers.delete('route');
      for (const na of rest) req.headers.append('Route', na.raw);
      return { ours, rest };
    }
    return { ours, rest: routes.value };
  }

  /**
   * The flow an in-dialog request goes to, from our Record-Route params:
   * `ftag` is the caller's From tag, `fa` the caller's flow, `fb` the
   * callee's. A request whose From tag is the caller's goes to the callee.
   */
  dialogTarget(req: SipRequest, ours: readonly SipUri[]): Flow | undefined {
    const from = req.from();
    const fromTag = from.ok ? tagOf(from.value) : undefined;
    for (const u of ours) {
      const ftag = uriParam(u.params, 'ftag')?.value;
      const fa = uriParam(u.params, 'fa')?.value;
      const fb = uriParam(u.params, 'fb')?.value;
      if (!ftag || !fa || !fb) continue;
      return this.#host.flowById(fromTag === ftag ? fb : fa);
    }
    return undefined;
  }

  /** Stateful forwarding of a request to one flow (§16.6, §16.7). */
  forward(tx: ServerTransaction, target: ForwardTarget, opts: ForwardOptions): void {
    const out = copyRequest(tx.request);
    out.uri = target.uri;
    decrementMaxForwards(out);
    if (opts.recordRoute) this.#recordRoute(out, tx.flow, target.flow);
    const branch = this.#host.transactions.newBranch();
    out.headers.prepend('Via', this.#host.via(target.flow, branch, `;fl=${tx.flow.id}`));
    let final = false;
    let provisional = false;
    let cancelPending = false;
    let client: ClientTransaction | undefined;
    const finish = (status: number, res: SipResponse | undefined) => {
      if (final) return;
      final = true;
      opts.onFinal?.(status, res);
    };
    const upstreamError = (status: number, why: string) => {
      if (!tx.final) tx.reply(status, { headers: [['Warning', this.#host.warning(why)]] });
      finish(status, undefined);
    };
    const sendCancel = () => {
      if (!client) return;
      const cancel = cancelFor(client.request);
      if (cancel) this.#host.transactions.sendRequest(cancel, client.branch, target.flow, { onResponse: () => undefined, onTimeout: () => undefined, onTransportError: () => undefined });
    };
    if (tx.method === 'INVITE') {
      tx.onCancel = () => {
        // §9.1: a CANCEL only once the target answered provisionally.
        if (provisional) sendCancel();
        else cancelPending = true;
      };
    }
    client = this.#host.transactions.sendRequest(out, branch, target.flow, {
      onResponse: (res) => {
        if (res.status === 100) return;
        if (res.status < 200) {
          provisional = true;
          if (cancelPending) {
            cancelPending = false;
            sendCancel();
          }
        }
        const up = popVia(res);
        if (!up) return;
        tx.send(up);
        if (res.status >= 200) finish(res.status, res);
      },
      onTimeout: (c) => {
        // Timer C (§16.8) or B/F: cancel a ringing INVITE, then answer 408 upstream.
        if (c.method === 'INVITE' && provisional) sendCancel();
        upstreamError(408, 'the phone did not answer in time');
      },
      onTransportError: (_c, reason) => upstreamError(480, `the phone's TLS connection closed (${reason})`),
    });
  }

  /**
   * Our Record-Route (§16.6 step 4) on the flow's local address; two when
   * the caller and callee reached different local addresses (RFC 5658).
   * The top entry faces the callee.
   */
  #recordRoute(req: SipRequest, callerFlow: Flow, calleeFlow: Flow): void {
    const from = req.from();
    const ftag = from.ok ? (tagOf(from.value) ?? '') : '';
    const params = `;transport=tls;lr;ftag=${ftag}${ftag ? '' : 'none'};fa=${callerFlow.id};fb=${calleeFlow.id}`;
    const callerSide = `<sip:${hostPort(callerFlow.localAddress, callerFlow.localPort)}${params}>`;
    const calleeSide = `<sip:${hostPort(calleeFlow.localAddress, calleeFlow.localPort)}${params}>`;
    if (callerSide !== calleeSide) req.headers.prepend('Record-Route', callerSide);
    req.headers.prepend('Record-Route', calleeSide);
  }

  /** The ACK of a 2xx is forwarded statelessly (§16.11); no transaction. */
  forwardAck(req: SipRequest, flow: Flow): boolean {
    const out = copyRequest(req);
    decrementMaxForwards(out);
    out.headers.prepend('Via', this.#host.via(flow, this.#host.transactions.newBranch()));
    return flow.send(serialize(out));
  }

  /**
   * A response no client transaction claims: a 2xx to an INVITE
   * retransmitted after the transaction ended (RFC 6026 §7.2) goes
   * upstream over the flow named in our Via; anything else is dropped.
   */
  forwardStray(res: SipResponse): boolean {
    const top = res.topVia();
    const cseq = res.cseq();
    if (!top.ok || !cseq.ok || cseq.value.method !== 'INVITE' || res.status < 200 || res.status >= 300) return false;
    const fl = top.value.params.find((p) => p.key === 'fl')?.value;
    const flow = fl ? this.#host.flowById(fl) : undefined;
    const up = flow ? popVia(res) : undefined;
    if (!flow || !up) return false;
    return flow.send(serialize(up));
  }
}

/**
 * The CANCEL of a request we sent (§9.1): same Request-URI, Call-ID, To,
 * From, CSeq number and top Via (so the same branch), its Route set.
 */
export function cancelFor(req: SipRequest): SipRequest | undefined {
  const cseq = req.cseq();
  const via = req.headers.first('via');
  if (!cseq.ok || via === undefined) return undefined;
  const top = splitList(via);
  if (!top.ok || top.value.length === 0) return undefined;
  const headers: Array<[string, string]> = [['Via', top.value[0]!]];
  for (const r of req.headers.all('route')) headers.push(['Route', r]);
  headers.push(
    ['Max-Forwards', '70'],
    ['From', req.headers.first('from') ?? ''],
    ['To', req.headers.first('to') ?? ''],
    ['Call-ID', req.headers.first('call-id') ?? ''],
    ['CSeq', `${cseq.value.seq} CANCEL`],
  );
  return createRequest('CANCEL', req.uri, headers);
}
