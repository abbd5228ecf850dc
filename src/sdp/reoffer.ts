/**
 * Re-INVITEs (RFC 3264 §8): whether a re-offered stream's crypto changed,
 * so the echo keeps its SRTP contexts across hold/unhold.
 */
import { answerOffer, type AnswerOptions, type AnswerResult, type ChosenCrypto, type StreamNegotiation } from './answer.js';
import { sameRemoteCrypto } from './key-material.js';
import type { LocalMedia } from './offer.js';
import type { AnswerPolicy } from './policy.js';

export interface ReofferCheck {
  /** True when SRTP contexts for the phone's stream must be rebuilt. */
  changed: boolean;
  reason: string;
}

/**
 * Whether the crypto of a re-offered stream differs from what was negotiated
 * before. Same suite, key, salt, MKI, lifetime and session parameters mean
 * "keep the contexts" even if the tag moved; rtpengine (issue 102) and
 * Asterisk (ASTERISK-20194) both had to learn this because Aastra phones lost
 * audio when a hold re-INVITE re-created SRTP state.
 */
export function compareCrypto(previous: ChosenCrypto | undefined, next: ChosenCrypto | undefined): ReofferCheck {
  if (!previous && !next) return { changed: false, reason: 'no SRTP before or now' };
  if (!previous) return { changed: true, reason: 'SRTP started' };
  if (!next) return { changed: true, reason: 'SRTP stopped' };
  const diff = sameRemoteCrypto(previous, next);
  if (diff) return { changed: true, reason: diff };
  if (previous.tagText !== next.tagText) return { changed: false, reason: `same key under a new tag (${previous.tagText} -> ${next.tagText})` };
  return { changed: false, reason: 'same suite, key and parameters' };
}

/**
 * Negotiate a re-INVITE's offer against the previous result and report, per
 * audio stream, whether crypto changed. Convenience over `answerOffer` with
 * `previous` plus `compareCrypto`.
 */
export function reofferChanged(
  previous: readonly StreamNegotiation[],
  reofferSdp: string,
  policy: AnswerPolicy,
  local: LocalMedia,
  opts: Omit<AnswerOptions, 'previous'> = {},
): { ok: true; checks: ReofferCheck[]; answer: AnswerResult } | { ok: false; error: string; answer: AnswerResult } {
  const answer = answerOffer(reofferSdp, policy, local, { ...opts, previous });
  if (!answer.ok) return { ok: false, error: answer.error, answer };
  const checks = answer.streams
    .filter((s) => s.media === 'audio')
    .map((s) => compareCrypto(previous.find((p) => p.index === s.index)?.chosen, s.chosen));
  return { ok: true, checks, answer };
}
