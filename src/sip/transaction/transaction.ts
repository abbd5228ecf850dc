/**
 * SIP transactions (RFC 3261 §17) for a server that only speaks over
 * reliable flows (TLS, TCP).
 *
 * Server transactions (§17.2): a request that matches an existing one
 * (§17.2.3) is a retransmission and is absorbed, answered again with the
 * last response sent; the transaction user never sees it twice.
 *  - non-INVITE (§17.2.2): Trying/Proceeding until the final response,
 *    then Completed for a linger period, then gone. RFC 3261 sets Timer J
 *    to 0 on reliable transports; sipsec keeps Completed for T4 (5 s)
 *    anyway, because sloppy phones do resend over TCP/TLS after a
 *    reconnect, and a re-processed REGISTER or BYE is worse than 5 s of
 *    memory. Kept in two generations rotated every T4, so a completed
 *    transaction costs no timer of its own (this runs for every REGISTER).
 *  - INVITE (§17.2.1, with RFC 6026): 100 Trying at once; a final
 *    non-2xx moves to Completed and waits for the ACK (Timer H, 64*T1),
 *    which is absorbed (Confirmed, then T4); a 2xx moves to Accepted
 *    (RFC 6026 §7.1, Timer L = 64*T1) where retransmitted INVITEs are
 *    absorbed. No response retransmission timers (G): the transport is
 *    reliable (§17.2.1).
 *
 * Client transactions (§17.1), used by the proxy and local endpoints to
 * send requests to phones over their flows: Timer B/F (64*T1) until a
 * final response (for an INVITE with a provisional, the proxy's Timer C,
 * §16.8, three minutes), an ACK generated for a non-2xx final response
 * to an INVITE (§17.1.1.3), Timers D/K zero (reliable). A flow that
 * closes is a transport error (§17.1.4).
 */
import { randomBytes } from 'node:crypto';
import type { Flow } from '../transport/flow.js';
import type { SipRequest, SipResponse } from '../message/message.js';
import { tagOf } from '../message/name-addr.js';
import { buildResponse, createRequest, serialize, type ResponseOptions } from '../message/serializer.js';
import { isRfc3261Branch, MAGIC_COOKIE } from '../message/via.js';

export interface TransactionTimers {
  /** RTT estimate, 500 ms (§17.1.1.1). */
  t1: number;
  /** Maximum time a message stays in the network, 5 s (§17.1.2.2). */
  t4: number;
  /** Proxy INVITE timer C (§16.8): more than 3 minutes. */
  timerC: number;
}

export const DEFAULT_TIMERS: Readonly<TransactionTimers> = Object.freeze({ t1: 500, t4: 5000, timerC: 181_000 });

export type ServerState = 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

export class ServerTransaction {
  state: ServerState = 'proceeding';
  /** Status of the last response sent (0: none yet). */
  lastStatus = 0;
  #last: Buffer | undefined;
  /** The TU's handler for a CANCEL of this INVITE (§9.2). */
  onCancel: (() => void) | undefined;
  /** A To tag chosen for every response of this transaction (a UAS answering several responses). */
  readonly toTag: string;

  constructor(
    readonly key: string,
    readonly request: SipRequest,
    readonly flow: Flow,
    private readonly layer: TransactionLayer,
  ) {
    this.toTag = randomBytes(6).toString('hex');
  }

  get method(): string {
    return this.request.method;
  }

  get final(): boolean {
    return this.lastStatus >= 200;
  }

  /** Build and send a response (To tag from this transaction unless the request had one). */
  reply(status: number, opts: ResponseOptions & { reason?: string } = {}): SipResponse {
    const res = buildResponse(this.request, status, opts.reason, { toTag: this.toTag, ...opts });
    this.send(res);
    return res;
  }

  /** Send a response built elsewhere (a forwarded one). Ignored once a final response went out (§16.7 step 5). */
  send(res: SipResponse): void {
    if (this.final) return;
    const bytes = serialize(res);
    this.#last = bytes;
    this.lastStatus = res.status;
    this.flow.send(bytes);
    if (res.status >= 200) this.layer.completed(this);
  }

  /**
   * A retransmission of the request arrived: repeat the last response
   * (§17.2.1, §17.2.2), over the connection the retransmission came on
   * (§18.2.2): a phone that reconnected gets it on its new connection.
   */
  retransmit(over: Flow = this.flow): void {
    if (this.#last && this.state !== 'accepted') over.send(this.#last);
  }
}

export interface ClientHandlers {
  onResponse(res: SipResponse, tx: ClientTransaction): void;
  /** Timer B/F/C fired without a final response: act as if 408 arrived (§16.7, §8.1.3.1). */
  onTimeout(tx: ClientTransaction): void;
  /** The flow closed before the final response (§17.1.4). */
  onTransportError(tx: ClientTransaction, reason: string): void;
}

export class ClientTransaction {
  state: 'calling' | 'proceeding' | 'completed' | 'terminated' = 'calling';
  lastStatus = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly branch: string,
    readonly request: SipRequest,
    readonly flow: Flow,
    readonly handlers: ClientHandlers,
    private readonly layer: TransactionLayer,
  ) {}

