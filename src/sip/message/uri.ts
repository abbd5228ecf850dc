/**
 * URIs as they appear in SIP: SIP and SIPS URIs (RFC 3261 §19.1), tel
 * URIs (RFC 3966) and any other absolute URI kept opaque (RFC 3261 §25.1
 * `absoluteURI`; RFC 4475 §3.3.4 unksm2 carries `isbn:`, `http:` and
 * `name:` URIs in To, From and Contact).
 *
 * Escapes are never resolved in the parsed fields: `user`, `password`,
 * parameters and headers hold exactly the received text, so a value is
 * unescaped at most once, by the one place that needs it (comparison,
 * address-of-record), never twice (RFC 4475 §3.1.1.3, esc01:
 * `value%25%34%31` is `value%41`, not `valueA`).
 */
import { isIPv6 } from 'node:net';
import { err, ok, type Result } from './result.js';
import { CharClass, allOf, allOfEscaped, asciiLower, hasClass, parseDigits } from './syntax.js';

export type HostKind = 'name' | 'ipv4' | 'ipv6';

export interface UriParam {
  /** Name as received (escapes kept). */
  readonly name: string;
  /** Unescaped lower-case name, for lookup (`%6C%72` is `lr`). */
  readonly key: string;
  /** Value as received (escapes kept); null when there is no `=`. */
  readonly value: string | null;
}

export interface SipUri {
  readonly scheme: 'sip' | 'sips';
  /** User part as received, escapes kept; may contain `;` (RFC 4475 §3.1.1.9, semiuri). */
  readonly user: string | undefined;
  readonly password: string | undefined;
  /** Host as received; IPv6 references keep their brackets. */
  readonly host: string;
  readonly hostKind: HostKind;
  readonly port: number | undefined;
  readonly params: readonly UriParam[];
  /** Everything after `?`, as received. Never turned into header fields (RFC 4475 §3.1.2.11). */
  readonly headers: string | undefined;
  readonly raw: string;
}

export interface TelUri {
  readonly scheme: 'tel';
  /** The telephone-subscriber number, visual separators kept. */
  readonly number: string;
  readonly params: readonly UriParam[];
  readonly raw: string;
}

/** Any other scheme: kept whole, never interpreted. */
export interface OtherUri {
  readonly scheme: string;
  readonly opaque: string;
  readonly raw: string;
}

export type Uri = SipUri | TelUri | OtherUri;

export function isSipUri(u: Uri): u is SipUri {
  return u.scheme === 'sip' || u.scheme === 'sips';
}

export function isTelUri(u: Uri): u is TelUri {
  return u.scheme === 'tel';
}

/**
 * The lower-case scheme of a URI-looking string, or undefined when the
 * text does not start with `scheme ":"` (RFC 3986 §3.1). `<sip:x>` has no
 * scheme: RFC 4475 §3.1.2.7 (ltgtruri) is a 400, not a 416.
 */
export function schemeOf(raw: string): string | undefined {
  const colon = raw.indexOf(':');
  if (colon <= 0) return undefined;
  const c0 = raw.charCodeAt(0);
  const isAlpha = (c0 >= 0x41 && c0 <= 0x5a) || (c0 >= 0x61 && c0 <= 0x7a);
  if (!isAlpha || !allOf(raw, CharClass.SCHEME, 0, colon)) return undefined;
  return asciiLower(raw.slice(0, colon));
}

export function parseUri(raw: string): Result<Uri> {
  const scheme = schemeOf(raw);
  if (scheme === undefined) return err('not a URI (no scheme)');
  if (scheme === 'sip' || scheme === 'sips') return parseSipUri(raw);
  if (scheme === 'tel') return parseTelUri(raw);
  const opaque = raw.slice(scheme.length + 1);
  if (opaque === '') return err(`empty ${scheme}: URI`);
  for (let i = 0; i < opaque.length; i++) {
    const c = opaque.charCodeAt(i);
    // RFC 3986 has no whitespace, controls, quotes or angle brackets in a URI.
    if (c <= 0x20 || c === 0x7f || c === 0x22 || c === 0x3c || c === 0x3e) return err(`invalid character in ${scheme}: URI`);
  }
  return ok({ scheme, opaque, raw });
}

