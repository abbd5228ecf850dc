/**
 * A JSON-safe view of a negotiation, for events (`call.start`) and `--json`
 * output: no Buffers, no bigints, keys only on request.
 */
import type { SuiteName } from '../srtp/suites.js';
import type { StreamNegotiation } from './answer.js';
import type { KeyMaterial } from './key-material.js';
import type { Direction } from './sdp.js';

export interface CryptoLineReport {
  tag: string;
  suite: string;
  usable: boolean;
  acceptable: boolean;
  /** Why the line was not acceptable. */
  reason?: string;
  keys: number;
  lifetime?: string;
  mki?: string;
  sessionParams: string[];
  /** The inline key(s) as base64; only with `includeKeys`. */
  inline?: string[];
}

export interface NegotiationReport {
  index: number;
  media: string;
  proto: string;
  accepted: boolean;
  srtp: 'sdes' | 'none';
  offeredCrypto: CryptoLineReport[];
  chosen?: {
    tag: string;
    suite: string;
    canonical: SuiteName;
    sessionParams: string[];
    answeredSessionParams: string[];
    remoteLifetime?: string;
    remoteMki?: string;
    /** Only with `includeKeys`. */
    remoteInline?: string;
    localInline?: string;
  };
  formats: string[];
  codec?: string;
  remote?: { address: string; port: number; rtcpPort: number; rtcpMux: boolean };
  direction?: Direction;
  reasons: string[];
  /** The Warning value text when the stream was rejected. */
  warning?: string;
}

function b64(k: KeyMaterial): string {
  return Buffer.concat([k.key, k.salt]).toString('base64');
}

/**
 * A plain, JSON-serialisable view of a stream's negotiation (no Buffers, no
 * bigints), for a `call.start` event or a report. Key material is left out
 * unless `includeKeys` is set: it is what decrypts the call, e.g. with
 * libsrtp against a capture (peers.md §4).
 */
export function reportNegotiation(neg: StreamNegotiation, opts: { includeKeys?: boolean } = {}): NegotiationReport {
  const offeredCrypto = neg.offeredCrypto.map((l): CryptoLineReport => {
    const r: CryptoLineReport = {
      tag: l.tagText,
      suite: l.suite,
      usable: l.usable,
      acceptable: l.acceptable,
      keys: l.keys.length,
      sessionParams: [...l.sessionParams.raw],
    };
    if (l.refusal !== undefined) r.reason = l.refusal;
    const lifetime = l.keys.find((k) => k.lifetime)?.lifetime;
    if (lifetime) r.lifetime = lifetime.text;
    const mki = l.keys.find((k) => k.mki)?.mki;
    if (mki) r.mki = `${mki.value}:${mki.length}`;
    if (opts.includeKeys) r.inline = l.keys.map((k) => b64(k));
    return r;
  });
  const out: NegotiationReport = {
    index: neg.index,
    media: neg.media,
    proto: neg.proto,
    accepted: neg.accepted,
    srtp: neg.srtp,
    offeredCrypto,
    formats: [...neg.formats],
    reasons: [...neg.reasons],
  };
  const c = neg.chosen;
  if (c) {
    out.chosen = {
      tag: c.tagText,
      suite: c.suite,
      canonical: c.canonical,
      sessionParams: [...c.sessionParams.raw],
      answeredSessionParams: [...c.answeredSessionParams],
    };
    if (c.remoteKey.lifetime) out.chosen.remoteLifetime = c.remoteKey.lifetime.text;
    if (c.remoteKey.mki) out.chosen.remoteMki = `${c.remoteKey.mki.value}:${c.remoteKey.mki.length}`;
    if (opts.includeKeys) {
      out.chosen.remoteInline = b64(c.remoteKey);
      out.chosen.localInline = b64(c.localKey);
    }
  }
  if (neg.codec) out.codec = neg.codec.encoding;
  if (neg.remote) out.remote = { ...neg.remote };
  if (neg.direction) out.direction = neg.direction;
  if (neg.warning) out.warning = `${neg.warning.code} ${neg.warning.text}`;
  return out;
}