/**
 * HTTP Digest as used by SIP: RFC 2617 (RFC 3261 §22.4), RFC 7616 and
 * RFC 8760 (which brings SHA-256 and SHA-512-256 to SIP and requires qop).
 *
 *   HA1      = H(username ":" realm ":" password)                (§3.4.2)
 *   HA1-sess = H(HA1 ":" nonce ":" cnonce)                        (-sess algorithms)
 *   HA2      = H(method ":" digest-uri)   [":" H(body) for auth-int] (§3.4.3)
 *   response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" HA2)   (§3.4.1)
 *   response = H(HA1 ":" nonce ":" HA2)   without qop (RFC 2069 compatibility)
 *
 * SHA-512-256 is SHA-512/256 of FIPS 180-4 (its own initial values), which
 * is node's 'sha512-256', not a truncated SHA-512.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { err, ok, type Result } from '../sip/message/result.js';
import { CharClass, asciiLower, hasClass, quote, readQuoted, skipWs } from '../sip/message/syntax.js';

export const DIGEST_ALGORITHMS = ['MD5', 'MD5-sess', 'SHA-256', 'SHA-256-sess', 'SHA-512-256', 'SHA-512-256-sess'] as const;
export type DigestAlgorithm = (typeof DIGEST_ALGORITHMS)[number];
export type Qop = 'auth' | 'auth-int';

const HASHES: Readonly<Record<DigestAlgorithm, string>> = {
  MD5: 'md5',
  'MD5-sess': 'md5',
  'SHA-256': 'sha256',
  'SHA-256-sess': 'sha256',
  'SHA-512-256': 'sha512-256',
  'SHA-512-256-sess': 'sha512-256',
};

/**
 * The algorithm named by an `algorithm=` token (case-insensitive, RFC 7616
 * §3.3); an absent token means MD5 (RFC 2617 §3.2.1). Undefined if unknown.
 */
export function parseAlgorithm(token: string | undefined): DigestAlgorithm | undefined {
  if (token === undefined) return 'MD5';
  const lower = asciiLower(token);
  return DIGEST_ALGORITHMS.find((a) => asciiLower(a) === lower);
}

export function isSessAlgorithm(a: DigestAlgorithm): boolean {
  return a.endsWith('-sess');
}

/** Lower-case hex digest of UTF-8 text or bytes with the algorithm's hash. */
export function digestHash(algorithm: DigestAlgorithm, data: string | Uint8Array): string {
  return createHash(HASHES[algorithm]).update(data).digest('hex');
}

/** H(username:realm:password): what a registrar may store instead of the password. */
export function computeHA1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return digestHash(algorithm, `${username}:${realm}:${password}`);
}

export interface DigestInput {
  algorithm: DigestAlgorithm;
  username: string;
  realm: string;
  /** The password, or `ha1` = H(username:realm:password) instead. */
  password?: string;
  ha1?: string;
  method: string;
  /** The digest-uri exactly as the client sent it in `uri=`. */
  uri: string;
  nonce: string;
  qop?: Qop;
  /** nc as sent: 8 hex digits. */
  nc?: string;
  cnonce?: string;
  /** Message body, for qop=auth-int. */
  body?: Uint8Array;
}

/** The `response=` value for these inputs (RFC 7616 §3.4.1). */
export function computeDigestResponse(p: DigestInput): string {
  const alg = p.algorithm;
  let ha1 = p.ha1 ?? computeHA1(alg, p.username, p.realm, p.password ?? '');
  if (isSessAlgorithm(alg)) ha1 = digestHash(alg, `${ha1}:${p.nonce}:${p.cnonce ?? ''}`);
  const a2 = p.qop === 'auth-int' ? `${p.method}:${p.uri}:${digestHash(alg, p.body ?? new Uint8Array(0))}` : `${p.method}:${p.uri}`;
  const ha2 = digestHash(alg, a2);
  if (p.qop === undefined) return digestHash(alg, `${ha1}:${p.nonce}:${ha2}`);
  return digestHash(alg, `${ha1}:${p.nonce}:${p.nc ?? ''}:${p.cnonce ?? ''}:${p.qop}:${ha2}`);
}

/** Compares two hex digests in constant time (case-insensitive hex). */
export function digestEquals(a: string, b: string): boolean {
  const x = Buffer.from(asciiLower(a), 'utf8');
  const y = Buffer.from(asciiLower(b), 'utf8');
  // Lengths are public (they follow from the algorithm); compare equal-size buffers only.
  if (x.length !== y.length) return false;
  return timingSafeEqual(x, y);
}

