/**
 * Server-side digest authentication for the registrar and proxy
 * (RFC 3261 §22, RFC 7616, RFC 8760).
 *
 * One call, verify(), decides between: authenticated, a fresh challenge
 * (401/407, with stale=true when only the nonce was at fault), or 400 for
 * credentials that are malformed or for another URI.
 *
 * No account enumeration ("alwaysauthreject", as chan_sip's option and
 * PJSIP's artificial auth object): an unknown user's response is checked
 * against a random per-process secret, with the same hashing work, and
 * fails exactly like a wrong password: same status, same headers, stale
 * false. Only the returned `failure.event` (for the security log) tells
 * them apart. Everything decided before the user lookup (scheme, realm,
 * algorithm, qop, uri) is independent of whether the user exists.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import {
  computeDigestResponse,
  digestEquals,
  formatChallenge,
  parseAlgorithm,
  parseCredentials,
  parseNonceCount,
  type DigestAlgorithm,
  type DigestCredentials,
  type Qop,
} from './digest.js';
import type { SipHeaders } from '../sip/message/message.js';
import { NonceManager } from './nonce.js';
import { asciiLower } from '../sip/message/syntax.js';
import { parseUri, uriEquals } from '../sip/message/uri.js';

export interface AuthenticatorOptions {
  realm: string;
  /**
   * Offered algorithms, most preferred first: one challenge header each
   * (RFC 8760 §2). Default SHA-256 then MD5. Old phones that only read the
   * first challenge and know only MD5 need ['MD5'] or MD5 first.
   */
  algorithms?: readonly DigestAlgorithm[];
  /** Offered qop values. Default ['auth'] (RFC 8760 requires qop support). */
  qop?: readonly Qop[];
  nonces?: NonceManager;
  /** Act as a proxy: 407, Proxy-Authenticate, Proxy-Authorization. */
  proxy?: boolean;
  /** Accept responses without qop (RFC 2069 clients); each nonce then works once. Default false. */
  allowMissingQop?: boolean;
  /** Refuse credentials whose uri= differs from the Request-URI (RFC 7616 §3.4.6). Default true. */
  checkUri?: boolean;
  /** Random source for the dummy secret. Default node:crypto. */
  randomBytes?: (n: number) => Buffer;
}

/** What the request carries; a SipRequest fits. */
export interface AuthSubject {
  readonly method: string;
  readonly uri: string;
  readonly headers: SipHeaders;
  readonly body: Uint8Array;
}

/** Returns the password of `username` in `realm`, or undefined for an unknown user. */
export type PasswordLookup = (username: string, realm: string) => string | undefined;

export type SecurityEventName = 'InvalidAccountID' | 'InvalidPassword' | 'ChallengeResponseFailed';

export interface AuthFailure {
  /** Asterisk security event name (see lockout.ts formatSecurityEvent). */
  readonly event: SecurityEventName;
  readonly username: string;
  readonly reason: string;
  /** The nonce the client answered, and its response, for the log. */
  readonly nonce: string;
  readonly response: string;
}

export type AuthResult =
  | { readonly outcome: 'authenticated'; readonly username: string; readonly algorithm: DigestAlgorithm }
  | {
      readonly outcome: 'challenge';
      readonly status: 401 | 407;
      /** WWW-Authenticate (or Proxy-Authenticate) fields, one per algorithm. */
      readonly headers: ReadonlyArray<readonly [string, string]>;
      readonly stale: boolean;
      /** Set when credentials were presented and were wrong: count it (FailureTracker) and log it. */
      readonly failure: AuthFailure | undefined;
      /** Why a challenge and not success, for debug logs. */
      readonly reason: string;
    }
  | { readonly outcome: 'bad-request'; readonly status: 400; readonly reason: string };

const DEFAULT_ALGORITHMS: readonly DigestAlgorithm[] = ['SHA-256', 'MD5'];

export class DigestAuthenticator {
  readonly realm: string;
  readonly algorithms: readonly DigestAlgorithm[];
  readonly qop: readonly Qop[];
  readonly nonces: NonceManager;
  readonly #proxy: boolean;
  readonly #allowMissingQop: boolean;
  readonly #checkUri: boolean;
  readonly #dummySecret: string;

  constructor(opts: AuthenticatorOptions) {
    this.realm = opts.realm;
    this.algorithms = opts.algorithms ?? DEFAULT_ALGORITHMS;
    this.qop = opts.qop ?? ['auth'];
    this.nonces = opts.nonces ?? new NonceManager();
    this.#proxy = opts.proxy ?? false;
    this.#allowMissingQop = opts.allowMissingQop ?? false;
    this.#checkUri = opts.checkUri ?? true;
    this.#dummySecret = (opts.randomBytes ?? nodeRandomBytes)(32).toString('base64');
  }

  get status(): 401 | 407 {
    return this.#proxy ? 407 : 401;
  }

  /** Challenge header fields: one per algorithm, in preference order, sharing one fresh nonce. */
  challenge(stale = false, binding = ''): Array<[string, string]> {
    const nonce = this.nonces.issue(this.#binding(binding));
    const name = this.#proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate';
    return this.algorithms.map((algorithm) => [name, formatChallenge({ realm: this.realm, nonce, algorithm, qop: this.qop, stale })]);
  }

  #binding(extra: string): string {
    return `${this.realm}\0${extra}`;
  }

