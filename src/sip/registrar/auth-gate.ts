/**
 * The auth gate: who may go on. An address locked out after repeated
 * failures gets 403 before anything else; a request that must prove its
 * phone gets one digest path, the registrar's (401, WWW-Authenticate,
 * RFC 3261 §22.2) for REGISTER and the proxy's (407, Proxy-Authenticate,
 * §22.3) for any other request. Every failure writes one fail2ban-readable
 * line to the security log and counts toward the lockout.
 *
 * When digest is asked at all is the callers' rule (register.ts: `--auth
 * both` asks everyone, `--auth cert` lets a verified certificate alone
 * do; router.ts: a flow carrying the phone's live registration, or a
 * certificate flow under `--auth cert`, is trusted without).
 */
import type { FailureCode } from '../../events/index.js';
import { DigestAuthenticator, type AuthFailure } from '../../auth/authenticator.js';
import type { DigestAlgorithm } from '../../auth/digest.js';
import { FailureTracker, formatSecurityEvent, type LockoutOptions, type SecurityEvent } from '../../auth/lockout.js';
import { NonceManager } from '../../auth/nonce.js';
import type { SipRequest } from '../message/message.js';
import type { ServerTransaction } from '../transaction/transaction.js';
import type { Flow } from '../transport/flow.js';
import { reject, replyWarning, requestLabel, statelessReply, type RegisterFailCode, type ServerContext, type SipRejectCode } from './context.js';
import type { RegistrarPhone as Phone } from './identity.js';

export interface AuthGateOptions {
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
  /** One fail2ban-readable line per security event. */
  securityLog?: (line: string) => void;
}

/** The codes a digest refusal is reported with, one set per event (register.fail or sip.reject). */
export interface DigestCodes<C extends FailureCode> {
  readonly badCredentials: C;
  readonly unknownUser: C;
  readonly certUserMismatch: C;
  /** The digest failure (auth/authenticator.ts) of a challenge. */
  readonly failure: Readonly<Record<AuthFailure['event'], C>>;
}

export const DIGEST_CODES: { readonly register: DigestCodes<RegisterFailCode>; readonly sip: DigestCodes<SipRejectCode> } = {
  register: {
    badCredentials: 'register.bad_credentials',
    unknownUser: 'register.unknown_user',
    certUserMismatch: 'register.cert_user_mismatch',
    failure: { InvalidPassword: 'register.wrong_password', InvalidAccountID: 'register.unknown_user', ChallengeResponseFailed: 'register.nonce_replayed' },
  },
  sip: {
    badCredentials: 'sip.bad_credentials',
    unknownUser: 'sip.unknown_user',
    certUserMismatch: 'sip.cert_user_mismatch',
    failure: { InvalidPassword: 'sip.wrong_password', InvalidAccountID: 'sip.unknown_user', ChallengeResponseFailed: 'sip.nonce_replayed' },
  },
};

const SECURITY_CODES = {
  InvalidPassword: 'auth.wrong_password',
  InvalidAccountID: 'auth.unknown_user',
  ChallengeResponseFailed: 'auth.nonce_replayed',
  FailedACL: 'auth.blocked',
} as const satisfies Record<SecurityEvent['event'], FailureCode>;

/** Reports a digest refusal in the caller's event; the reply has already gone. */
export type DigestFail<C extends FailureCode> = (status: number, code: C, reason: string, phone?: string) => void;

export interface Authenticated {
  phone: Phone;
  /** The digest algorithm the phone answered with (register.ok `algorithm`). */
  algorithm: string;
}

export class AuthGate {
  readonly #ctx: ServerContext;
  readonly #o: AuthGateOptions;
  /** 401 for REGISTER (we are its UAS), 407 for requests we proxy (RFC 3261 §22.3). */
  readonly #registrarDigest: DigestAuthenticator;
  readonly #proxyDigest: DigestAuthenticator;
  readonly #lockout: FailureTracker | undefined;
  readonly #aclLogged = new Map<string, number>();