  get method(): string {
    return this.request.method;
  }

  arm(ms: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.layer.clientTimeout(this), ms);
    this.#timer.unref();
  }

  disarm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** What the layer made of an incoming request. */
export type Arrival =
  | { readonly kind: 'new'; readonly tx: ServerTransaction }
  /** A retransmission, answered again (or an ACK absorbed by its INVITE transaction). */
  | { readonly kind: 'absorbed' }
  /** An ACK that matches no transaction: the ACK of a 2xx, routed by the core (§17.2.3, §13.2.2.4). */
  | { readonly kind: 'ack' }
  /** A new CANCEL and the INVITE transaction it cancels, if any (§9.2). */
  | { readonly kind: 'cancel'; readonly tx: ServerTransaction; readonly invite: ServerTransaction | undefined };

export class TransactionLayer {
  readonly timers: TransactionTimers;
  /** Transactions without a final response, and every INVITE transaction. */
  readonly #live = new Map<string, ServerTransaction>();
  /** Completed non-INVITE transactions, two generations (see the header comment). */
  #young = new Map<string, ServerTransaction>();
  #old = new Map<string, ServerTransaction>();
  readonly #clients = new Map<string, ClientTransaction>();
  readonly #rotate: NodeJS.Timeout;
  #branchCounter = 0;
  readonly #branchSalt = randomBytes(6).toString('hex');

