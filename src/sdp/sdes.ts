/**
 * SDES: the SDP `a=crypto` attribute for SRTP (RFC 4568).
 *
 * Every offered line is parsed into a typed structure and judged on its own:
 * a wrong key length, bad base64, a lifetime above the suite maximum or an
 * unknown suite makes *that line* unusable with a precise `reason`; it never
 * fails the SDP (RFC 4568 §7.1.2: the answerer picks among the *valid* lines).
 *
 * Grammar (RFC 4568 §9.1, §9.2):
 *   a=crypto:<tag> 1*WSP <crypto-suite> 1*WSP <key-params> *(1*WSP <session-param>)
 *   tag        = 1*9DIGIT
 *   key-params = key-param *(";" key-param)
 *   key-param  = "inline:" key-salt ["|" lifetime] ["|" mki-value ":" mki-length]
 *   lifetime   = ["2^"] 1*DIGIT
 *
 * Session parameters, and the rule for unknown ones (RFC 4568 §6.3.7, checked
 * against the RFC text): "New SRTP session parameters are by default
 * mandatory. A newly defined SRTP session parameter that is prefixed with the
 * dash character ("-"), however, is considered optional and MAY be ignored.
 * If an SDP crypto attribute is received with an unknown session parameter
 * that is not prefixed with a "-" character, that crypto attribute MUST be
 * considered invalid." So: unknown `-FOO` is ignored (listed in
 * `sessionParams.ignored`), unknown `FOO` makes the line unusable.
 */
import { SUITES, SUITE_ALIASES, SUITE_NAMES, type SuiteInfo, type SuiteName } from '../srtp/suites.js';

/** A key lifetime as written, and its value in packets. */
export interface Lifetime {
  /** As written: `2^31` or `2147483648`. */
  text: string;
  packets: bigint;
  /** n when written as `2^n`. */
  log2?: number;
}

/** Master key identifier (RFC 4568 §6.1, RFC 3711 §3.1). */
export interface Mki {
  value: bigint;
  /** Octets of MKI in every SRTP/SRTCP packet, 1..128. */
  length: number;
  /** The value big-endian in `length` octets, as it appears in packets. */
  bytes: Buffer;
}

export interface MasterKey {
  key: Buffer;
  salt: Buffer;
  lifetime?: Lifetime;
  mki?: Mki;
}

export interface SessionParams {
  /** KDR=n: key derivation rate 2^n, n in 1..24 (RFC 4568 §6.3.1). */
  kdr?: number;
  unencryptedSrtp: boolean;
  unencryptedSrtcp: boolean;
  unauthenticatedSrtp: boolean;
  fecOrder?: 'FEC_SRTP' | 'SRTP_FEC';
  fecKeys?: MasterKey[];
  /** WSH=n: replay window hint, at least 64 (RFC 4568 §6.3.6). */
  wsh?: number;
  /** Unknown `-`-prefixed parameters, ignored as RFC 4568 §6.3.7 allows. */
  ignored: string[];
  /** Every session parameter as written, in order. */
  raw: string[];
}

/** Why a suite cannot be used, when sipsec recognises the name. */
export type SuiteStatus = 'supported' | 'unsupported' | 'unknown';

export interface CryptoLine {
  /** The attribute value as received (after `a=crypto:`). */
  raw: string;
  /** The tag as a number; null when it is not 1+ digits or too long to be exact. */
  tag: number | null;
  /** The tag exactly as written; the answer echoes this (RFC 4568 §5.1.2). */
  tagText: string;
  /** The suite exactly as written; the answer echoes this spelling. */
  suite: string;
  /** The suite in suites.ts this names, draft-era aliases resolved. */
  canonical?: SuiteName;
  suiteStatus: SuiteStatus;
  keys: MasterKey[];
  sessionParams: SessionParams;
  usable: boolean;
  /** Why the line is unusable: one line, RFC section cited. */
  reason?: string;
  /** Non-fatal deviations worth a report line. */
  warnings: string[];
}

