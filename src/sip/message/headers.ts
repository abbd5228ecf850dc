/**
 * Header field names and multi-value lists (RFC 3261 §7.3).
 *
 * Names are case-insensitive (§7.3.1) and many have a one-letter compact
 * form (§7.3.3 and later RFCs). Inside sipsec a header is looked up by its
 * key: the lower-case full name. The name as received is kept for
 * forwarding and logs.
 */
import { err, ok, type Result } from './result.js';
import { asciiLower, readQuoted } from './syntax.js';

/** Compact forms from the IANA SIP header registry, with the defining RFC. */
export const COMPACT_FORMS: ReadonlyMap<string, string> = new Map([
  ['a', 'accept-contact'], // RFC 3841
  ['b', 'referred-by'], // RFC 3892
  ['c', 'content-type'], // RFC 3261
  ['d', 'request-disposition'], // RFC 3841
  ['e', 'content-encoding'], // RFC 3261
  ['f', 'from'], // RFC 3261
  ['i', 'call-id'], // RFC 3261
  ['j', 'reject-contact'], // RFC 3841
  ['k', 'supported'], // RFC 3261
  ['l', 'content-length'], // RFC 3261
  ['m', 'contact'], // RFC 3261
  ['n', 'identity-info'], // RFC 4474
  ['o', 'event'], // RFC 6665
  ['r', 'refer-to'], // RFC 3515
  ['s', 'subject'], // RFC 3261
  ['t', 'to'], // RFC 3261
  ['u', 'allow-events'], // RFC 6665
  ['v', 'via'], // RFC 3261
  ['x', 'session-expires'], // RFC 4028
  ['y', 'identity'], // RFC 8224
]);

const keyCache = new Map<string, string>();

/**
 * The lookup key of a header name: lower-case, compact form expanded.
 * `%` is a token character, so `C%6Fntact` is a header of its own and
 * never Contact (RFC 4475 §3.1.1.5, esc02).
 */
export function headerKey(name: string): string {
  const hit = keyCache.get(name);
  if (hit !== undefined) return hit;
  const lower = asciiLower(name);
  const key = lower.length === 1 ? (COMPACT_FORMS.get(lower) ?? lower) : lower;
  // Bounded: names come from the network, only well-known spellings stick.
  if (keyCache.size < 512) keyCache.set(name, key);
  return key;
}

const SPECIAL_NAMES: ReadonlyMap<string, string> = new Map([
  ['call-id', 'Call-ID'],
  ['cseq', 'CSeq'],
  ['www-authenticate', 'WWW-Authenticate'],
  ['mime-version', 'MIME-Version'],
  ['rack', 'RAck'],
  ['rseq', 'RSeq'],
  ['sip-etag', 'SIP-ETag'],
  ['sip-if-match', 'SIP-If-Match'],
  ['content-id', 'Content-ID'],
]);

/** The conventional spelling of a key, for header fields sipsec writes. */
export function canonicalName(key: string): string {
  const special = SPECIAL_NAMES.get(key);
  if (special) return special;
  let out = '';
  let upper = true;
  for (const ch of key) {
    out += upper ? ch.toUpperCase() : ch;
    upper = ch === '-';
  }
  return out;
}

/**
 * Header fields that may appear at most once in a message (RFC 3261
 * §7.3.1: repeating is allowed only for comma-separated lists). A
 * duplicate of these gets 400 (RFC 4475 §3.3.8, multi01).
 */
export const SINGLETON_HEADERS: ReadonlySet<string> = new Set([
  'call-id',
  'cseq',
  'from',
  'to',
  'max-forwards',
  'content-length',
  'content-type',
  'expires',
  'min-expires',
]);

/**
 * Headers whose values contain commas that are not list separators
 * (authentication parameters, dates, free text): never split them.
 */
export const UNSPLITTABLE_HEADERS: ReadonlySet<string> = new Set([
  'www-authenticate',
  'authorization',
  'proxy-authenticate',
  'proxy-authorization',
  'authentication-info',
  'date',
  'subject',
  'call-id',
  'cseq',
  'from',
  'to',
  'user-agent',
  'server',
  'organization',
  'retry-after',
  'timestamp',
  'priority',
  'reply-to',
  'identity',
]);

/**
 * Splits a header value on the commas that separate list elements
 * (RFC 3261 §7.3.1), skipping commas inside quoted strings and `<...>`.
 * Each element is trimmed. An empty value is an empty list; an empty
 * element (`a,,b`, RFC 4475 §3.1.2.1 badinv01) or an unbalanced quote or
 * angle bracket is an error.
 */
export function splitList(value: string): Result<string[]> {
  const out: string[] = [];
  const end = value.length;
  let start = 0;
  let i = 0;
  let angle = false;
  while (i < end) {
    const c = value.charCodeAt(i);
    if (c === 0x22) {
      const q = readQuoted(value, i, end);
      if (typeof q === 'string') return err(q);
      i = q.end;
      continue;
    }
    if (c === 0x3c) {
      if (angle) return err("nested '<' in list element");
      angle = true;
    } else if (c === 0x3e) {
      if (!angle) return err("unmatched '>' in list element");
      angle = false;
    } else if (c === 0x2c && !angle) {
      const item = value.slice(start, i).trim();
      if (item === '') return err('empty element in comma-separated list');
      out.push(item);
      start = i + 1;
    }
    i++;
  }
  if (angle) return err("unterminated '<' in list element");
  const last = value.slice(start).trim();
  if (last === '') {
    if (out.length === 0) return ok(out);
    return err('empty element in comma-separated list');
  }
  out.push(last);
  return ok(out);
}
