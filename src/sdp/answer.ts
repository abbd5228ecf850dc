/**
 * Answer a phone's SDP offer (RFC 3264 §6) with SDES crypto (RFC 4568
 * §5.1, §7.1.2): the SRTP echo's side of the call. Pure functions;
 * randomness is injected.
 *
 * Choice rule: the first acceptable crypto line in the *offer's* order, as
 * Asterisk (`setup_sdes_srtp`), baresip (`sdp_media_rattr_apply`) and
 * Linphone (`matchCryptoAlgo`) all do; RFC 4568 §5.1.2 leaves the choice to
 * the answerer, and following the offerer's preference is what phones expect.
 */
import { randomBytes } from 'node:crypto';
import { SipsecError } from '../core/errors.js';
import { SUITE_NAMES, type SuiteName } from '../srtp/suites.js';
import { chooseCodecs, describeFormats, type AnsweredCodec } from './codecs.js';
import { freshKey, keyMaterial, sameBytes, sameRemoteCrypto, type KeyMaterial, type RandomSource } from './key-material.js';
import { protoKind, sessionAt, type LocalMedia } from './offer.js';
import {
  formatWarning,
  judgeLine,
  negotiatedParams,
  noAcceptableCryptoWarning,
  policyFlags,
  shortSuite,
  type AnswerPolicy,
  type OfferedCrypto,
  type PolicyFlags,
  type WarningValue,
} from './policy.js';
import {
  answerDirection,
  direction as mediaDirection,
  fmtp,
  getAttributes,
  mediaConnection,
  parseSdp,
  ptime as mediaPtime,
  rtcp as mediaRtcp,
  rtcpMux as mediaRtcpMux,
  rtpMaps,
  serializeSdp,
  type Direction,
  type SdpAttribute,
  type SdpMedia,
  type SessionDescription,
} from './sdp.js';
import { formatCryptoAttribute, parseCryptoAttribute, type SessionParams } from './sdes.js';

export interface ChosenCrypto {
  tag: number;
  /** As offered, echoed in the answer. */
  tagText: string;
  /** As offered (draft-era spellings kept), echoed in the answer. */
  suite: string;
  canonical: SuiteName;
  /** The phone's key: decrypt what it sends. */
  remoteKey: KeyMaterial;
  /** Every key on the offered line (several only with MKIs). */
  remoteKeys: KeyMaterial[];
  /** Our key: encrypt what we send. */
  localKey: KeyMaterial;
  sessionParams: SessionParams;
  /** Session parameters written into our answer line (the negotiated ones we accepted). */
  answeredSessionParams: string[];
}

export interface StreamNegotiation {
  /** Index of the m-line in the offer. */
  index: number;
  media: string;
  proto: string;
  accepted: boolean;
  srtp: 'sdes' | 'none';
  offeredCrypto: OfferedCrypto[];
  chosen?: ChosenCrypto;
  /** Payload types in the answer, offer's numbering. */
  formats: string[];
  /** The main (non-DTMF) codec answered. */
  codec?: AnsweredCodec;
  /** Where to send media for this stream. */
  remote?: { address: string; port: number; rtcpPort: number; rtcpMux: boolean };
  direction?: Direction;
  reasons: string[];
  /** Set when the stream was rejected. */
  warning?: WarningValue;
}

export interface AnswerOptions {
  random?: RandomSource;
  /**
   * The streams negotiated for this dialog before (re-INVITE). When a stream's
   * re-offered crypto is unchanged, the same line is chosen and our local key
   * is kept, so SRTP contexts survive hold/unhold (rtpengine issue 102,
   * Aastra; Asterisk ASTERISK-20194).
   */
  previous?: readonly StreamNegotiation[];
}

