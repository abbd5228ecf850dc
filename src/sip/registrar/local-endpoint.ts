/**
 * Local extensions: numbers answered by sipsec itself instead of a phone
 * (the SRTP echo on `200` is the next step). A LocalEndpoint is a small
 * plug-in: the registrar core routes an INVITE for its extension to it and
 * hands it a LocalCall, the UAS side of one dialog (RFC 3261 §12-§15):
 *
 *   const echo: LocalEndpoint = {
 *     ext: '200',
 *     onInvite(call) {
 *       const answer = buildSdpAnswer(call.invite.body);     // the endpoint's business
 *       call.progress(180);
 *       call.answer({ body: answer, contentType: 'application/sdp' });
 *       call.on('ack', () => startMedia());
 *       call.on('reinvite', (req, reply) => reply(200, { body: answerTo(req.body), contentType: 'application/sdp' }));
 *       call.on('end', (why) => stopMedia(why));
 *     },
 *   };
 *
 * The caller is already authenticated when onInvite runs (the same rules
 * as proxied INVITEs: a flow with the phone's registration, or proxy
 * digest). The core answers 100 Trying, absorbs retransmissions, answers
 * BYE (200), CANCEL (200 + 487 to the INVITE), in-dialog INFO/OPTIONS/
 * NOTIFY (200), UPDATE (501) and, when the endpoint does not listen for
 * re-INVITEs, 488; it sends the endpoint's BYE over the phone's flow.
 */
import { randomBytes } from 'node:crypto';
import type { Flow } from '../transport/flow.js';
import { hostPort } from '../transport/flow.js';
import type { SipRequest, SipResponse } from '../message/message.js';
import { parseNameAddr, tagOf } from '../message/name-addr.js';
import { createRequest } from '../message/serializer.js';
import type { ServerTransaction, TransactionLayer } from '../transaction/transaction.js';

/** Who called: the authenticated phone and its connection. */
export interface CallParty {
  readonly phone: string;
  readonly aor: string;
  readonly remote: string;
  /** Our address on the caller's connection: what the caller can reach (media answers use it). */
  readonly localAddress: string;
  readonly transport: string;
  readonly tlsVersion: string | undefined;
  readonly cipher: string | undefined;
  readonly certSerial: string | undefined;
}

export interface ResponseBody {
  body?: Buffer | string;
  /** Default application/sdp when a body is given. */
  contentType?: string;
  headers?: ReadonlyArray<readonly [string, string]>;
}

export type CallEndReason = 'bye' | 'local-bye' | 'cancel' | 'rejected' | 'no-ack' | 'shutdown';

export type ReinviteReply = (status: number, opts?: ResponseBody) => void;

export interface LocalCallEvents {
  /** The ACK of the 2xx (or of a re-INVITE's 2xx): media may start. */
  ack: (ack: SipRequest) => void;
  /** A re-INVITE (hold, new keys): answer it exactly once through `reply`. */
  reinvite: (req: SipRequest, reply: ReinviteReply) => void;
  /** The caller cancelled before the answer. */
  cancel: () => void;
  /** The caller hung up (already answered 200). */
  bye: (req: SipRequest) => void;
  /** The dialog is over, whatever the reason; fired once. */
  end: (reason: CallEndReason) => void;
}

export interface LocalEndpoint {
  /** The extension (SIP user part of the Request-URI) this endpoint answers. */
  readonly ext: string;
  /** One line for `sipsec status`. */
  readonly description?: string;
  /** A new call. Answer it with call.progress/answer/reject (exceptions are answered 500). */
  onInvite(call: LocalCall): void | Promise<void>;
}

/** What the core lends a call: transactions, a way to reach the caller, events. */
export interface DialogHost {
  readonly transactions: TransactionLayer;
  /** The flow to send to the phone now: the one given if still open, else the flow of its current registration. */
  flowFor(phone: string, preferred: Flow): Flow | undefined;
  /** Our Via header value for a request sent over `flow`. */
  via(flow: Flow, branch: string): string;
  onEnd(call: LocalCall, reason: CallEndReason): void;
  /** An ACK that confirms nothing (its CSeq number is not the INVITE's): dropped, reported here. */
  onIgnoredAck?(call: LocalCall, ack: SipRequest, why: string): void;
}

type Listeners = { [K in keyof LocalCallEvents]: Array<LocalCallEvents[K]> };

export class LocalCall {
  readonly ext: string;
  readonly invite: SipRequest;
  readonly caller: CallParty;
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  state: 'early' | 'confirmed' | 'ended' = 'early';
  #answered = false;
  #flow: Flow;
  #localCseq = 1;
  #remoteCseq: number;
  /** The CSeq number of the INVITE (or re-INVITE) whose 2xx awaits its ACK. */
  #inviteCseq: number;
  readonly #tx: ServerTransaction;
  readonly #host: DialogHost;
  readonly #remoteTarget: string;
  readonly #routeSet: string[];
  readonly #ls: Listeners = { ack: [], reinvite: [], cancel: [], bye: [], end: [] };
  #ackTimer: NodeJS.Timeout | undefined;