  constructor(ctx: ServerContext, o: AuthGateOptions) {
    this.#ctx = ctx;
    this.#o = o;
    const nonces = new NonceManager({ now: ctx.now });
    const realm = ctx.identities.domain;
    const algorithms = o.digestAlgorithms ?? ['MD5'];
    this.#registrarDigest = new DigestAuthenticator({ realm, algorithms, nonces });
    this.#proxyDigest = new DigestAuthenticator({ realm, algorithms, nonces, proxy: true });
    this.#lockout = o.lockoutTracker !== undefined ? (o.lockoutTracker ?? undefined) : o.lockout === null ? undefined : new FailureTracker({ ...o.lockout, now: ctx.now });
  }

  /**
   * A locked-out address: 403 with the reason, and (at most every 10 s per
   * address, so a flood does not flood the log) a FailedACL line.
   */
  blocked(req: SipRequest, flow: Flow): boolean {
    if (!this.#lockout?.isBlocked(flow.remoteAddress)) return false;
    const now = this.#ctx.now();
    const until = this.#lockout.blockedUntil(flow.remoteAddress) ?? now;
    const why = `too many authentication failures from ${flow.remoteAddress}: refused until ${new Date(until).toISOString()}`;
    statelessReply(req, flow, 403, [['Warning', this.#ctx.warning(why)]]);
    const last = this.#aclLogged.get(flow.remoteAddress) ?? 0;
    if (now - last > 10_000) {
      if (this.#aclLogged.size > 10_000) this.#aclLogged.clear();
      this.#aclLogged.set(flow.remoteAddress, now);
      this.#security(req, flow, 'FailedACL', '', undefined);
      reject(this.#ctx, flow, 'sip.locked_out', requestLabel(req), why, 403);
    }
    return true;
  }

  /**
   * The phone a request's digest credentials prove, or undefined once the
   * request is answered (a challenge, or a refusal reported through
   * `fail`). `certPhone`: the phone of the flow's verified certificate,
   * which the digest user must then be (two factors, one phone).
   */
  authenticate<C extends FailureCode>(tx: ServerTransaction, certPhone: string | undefined, codes: DigestCodes<C>, fail: DigestFail<C>): Authenticated | undefined {
    const req = tx.request;
    const flow = tx.flow;
    const refuse = (status: number, code: C, reason: string, phone?: string): undefined => {
      replyWarning(this.#ctx, tx, status, reason);
      fail(status, code, reason, phone);
      return undefined;
    };
    const digest = req.method === 'REGISTER' ? this.#registrarDigest : this.#proxyDigest;
    const r = digest.verify(req, (user) => this.#ctx.identities.secretOf(user), flow.remoteAddress);
    if (r.outcome === 'bad-request') return refuse(400, codes.badCredentials, r.reason);
    if (r.outcome === 'challenge') {
      tx.reply(r.status, { headers: r.headers });
      if (r.failure) {
        fail(r.status, codes.failure[r.failure.event], r.failure.reason);
        this.#failed(req, flow, r.failure);
      }
      return undefined;
    }
    const phone = this.#ctx.identities.byUser(r.username);
    if (!phone) return refuse(403, codes.unknownUser, `${r.username} is not a phone`);
    if (certPhone && phone.name !== certPhone) return refuse(403, codes.certUserMismatch, `certificate of ${certPhone} does not match digest user ${r.username}`, certPhone);
    return { phone, algorithm: r.algorithm };
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
    this.#ctx.emit({ event: 'security', remote: flow.remote, securityEvent: event, account: account.slice(0, 64), line, code: SECURITY_CODES[event] });
  }

  /** A failed authentication: the security log, and a count toward the address's lockout (security.block once reached). */
  #failed(req: SipRequest, flow: Flow, failure: AuthFailure): void {
    this.#security(req, flow, failure.event, failure.username, failure);
    if (!this.#lockout) return;
    const r = this.#lockout.recordFailure(flow.remoteAddress);
    if (r.blocked && r.blockedUntil !== undefined && r.failures >= this.#lockout.maxFailures) {
      this.#ctx.emit({ event: 'security.block', remote: flow.remote, failures: r.failures, until: new Date(r.blockedUntil).toISOString(), reason: `${r.failures} authentication failures within ${Math.round(this.#lockout.windowMs / 1000)} s`, code: 'auth.locked_out' });
    }
  }
}
