/**
 * SDP offer/answer (RFC 3264) with SDES crypto (RFC 4568 §5.1, §7.1) for
 * sipsec's echo: answer a phone's offer, build our own offers in a vendor's
 * preference order, process the phone's answer, and tell whether a
 * re-INVITE changed the keys. Pure functions; randomness is injected.
 *
 * Choice rule: the first acceptable crypto line in the *offer's* order, as
 * Asterisk (`setup_sdes_srtp`), baresip (`sdp_media_rattr_apply`) and
 * Linphone (`matchCryptoAlgo`) all do; RFC 4568 §5.1.2 leaves the choice to
 * the answerer, and following the offerer's preference is what phones expect.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { SipsecError } from '../core/errors.js';
import { SUITE_NAMES, SUITES, type SuiteName } from '../srtp/suites.js';
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
  type RtpMap,
  type SdpAttribute,
  type SdpMedia,
  type SessionDescription,
} from './sdp.js';
import {
  formatCryptoAttribute,
  parseCryptoAttribute,
  resolveSuite,
  type CryptoLine,
  type Lifetime,
  type MasterKey,
  type Mki,
  type SessionParams,
} from './sdes.js';

/** Same shape as node:crypto randomBytes; tests inject a seeded one. */
export type RandomSource = (size: number) => Buffer;

/** A phone's `srtp` setting as sipsec's registrar applies it. */
export type SrtpMode = 'mandatory' | 'optional' | 'off';

/**
 * Which offered audio formats the answer keeps. The echo reflects payload
 * without decoding it, so any codec works:
 * - `'echo-first'`: the first offered format that is not telephone-event or
 *   CN, plus telephone-event at that clock rate when offered;
 * - `{ encodings: [...] }`: every offered format whose encoding name is
 *   listed (case-insensitive, e.g. `['PCMU', 'PCMA', 'G722', 'telephone-event']`), in offer order.
 */
export type CodecPolicy = 'echo-first' | { readonly encodings: readonly string[] };

export interface AnswerPolicy {
  srtp: SrtpMode;
  /** Suites sipsec accepts. Default: every suite in suites.ts. Offer order decides among them. */
  acceptSuites?: readonly SuiteName[];
  /** Default `'echo-first'`. */
  codecs?: CodecPolicy;
  /**
   * Accept lines carrying `UNENCRYPTED_SRTP`, `UNENCRYPTED_SRTCP` or
   * `UNAUTHENTICATED_SRTP` (RFC 4568 §6.3.2-3). Default false: sipsec exists
   * to prove media is encrypted and authenticated.
   */
  allowUnencryptedSrtp?: boolean;
  allowUnencryptedSrtcp?: boolean;
  allowUnauthenticatedSrtp?: boolean;
  /** Accept `KDR=n`. Default false: the SRTP engine derives session keys once (kdr 0). */
  allowKdr?: boolean;
  /** Accept lines with `|lifetime`. Default true; false reproduces Asterisk 1.8 (2011). */
  acceptLifetime?: boolean;
  /** Accept lines with `|mki:len`. Default true. */
  acceptMki?: boolean;
  /** Accept several `;`-separated keys on one line. Default true (the first key is `remoteKey`). */
  acceptMultipleKeys?: boolean;
  /** Answer `a=rtcp-mux` when offered. Default false: RTCP on port+1. */
  rtcpMux?: boolean;
  /** warn-agent in Warning headers (RFC 3261 §20.43): a host or pseudonym. Default "sipsec". */
  warnAgent?: string;
}

/** Where our media is, for c=/m=/o= of what we send. */
export interface LocalMedia {
  address: string;
  port: number;
  /** o= sess-id; default: random from the injected source. */
  sessionId?: string;
  /** o= sess-version; must grow with each new SDP in a dialog (RFC 3264 §8). Default: sessionId. */
  sessionVersion?: string | number;
  /** o= username. Default "sipsec". */
  username?: string;
  /** s= text. Default "sipsec". */
  sessionName?: string;
}

export interface KeyMaterial {
  key: Buffer;
  salt: Buffer;
  mki?: Mki;
  lifetime?: Lifetime;
}