/** RFC 3261 §19.1.1 / §25.1 SIP-URI and SIPS-URI. */
export function parseSipUri(raw: string): Result<SipUri> {
  const scheme = schemeOf(raw);
  if (scheme !== 'sip' && scheme !== 'sips') return err('not a sip: or sips: URI');
  const start = scheme.length + 1;
  const end = raw.length;
  // The userinfo never contains an unescaped '@' (user, password, params
  // and headers all exclude it), so the first '@' ends it.
  const at = raw.indexOf('@', start);
  let user: string | undefined;
  let password: string | undefined;
  let hostStart = start;
  if (at >= 0) {
    const colon = raw.indexOf(':', start);
    const userEnd = colon >= 0 && colon < at ? colon : at;
    if (userEnd === start) return err('empty user part in SIP URI');
    if (!allOfEscaped(raw, CharClass.USER, start, userEnd)) return err('invalid character or escape in SIP URI user part');
    user = raw.slice(start, userEnd);
    if (userEnd < at) {
      if (at > userEnd + 1 && !allOfEscaped(raw, CharClass.PASSWORD, userEnd + 1, at)) return err('invalid character in SIP URI password');
      password = raw.slice(userEnd + 1, at);
    }
    hostStart = at + 1;
  }
  let headersStart = raw.indexOf('?', hostStart);
  const paramsEnd = headersStart >= 0 ? headersStart : end;
  let hostEnd = raw.indexOf(';', hostStart);
  if (hostEnd < 0 || hostEnd > paramsEnd) hostEnd = paramsEnd;
  const hp = parseHostPort(raw, hostStart, hostEnd);
  if (typeof hp === 'string') return err(`SIP URI ${hp}`);
  const params = parseUriParams(raw, hostEnd, paramsEnd);
  if (typeof params === 'string') return err(params);
  let headers: string | undefined;
  if (headersStart >= 0) {
    headersStart++;
    const check = checkUriHeaders(raw, headersStart, end);
    if (check) return err(check);
    headers = raw.slice(headersStart);
  }
  return ok({ scheme, user, password, host: hp.host, hostKind: hp.kind, port: hp.port, params, headers, raw });
}

/** RFC 3966 tel URI; numbers are checked loosely (digits and visual separators). */
export function parseTelUri(raw: string): Result<TelUri> {
  if (schemeOf(raw) !== 'tel') return err('not a tel: URI');
  const start = 4;
  let numEnd = raw.indexOf(';', start);
  if (numEnd < 0) numEnd = raw.length;
  const number = raw.slice(start, numEnd);
  let digits = 0;
  for (let i = 0; i < number.length; i++) {
    const c = number.charCodeAt(i);
    if (hasClass(c, CharClass.HEX)) digits++;
    else if (c === 0x2b && i === 0) continue;
    else if (c !== 0x2d && c !== 0x2e && c !== 0x28 && c !== 0x29 && c !== 0x2a && c !== 0x23) return err('invalid character in tel: number');
  }
  if (digits === 0) return err('tel: URI without digits');
  const params = parseUriParams(raw, numEnd, raw.length);
  if (typeof params === 'string') return err(params);
  return ok({ scheme: 'tel', number, params, raw });
}

export interface HostPort {
  readonly host: string;
  readonly kind: HostKind;
  readonly port: number | undefined;
}

/**
 * `host [ ":" port ]` filling exactly s[start, end) (RFC 3261 §25.1
 * hostport). IPv6 references are checked with node:net, which also
 * refuses the three-colon form RFC 5954 removed from the grammar.
 */
export function parseHostPort(s: string, start: number, end: number): HostPort | string {
  if (start >= end) return 'has an empty host';
  let hostEnd: number;
  if (s.charCodeAt(start) === 0x5b) {
    const close = s.indexOf(']', start);
    if (close < 0 || close >= end) return "has an unterminated '[' in the host";
    hostEnd = close + 1;
    if (hostEnd < end && s.charCodeAt(hostEnd) !== 0x3a) return 'has text after the IPv6 reference';
  } else {
    const colon = s.indexOf(':', start);
    hostEnd = colon >= 0 && colon < end ? colon : end;
  }
  const kind = hostKind(s, start, hostEnd);
  if (!kind) return 'has an invalid host';
  let port: number | undefined;
  if (hostEnd < end) {
    port = parseDigits(s, 65535, hostEnd + 1, end);
    if (port === undefined) return 'has an invalid port';
  }
  return { host: s.slice(start, hostEnd), kind, port };
}

/** Classifies s[start, end) as a host (RFC 3261 §25.1 host), or undefined. */
export function hostKind(s: string, start: number, end: number): HostKind | undefined {
  if (start >= end) return undefined;
  if (s.charCodeAt(start) === 0x5b) {
    if (s.charCodeAt(end - 1) !== 0x5d) return undefined;
    return isIPv6(s.slice(start + 1, end - 1)) ? 'ipv6' : undefined;
  }
  if (!allOf(s, CharClass.HOSTCHAR, start, end)) return undefined;
  if (isIPv4(s, start, end)) return 'ipv4';
  return isHostname(s, start, end) ? 'name' : undefined;
}