export type AnswerResult =
  | {
      ok: true;
      status: 200;
      sdp: string;
      /** The first accepted audio stream: what the echo sets up. */
      negotiation: StreamNegotiation;
      streams: StreamNegotiation[];
      /** SDP parser warnings about the offer. */
      warnings: string[];
    }
  | {
      ok: false;
      /** 400 when the offer does not parse, 488 when nothing in it is acceptable (RFC 3261 §21.4.26). */
      status: 400 | 488;
      error: string;
      /** The Warning header value(s), comma-joined, ready to send. */
      warning: string;
      warnings: string[];
      streams: StreamNegotiation[];
    };

interface StreamWork {
  neg: StreamNegotiation;
  answerMedia: SdpMedia;
}

function rejectedMedia(m: SdpMedia): SdpMedia {
  // RFC 3264 §6: a rejected stream keeps its m-line with port 0.
  return {
    media: m.media,
    port: 0,
    proto: m.proto,
    formats: m.formats.length > 0 ? [...m.formats] : ['0'],
    connections: [],
    bandwidths: [],
    attributes: [],
    extra: [],
  };
}

function reject(neg: StreamNegotiation, m: SdpMedia, warning: WarningValue, reason: string): StreamWork {
  neg.accepted = false;
  neg.warning = warning;
  neg.reasons.push(reason);
  return { neg, answerMedia: rejectedMedia(m) };
}

/**
 * Answer an SDP offer (RFC 3264 §6, RFC 4568 §7.1.2). Never throws for
 * anything the peer sent; a malformed offer gives status 400, an offer with
 * nothing acceptable gives 488 with the Warning header value to send.
 */
export function answerOffer(offerSdp: string, policy: AnswerPolicy, local: LocalMedia, opts: AnswerOptions = {}): AnswerResult {
  const random = opts.random ?? randomBytes;
  const agent = policy.warnAgent ?? 'sipsec';
  const parsed = parseSdp(offerSdp);
  if (!parsed.ok) {
    return {
      ok: false,
      status: 400,
      error: parsed.error,
      warning: formatWarning({ code: 399, text: parsed.error }, agent),
      warnings: [],
      streams: [],
    };
  }
  const offer = parsed.sdp;
  const warnings = [...parsed.warnings];
  if (getAttributes(offer.attributes, 'crypto').length > 0) {
    // RFC 4568 §4: crypto is a media-level attribute only.
    warnings.push('session-level a=crypto ignored (RFC 4568 §4 defines it for media level only)');
  }

  const work: StreamWork[] = [];
  let haveAudio = false;
  for (const [index, m] of offer.media.entries()) {
    if (haveAudio && m.media === 'audio' && m.port !== 0) {
      // Our answer has one media port: a second audio stream would share it.
      const neg: StreamNegotiation = { index, media: m.media, proto: m.proto, accepted: false, srtp: 'none', offeredCrypto: [], formats: [], reasons: [] };
      work.push(reject(neg, m, { code: 304, text: 'the echo answers one audio stream' }, 'second audio stream rejected: the echo answers one'));
      continue;
    }
    const w = negotiateStream(offer, m, index, policy, random, opts.previous);
    if (w.neg.accepted && w.neg.media === 'audio') haveAudio = true;
    work.push(w);
  }
  const streams = work.map((w) => w.neg);
  const audio = streams.find((s) => s.accepted && s.media === 'audio');
  if (!audio) {
    const rejectedAudio = streams.filter((s) => s.media === 'audio' && s.warning);
    const anyAudio = offer.media.some((m) => m.media === 'audio');
    const fallback: WarningValue = anyAudio
      ? { code: 304, text: 'every audio stream was offered with port 0 (disabled)' }
      : {
          code: 304,
          text: `no audio stream offered${offer.media.length > 0 ? ` (offered ${offer.media.map((m) => shortSuite(m.media)).join(', ')})` : ''}; the echo answers audio only`,
        };
    const values: WarningValue[] = rejectedAudio.length > 0 ? rejectedAudio.map((s) => s.warning as WarningValue) : [fallback];
    const unique = [...new Map(values.map((v) => [formatWarning(v, agent), v])).keys()];
    return {
      ok: false,
      status: 488,
      error: `488 Not Acceptable Here: ${values.map((v) => v.text).join(' | ')}`,
      warning: unique.join(', '),
      warnings,
      streams,
    };
  }

  const answer = sessionAt(local, random, work.map((w) => w.answerMedia));
  for (const w of work) {
    if (w.neg.accepted) w.answerMedia.port = local.port;
  }
  return { ok: true, status: 200, sdp: serializeSdp(answer), negotiation: audio, streams, warnings };
}