/** An offered crypto line and sipsec's verdict on it. */
export interface OfferedCrypto extends CryptoLine {
  /** Usable and allowed by the policy. */
  acceptable: boolean;
  /** Why it was not acceptable: the line's own reason or the policy's. */
  refusal?: string;
}

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

export interface WarningValue {
  /** RFC 3261 §20.43: 302 incompatible transport, 304 media type not available, 305 incompatible format, 306 attribute not understood, 399 miscellaneous. */
  code: 302 | 304 | 305 | 306 | 399;
  text: string;
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
  codec?: RtpMap | { payloadType: number; encoding: string; clockRate?: number };
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

type ProtoKind = 'avp' | 'savp' | 'dtls' | 'other';

function protoKind(proto: string): ProtoKind {
  const p = proto.toUpperCase();
  if (p === 'RTP/AVP' || p === 'RTP/AVPF') return 'avp';
  if (p === 'RTP/SAVP' || p === 'RTP/SAVPF') return 'savp';
  if (p.includes('TLS/RTP/')) return 'dtls';
  return 'other';
}

function addrTypeOf(address: string): 'IP4' | 'IP6' {
  return isIP(address) === 6 ? 'IP6' : 'IP4';
}

const DTMF = 'telephone-event';

// ---------------------------------------------------------------------------
// Warning header text (RFC 3261 §20.43: warn-code SP warn-agent SP quoted-string)

function quoted(text: string): string {
  // quoted-string (RFC 3261 §25.1): escape " and \, and keep to one printable line.
  const printable = text.replace(/[^\x20-\x7e]/g, '?');
  const bounded = printable.length > 480 ? `${printable.slice(0, 477)}...` : printable;
  return `"${bounded.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

export function formatWarning(w: WarningValue, agent = 'sipsec'): string {
  const safeAgent = /^[A-Za-z0-9.\-_:[\]]+$/.test(agent) ? agent : 'sipsec';
  return `${w.code} ${safeAgent} ${quoted(w.text)}`;
}

function shortSuite(s: string): string {
  const clean = s.replace(/[^\x21-\x7e]/g, '?');
  return clean.length > 32 ? `${clean.slice(0, 32)}...` : clean;
}

function describeOffered(line: OfferedCrypto, policy: Required<PolicyFlags>): string {
  let s = line.suite === '' ? '(no suite)' : shortSuite(line.suite);
  const extras: string[] = [...line.sessionParams.raw.map(shortSuite)];
  const lifetime = line.keys.find((k) => k.lifetime)?.lifetime;
  if (lifetime && !policy.acceptLifetime) extras.push(`lifetime ${lifetime.text}`);
  const mki = line.keys.find((k) => k.mki)?.mki;
  if (mki && !policy.acceptMki) extras.push(`MKI ${mki.value}:${mki.length}`);
  if (extras.length > 0) s += ` with ${extras.join(' ')}`;
  if (!line.usable) {
    if (line.suiteStatus === 'unknown') s += ' (unknown suite)';
    else if (line.suiteStatus === 'unsupported') s += ' (not supported)';
    else s += ` (invalid: ${(line.reason ?? '').split('; ')[0]})`;
  }
  return s;
}

function refusedParams(lines: readonly OfferedCrypto[], policy: Required<PolicyFlags>): string[] {
  const out = new Set<string>();
  for (const l of lines) {
    const sp = l.sessionParams;
    if (sp.unencryptedSrtp && !policy.allowUnencryptedSrtp) out.add('UNENCRYPTED_SRTP');
    if (sp.unencryptedSrtcp && !policy.allowUnencryptedSrtcp) out.add('UNENCRYPTED_SRTCP');
    if (sp.unauthenticatedSrtp && !policy.allowUnauthenticatedSrtp) out.add('UNAUTHENTICATED_SRTP');
    if (sp.kdr !== undefined && !policy.allowKdr) out.add('KDR');
    if (!policy.acceptLifetime && l.keys.some((k) => k.lifetime)) out.add('lifetimes');
    if (!policy.acceptMki && l.keys.some((k) => k.mki)) out.add('MKIs');
    if (!policy.acceptMultipleKeys && l.keys.length > 1) out.add('several keys per line');
  }
  return [...out];
}

function noAcceptableCryptoWarning(lines: readonly OfferedCrypto[], accept: readonly SuiteName[], policy: Required<PolicyFlags>): WarningValue {
  const offered = lines.map((l) => describeOffered(l, policy)).join(', ');
  let text = `offered ${offered}; accepts ${accept.length > 0 ? accept.join(', ') : 'no suite'}`;
  const refused = refusedParams(lines, policy);
  if (refused.length > 0) text += `; refuses ${refused.join(', ')}`;
  return { code: 306, text };
}

// ---------------------------------------------------------------------------
// policy evaluation of one line

interface PolicyFlags {
  allowUnencryptedSrtp?: boolean;
  allowUnencryptedSrtcp?: boolean;
  allowUnauthenticatedSrtp?: boolean;
  allowKdr?: boolean;
  acceptLifetime?: boolean;
  acceptMki?: boolean;
  acceptMultipleKeys?: boolean;
}

function policyFlags(p: PolicyFlags): Required<PolicyFlags> {
  return {
    allowUnencryptedSrtp: p.allowUnencryptedSrtp ?? false,
    allowUnencryptedSrtcp: p.allowUnencryptedSrtcp ?? false,
    allowUnauthenticatedSrtp: p.allowUnauthenticatedSrtp ?? false,
    allowKdr: p.allowKdr ?? false,
    acceptLifetime: p.acceptLifetime ?? true,
    acceptMki: p.acceptMki ?? true,
    acceptMultipleKeys: p.acceptMultipleKeys ?? true,
  };
}

function judgeLine(line: CryptoLine, accept: readonly SuiteName[], flags: Required<PolicyFlags>): OfferedCrypto {
  const refusal = policyRefusal(line, accept, flags);
  const out: OfferedCrypto = { ...line, acceptable: refusal === undefined };
  if (refusal !== undefined) out.refusal = refusal;
  return out;
}

function policyRefusal(line: CryptoLine, accept: readonly SuiteName[], f: Required<PolicyFlags>): string | undefined {
  if (!line.usable) return line.reason ?? 'invalid crypto line';
  if (!line.canonical || !accept.includes(line.canonical)) {
    return `${line.canonical ?? line.suite} is not among the suites sipsec accepts here (${accept.join(', ') || 'none'})`;
  }
  const sp = line.sessionParams;
  // RFC 4568 §7.1.2: "if its configured policy prohibits any cryptographic key
  // parameter ... or cryptographic session parameter ... it MUST reject" the line.
  if (sp.unencryptedSrtp && !f.allowUnencryptedSrtp) return 'UNENCRYPTED_SRTP refused: sipsec tests encrypted media';
  if (sp.unencryptedSrtcp && !f.allowUnencryptedSrtcp) return 'UNENCRYPTED_SRTCP refused: sipsec tests encrypted RTCP';
  if (sp.unauthenticatedSrtp && !f.allowUnauthenticatedSrtp) return 'UNAUTHENTICATED_SRTP refused: sipsec tests authenticated media';
  if (sp.kdr !== undefined && !f.allowKdr) return `KDR=${sp.kdr} refused: the SRTP engine derives session keys once (RFC 3711 §4.3.1 kdr 0)`;
  if (!f.acceptLifetime && line.keys.some((k) => k.lifetime)) return 'key lifetime refused by policy (as Asterisk 1.8 did)';
  if (!f.acceptMki && line.keys.some((k) => k.mki)) return 'MKI refused by policy';
  if (!f.acceptMultipleKeys && line.keys.length > 1) return `${line.keys.length} keys on one line refused by policy`;
  return undefined;
}

/** The negotiated (not declarative) session parameters our answer repeats (RFC 4568 §6.3.2-3). */
function negotiatedParams(sp: SessionParams): string[] {
  const out: string[] = [];
  if (sp.unencryptedSrtp) out.push('UNENCRYPTED_SRTP');
  if (sp.unencryptedSrtcp) out.push('UNENCRYPTED_SRTCP');
  if (sp.unauthenticatedSrtp) out.push('UNAUTHENTICATED_SRTP');
  return out;
}

function keyMaterial(k: MasterKey): KeyMaterial {
  const out: KeyMaterial = { key: k.key, salt: k.salt };
  if (k.mki) out.mki = k.mki;
  if (k.lifetime) out.lifetime = k.lifetime;
  return out;
}

function freshKey(canonical: SuiteName, random: RandomSource): KeyMaterial {
  const info = SUITES[canonical];
  const n = info.keyLen + info.saltLen;
  const bytes = random(n);
  if (!Buffer.isBuffer(bytes) || bytes.length < n) {
    throw new SipsecError('INTERNAL', `random source returned ${Buffer.isBuffer(bytes) ? bytes.length : 'no'} octets, needed ${n}`);
  }
  return { key: Buffer.from(bytes.subarray(0, info.keyLen)), salt: Buffer.from(bytes.subarray(info.keyLen, n)) };
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && a.equals(b);
}

// ---------------------------------------------------------------------------
// crypto identity, for re-offers

/** Everything that, if changed, requires new SRTP contexts for the phone's stream. */
function sameRemoteCrypto(
  a: { canonical: SuiteName; remoteKey: KeyMaterial; remoteKeys: readonly KeyMaterial[]; sessionParams: SessionParams },
  b: { canonical: SuiteName; remoteKey: KeyMaterial; remoteKeys: readonly KeyMaterial[]; sessionParams: SessionParams },
): string | undefined {
  if (a.canonical !== b.canonical) return `suite changed from ${a.canonical} to ${b.canonical}`;
  if (a.remoteKeys.length !== b.remoteKeys.length) return `number of keys changed from ${a.remoteKeys.length} to ${b.remoteKeys.length}`;
  for (let i = 0; i < a.remoteKeys.length; i++) {
    const x = a.remoteKeys[i];
    const y = b.remoteKeys[i];
    if (!sameBytes(x.key, y.key) || !sameBytes(x.salt, y.salt)) return 'master key changed';
    if ((x.mki?.value ?? -1n) !== (y.mki?.value ?? -1n) || (x.mki?.length ?? 0) !== (y.mki?.length ?? 0)) return 'MKI changed';
    if ((x.lifetime?.packets ?? -1n) !== (y.lifetime?.packets ?? -1n)) return 'key lifetime changed';
  }
  const p = a.sessionParams;
  const q = b.sessionParams;
  if (p.unencryptedSrtp !== q.unencryptedSrtp || p.unencryptedSrtcp !== q.unencryptedSrtcp || p.unauthenticatedSrtp !== q.unauthenticatedSrtp) {
    return 'UNENCRYPTED/UNAUTHENTICATED session parameters changed';
  }
  if (p.kdr !== q.kdr) return 'KDR changed';
  return undefined;
}

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

// ---------------------------------------------------------------------------
// codecs

interface CodecChoice {
  formats: string[];
  codec?: StreamNegotiation['codec'];
}

function encodingOf(fmt: string, maps: Map<string, RtpMap>): string | undefined {
  return maps.get(fmt)?.encoding;
}

function chooseCodecs(m: SdpMedia, policy: CodecPolicy): CodecChoice | undefined {
  const maps = rtpMaps(m);
  const isDtmf = (f: string): boolean => encodingOf(f, maps)?.toLowerCase() === DTMF;
  const isCn = (f: string): boolean => encodingOf(f, maps)?.toUpperCase() === 'CN';
  const codecOf = (f: string): StreamNegotiation['codec'] => {
    const map = maps.get(f);
    if (map) return map;
    return { payloadType: Number(f), encoding: `payload type ${f}` };
  };

  if (policy === 'echo-first') {
    const main = m.formats.find((f) => !isDtmf(f) && !isCn(f));
    if (main === undefined) return undefined;
    const clock = maps.get(main)?.clockRate;
    // RFC 4733 §7.1.1: telephone-event runs at the codec's RTP clock; offer
    // several, and we keep the ones that match (all if the codec's clock is unknown).
    const dtmf = m.formats.filter((f) => isDtmf(f) && (clock === undefined || maps.get(f)?.clockRate === clock));
    return { formats: [main, ...dtmf], codec: codecOf(main) };
  }
  const wanted = new Set(policy.encodings.map((e) => e.toLowerCase()));
  const formats = m.formats.filter((f) => {
    const enc = encodingOf(f, maps);
    return enc !== undefined && wanted.has(enc.toLowerCase());
  });
  const main = formats.find((f) => !isDtmf(f));
  if (main === undefined) return undefined;
  return { formats, codec: codecOf(main) };
}

function describeFormats(m: SdpMedia): string {
  const maps = rtpMaps(m);
  return m.formats.map((f) => (maps.has(f) ? `${f} ${maps.get(f)?.encoding}` : f)).slice(0, 8).join(', ');
}

// ---------------------------------------------------------------------------
// answerOffer

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

// ---------------------------------------------------------------------------
// buildOffer / processAnswer: sipsec as the offerer (calls to a phone)

export interface OfferFormat {
  payloadType: number;
  encoding: string;
  clockRate: number;
  channels?: number;
  fmtp?: string;
}

/** PCMU, PCMA and telephone-event 0-16 (RFC 4733 §7.1.1): what every phone in vendors.md answers. */
export const DEFAULT_OFFER_FORMATS: readonly OfferFormat[] = [
  { payloadType: 0, encoding: 'PCMU', clockRate: 8000 },
  { payloadType: 8, encoding: 'PCMA', clockRate: 8000 },
  { payloadType: 101, encoding: 'telephone-event', clockRate: 8000, fmtp: '0-16' },
];

export interface OfferOptions {
  local: LocalMedia;
  /**
   * Crypto suites in preference order, spelled as they go on the wire (a
   * vendor descriptor's order, e.g. never `_32` first for Aastra). Draft-era
   * aliases are allowed. Empty with `RTP/AVP` gives a plain RTP offer.
   */
  suites: readonly string[];
  /** Default `RTP/SAVP`. `RTP/AVP` with suites is best-effort SRTP. */
  proto?: 'RTP/SAVP' | 'RTP/SAVPF' | 'RTP/AVP' | 'RTP/AVPF';
  formats?: readonly OfferFormat[];
  ptime?: number;
  direction?: Direction;
  rtcpMux?: boolean;
  random?: RandomSource;
}

export interface OfferedKey {
  tag: number;
  suite: string;
  canonical: SuiteName;
  key: KeyMaterial;
}

export interface BuiltOffer {
  sdp: string;
  proto: string;
  /** Payload types offered, as strings in m= order. */
  formats: string[];
  /** One entry per a=crypto line, tags 1, 2, 3, ... in preference order. */
  crypto: OfferedKey[];
}

/** The session-level part every SDP of ours shares (RFC 4566 §5): origin, one c= line, t=0 0. */
function sessionAt(local: LocalMedia, random: RandomSource, media: SdpMedia[]): SessionDescription {
  const sessionId = local.sessionId ?? String(random(4).readUInt32BE(0));
  const addrType = addrTypeOf(local.address);
  return {
    version: 0,
    origin: {
      username: local.username ?? 'sipsec',
      sessionId,
      sessionVersion: String(local.sessionVersion ?? sessionId),
      netType: 'IN',
      addrType,
      address: local.address,
    },
    sessionName: local.sessionName ?? 'sipsec',
    emails: [],
    phones: [],
    connection: { netType: 'IN', addrType, address: local.address },
    bandwidths: [],
    timing: [{ type: 't', value: '0 0' }],
    attributes: [],
    extra: [],
    media,
  };
}

/**
 * Build an SDP offer with one audio stream and one a=crypto line per suite,
 * each with its own fresh key (RFC 4568 §7.1.1), tags consecutive from 1.
 * Throws SipsecError for a bad option (our configuration, not peer input).
 */
export function buildOffer(opts: OfferOptions): BuiltOffer {
  const random = opts.random ?? randomBytes;
  const proto = opts.proto ?? 'RTP/SAVP';
  if (protoKind(proto) === 'savp' && opts.suites.length === 0) {
    throw new SipsecError('BAD_INPUT', `an ${proto} offer needs at least one crypto suite (RFC 4568 §7.1.1)`, 'pass suites, or use proto RTP/AVP');
  }
  const crypto: OfferedKey[] = opts.suites.map((suite, i) => {
    const r = resolveSuite(suite);
    if (r.status !== 'supported' || !r.canonical) {
      throw new SipsecError('UNSUPPORTED', `cannot offer crypto suite ${suite}: ${r.why ?? 'not supported'}`, `choose from ${SUITE_NAMES.join(', ')}`);
    }
    return { tag: i + 1, suite, canonical: r.canonical, key: freshKey(r.canonical, random) };
  });
  const formats = opts.formats ?? DEFAULT_OFFER_FORMATS;
  if (formats.length === 0) throw new SipsecError('BAD_INPUT', 'an offer needs at least one audio format (RFC 4566 §5.14)');
  const attrs: SdpAttribute[] = [];
  for (const f of formats) {
    const ch = f.channels !== undefined && f.channels !== 1 ? `/${f.channels}` : '';
    attrs.push({ name: 'rtpmap', value: `${f.payloadType} ${f.encoding}/${f.clockRate}${ch}` });
    if (f.fmtp) attrs.push({ name: 'fmtp', value: `${f.payloadType} ${f.fmtp}` });
  }
  if (opts.ptime !== undefined) attrs.push({ name: 'ptime', value: String(opts.ptime) });
  attrs.push({ name: opts.direction ?? 'sendrecv', value: null });
  if (opts.rtcpMux) attrs.push({ name: 'rtcp-mux', value: null });
  for (const c of crypto) {
    attrs.push({ name: 'crypto', value: formatCryptoAttribute({ tag: c.tag, suite: c.suite, keys: [c.key] }) });
  }
  const local = opts.local;
  const sdp = sessionAt(local, random, [
    {
      media: 'audio',
      port: local.port,
      proto,
      formats: formats.map((f) => String(f.payloadType)),
      connections: [],
      bandwidths: [],
      attributes: attrs,
      extra: [],
    },
  ]);
  return { sdp: serializeSdp(sdp), proto, formats: formats.map((f) => String(f.payloadType)), crypto };
}

export type ProcessedAnswer =
  | {
      ok: true;
      srtp: 'sdes';
      tag: number;
      /** As the answer spelled it. */
      suite: string;
      canonical: SuiteName;
      /** Ours, from the offered line with the answer's tag: encrypt what we send. */
      localKey: KeyMaterial;
      /** Theirs, from the answer: decrypt what they send. */
      remoteKey: KeyMaterial;
      remoteKeys: KeyMaterial[];
      sessionParams: SessionParams;
      proto: string;
      remote: { address: string; port: number };
      formats: string[];
      warnings: string[];
    }
  | {
      ok: true;
      srtp: 'none';
      proto: string;
      remote: { address: string; port: number };
      formats: string[];
      warnings: string[];
    }
  | { ok: false; error: string };

/**
 * Process the answer to an offer from `buildOffer` (RFC 3264 §7, RFC 4568
 * §7.1.3): match the answer's tag to our line, check the suite is the one we
 * offered under that tag, and return the keys to use.
 */
export function processAnswer(offer: BuiltOffer, answerSdp: string): ProcessedAnswer {
  const parsed = parseSdp(answerSdp);
  if (!parsed.ok) return { ok: false, error: `answer: ${parsed.error}` };
  const sdp = parsed.sdp;
  const warnings = [...parsed.warnings];
  if (sdp.media.length !== 1) {
    return { ok: false, error: `answer has ${sdp.media.length} m-lines; the offer had 1 (RFC 3264 §6 requires the same number)` };
  }
  const m = sdp.media[0];
  if (m.media !== 'audio') return { ok: false, error: `answer m-line is "${shortSuite(m.media)}", the offer was audio` };
  if (m.port === 0) return { ok: false, error: 'answer rejected the audio stream (port 0, RFC 3264 §6)' };
  if (m.proto.toUpperCase() !== offer.proto.toUpperCase()) {
    return { ok: false, error: `answer uses ${shortSuite(m.proto)} but the offer was ${offer.proto} (RFC 3264 §6: same transport)` };
  }
  const conn = mediaConnection(sdp, m);
  const remote = { address: conn?.address ?? '', port: m.port };
  const cryptoAttrs = getAttributes(m.attributes, 'crypto');

  if (cryptoAttrs.length === 0) {
    warnUnofferedFormats(offer, m.formats, warnings);
    if (offer.crypto.length === 0) return { ok: true, srtp: 'none', proto: m.proto, remote, formats: m.formats, warnings };
    if (protoKind(offer.proto) === 'avp') {
      warnings.push('best-effort SRTP offer answered without a=crypto: media is plain RTP');
      return { ok: true, srtp: 'none', proto: m.proto, remote, formats: m.formats, warnings };
    }
    return { ok: false, error: `${m.proto} answer has no a=crypto line (RFC 4568 §7.1.3)` };
  }
  if (offer.crypto.length === 0) return { ok: false, error: 'answer has a=crypto but the offer had none' };
  if (cryptoAttrs.length > 1) {
    return { ok: false, error: `answer has ${cryptoAttrs.length} a=crypto lines; the answerer accepts exactly one (RFC 4568 §7.1.2)` };
  }
  const line = parseCryptoAttribute(cryptoAttrs[0].value ?? '');
  if (!line.usable) return { ok: false, error: `answer a=crypto is invalid: ${line.reason}` };
  for (const w of line.warnings) warnings.push(`answer a=crypto: ${w}`);
  const ours = offer.crypto.find((c) => c.tag === line.tag);
  if (!ours) {
    return { ok: false, error: `answer a=crypto tag ${line.tagText} matches none of the offered tags (${offer.crypto.map((c) => c.tag).join(', ')}) (RFC 4568 §7.1.3)` };
  }
  if (line.canonical !== ours.canonical) {
    return { ok: false, error: `answer tag ${line.tagText} carries ${shortSuite(line.suite)} but we offered ${ours.suite} under that tag (RFC 4568 §7.1.3)` };
  }
  if (line.suite !== ours.suite) warnings.push(`answer spells the suite ${line.suite}; we offered ${ours.suite}`);
  const theirs = line.keys.map(keyMaterial);
  if (theirs.some((k) => sameBytes(k.key, ours.key.key) && sameBytes(k.salt, ours.key.salt))) {
    // RFC 4568 §7.1.2: "the master key(s) included in the answer MUST be different from those in the offer".
    return { ok: false, error: 'answer reuses our offered master key; RFC 4568 §7.1.2 requires its own key (a reflected key gives keystream reuse)' };
  }
  const sp = line.sessionParams;
  // RFC 4568 §7.1.3: parameters we did not offer and will not honour invalidate the line.
  const added = negotiatedParams(sp);
  if (added.length > 0) return { ok: false, error: `answer adds ${added.join(' ')}, which we did not offer (RFC 4568 §7.1.3)` };
  if (sp.kdr !== undefined) return { ok: false, error: `answer sets KDR=${sp.kdr}; sipsec derives session keys once (RFC 4568 §7.1.3: offerer must consider the line invalid)` };
  if (sp.fecOrder !== undefined || sp.fecKeys !== undefined) warnings.push('answer carries FEC session parameters; sipsec negotiates no FEC stream and ignores them');
  warnUnofferedFormats(offer, m.formats, warnings);
  return {
    ok: true,
    srtp: 'sdes',
    tag: ours.tag,
    suite: line.suite,
    canonical: ours.canonical,
    localKey: ours.key,
    remoteKey: theirs[0],
    remoteKeys: theirs,
    sessionParams: sp,
    proto: m.proto,
    remote,
    formats: m.formats,
    warnings,
  };
}

function warnUnofferedFormats(offer: BuiltOffer, formats: readonly string[], warnings: string[]): void {
  // RFC 3264 §6.1: the answer's formats come from the offer's list.
  const extra = formats.filter((f) => !offer.formats.includes(f));
  if (extra.length > 0) warnings.push(`answer lists format(s) ${extra.slice(0, 8).join(', ')} that were not offered (RFC 3264 §6.1)`);
}

// ---------------------------------------------------------------------------
// reports: a JSON-safe view for events (call.start) and `--json` output

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