  #challengeResult(reason: string, stale: boolean, binding: string, failure?: AuthFailure): AuthResult {
    return { outcome: 'challenge', status: this.status, headers: this.challenge(stale, binding), stale, failure, reason };
  }

  /**
   * Checks the request's credentials for this realm. `binding` ties nonces
   * to something of the client (e.g. its IP address); it must be the same
   * when the nonce is issued (challenge) and when it comes back.
   */
  verify(req: AuthSubject, lookup: PasswordLookup, binding = ''): AuthResult {
    const picked = this.#pick(req);
    if (picked.kind === 'none') return this.#challengeResult(picked.reason, false, binding);
    const c = picked.creds;

    const algorithm = parseAlgorithm(c.algorithm);
    if (!algorithm || !this.algorithms.includes(algorithm)) {
      return this.#challengeResult(`algorithm ${(c.algorithm ?? 'MD5').slice(0, 20)} not offered`, false, binding);
    }
    if (c.userhash) return this.#challengeResult('userhash not offered', false, binding);
    let qop: Qop | undefined;
    let nc = 1;
    if (c.qop === undefined) {
      if (!this.#allowMissingQop) return this.#challengeResult('response without qop', false, binding);
    } else {
      const q = asciiLower(c.qop);
      if ((q !== 'auth' && q !== 'auth-int') || !this.qop.includes(q)) return this.#challengeResult(`qop ${c.qop.slice(0, 20)} not offered`, false, binding);
      qop = q;
      const n = parseNonceCount(c.nc);
      if (n === undefined || c.cnonce === undefined) return { outcome: 'bad-request', status: 400, reason: 'qop without a valid nc or cnonce' };
      nc = n;
    }
    if (this.#checkUri && !sameUri(c.uri, req.uri)) {
      // RFC 7616 §3.4.6 (RFC 2617 §3.2.2.5): the digest must be for this request.
      return { outcome: 'bad-request', status: 400, reason: 'digest uri differs from the Request-URI' };
    }

    const password = lookup(c.username, this.realm);
    const known = password !== undefined;
    const expected = computeDigestResponse({
      algorithm,
      username: c.username,
      realm: this.realm,
      password: known ? password : this.#dummySecret,
      method: req.method,
      uri: c.uri,
      nonce: c.nonce,
      ...(qop !== undefined ? { qop, nc: c.nc!, cnonce: c.cnonce! } : {}),
      ...(qop === 'auth-int' ? { body: req.body } : {}),
    });
    const right = digestEquals(expected, c.response) && known;
    if (!right) {
      const event = known ? 'InvalidPassword' : 'InvalidAccountID';
      return this.#challengeResult('wrong credentials', false, binding, {
        event,
        username: c.username,
        reason: known ? 'wrong password' : 'unknown user',
        nonce: c.nonce,
        response: c.response,
      });
    }
    // The password is right: any nonce problem only asks for a retry with a
    // new nonce (stale=true, RFC 7616 §3.3), without re-prompting the user.
    const state = this.nonces.check(c.nonce, this.#binding(binding));
    if (state.state === 'invalid') return this.#challengeResult(`nonce invalid: ${state.reason}`, true, binding);
    if (state.state === 'stale') return this.#challengeResult('nonce stale', true, binding);
    const use = this.nonces.use(c.nonce, nc, state.issuedAt);
    if (use === 'forgotten') return this.#challengeResult('nonce count no longer tracked', true, binding);
    if (use === 'replay') {
      return this.#challengeResult('nonce count replayed', true, binding, {
        event: 'ChallengeResponseFailed',
        username: c.username,
        reason: `replayed nonce count ${c.nc ?? '(none)'}`,
        nonce: c.nonce,
        response: c.response,
      });
    }
    return { outcome: 'authenticated', username: c.username, algorithm };
  }

  /** The credentials for this realm among the request's Authorization fields. */
  #pick(req: AuthSubject): { kind: 'none'; reason: string } | { kind: 'ok'; creds: DigestCredentials } {
    const values = req.headers.all(this.#proxy ? 'proxy-authorization' : 'authorization');
    let reason = 'no credentials';
    for (const v of values) {
      const c = parseCredentials(v);
      if (!c.ok) {
        // Another scheme (RFC 4475 §3.3.7 regaut01), or Digest credentials
        // missing a parameter: answered with a fresh challenge, which lets
        // a confused client start over.
        reason = c.error;
        continue;
      }
      // Credentials for another realm belong to another server.
      if (c.value.realm !== this.realm) {
        reason = 'credentials for another realm';
        continue;
      }
      return { kind: 'ok', creds: c.value };
    }
    return { kind: 'none', reason };
  }
}

/** The digest uri names the Request-URI: same text, or equivalent URIs (RFC 3261 §19.1.4). */
function sameUri(digestUri: string, requestUri: string): boolean {
  if (digestUri === requestUri) return true;
  const a = parseUri(digestUri);
  const b = parseUri(requestUri);
  return a.ok && b.ok && uriEquals(a.value, b.value);
}