/**
 * Maximum master-key lifetime in packets, as log2. RFC 4568 §6.2 lists 2^48
 * SRTP / 2^31 SRTCP packets for its suites; RFC 6188 keeps the same limits for
 * AES-192/256 [R]; RFC 7714 for GCM likewise [R, from memory]. suites.ts does
 * not carry it, so it lives here.
 *
 * A lifetime counts SRTP and SRTCP packets separately ("the number of SRTP
 * packets and the number of SRTCP packets each have to be less than the
 * lifetime", RFC 4568 §6.1), so the ceiling is 2^48: Grandstream's `|2^32`
 * (above SRTCP's 2^31) is valid; it only bounds the master key's use, and
 * SRTCP stays limited by its own 31-bit index. See `keyLimits`.
 */
export const MAX_LIFETIME_LOG2 = 48;
export const SRTCP_MAX_LOG2 = 31;

interface UnsupportedSuite {
  why: string;
  /** Master key+salt octets when the suite's lengths are known, to check the key anyway. */
  masterLen?: number;
}

/**
 * Suite names sipsec recognises but cannot run, each with the reason shown
 * to the person reading the report (instead of a bare "unknown suite").
 */
const UNSUPPORTED_SUITES: Readonly<Record<string, UnsupportedSuite>> = {
  F8_128_HMAC_SHA1_80: {
    why: 'F8_128_HMAC_SHA1_80 (AES-f8, RFC 4568 §6.2.3) is recognised but not supported: libsrtp, Asterisk, baresip and Linphone have no f8 either',
    masterLen: 30,
  },
  // The RFC 4568 §9.2 ABNF spells the f8 suite with _32; IANA registers _80.
  F8_128_HMAC_SHA1_32: {
    why: 'F8_128_HMAC_SHA1_32 (the RFC 4568 §9.2 ABNF spelling of the f8 suite) is recognised but not supported',
    masterLen: 30,
  },
  AEAD_AES_128_GCM_8: {
    why: 'AEAD_AES_128_GCM_8 is a draft-era 8-octet-tag GCM suite, not in the IANA registry; sipsec supports AEAD_AES_128_GCM (16-octet tag)',
    masterLen: 28,
  },
  AEAD_AES_256_GCM_8: {
    why: 'AEAD_AES_256_GCM_8 is a draft-era 8-octet-tag GCM suite, not in the IANA registry; sipsec supports AEAD_AES_256_GCM (16-octet tag)',
    masterLen: 44,
  },
  NULL_HMAC_SHA1_80: { why: 'NULL_HMAC_SHA1_80 encrypts nothing; sipsec refuses unencrypted suites', masterLen: 30 },
  NULL_HMAC_SHA1_32: { why: 'NULL_HMAC_SHA1_32 encrypts nothing; sipsec refuses unencrypted suites', masterLen: 30 },
  SEED_CTR_128_HMAC_SHA1_80: { why: 'SEED suites (RFC 5669) are not supported' },
  SEED_128_CCM_80: { why: 'SEED suites (RFC 5669) are not supported' },
  SEED_128_GCM_96: { why: 'SEED suites (RFC 5669) are not supported' },
};

export interface ResolvedSuite {
  status: SuiteStatus;
  canonical?: SuiteName;
  info?: SuiteInfo;
  /** Set when the name was not written in its canonical upper-case form. */
  note?: string;
  why?: string;
  masterLen?: number;
}

/**
 * Map a suite name as written to a suite sipsec knows. Names are compared
 * case-insensitively (ABNF literals are case-insensitive, RFC 5234 §2.3);
 * draft-era spellings map through SUITE_ALIASES (Asterisk accepts and echoes them).
 */