function negotiateStream(
  offer: SessionDescription,
  m: SdpMedia,
  index: number,
  policy: AnswerPolicy,
  random: RandomSource,
  previous: readonly StreamNegotiation[] | undefined,
): StreamWork {
  const neg: StreamNegotiation = {
    index,
    media: m.media,
    proto: m.proto,
    accepted: false,
    srtp: 'none',
    offeredCrypto: [],
    formats: [],
    reasons: [],
  };
  const accept = policy.acceptSuites ?? SUITE_NAMES;
  const flags = policyFlags(policy);
  const cryptoAttrs = getAttributes(m.attributes, 'crypto');
  neg.offeredCrypto = cryptoAttrs.map((a) => judgeLine(parseCryptoAttribute(a.value ?? ''), accept, flags));

  if (m.media !== 'audio') {
    return reject(neg, m, { code: 304, text: `m=${shortSuite(m.media)} not available; the echo answers audio only` }, `m=${m.media} rejected: echo is audio only`);
  }
  if (m.port === 0) {
    neg.reasons.push('stream offered with port 0 (disabled); answered with port 0 (RFC 3264 §6)');
    return { neg, answerMedia: rejectedMedia(m) };
  }
  const kind = protoKind(m.proto);
  if (kind === 'dtls') {
    return reject(neg, m, { code: 302, text: `offered ${shortSuite(m.proto)} (DTLS-SRTP); sipsec keys SRTP with SDES a=crypto on RTP/SAVP or RTP/AVP` }, 'DTLS-SRTP is not supported');
  }
  if (kind === 'other') {
    return reject(neg, m, { code: 302, text: `offered ${shortSuite(m.proto)}; sipsec answers RTP/AVP, RTP/SAVP and RTP/SAVPF` }, `transport ${m.proto} not supported`);
  }

  // Crypto first: it decides whether the stream can be accepted at all.
  let chosenLine: OfferedCrypto | undefined;
  let keptPrevious = false;
  if (policy.srtp === 'off') {
    if (kind === 'savp') {
      return reject(neg, m, { code: 302, text: `offered ${m.proto}; SRTP is off for this phone, so sipsec answers RTP/AVP only` }, `srtp=off and the offer is ${m.proto}`);
    }
    if (neg.offeredCrypto.length > 0) {
      neg.reasons.push(`${neg.offeredCrypto.length} a=crypto line(s) ignored on ${m.proto}: srtp=off for this phone`);
    }
  } else {
    const picked = pickLine(neg.offeredCrypto, previous?.find((p) => p.index === index)?.chosen);
    chosenLine = picked?.line;
    keptPrevious = picked?.kept ?? false;
    const tags = neg.offeredCrypto.map((l) => l.tagText);
    const dup = tags.find((t, i) => tags.indexOf(t) !== i);
    if (dup !== undefined) neg.reasons.push(`tag ${dup} used on more than one a=crypto line (RFC 4568 §4.1: tags are unique per m-line); the first acceptable one is used`);
    for (const l of neg.offeredCrypto) {
      if (!l.acceptable) neg.reasons.push(`crypto ${l.tagText} ${shortSuite(l.suite)} not chosen: ${l.refusal}`);
    }
    if (!chosenLine) {
      const fallback = noCryptoFallback(neg, m, kind, policy.srtp, accept, flags);
      if (fallback) return fallback;
    }
  }

  const codecs = chooseCodecs(m, policy.codecs ?? 'echo-first');
  if (!codecs) {
    const wanted = policy.codecs && policy.codecs !== 'echo-first' ? policy.codecs.encodings.join(', ') : 'any audio codec';
    return reject(neg, m, { code: 305, text: `offered ${describeFormats(m)}; accepts ${wanted}` }, 'no acceptable audio format');
  }

  const answerMedia: SdpMedia = {
    media: m.media,
    port: 0,
    proto: m.proto,
    formats: codecs.formats,
    connections: [],
    bandwidths: [],
    attributes: [],
    extra: [],
  };
  const maps = rtpMaps(m);
  for (const f of codecs.formats) {
    const map = maps.get(f);
    if (map) {
      const ch = map.channels !== undefined && map.channels !== 1 ? `/${map.channels}` : '';
      answerMedia.attributes.push({ name: 'rtpmap', value: `${f} ${map.encoding}/${map.clockRate}${ch}` });
    }
    const params = fmtp(m, f);
    if (params !== undefined && params !== '') answerMedia.attributes.push({ name: 'fmtp', value: `${f} ${params}` });
  }
  const pt = mediaPtime(m, offer);
  if (pt !== undefined) answerMedia.attributes.push({ name: 'ptime', value: String(pt) });
  const offeredDir = mediaDirection(m, offer);
  const dir = answerDirection(offeredDir);
  answerMedia.attributes.push({ name: dir, value: null });
  const mux = mediaRtcpMux(m) && (policy.rtcpMux ?? false);
  if (mux) answerMedia.attributes.push({ name: 'rtcp-mux', value: null });

  if (chosenLine) {
    const offeredKeys = neg.offeredCrypto.flatMap((l) => l.keys.map(keyMaterial));
    const chosen = buildChosen(chosenLine, random, previous?.find((p) => p.index === index)?.chosen, offeredKeys);
    answerMedia.attributes.push(cryptoAttribute(chosen));
    neg.chosen = chosen;
    neg.srtp = 'sdes';
    neg.reasons.push(
      keptPrevious
        ? `crypto ${chosen.tagText} ${chosen.suite} kept: same key as before, SRTP contexts stay`
        : `crypto ${chosen.tagText} ${chosen.suite} chosen (first acceptable in offer order)`,
    );
  } else if (kind === 'avp') {
    neg.reasons.push('plain RTP: no SRTP negotiated');
  }

  const conn = mediaConnection(offer, m);
  const rtcpAttr = mediaRtcp(m);
  neg.remote = {
    address: conn?.address ?? '',
    port: m.port,
    rtcpPort: mux ? m.port : rtcpAttr?.port ?? m.port + 1,
    rtcpMux: mux,
  };
  neg.accepted = true;
  neg.formats = codecs.formats;
  if (codecs.codec) neg.codec = codecs.codec;
  neg.direction = dir;
  return { neg, answerMedia };
}

