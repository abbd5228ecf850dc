/**
 * What sipsec accepts in an SDES offer and how it says no: the answer
 * policy (a phone's `srtp` mode, suites, the RFC 4568 §6.3 session
 * parameters), the verdict on each offered a=crypto line, and the text of
 * the Warning header a 488 carries (RFC 3261 §20.43).
 */
import type { SuiteName } from '../srtp/suites.js';
import type { CodecPolicy } from './codecs.js';
import type { CryptoLine, SessionParams } from './sdes.js';

/** A phone's `srtp` setting as sipsec's registrar applies it (the CA home's phone records use this list). */
export const SRTP_MODES = ['mandatory', 'optional', 'off'] as const;
export type SrtpMode = (typeof SRTP_MODES)[number];

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

/** An offered crypto line and sipsec's verdict on it. */
export interface OfferedCrypto extends CryptoLine {
  /** Usable and allowed by the policy. */
  acceptable: boolean;
  /** Why it was not acceptable: the line's own reason or the policy's. */
  refusal?: string;
}

export interface WarningValue {
  /** RFC 3261 §20.43: 302 incompatible transport, 304 media type not available, 305 incompatible format, 306 attribute not understood, 399 miscellaneous. */
  code: 302 | 304 | 305 | 306 | 399;
  text: string;
}

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

export function shortSuite(s: string): string {
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

export function noAcceptableCryptoWarning(lines: readonly OfferedCrypto[], accept: readonly SuiteName[], policy: Required<PolicyFlags>): WarningValue {
  const offered = lines.map((l) => describeOffered(l, policy)).join(', ');
  let text = `offered ${offered}; accepts ${accept.length > 0 ? accept.join(', ') : 'no suite'}`;
  const refused = refusedParams(lines, policy);
  if (refused.length > 0) text += `; refuses ${refused.join(', ')}`;
  return { code: 306, text };
}

// ---------------------------------------------------------------------------
// policy evaluation of one line

/** The part of the policy that judges one crypto line. */
export type PolicyFlags = Pick<
  AnswerPolicy,
  'allowUnencryptedSrtp' | 'allowUnencryptedSrtcp' | 'allowUnauthenticatedSrtp' | 'allowKdr' | 'acceptLifetime' | 'acceptMki' | 'acceptMultipleKeys'
>;

export function policyFlags(p: PolicyFlags): Required<PolicyFlags> {
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

export function judgeLine(line: CryptoLine, accept: readonly SuiteName[], flags: Required<PolicyFlags>): OfferedCrypto {
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
export function negotiatedParams(sp: SessionParams): string[] {
  const out: string[] = [];
  if (sp.unencryptedSrtp) out.push('UNENCRYPTED_SRTP');
  if (sp.unencryptedSrtcp) out.push('UNENCRYPTED_SRTCP');
  if (sp.unauthenticatedSrtp) out.push('UNAUTHENTICATED_SRTP');
  return out;
}