export function resolveSuite(written: string): ResolvedSuite {
  const upper = written.toUpperCase();
  const note = upper !== written ? `suite "${clip(written)}" is not in upper case; matched as ${clip(upper)}` : undefined;
  const direct = (SUITE_NAMES as readonly string[]).find((n) => n === upper) as SuiteName | undefined;
  const canonical = direct ?? SUITE_ALIASES[upper];
  if (canonical) {
    const info = SUITES[canonical];
    const aliasNote = direct ? note : `draft-era spelling ${clip(written)} of ${canonical}`;
    const out: ResolvedSuite = { status: 'supported', canonical, info, masterLen: info.keyLen + info.saltLen };
    if (aliasNote) out.note = aliasNote;
    return out;
  }
  const known = UNSUPPORTED_SUITES[upper];
  if (known) {
    const out: ResolvedSuite = { status: 'unsupported', why: known.why };
    if (known.masterLen !== undefined) out.masterLen = known.masterLen;
    return out;
  }
  return { status: 'unknown', why: `unknown crypto suite "${clip(written)}" (not in RFC 4568, 6188 or 7714)` };
}

function clip(s: string, max = 40): string {
  const clean = s.replace(/[^\x21-\x7e]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}

function emptySessionParams(): SessionParams {
  return {
    unencryptedSrtp: false,
    unencryptedSrtcp: false,
    unauthenticatedSrtp: false,
    ignored: [],
    raw: [],
  };
}

// ---------------------------------------------------------------------------
// base64 (RFC 4568 §6.1 uses RFC 3548 §3: the standard alphabet, "=" padding optional in practice)

export type Base64Result = { ok: true; bytes: Buffer; padded: boolean } | { ok: false; error: string };

export function decodeBase64Strict(s: string): Base64Result {
  if (s.length === 0) return { ok: false, error: 'inline key is empty' };
  const bad = /[^A-Za-z0-9+/=]/.exec(s);
  if (bad) {
    return {
      ok: false,
      error: `inline key has "${clip(bad[0])}" at position ${bad.index + 1}, not a base64 character (RFC 4568 §6.1, RFC 3548 §3)`,
    };
  }
  const pad = /=+$/.exec(s);
  const body = pad ? s.slice(0, pad.index) : s;
  if (body.includes('=')) return { ok: false, error: 'inline key has "=" before its end (base64 padding goes last)' };
  const padLen = pad ? pad[0].length : 0;
  if (padLen > 2) return { ok: false, error: `inline key ends in ${padLen} "=" characters; base64 pads with at most 2` };
  if (padLen > 0 && s.length % 4 !== 0) {
    return { ok: false, error: `inline key has ${s.length} characters with "=" padding; padded base64 is a multiple of 4` };
  }
  if (body.length % 4 === 1) {
    return { ok: false, error: `inline key has ${body.length} base64 characters, which is not a whole number of octets` };
  }
  return { ok: true, bytes: Buffer.from(body, 'base64'), padded: padLen > 0 };
}

// ---------------------------------------------------------------------------
// key-params

interface KeyParamParse {
  key?: MasterKey;
  problems: string[];
  warnings: string[];
}

function hasLeadingZero(digits: string): boolean {
  return digits.length > 1 && digits.startsWith('0');
}

function parseLifetime(text: string, suiteLabel: string, problems: string[], warnings: string[]): Lifetime | undefined {
  const pow = /^2\^(\d+)$/.exec(text);
  const dec = /^\d+$/.exec(text);
  if (!pow && !dec) {
    problems.push(`lifetime "${clip(text)}" is neither 2^n nor a decimal number (RFC 4568 §9.2)`);
    return undefined;
  }
  if (pow) {
    if (hasLeadingZero(pow[1])) warnings.push(`lifetime ${clip(text)} has a leading zero (RFC 4568 §6.1 forbids it)`);
    // Compare the exponent before building the number: "2^99999999" must not allocate.
    const n = pow[1].length > 4 ? Number.POSITIVE_INFINITY : Number(pow[1]);
    if (n > MAX_LIFETIME_LOG2) {
      problems.push(`lifetime ${clip(text)} exceeds ${suiteLabel}'s maximum of 2^${MAX_LIFETIME_LOG2} packets (RFC 4568 §6.1)`);
      return undefined;
    }
    return { text, packets: 1n << BigInt(n), log2: n };
  }
  if (hasLeadingZero(text)) warnings.push(`lifetime ${clip(text)} has a leading zero (RFC 4568 §6.1 forbids it)`);
  const packets = text.length > 20 ? 1n << 64n : BigInt(text);
  if (packets === 0n) {
    problems.push('lifetime 0 is not a positive number of packets (RFC 4568 §6.1)');
    return undefined;
  }
  if (packets > 1n << BigInt(MAX_LIFETIME_LOG2)) {
    problems.push(`lifetime ${clip(text)} exceeds ${suiteLabel}'s maximum of 2^${MAX_LIFETIME_LOG2} packets (RFC 4568 §6.1)`);
    return undefined;
  }
  return { text, packets };
}

function parseMki(text: string, problems: string[], warnings: string[]): Mki | undefined {
  const m = /^(\d+):(\d+)$/.exec(text);
  if (!m) {
    problems.push(`MKI "${clip(text)}" is not "<value>:<length>" (RFC 4568 §6.1)`);
    return undefined;
  }
  const [, valueText, lengthText] = m;
  if (lengthText.length > 3 || Number(lengthText) < 1 || Number(lengthText) > 128) {
    problems.push(`MKI length ${clip(lengthText)} is outside 1..128 octets (RFC 4568 §6.1)`);
    return undefined;
  }
  const length = Number(lengthText);
  if (hasLeadingZero(valueText) || hasLeadingZero(lengthText)) {
    warnings.push(`MKI ${clip(text)} has a leading zero (RFC 4568 §6.1 forbids it)`);
  }
  // A value needing more than `length` octets cannot be put in the packet.
  if (valueText.replace(/^0+/, '').length > 310) {
    problems.push(`MKI value does not fit in ${length} octets`);
    return undefined;
  }
  const value = BigInt(valueText);
  if (value >= 1n << BigInt(8 * length)) {
    problems.push(`MKI value ${clip(valueText)} does not fit in ${length} octet${length === 1 ? '' : 's'} (RFC 4568 §6.1)`);
    return undefined;
  }
  if (value === 0n) warnings.push('MKI value 0 (RFC 4568 §6.1 defines the MKI as a positive integer)');
  const bytes = Buffer.alloc(length);
  let v = value;
  for (let i = length - 1; i >= 0; i--) {
    bytes[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return { value, length, bytes };
}

function parseKeyParam(param: string, suiteLabel: string, masterLen: number | undefined, info: SuiteInfo | undefined): KeyParamParse {
  const problems: string[] = [];
  const warnings: string[] = [];
  const colon = param.indexOf(':');
  if (colon < 0) {
    return { problems: [`key parameter "${clip(param)}" has no "<method>:" prefix (RFC 4568 §9.1)`], warnings };
  }
  const method = param.slice(0, colon);
  if (method.toLowerCase() !== 'inline') {
    return { problems: [`key method "${clip(method)}" is not supported; only "inline" is defined (RFC 4568 §6.1)`], warnings };
  }
  if (method !== 'inline') warnings.push(`key method written "${clip(method)}"`);
  const fields = param.slice(colon + 1).split('|');
  const keySalt = fields[0];
  const b64 = decodeBase64Strict(keySalt);
  if (!b64.ok) problems.push(b64.error);
  if (b64.ok && masterLen !== undefined && b64.bytes.length !== masterLen) {
    const chars = Math.ceil(masterLen / 3) * 4;
    const cite = info ? ` (${info.rfc})` : '';
    problems.push(
      `${suiteLabel} needs ${masterLen} octets of key||salt (${chars} base64 characters); inline key decodes to ${b64.bytes.length}${cite}`,
    );
  }

  let lifetime: Lifetime | undefined;
  let mki: Mki | undefined;
  let sawLifetime = false;
  let sawMki = false;
  const rest = fields.slice(1);
  if (rest.length > 2) problems.push(`key parameter has ${rest.length} "|" fields; at most lifetime and MKI (RFC 4568 §9.2)`);
  for (const f of rest.slice(0, 2)) {
    if (f === '') {
      problems.push('empty field after "|" in the key parameter');
    } else if (f.includes(':')) {
      // "the lifetime field never includes a colon, whereas the third field always does" (RFC 4568 §6.1)
      if (sawMki) problems.push('two MKI fields in one key parameter');
      else mki = parseMki(f, problems, warnings);
      sawMki = true;
    } else if (sawMki) {
      problems.push(`lifetime "${clip(f)}" after the MKI (the order is key|lifetime|mki, RFC 4568 §9.2)`);
    } else if (sawLifetime) {
      problems.push('two lifetime fields in one key parameter');
    } else {
      lifetime = parseLifetime(f, suiteLabel, problems, warnings);
      sawLifetime = true;
    }
  }

  if (!b64.ok) return { problems, warnings };
  // Split the decoded octets into key and salt where the suite says how
  // (the unsupported suites' key sizes follow from their total: 30 and 28
  // are AES-128, 44 is AES-256); for an unknown suite keep it all as "key".
  const total = b64.bytes.length;
  const keyLen = info ? info.keyLen : masterLen === 44 ? 32 : masterLen !== undefined ? 16 : total;
  // Copies: Buffer.from(base64) may sit in Node's shared pool; keys must not alias it.
  const key: MasterKey = { key: Buffer.from(b64.bytes.subarray(0, keyLen)), salt: Buffer.from(b64.bytes.subarray(keyLen)) };
  if (lifetime) key.lifetime = lifetime;
  if (mki) key.mki = mki;
  return { key, problems, warnings };
}

/**
 * Parse `;`-separated key-params (RFC 4568 §6.1). With more than one key,
 * "all the master keys in that key parameter MUST include an MKI value" and
 * "the MKI length MUST be the same for all keys".
 */
function parseKeyParams(
  text: string,
  suiteLabel: string,
  masterLen: number | undefined,
  info: SuiteInfo | undefined,
  problems: string[],
  warnings: string[],
): MasterKey[] {
  const keys: MasterKey[] = [];
  const params = text.split(';');
  for (const [i, p] of params.entries()) {
    if (p === '') {
      problems.push(`key parameter ${i + 1} is empty (stray ";")`);
      continue;
    }
    const r = parseKeyParam(p, suiteLabel, masterLen, info);
    const prefix = params.length > 1 ? `key ${i + 1}: ` : '';
    for (const pr of r.problems) problems.push(prefix + pr);
    for (const w of r.warnings) warnings.push(prefix + w);
    if (r.key) keys.push(r.key);
  }
  if (params.length > 1) {
    if (keys.some((k) => !k.mki)) {
      problems.push(`${params.length} keys but not every key has an MKI (RFC 4568 §6.1 requires one on each)`);
    }
    const lengths = new Set(keys.filter((k) => k.mki).map((k) => k.mki?.length));
    if (lengths.size > 1) problems.push(`MKI lengths differ between keys (${[...lengths].join(', ')}); RFC 4568 §6.1 requires one length`);
    const values = keys.filter((k) => k.mki).map((k) => k.mki?.value.toString());
    if (new Set(values).size !== values.length) problems.push('two keys share one MKI value; the receiver could not tell them apart');
  }
  return keys;
}

// ---------------------------------------------------------------------------
// session params

function parseSessionParam(
  token: string,
  sp: SessionParams,
  suiteLabel: string,
  masterLen: number | undefined,
  info: SuiteInfo | undefined,
  problems: string[],
  warnings: string[],
): void {
  sp.raw.push(token);
  const eq = token.indexOf('=');
  const name = (eq < 0 ? token : token.slice(0, eq)).toUpperCase();
  const value = eq < 0 ? undefined : token.slice(eq + 1);
  const flag = (field: 'unencryptedSrtp' | 'unencryptedSrtcp' | 'unauthenticatedSrtp'): void => {
    if (value !== undefined) {
      problems.push(`${name} takes no value, got "${clip(token)}" (RFC 4568 §9.2)`);
      return;
    }
    if (sp[field]) warnings.push(`${name} given twice`);
    sp[field] = true;
  };
  const once = (present: boolean): boolean => {
    if (present) problems.push(`session parameter ${name} given twice`);
    return !present;
  };

  switch (name) {
    case 'UNENCRYPTED_SRTP':
      flag('unencryptedSrtp');
      return;
    case 'UNENCRYPTED_SRTCP':
      flag('unencryptedSrtcp');
      return;
    case 'UNAUTHENTICATED_SRTP':
      flag('unauthenticatedSrtp');
      return;
    case 'KDR': {
      if (!once(sp.kdr !== undefined)) return;
      // §9.2: 1*2DIGIT; §6.3.1: "a decimal integer in the set {1,2,...,24}".
      if (value === undefined || !/^\d{1,2}$/.test(value) || Number(value) < 1 || Number(value) > 24) {
        problems.push(`KDR="${clip(value ?? '')}" is outside 1..24 (RFC 4568 §6.3.1)`);
        return;
      }
      if (hasLeadingZero(value)) warnings.push(`KDR=${value} has a leading zero (RFC 4568 §6.3.1 forbids it)`);
      sp.kdr = Number(value);
      return;
    }
    case 'WSH': {
      if (!once(sp.wsh !== undefined)) return;
      if (value === undefined || !/^\d{2,9}$/.test(value) || Number(value) < 64) {
        problems.push(`WSH="${clip(value ?? '')}" is not a window size of at least 64 (RFC 4568 §6.3.6)`);
        return;
      }
      if (hasLeadingZero(value)) warnings.push(`WSH=${value} has a leading zero (RFC 4568 §6.3.6 forbids it)`);
      sp.wsh = Number(value);
      return;
    }
    case 'FEC_ORDER': {
      if (!once(sp.fecOrder !== undefined)) return;
      const order = value?.toUpperCase();
      if (order !== 'FEC_SRTP' && order !== 'SRTP_FEC') {
        problems.push(`FEC_ORDER="${clip(value ?? '')}" is neither FEC_SRTP nor SRTP_FEC (RFC 4568 §6.3.4)`);
        return;
      }
      sp.fecOrder = order;
      return;
    }
    case 'FEC_KEY': {
      if (!once(sp.fecKeys !== undefined)) return;
      if (value === undefined || value === '') {
        problems.push('FEC_KEY= has no key parameters (RFC 4568 §6.3.5)');
        return;
      }
      const sub: string[] = [];
      const keys = parseKeyParams(value, suiteLabel, masterLen, info, sub, warnings);
      for (const s of sub) problems.push(`FEC_KEY: ${s}`);
      sp.fecKeys = keys;
      return;
    }
    default:
      if (token.startsWith('-')) {
        // §6.3.7: "-"-prefixed parameters are optional and MAY be ignored.
        sp.ignored.push(token);
        warnings.push(`optional session parameter "${clip(token)}" ignored (RFC 4568 §6.3.7)`);
        return;
      }
      problems.push(`unknown session parameter "${clip(token)}" without "-" prefix makes the line invalid (RFC 4568 §6.3.7)`);
  }
}

// ---------------------------------------------------------------------------
// the attribute

/**
 * Parse one `a=crypto` attribute value (the text after `a=crypto:`). Total:
 * never throws; an unusable line carries `usable: false` and a `reason`.
 */
export function parseCryptoAttribute(value: string): CryptoLine {
  const problems: string[] = [];
  const warnings: string[] = [];
  const sessionParams = emptySessionParams();
  const fields = value.trim().split(/[ \t]+/);
  const tagText = fields[0] ?? '';
  const suite = fields[1] ?? '';
  const line: CryptoLine = {
    raw: value,
    tag: null,
    tagText,
    suite,
    suiteStatus: 'unknown',
    keys: [],
    sessionParams,
    usable: false,
    warnings,
  };

  if (/^\d+$/.test(tagText)) {
    if (tagText.length <= 15) line.tag = Number(tagText);
    // RFC 4568 §9.1: tag = 1*9DIGIT (Asterisk enforces the same).
    if (tagText.length > 9) problems.push(`tag "${clip(tagText)}" has ${tagText.length} digits; RFC 4568 §9.1 allows 1 to 9`);
  } else {
    problems.push(`tag "${clip(tagText)}" is not a decimal number (RFC 4568 §9.1)`);
  }

  if (fields.length < 3 || suite === '') {
    problems.push(`a=crypto needs "<tag> <crypto-suite> <key-params>", got ${fields.filter((f) => f !== '').length} field(s) (RFC 4568 §9.1)`);
    return finish(line, problems);
  }

  const resolved = resolveSuite(suite);
  line.suiteStatus = resolved.status;
  if (resolved.canonical) line.canonical = resolved.canonical;
  if (resolved.note) warnings.push(resolved.note);
  if (resolved.why) problems.push(resolved.why);
  const suiteLabel = resolved.canonical ?? clip(suite);

  // Key checks still run for unsupported suites with known lengths, so the
  // report can say everything wrong with the line at once.
  line.keys = parseKeyParams(fields[2], suiteLabel, resolved.masterLen, resolved.info, problems, warnings);
  for (const token of fields.slice(3)) {
    parseSessionParam(token, sessionParams, suiteLabel, resolved.masterLen, resolved.info, problems, warnings);
  }
  return finish(line, problems);
}

function finish(line: CryptoLine, problems: string[]): CryptoLine {
  line.usable = problems.length === 0;
  if (problems.length > 0) line.reason = problems.join('; ');
  return line;
}

// ---------------------------------------------------------------------------
// serialisation (for answers and offers)

export interface CryptoKeySpec {
  key: Buffer;
  salt: Buffer;
  lifetime?: Lifetime;
  mki?: Pick<Mki, 'value' | 'length'>;
}

export interface CryptoLineSpec {
  /** Written as given: echo an offered tag's text to keep it byte-identical. */
  tag: number | string;
  /** Written as given: answer with the spelling that was offered. */
  suite: string;
  keys: readonly CryptoKeySpec[];
  /** Session parameters as text, e.g. ["UNENCRYPTED_SRTCP"]. */
  sessionParams?: readonly string[];
}

export interface CryptoFormatOptions {
  /**
   * Emit `|lifetime`. Off by default: Asterisk before 13 (2015) skipped every
   * line with a lifetime ("Crypto life time unsupported", chan_sip sdp_crypto.c).
   */
  includeLifetime?: boolean;
  /** Emit `|mki:len`. Off by default; a peer that does not expect an MKI fails every packet's auth. */
  includeMki?: boolean;
}

/** The key||salt base64 as sipsec writes it: standard alphabet, with "=" padding (RFC 3548 §3). */
export function encodeKeySalt(key: Buffer, salt: Buffer): string {
  return Buffer.concat([key, salt]).toString('base64');
}

/** Format an `a=crypto` attribute *value* (without the `a=crypto:` prefix). */
export function formatCryptoAttribute(spec: CryptoLineSpec, opts: CryptoFormatOptions = {}): string {
  const keyParams = spec.keys.map((k) => {
    let s = `inline:${encodeKeySalt(k.key, k.salt)}`;
    if (opts.includeLifetime && k.lifetime) s += `|${k.lifetime.text}`;
    if (opts.includeMki && k.mki) s += `|${k.mki.value}:${k.mki.length}`;
    return s;
  });
  const parts = [String(spec.tag), spec.suite, keyParams.join(';'), ...(spec.sessionParams ?? [])];
  return parts.join(' ');
}

/** The whole SDP line: `a=crypto:<value>`. */
export function formatCryptoLine(spec: CryptoLineSpec, opts: CryptoFormatOptions = {}): string {
  return `a=crypto:${formatCryptoAttribute(spec, opts)}`;
}

/**
 * How many packets this master key may protect, per direction type: the
 * signalled lifetime (default 2^48, RFC 3711 §9.2), further capped at 2^31 for
 * SRTCP by its 31-bit index (RFC 3711 §3.4). A `|2^32` lifetime thus leaves
 * SRTCP at 2^31: the lifetime bounds the key, not the index space.
 */
export function keyLimits(key: Pick<MasterKey, 'lifetime'>): { srtp: bigint; srtcp: bigint } {
  const max = 1n << BigInt(MAX_LIFETIME_LOG2);
  const lifetime = key.lifetime ? key.lifetime.packets : max;
  const srtcpMax = 1n << BigInt(SRTCP_MAX_LOG2);
  return { srtp: lifetime < max ? lifetime : max, srtcp: lifetime < srtcpMax ? lifetime : srtcpMax };
}