function isIPv4(s: string, start: number, end: number): boolean {
  let parts = 0;
  let i = start;
  while (i <= end) {
    let j = i;
    while (j < end && s.charCodeAt(j) !== 0x2e) j++;
    if (j - i < 1 || j - i > 3) return false;
    const n = parseDigits(s, 255, i, j);
    if (n === undefined) return false;
    parts++;
    i = j + 1;
  }
  return parts === 4;
}

/** hostname = *( domainlabel "." ) toplabel [ "." ]; toplabel starts with a letter. */
function isHostname(s: string, start: number, end: number): boolean {
  if (s.charCodeAt(end - 1) === 0x2e) end--;
  let labelStart = start;
  let lastLabelStart = start;
  for (let i = start; i <= end; i++) {
    if (i === end || s.charCodeAt(i) === 0x2e) {
      if (i === labelStart) return false;
      if (s.charCodeAt(labelStart) === 0x2d || s.charCodeAt(i - 1) === 0x2d) return false;
      lastLabelStart = labelStart;
      labelStart = i + 1;
    }
  }
  const c = s.charCodeAt(lastLabelStart);
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** First index of `ch` in s[from, to), or `to`: bounded, so loops over parts stay linear. */
function indexIn(s: string, ch: number, from: number, to: number): number {
  for (let i = from; i < to; i++) if (s.charCodeAt(i) === ch) return i;
  return to;
}

function parseUriParams(s: string, i: number, end: number): UriParam[] | string {
  const params: UriParam[] = [];
  while (i < end) {
    // s[i] is ';' here
    const j = indexIn(s, 0x3b, i + 1, end);
    const nameEnd = indexIn(s, 0x3d, i + 1, j);
    if (!allOfEscaped(s, CharClass.PARAM, i + 1, nameEnd)) return 'empty or invalid URI parameter name';
    const name = s.slice(i + 1, nameEnd);
    let value: string | null = null;
    if (nameEnd < j) {
      if (!allOfEscaped(s, CharClass.PARAM, nameEnd + 1, j)) return `URI parameter ${name} has an empty or invalid value`;
      value = s.slice(nameEnd + 1, j);
    }
    params.push({ name, key: asciiLower(unescapeBinary(name)), value });
    i = j;
  }
  return params;
}

function checkUriHeaders(s: string, start: number, end: number): string | undefined {
  let i = start;
  while (i <= end) {
    const j = indexIn(s, 0x26, i, end);
    const eq = indexIn(s, 0x3d, i, j);
    if (eq === j) return 'URI header without "="';
    if (!allOfEscaped(s, CharClass.HNV, i, eq)) return 'invalid URI header name';
    if (eq + 1 < j && !allOfEscaped(s, CharClass.HNV, eq + 1, j)) return 'invalid URI header value';
    i = j + 1;
  }
  return undefined;
}

export function uriParam(params: readonly UriParam[], key: string): UriParam | undefined {
  for (const p of params) if (p.key === key) return p;
  return undefined;
}

/**
 * Resolves `%HH` escapes once into a byte string (one char per byte;
 * literal non-ASCII chars become their UTF-8 bytes). Byte strings compare
 * exactly, keep `%00` (RFC 4475 §3.1.1.4, escnull) and never collapse
 * invalid UTF-8.
 */
export function unescapeBinary(s: string): string {
  let simple = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 || c > 0x7f) {
      simple = false;
      break;
    }
  }
  if (simple) return s;
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && i + 2 < s.length && hasClass(s.charCodeAt(i + 1), CharClass.HEX) && hasClass(s.charCodeAt(i + 2), CharClass.HEX)) {
      out += String.fromCharCode(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c > 0x7f) {
      const cp = s.codePointAt(i) ?? c;
      if (cp > 0xffff) i++;
      out += Buffer.from(String.fromCodePoint(cp), 'utf8').toString('latin1');
    } else {
      out += s[i];
    }
  }
  return out;
}

/** Resolves `%HH` escapes once and decodes the bytes as UTF-8, for display. */
export function unescape(s: string): string {
  const bin = unescapeBinary(s);
  return bin === s ? s : Buffer.from(bin, 'latin1').toString('utf8');
}