  constructor(ext: string, tx: ServerTransaction, caller: CallParty, host: DialogHost) {
    this.ext = ext;
    this.#tx = tx;
    this.invite = tx.request;
    this.caller = caller;
    this.#host = host;
    this.#flow = tx.flow;
    this.callId = this.invite.callId().ok ? (this.invite.callId() as { ok: true; value: string }).value : '';
    this.localTag = tx.toTag;
    const from = this.invite.from();
    this.remoteTag = from.ok ? (tagOf(from.value) ?? '') : '';
    const cseq = this.invite.cseq();
    this.#remoteCseq = cseq.ok ? cseq.value.seq : 0;
    this.#inviteCseq = this.#remoteCseq;
    const contacts = this.invite.contacts();
    // §12.1.1: the remote target is the INVITE's Contact; the route set its Record-Route (in order, UAS side).
    this.#remoteTarget = contacts.ok && contacts.value !== '*' && contacts.value[0] ? contacts.value[0].uri.raw : this.invite.uri;
    const rr = this.invite.nameAddrs('record-route');
    this.#routeSet = rr.ok ? rr.value.map((na) => na.raw) : [];
  }

  on<K extends keyof LocalCallEvents>(event: K, listener: LocalCallEvents[K]): this {
    this.#ls[event].push(listener);
    return this;
  }

