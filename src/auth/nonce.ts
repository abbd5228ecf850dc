/**
 * Server nonces for digest authentication.
 *
 * A nonce is issued by this process and verifiable without storing it:
 * base64url( issue time (8 bytes, ms) | 12 random bytes | HMAC-SHA-256
 * tag (16 bytes) ) where the tag covers the time, the random bytes and a
 * binding (the realm, and optionally the client address). A nonce that does
 * not verify was forged, corrupted, or issued before a restart: invalid.
 * One that verifies but is older than the lifetime is stale: the client
 * may retry with a new nonce without asking the user again (RFC 7616
 * §3.3 `stale`).
 *
 * Replay: after a response verified, use() records the nonce count; a
 * count not above the last one seen for that nonce is a replay (RFC 7616
 * §3.4 nc; §5.5 on replay attacks). Counts are only recorded once the
 * digest is right, so a guesser cannot burn a real client's nonce.
 * Asterisk keeps no such state (a captured response is replayable while
 * the nonce lives); here the state is bounded by `maxTracked` and by the
 * lifetime, since stale nonces are refused before use() is reached.
 */
import { createHmac, randomBytes as nodeRandomBytes, timingSafeEqual } from 'node:crypto';

export interface NonceManagerOptions {
  /** HMAC key. Default: 32 random bytes per process (nonces die with it). */
  secret?: Uint8Array;
  /** Age after which a nonce is stale. Default 60 s (Asterisk uses 32 s; a REGISTER round trip needs a few). */
  lifetimeMs?: number;
  /** Clock in ms. Default Date.now. */
  now?: () => number;
  /** Random source. Default node:crypto randomBytes. */
  randomBytes?: (n: number) => Buffer;
  /** Most nonces whose count is remembered at once. Default 100 000. */
  maxTracked?: number;
}

export type NonceCheck =
  | { readonly state: 'valid'; readonly issuedAt: number }
  | { readonly state: 'stale'; readonly issuedAt: number }
  | { readonly state: 'invalid'; readonly reason: string };

const TIME_BYTES = 8;
const RANDOM_BYTES = 12;
const TAG_BYTES = 16;
const RAW_BYTES = TIME_BYTES + RANDOM_BYTES + TAG_BYTES;
const ENCODED_LENGTH = Math.ceil((RAW_BYTES * 4) / 3);

export class NonceManager {
  readonly lifetimeMs: number;
  readonly #secret: Uint8Array;
  readonly #now: () => number;
  readonly #random: (n: number) => Buffer;
  readonly #maxTracked: number;
  /** nonce -> highest nc seen and issue time; insertion order is first-use order. */
  readonly #counts = new Map<string, { nc: number; issuedAt: number }>();
  #forgottenUpTo = -Infinity;

  constructor(opts: NonceManagerOptions = {}) {
    this.#random = opts.randomBytes ?? nodeRandomBytes;
    this.#secret = opts.secret ?? this.#random(32);
    this.lifetimeMs = opts.lifetimeMs ?? 60_000;
    this.#now = opts.now ?? Date.now;
    this.#maxTracked = opts.maxTracked ?? 100_000;
  }

  #tag(body: Uint8Array, binding: string): Buffer {
    return createHmac('sha256', this.#secret).update(body).update('\0').update(binding, 'utf8').digest().subarray(0, TAG_BYTES);
  }

  /** A fresh nonce bound to `binding` (e.g. the realm, or realm and client IP). */
  issue(binding = ''): string {
    const raw = Buffer.alloc(RAW_BYTES);
    raw.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(this.#now()))), 0);
    this.#random(RANDOM_BYTES).copy(raw, TIME_BYTES);
    this.#tag(raw.subarray(0, TIME_BYTES + RANDOM_BYTES), binding).copy(raw, TIME_BYTES + RANDOM_BYTES);
    return raw.toString('base64url');
  }

  /** Authenticity and age of a nonce; changes nothing. */
  check(nonce: string, binding = ''): NonceCheck {
    if (nonce.length !== ENCODED_LENGTH) return { state: 'invalid', reason: 'nonce of the wrong length' };
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== RAW_BYTES || raw.toString('base64url') !== nonce) return { state: 'invalid', reason: 'nonce is not base64url' };
    const body = raw.subarray(0, TIME_BYTES + RANDOM_BYTES);
    const tag = raw.subarray(TIME_BYTES + RANDOM_BYTES);
    if (!timingSafeEqual(tag, this.#tag(body, binding))) return { state: 'invalid', reason: 'nonce not issued here (bad signature or binding)' };
    const issuedAt = Number(raw.readBigUInt64BE(0));
    const age = this.#now() - issuedAt;
    return age > this.lifetimeMs ? { state: 'stale', issuedAt } : { state: 'valid', issuedAt };
  }

  /**
   * Records that `nonce` was used with count `nc` (1 for a request without
   * qop, which can then be used once). 'replay' when nc is not above the
   * highest count already seen for it; 'forgotten' when its count may have
   * been evicted under load (treat like stale).
   */
  use(nonce: string, nc: number, issuedAt: number): 'ok' | 'replay' | 'forgotten' {
    const seen = this.#counts.get(nonce);
    if (seen) {
      if (nc <= seen.nc) return 'replay';
      seen.nc = nc;
      return 'ok';
    }
    // Counts of live nonces were dropped to respect maxTracked: a nonce
    // issued before them may have been used already, so it is not trusted
    // (the caller re-challenges with stale=true).
    if (issuedAt <= this.#forgottenUpTo) return 'forgotten';
    this.#prune();
    this.#counts.set(nonce, { nc, issuedAt });
    return 'ok';
  }

  /** How many nonces have a remembered count (for tests and metrics). */
  get tracked(): number {
    return this.#counts.size;
  }

  #prune(): void {
    const oldest = this.#now() - this.lifetimeMs;
    for (const [nonce, entry] of this.#counts) {
      if (entry.issuedAt >= oldest && this.#counts.size < this.#maxTracked) break;
      // Past its lifetime the nonce is refused as stale before use(), so its
      // count is no longer needed; over the cap the oldest entry goes.
      if (entry.issuedAt >= oldest) this.#forgottenUpTo = Math.max(this.#forgottenUpTo, entry.issuedAt);
      this.#counts.delete(nonce);
    }
  }
}