  constructor(timers: Partial<TransactionTimers> = {}) {
    this.timers = { ...DEFAULT_TIMERS, ...timers };
    this.#rotate = setInterval(() => {
      this.#old = this.#young;
      this.#young = new Map();
    }, this.timers.t4);
    this.#rotate.unref();
  }

  close(): void {
    clearInterval(this.#rotate);
    for (const c of this.#clients.values()) c.disarm();
    this.#clients.clear();
    this.#live.clear();
  }

  get size(): { server: number; client: number } {
    return { server: this.#live.size + this.#young.size + this.#old.size, client: this.#clients.size };
  }

  /**
   * The server transaction key (§17.2.3): branch, sent-by and method, with
   * ACK folded into INVITE. Requests from RFC 2543 clients (no magic
   * cookie, or a bare `z9hG4bK`, RFC 4475 §3.2.1) fall back to Call-ID,
   * CSeq number, From tag and the top Via. Undefined when the request is
   * too broken to key (the validator answered it already).
   */
  static keyOf(req: SipRequest, method = req.method): string | undefined {
    const top = req.topVia();
    if (!top.ok) return undefined;
    const m = method === 'ACK' ? 'INVITE' : method;
    const sentBy = `${top.value.host}:${top.value.port ?? ''}`;
    if (isRfc3261Branch(top.value.branch)) return `${top.value.branch}\0${sentBy}\0${m}`;
    const callId = req.callId();
    const cseq = req.cseq();
    const from = req.from();
    if (!callId.ok || !cseq.ok || !from.ok) return undefined;
    return `2543\0${callId.value}\0${cseq.value.seq}\0${tagOf(from.value) ?? ''}\0${top.value.raw}\0${m}`;
  }

  #find(key: string): ServerTransaction | undefined {
    return this.#live.get(key) ?? this.#young.get(key) ?? this.#old.get(key);
  }

  /** Match an incoming request to the server transactions (§17.2.3). */
  receive(req: SipRequest, flow: Flow): Arrival | undefined {
    const key = TransactionLayer.keyOf(req);
    if (key === undefined) return undefined;
    const existing = this.#find(key);
    if (req.method === 'ACK') {
      if (existing && existing.method === 'INVITE' && (existing.state === 'completed' || existing.state === 'confirmed')) {
        this.#confirm(existing);
        return { kind: 'absorbed' };
      }
      return { kind: 'ack' };
    }
    if (existing) {
      existing.retransmit(flow);
      return { kind: 'absorbed' };
    }
    const tx = new ServerTransaction(key, req, flow, this);
    this.#live.set(key, tx);
    if (req.method === 'INVITE') {
      // §17.2.1: 100 Trying at once, so the phone stops retransmitting and knows a proxy is working on it.
      tx.reply(100);
    }
    if (req.method === 'CANCEL') {
      const inviteKey = TransactionLayer.keyOf(req, 'INVITE');
      const invite = inviteKey === undefined ? undefined : this.#live.get(inviteKey);
      return { kind: 'cancel', tx, invite: invite && invite.method === 'INVITE' ? invite : undefined };
    }
    return { kind: 'new', tx };
  }

  /** Called by a server transaction when its final response went out. */
  completed(tx: ServerTransaction): void {
    if (tx.method !== 'INVITE') {
      tx.state = 'completed';
      this.#live.delete(tx.key);
      this.#young.set(tx.key, tx);
      return;
    }
    if (tx.lastStatus < 300) {
      // RFC 6026 §7.1: Accepted, absorbing retransmitted INVITEs for Timer L.
      tx.state = 'accepted';
      this.#expire(tx, 64 * this.timers.t1);
      return;
    }
    tx.state = 'completed';
    // Timer H: give up waiting for the ACK.
    this.#expire(tx, 64 * this.timers.t1);
  }

  #confirm(tx: ServerTransaction): void {
    if (tx.state === 'confirmed') return;
    tx.state = 'confirmed';
    // Timer I is 0 on reliable transports; T4 absorbs a duplicated ACK or INVITE.
    this.#expire(tx, this.timers.t4);
  }

  #expire(tx: ServerTransaction, ms: number): void {
    setTimeout(() => {
      if (this.#live.get(tx.key) === tx) this.#live.delete(tx.key);
      tx.state = 'terminated';
    }, ms).unref();
  }

  /** A fresh RFC 3261 branch (§8.1.1.7): magic cookie, a per-process salt, a counter. */
  newBranch(): string {
    return `${MAGIC_COOKIE}${this.#branchSalt}${(++this.#branchCounter).toString(36)}`;
  }

  /**
   * Send `req` (whose top Via carries `branch`) over `flow` in a client
   * transaction. A closed flow fails the transaction at once (§17.1.4).
   */
  sendRequest(req: SipRequest, branch: string, flow: Flow, handlers: ClientHandlers): ClientTransaction {
    const tx = new ClientTransaction(branch, req, flow, handlers, this);
    const key = `${branch}\0${req.method}`;
    this.#clients.set(key, tx);
    if (!flow.send(serialize(req))) {
      this.#clients.delete(key);
      tx.state = 'terminated';
      queueMicrotask(() => handlers.onTransportError(tx, 'the connection is closed'));
      return tx;
    }
    tx.arm(64 * this.timers.t1);
    flow.onClose((reason) => {
      if (tx.state === 'calling' || tx.state === 'proceeding') {
        this.#endClient(tx);
        handlers.onTransportError(tx, reason);
      }
    });
    return tx;
  }

  /** Match a response to a client transaction (§17.1.3): top Via branch and CSeq method. */
  receiveResponse(res: SipResponse): boolean {
    const top = res.topVia();
    const cseq = res.cseq();
    if (!top.ok || !cseq.ok || top.value.branch === undefined) return false;
    const tx = this.#clients.get(`${top.value.branch}\0${cseq.value.method}`);
    if (!tx || tx.state === 'completed' || tx.state === 'terminated') return false;
    tx.lastStatus = res.status;
    if (res.status < 200) {
      if (tx.state === 'calling') {
        tx.state = 'proceeding';
        // §17.1.1.2 / §16.8: a provisional stops Timer B; the proxy's Timer C takes over for INVITE.
        if (tx.method === 'INVITE') tx.arm(this.timers.timerC);
      }
      tx.handlers.onResponse(res, tx);
      return true;
    }
    if (tx.method === 'INVITE' && res.status >= 300) this.#ackNon2xx(tx, res);
    this.#endClient(tx);
    tx.handlers.onResponse(res, tx);
    return true;
  }

  #endClient(tx: ClientTransaction): void {
    tx.disarm();
    tx.state = tx.method === 'INVITE' && tx.lastStatus >= 300 ? 'completed' : 'terminated';
    this.#clients.delete(`${tx.branch}\0${tx.method}`);
  }

  clientTimeout(tx: ClientTransaction): void {
    if (tx.state !== 'calling' && tx.state !== 'proceeding') return;
    this.#endClient(tx);
    tx.handlers.onTimeout(tx);
  }

  /**
   * §17.1.1.3: the ACK of a non-2xx final response belongs to the INVITE
   * transaction: same Request-URI, Call-ID, From, CSeq number and top Via,
   * the response's To (with its tag) and the request's Route set.
   */
  #ackNon2xx(tx: ClientTransaction, res: SipResponse): void {
    const req = tx.request;
    const top = req.headers.first('via');
    const cseq = req.cseq();
    if (top === undefined || !cseq.ok) return;
    const headers: Array<[string, string]> = [['Via', top.split(',')[0]!.trim()]];
    for (const r of req.headers.all('route')) headers.push(['Route', r]);
    headers.push(['Max-Forwards', '70']);
    headers.push(['From', req.headers.first('from') ?? '']);
    headers.push(['To', res.headers.first('to') ?? req.headers.first('to') ?? '']);
    headers.push(['Call-ID', req.headers.first('call-id') ?? '']);
    headers.push(['CSeq', `${cseq.value.seq} ACK`]);
    tx.flow.send(serialize(createRequest('ACK', req.uri, headers)));
  }
}