/** Escapes a byte string minimally: chars of `flags` stay, everything else becomes %HH. */
function escapeBinary(bin: string, flags: number): string {
  let out = '';
  for (let i = 0; i < bin.length; i++) {
    const c = bin.charCodeAt(i);
    out += hasClass(c, flags) ? bin[i] : `%${c.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Escapes a user part for a SIP URI (UTF-8, RFC 3261 §19.1.2). */
export function escapeUser(user: string): string {
  return escapeBinary(Buffer.from(user, 'utf8').toString('latin1'), CharClass.USER);
}

/**
 * The address-of-record of a SIP URI in canonical form (RFC 3261 §10.3
 * step 5: parameters removed, escapes resolved). The user is re-escaped
 * minimally so the result is still a valid URI and `%75se%72` equals
 * `user`; the host is lower-cased.
 */
export function addressOfRecord(u: SipUri): string {
  const host = asciiLower(u.host);
  const port = u.port === undefined ? '' : `:${u.port}`;
  if (u.user === undefined) return `${u.scheme}:${host}${port}`;
  return `${u.scheme}:${escapeBinary(unescapeBinary(u.user), CharClass.USER)}@${host}${port}`;
}

const PARAMS_NEVER_IGNORED = ['user', 'ttl', 'method', 'maddr'];

/**
 * SIP/SIPS URI equivalence (RFC 3261 §19.1.4): user and password
 * case-sensitive after unescaping, everything else case-insensitive;
 * a port or one of user/ttl/method/maddr present in only one URI never
 * matches; other parameters matter only when present in both; URI
 * headers must all match.
 */
export function sipUriEquals(a: SipUri, b: SipUri): boolean {
  if (a.scheme !== b.scheme) return false;
  if ((a.user === undefined) !== (b.user === undefined)) return false;
  if (a.user !== undefined && b.user !== undefined && unescapeBinary(a.user) !== unescapeBinary(b.user)) return false;
  if ((a.password === undefined) !== (b.password === undefined)) return false;
  if (a.password !== undefined && b.password !== undefined && unescapeBinary(a.password) !== unescapeBinary(b.password)) return false;
  if (asciiLower(a.host) !== asciiLower(b.host)) return false;
  if (a.port !== b.port) return false;
  for (const key of PARAMS_NEVER_IGNORED) {
    if ((uriParam(a.params, key) === undefined) !== (uriParam(b.params, key) === undefined)) return false;
  }
  for (const pa of a.params) {
    const pb = uriParam(b.params, pa.key);
    if (!pb) continue;
    if (normalizedValue(pa.value) !== normalizedValue(pb.value)) return false;
  }
  return headerSet(a.headers) === headerSet(b.headers);
}

function normalizedValue(v: string | null): string | null {
  return v === null ? null : asciiLower(unescapeBinary(v));
}

function headerSet(h: string | undefined): string {
  if (h === undefined || h === '') return '';
  return h
    .split('&')
    .map((kv) => {
      const eq = kv.indexOf('=');
      return `${asciiLower(unescapeBinary(kv.slice(0, eq)))}=${unescapeBinary(kv.slice(eq + 1))}`;
    })
    .sort()
    .join('&');
}

/** Equivalence for any two URIs: SIP rules for sip/sips, tel without visual separators, otherwise exact. */
export function uriEquals(a: Uri, b: Uri): boolean {
  if (isSipUri(a) && isSipUri(b)) return sipUriEquals(a, b);
  if (isTelUri(a) && isTelUri(b)) {
    // RFC 3966 §4: visual separators are ignored when comparing numbers.
    const strip = (n: string): string => asciiLower(n.replace(/[-.()]/g, ''));
    if (strip(a.number) !== strip(b.number)) return false;
    const pa = a.params.map((p) => `${p.key}=${normalizedValue(p.value)}`).sort().join(';');
    const pb = b.params.map((p) => `${p.key}=${normalizedValue(p.value)}`).sort().join(';');
    return pa === pb;
  }
  return asciiLower(a.scheme) === asciiLower(b.scheme) && 'opaque' in a && 'opaque' in b && a.opaque === b.opaque;
}

export interface SipUriParts {
  scheme?: 'sip' | 'sips';
  /** Already escaped (see escapeUser). */
  user?: string;
  host: string;
  port?: number;
  params?: ReadonlyArray<readonly [string, string | null]>;
  headers?: string;
}

/** Builds the text of a SIP URI from parts that are already escaped. */
export function formatSipUri(p: SipUriParts): string {
  let out = `${p.scheme ?? 'sip'}:`;
  if (p.user !== undefined) out += `${p.user}@`;
  out += p.host;
  if (p.port !== undefined) out += `:${p.port}`;
  for (const [name, value] of p.params ?? []) out += value === null ? `;${name}` : `;${name}=${value}`;
  if (p.headers) out += `?${p.headers}`;
  return out;
}