/** An auth scheme and its parameters, as in Authorization and WWW-Authenticate. */
export interface AuthParams {
  /** The scheme as sent (`Digest`, `Bearer`, ...). */
  readonly scheme: string;
  /** Lower-case parameter name to value (quotes removed). */
  readonly params: ReadonlyMap<string, string>;
}

/**
 * Reads `scheme LWS name=value *(COMMA name=value)` (RFC 3261 §25.1
 * credentials/challenge, RFC 7235 §2.1): any order, quoted or token
 * values. Some clients send unquoted URIs, so an unquoted value runs to
 * the next comma or whitespace. Duplicate parameters are refused.
 */
export function parseAuthParams(value: string): Result<AuthParams> {
  const end = value.length;
  let i = skipWs(value, 0, end);
  const schemeStart = i;
  while (i < end && hasClass(value.charCodeAt(i), CharClass.TOKEN)) i++;
  if (i === schemeStart) return err('missing auth scheme');
  const scheme = value.slice(schemeStart, i);
  const params = new Map<string, string>();
  for (;;) {
    while (i < end && (value.charCodeAt(i) === 0x2c || value.charCodeAt(i) === 0x20 || value.charCodeAt(i) === 0x09)) i++;
    if (i >= end) break;
    const nameStart = i;
    while (i < end && hasClass(value.charCodeAt(i), CharClass.TOKEN)) i++;
    if (i === nameStart) return err('invalid auth parameter name');
    const name = asciiLower(value.slice(nameStart, i));
    i = skipWs(value, i, end);
    if (value.charCodeAt(i) !== 0x3d) return err(`auth parameter ${name} without '='`);
    i = skipWs(value, i + 1, end);
    let v: string;
    if (value.charCodeAt(i) === 0x22) {
      const q = readQuoted(value, i, end);
      if (typeof q === 'string') return err(`auth parameter ${name}: ${q}`);
      v = q.value;
      i = q.end;
    } else {
      const vs = i;
      while (i < end && value.charCodeAt(i) !== 0x2c && value.charCodeAt(i) !== 0x20 && value.charCodeAt(i) !== 0x09) i++;
      if (i === vs) return err(`auth parameter ${name} has an empty value`);
      v = value.slice(vs, i);
    }
    if (params.has(name)) return err(`duplicate auth parameter ${name}`);
    params.set(name, v);
    i = skipWs(value, i, end);
    if (i < end && value.charCodeAt(i) !== 0x2c) return err(`expected ',' after auth parameter ${name}`);
  }
  return ok({ scheme, params });
}

export interface DigestCredentials {
  readonly username: string;
  readonly realm: string;
  readonly nonce: string;
  readonly uri: string;
  readonly response: string;
  /** The algorithm token as sent; undefined means MD5. */
  readonly algorithm: string | undefined;
  readonly qop: string | undefined;
  readonly nc: string | undefined;
  readonly cnonce: string | undefined;
  readonly opaque: string | undefined;
  /** RFC 7616 §3.4.4: the username is H(username:realm). */
  readonly userhash: boolean;
}

/**
 * Decodes an RFC 8187 (ex-5987) ext-value `UTF-8''J%C3%A4s%C3%B8n`, as
 * RFC 7616 §3.4.4 allows for `username*`.
 */
function decodeExtValue(v: string): string | undefined {
  const first = v.indexOf("'");
  const second = first < 0 ? -1 : v.indexOf("'", first + 1);
  if (second < 0 || asciiLower(v.slice(0, first)) !== 'utf-8') return undefined;
  const enc = v.slice(second + 1);
  try {
    return decodeURIComponent(enc);
  } catch {
    return undefined;
  }
}

/**
 * Parses Authorization / Proxy-Authorization. Unknown parameters are
 * ignored; a scheme other than Digest is an error the caller answers with a
 * fresh challenge (RFC 4475 §3.3.7, regaut01).
 */
