/**
 * sipsec as the offerer (calls to a phone: `probe`, `verify`): build an SDES
 * offer in a vendor's preference order and process the phone's answer
 * (RFC 3264 §7, RFC 4568 §7.1.1, §7.1.3). Also the session-level builder
 * every SDP of ours shares, answers included.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { SipsecError } from '../core/errors.js';
import { SUITE_NAMES, type SuiteName } from '../srtp/suites.js';
import { freshKey, keyMaterial, sameBytes, type KeyMaterial, type RandomSource } from './key-material.js';
import { negotiatedParams, shortSuite } from './policy.js';
import { getAttributes, mediaConnection, parseSdp, serializeSdp, type Direction, type SdpAttribute, type SdpMedia, type SessionDescription } from './sdp.js';
import { formatCryptoAttribute, parseCryptoAttribute, resolveSuite, type SessionParams } from './sdes.js';

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

export type ProtoKind = 'avp' | 'savp' | 'dtls' | 'other';

export function protoKind(proto: string): ProtoKind {
  const p = proto.toUpperCase();
  if (p === 'RTP/AVP' || p === 'RTP/AVPF') return 'avp';
  if (p === 'RTP/SAVP' || p === 'RTP/SAVPF') return 'savp';
  if (p.includes('TLS/RTP/')) return 'dtls';
  return 'other';
}

function addrTypeOf(address: string): 'IP4' | 'IP6' {
  return isIP(address) === 6 ? 'IP6' : 'IP4';
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
export function sessionAt(local: LocalMedia, random: RandomSource, media: SdpMedia[]): SessionDescription {
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
