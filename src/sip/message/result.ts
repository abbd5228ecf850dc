/**
 * The one result shape of every sub-parser in `src/sip`: header values
 * come from the network, so a malformed one is an expected outcome, never
 * an exception. `error` is a precise one-line diagnostic for logs; it may
 * quote header names but never echoes attacker-controlled bytes in full.
 */
import { reasonPhrase } from './status.js';

export type Result<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function err<T = never>(error: string): Result<T> {
  return { ok: false, error };
}

/**
 * What to do with a message that is not acceptable: answer it with a
 * status (requests only), or drop it silently (responses, ACKs, anything
 * that cannot be answered). `headers` are the extra header fields the
 * RFC asks for with that status (Unsupported with 420, Accept with 415,
 * Allow with 405).
 */
export type Reaction =
  | {
      readonly action: 'respond';
      readonly status: number;
      readonly phrase: string;
      readonly headers: ReadonlyArray<readonly [string, string]>;
    }
  | { readonly action: 'drop' };

export const DROP: Reaction = Object.freeze({ action: 'drop' as const });

/** Answer with `status` and its standard reason phrase, plus the header fields the status calls for. */
export function respond(status: number, headers: ReadonlyArray<readonly [string, string]> = []): Reaction {
  return { action: 'respond', status, phrase: reasonPhrase(status), headers };
}