/**
 * When no crypto line is chosen: reject (returning the work item) or fall
 * through to a plain RTP answer (returning undefined).
 */
function noCryptoFallback(
  neg: StreamNegotiation,
  m: SdpMedia,
  kind: 'avp' | 'savp',
  mode: 'mandatory' | 'optional',
  accept: readonly SuiteName[],
  flags: Required<PolicyFlags>,
): StreamWork | undefined {
  const lines = neg.offeredCrypto;
  if (lines.length > 0) {
    // RFC 4568 §7.1.2: no acceptable line → reject the stream; only best-effort
    // RTP/AVP under an optional policy may continue in clear (as Asterisk's
    // optimistic SDES and baresip's mediaenc=srtp do).
    if (kind === 'savp' || mode === 'mandatory') {
      return reject(neg, m, noAcceptableCryptoWarning(lines, accept, flags), 'no acceptable a=crypto line');
    }
    neg.reasons.push('no acceptable a=crypto line on RTP/AVP; answering plain RTP (srtp=optional)');
    return undefined;
  }
  if (kind === 'savp') {
    return reject(
      neg,
      m,
      { code: 306, text: `offered ${m.proto} without a=crypto; sipsec keys SRTP with SDES a=crypto only (RFC 4568)` },
      `${m.proto} without a=crypto`,
    );
  }
  if (mode === 'mandatory') {
    return reject(
      neg,
      m,
      { code: 302, text: `offered ${m.proto} without a=crypto; this phone requires SRTP (RTP/SAVP, or RTP/AVP with a=crypto)` },
      'plain RTP offered but srtp=mandatory',
    );
  }
  neg.reasons.push('no a=crypto offered; answering plain RTP (srtp=optional)');
  return undefined;
}