  #fire<K extends keyof LocalCallEvents>(event: K, ...args: Parameters<LocalCallEvents[K]>): void {
    for (const l of this.#ls[event]) {
      try {
        (l as (...a: Parameters<LocalCallEvents[K]>) => void)(...args);
      } catch {
        // an endpoint's bug must not break the dialog
      }
    }
  }

  #contact(): string {
    return `<sip:${this.ext}@${hostPort(this.#flow.localAddress, this.#flow.localPort)};transport=${this.#flow.transport}>`;
  }

  #headers(opts: ResponseBody | undefined, withContact: boolean): Array<[string, string]> {
    const h: Array<[string, string]> = [];
    if (withContact) h.push(['Contact', this.#contact()]);
    // §12.1.1: a UAS copies Record-Route into responses that establish the dialog.
    for (const r of this.invite.headers.all('record-route')) h.push(['Record-Route', r]);
    for (const [k, v] of opts?.headers ?? []) h.push([k, v]);
    return h;
  }

  /** A provisional response (101-199), e.g. 180 Ringing or 183 with early media SDP. */
  progress(status: number, opts?: ResponseBody): void {
    if (this.#answered || status <= 100 || status >= 200) return;
    this.#tx.reply(status, { headers: this.#headers(opts, true), ...(opts?.body !== undefined ? { body: opts.body, contentType: opts.contentType ?? 'application/sdp' } : {}) });
  }

  /** The 200 OK with the endpoint's SDP (§13.3.1.4). The 'ack' event follows; without an ACK in 64*T1 the call is ended with BYE. */
  answer(opts: ResponseBody): void {
    if (this.#answered) return;
    this.#answered = true;
    this.state = 'confirmed';
    this.#tx.reply(200, { headers: [...this.#headers(opts, true), ['Allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS, INFO']], ...(opts.body !== undefined ? { body: opts.body, contentType: opts.contentType ?? 'application/sdp' } : {}) });
    this.#ackTimer = setTimeout(() => {
      this.#ackTimer = undefined;
      void this.#sendBye('no-ack');
    }, 64 * this.#host.transactions.timers.t1);
    this.#ackTimer.unref();
  }

  /** A final refusal (300-699); the dialog never starts. */
  reject(status: number, opts?: ResponseBody): void {
    if (this.#answered || status < 300) return;
    this.#answered = true;
    this.#tx.reply(status, { headers: this.#headers(opts, false), ...(opts?.body !== undefined ? { body: opts.body, contentType: opts.contentType ?? 'text/plain' } : {}) });
    this.#end('rejected');
  }

  /** End an established call: BYE toward the phone over its flow (§15.1.1). Resolves with the BYE's final status. */
  bye(): Promise<number> {
    return this.#sendBye('local-bye');
  }

  #sendBye(reason: CallEndReason): Promise<number> {
    if (this.state !== 'confirmed') return Promise.resolve(0);
    const flow = this.#host.flowFor(this.caller.phone, this.#flow);
    this.#end(reason);
    if (!flow) return Promise.resolve(0);
    const branch = this.#host.transactions.newBranch();
    const from = this.invite.headers.first('to') ?? '';
    const headers: Array<[string, string]> = [['Via', this.#host.via(flow, branch)], ['Max-Forwards', '70']];
    for (const r of this.#routeSet) headers.push(['Route', r]);
    headers.push(
      ['From', hasTag(from) ? from : `${from};tag=${this.localTag}`],
      ['To', this.invite.headers.first('from') ?? ''],
      ['Call-ID', this.callId],
      ['CSeq', `${++this.#localCseq} BYE`],
    );
    const req = createRequest('BYE', this.#remoteTarget, headers);
    return new Promise<number>((resolve) => {
      this.#host.transactions.sendRequest(req, branch, flow, {
        onResponse: (res: SipResponse) => {
          if (res.status >= 200) resolve(res.status);
        },
        onTimeout: () => resolve(408),
        onTransportError: () => resolve(503),
      });
    });
  }

  /** The core hands every in-dialog request here; `tx` is undefined for ACK. */
  handle(req: SipRequest, tx: ServerTransaction | undefined, flow: Flow): void {
    if (flow.open) this.#flow = flow;
    const cseq = req.cseq();
    if (req.method === 'ACK') {
      // §13.2.2.4: the ACK of a 2xx carries the INVITE's CSeq number. chan_sip never confirms a call
      // on any other ACK (and sends no audio); neither do we, so a client that gets it wrong fails here too.
      if (!cseq.ok || cseq.value.seq !== this.#inviteCseq) {
        this.#host.onIgnoredAck?.(this, req, `ACK CSeq ${cseq.ok ? cseq.value.seq : '(invalid)'} is not the INVITE's CSeq ${this.#inviteCseq} (RFC 3261 13.2.2.4): the call is not confirmed`);
        return;
      }
      if (this.#ackTimer) {
        clearTimeout(this.#ackTimer);
        this.#ackTimer = undefined;
      }
      this.#fire('ack', req);
      return;
    }
    if (!tx) return;
    // §12.2.2: a lower CSeq than the last one is out of order: 500.
    if (cseq.ok && cseq.value.seq <= this.#remoteCseq && req.method !== 'CANCEL') {
      tx.reply(500, { reason: 'Out Of Order' });
      return;
    }
    if (cseq.ok) this.#remoteCseq = cseq.value.seq;
    switch (req.method) {
      case 'BYE':
        tx.reply(200);
        this.#fire('bye', req);
        this.#end('bye');
        return;
      case 'INVITE': {
        if (cseq.ok) this.#inviteCseq = cseq.value.seq;
        if (this.#ls.reinvite.length === 0) {
          tx.reply(488, { headers: [['Warning', `399 sipsec "extension ${this.ext} does not renegotiate media"`]] });
          return;
        }
        let replied = false;
        const reply: ReinviteReply = (status, opts) => {
          if (replied) return;
          replied = true;
          tx.reply(status, { headers: this.#headers(opts, status < 300), ...(opts?.body !== undefined ? { body: opts.body, contentType: opts.contentType ?? 'application/sdp' } : {}) });
        };
        this.#fire('reinvite', req, reply);
        return;
      }
      case 'INFO':
      case 'OPTIONS':
      case 'NOTIFY':
        tx.reply(200);
        return;
      default:
        tx.reply(501);
    }
  }

  /** The caller's CANCEL matched our INVITE (§9.2): 487 if not answered yet. */
  cancel(): void {
    if (this.#answered) return;
    this.#answered = true;
    this.#tx.reply(487);
    this.#fire('cancel');
    this.#end('cancel');
  }

  shutdown(): void {
    if (this.state === 'ended') return;
    if (!this.#answered) this.#tx.reply(503);
    this.#end('shutdown');
  }

  #end(reason: CallEndReason): void {
    if (this.state === 'ended') return;
    this.state = 'ended';
    if (this.#ackTimer) {
      clearTimeout(this.#ackTimer);
      this.#ackTimer = undefined;
    }
    this.#host.onEnd(this, reason);
    this.#fire('end', reason);
  }
}

/** Whether a From/To value already carries a tag. */
function hasTag(value: string): boolean {
  const na = parseNameAddr(value);
  return na.ok && tagOf(na.value) !== undefined;
}

/**
 * The trivial endpoint for tests: answers every call with one status
 * (486 Busy Here by default), optionally after a provisional.
 */
export class StatusEndpoint implements LocalEndpoint {
  readonly description: string;
  constructor(
    readonly ext: string,
    readonly status = 486,
    readonly ringFirst = false,
  ) {
    this.description = `answers ${status}`;
  }

  onInvite(call: LocalCall): void {
    if (this.ringFirst) call.progress(180);
    if (this.status >= 200 && this.status < 300) call.answer({});
    else call.reject(this.status);
  }
}

/** A random token for tags and flow ids. */
export function token(bytes = 6): string {
  return randomBytes(bytes).toString('hex');
}