export function parseCredentials(value: string): Result<DigestCredentials> {
  const ap = parseAuthParams(value);
  if (!ap.ok) return ap;
  if (asciiLower(ap.value.scheme) !== 'digest') return err(`unsupported auth scheme ${ap.value.scheme.slice(0, 40)}`);
  const p = ap.value.params;
  let username = p.get('username');
  const extUser = p.get('username*');
  if (extUser !== undefined) {
    if (username !== undefined) return err('both username and username* present');
    username = decodeExtValue(extUser);
    if (username === undefined) return err('undecodable username*');
  }
  const missing = ['realm', 'nonce', 'uri', 'response'].filter((k) => p.get(k) === undefined);
  if (username === undefined) missing.unshift('username');
  if (missing.length) return err(`Digest credentials without ${missing.join(', ')}`);
  return ok({
    username: username!,
    realm: p.get('realm')!,
    nonce: p.get('nonce')!,
    uri: p.get('uri')!,
    response: p.get('response')!,
    algorithm: p.get('algorithm'),
    qop: p.get('qop'),
    nc: p.get('nc'),
    cnonce: p.get('cnonce'),
    opaque: p.get('opaque'),
    userhash: asciiLower(p.get('userhash') ?? 'false') === 'true',
  });
}

export interface DigestChallenge {
  readonly realm: string;
  readonly nonce: string;
  readonly algorithm: DigestAlgorithm;
  readonly qop: readonly Qop[];
  readonly opaque?: string | undefined;
  readonly stale?: boolean | undefined;
  readonly domain?: string | undefined;
}

/** Parses WWW-Authenticate / Proxy-Authenticate (client side). */
export function parseChallenge(value: string): Result<DigestChallenge> {
  const ap = parseAuthParams(value);
  if (!ap.ok) return ap;
  if (asciiLower(ap.value.scheme) !== 'digest') return err(`unsupported auth scheme ${ap.value.scheme.slice(0, 40)}`);
  const p = ap.value.params;
  const realm = p.get('realm');
  const nonce = p.get('nonce');
  if (realm === undefined || nonce === undefined) return err('Digest challenge without realm or nonce');
  const algorithm = parseAlgorithm(p.get('algorithm'));
  if (!algorithm) return err(`unsupported digest algorithm ${(p.get('algorithm') ?? '').slice(0, 40)}`);
  const qop: Qop[] = [];
  for (const q of (p.get('qop') ?? '').split(',')) {
    const t = asciiLower(q.trim());
    if (t === 'auth' || t === 'auth-int') qop.push(t);
  }
  return ok({ realm, nonce, algorithm, qop, opaque: p.get('opaque'), stale: asciiLower(p.get('stale') ?? '') === 'true', domain: p.get('domain') });
}

/**
 * A WWW-Authenticate value (RFC 7616 §3.3): realm, nonce, opaque and qop
 * quoted; algorithm and stale as tokens.
 */
export function formatChallenge(c: DigestChallenge): string {
  let out = `Digest realm=${quote(c.realm)}`;
  if (c.domain !== undefined) out += `, domain=${quote(c.domain)}`;
  out += `, nonce=${quote(c.nonce)}`;
  if (c.opaque !== undefined) out += `, opaque=${quote(c.opaque)}`;
  if (c.stale) out += ', stale=true';
  out += `, algorithm=${c.algorithm}`;
  if (c.qop.length) out += `, qop=${quote(c.qop.join(','))}`;
  return out;
}

export interface CredentialsInput extends DigestInput {
  opaque?: string;
}

/** An Authorization value answering a challenge (client side, and tests). */
export function formatCredentials(input: CredentialsInput): string {
  const c = input.qop !== undefined && input.nc === undefined ? { ...input, nc: '00000001' } : input;
  const response = computeDigestResponse(c);
  let out = `Digest username=${quote(c.username)}, realm=${quote(c.realm)}, nonce=${quote(c.nonce)}, uri=${quote(c.uri)}`;
  out += `, response=${quote(response)}, algorithm=${c.algorithm}`;
  if (c.qop !== undefined) out += `, qop=${c.qop}, nc=${c.nc ?? ''}, cnonce=${quote(c.cnonce ?? '')}`;
  if (c.opaque !== undefined) out += `, opaque=${quote(c.opaque)}`;
  return out;
}

/** nc-value = 8LHEX (RFC 7616 §3.4); returns the count or undefined. */
export function parseNonceCount(nc: string | undefined): number | undefined {
  if (nc === undefined || nc.length !== 8) return undefined;
  for (let i = 0; i < 8; i++) if (!hasClass(nc.charCodeAt(i), CharClass.HEX)) return undefined;
  return parseInt(nc, 16);
}