/** First acceptable line in offer order; on a re-offer, the line carrying the previous key if still there. */
function pickLine(lines: readonly OfferedCrypto[], previous: ChosenCrypto | undefined): { line: OfferedCrypto; kept: boolean } | undefined {
  if (previous) {
    const same = lines.find((l) => l.acceptable && l.canonical && !sameRemoteCrypto(previous, lineCrypto(l)));
    if (same) return { line: same, kept: true };
  }
  const first = lines.find((l) => l.acceptable);
  return first ? { line: first, kept: false } : undefined;
}

function lineCrypto(l: OfferedCrypto): Pick<ChosenCrypto, 'canonical' | 'remoteKey' | 'remoteKeys' | 'sessionParams'> {
  const keys = l.keys.map(keyMaterial);
  return { canonical: l.canonical as SuiteName, remoteKey: keys[0], remoteKeys: keys, sessionParams: l.sessionParams };
}

/**
 * A fresh key that is none of the offered ones: "the master key(s) included
 * in the answer MUST be different from those in the offer" (RFC 4568 §7.1.2),
 * since equal keys on both directions reuse keystream. With a real CSPRNG a
 * collision never happens; a broken injected source is a bug, so it throws.
 */
function distinctKey(canonical: SuiteName, random: RandomSource, avoid: readonly KeyMaterial[]): KeyMaterial {
  for (let attempt = 0; attempt < 4; attempt++) {
    const k = freshKey(canonical, random);
    if (!avoid.some((a) => sameBytes(a.key, k.key) && sameBytes(a.salt, k.salt))) return k;
  }
  throw new SipsecError('INTERNAL', 'the random source keeps returning an offered master key', 'inject a real random source');
}

function buildChosen(
  line: OfferedCrypto,
  random: RandomSource,
  previous: ChosenCrypto | undefined,
  offeredKeys: readonly KeyMaterial[],
): ChosenCrypto {
  const canonical = line.canonical as SuiteName;
  const remote = lineCrypto(line);
  const unchanged = previous && !sameRemoteCrypto(previous, remote);
  // Keep our key when the phone's crypto is unchanged, so neither side re-keys.
  const localKey = unchanged ? previous.localKey : distinctKey(canonical, random, offeredKeys);
  return {
    tag: line.tag as number,
    tagText: line.tagText,
    suite: line.suite,
    canonical,
    remoteKey: remote.remoteKey,
    remoteKeys: remote.remoteKeys,
    localKey,
    sessionParams: line.sessionParams,
    answeredSessionParams: negotiatedParams(line.sessionParams),
  };
}

function cryptoAttribute(c: ChosenCrypto): SdpAttribute {
  // No lifetime or MKI in what we send: Asterisk < 13 rejected lifetimes and
  // an unexpected MKI breaks the peer's packet parsing (sip-srtp.md §4).
  return {
    name: 'crypto',
    value: formatCryptoAttribute({ tag: c.tagText, suite: c.suite, keys: [c.localKey], sessionParams: c.answeredSessionParams }),
  };
}
