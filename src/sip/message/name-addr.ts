/**
 * `name-addr / addr-spec` followed by header parameters: the value of
 * From, To, Contact, Route, Record-Route, Reply-To, Path and friends
 * (RFC 3261 §20.10, §25.1).
 *
 *   name-addr    = [ display-name ] LAQUOT addr-spec RAQUOT
 *   display-name = *(token LWS) / quoted-string
 *
 * Without angle brackets, everything after the first `;` is a header
 * parameter, not a URI parameter (§20.10; RFC 4475 §3.3.12 cparam01 versus
 * §3.3.13 cparam02), and a URI with `?headers`, `,` or `;` of its own
 * must be bracketed (§20: RFC 4475 §3.1.2.13, regbadct).
 */
import { splitList } from './headers.js';
import { findParam, formatParams, parseParams, type Param } from './params.js';
import { err, ok, type Result } from './result.js';
import { CharClass, hasClass, isWsp, quote, readQuoted, skipWs, trimEndIndex } from './syntax.js';
import { parseUri, type Uri } from './uri.js';

export interface NameAddr {
  /** Display name with quotes and quoted-pairs removed; undefined when absent. */
  readonly displayName: string | undefined;
  /** The display name was a quoted-string (so it may contain anything). */
  readonly displayNameQuoted: boolean;
  readonly uri: Uri;
  /** The URI was inside `<...>`. */
  readonly bracketed: boolean;
  /** Header parameters (tag, expires, q, +sip.instance, ...). */
  readonly params: readonly Param[];
  /** The element as received, trimmed: what a registrar stores "as given". */
  readonly raw: string;
}

export function parseNameAddr(value: string): Result<NameAddr> {
  const end = trimEndIndex(value, 0, value.length);
  let i = skipWs(value, 0, end);
  if (i >= end) return err('empty name-addr');
  const raw = value.slice(i, end);
  let displayName: string | undefined;
  let displayNameQuoted = false;
  let lt = -1;
  if (value.charCodeAt(i) === 0x22) {
    const q = readQuoted(value, i, end);
    if (typeof q === 'string') return err(`display name: ${q}`);
    displayName = q.value;
    displayNameQuoted = true;
    i = skipWs(value, q.end, end);
    if (i >= end || value.charCodeAt(i) !== 0x3c) return err("quoted display name not followed by '<'");
    lt = i;
  } else {
    const at = value.indexOf('<', i);
    if (at >= 0 && at < end) {
      const nameEnd = trimEndIndex(value, i, at);
      if (nameEnd > i) {
        const bad = checkTokenDisplayName(value, i, nameEnd);
        if (bad) return err(bad);
        displayName = value.slice(i, nameEnd);
      }
      lt = at;
    }
  }
  let uriText: string;
  let paramsFrom: number;
  if (lt >= 0) {
    const gt = value.indexOf('>', lt + 1);
    if (gt < 0 || gt >= end) return err("unterminated '<' in name-addr");
    // LAQUOT = SWS "<" and RAQUOT = ">" SWS: whitespace may surround the
    // brackets but not the URI inside them (RFC 4475 §3.1.2.14, badaspec).
    if (gt === lt + 1) return err('empty <> in name-addr');
    if (isWsp(value.charCodeAt(lt + 1)) || isWsp(value.charCodeAt(gt - 1))) return err('whitespace inside <> around the URI');
    uriText = value.slice(lt + 1, gt);
    paramsFrom = gt + 1;
  } else {
    let j = i;
    while (j < end) {
      const c = value.charCodeAt(j);
      if (c === 0x3b || isWsp(c)) break;
      if (c === 0x3f) return err("URI with '?' headers must be enclosed in <> (RFC 3261 §20)");
      j++;
    }
    uriText = value.slice(i, j);
    paramsFrom = j;
  }
  const uri = parseUri(uriText);
  if (!uri.ok) return err(uri.error);
  const p = parseParams(value, paramsFrom, end);
  if (typeof p === 'string') return err(p);
  if (p.end < end) {
    return err(lt >= 0 ? "unexpected text after '>'" : 'unexpected text after the URI (spaces inside an addr-spec?)');
  }
  return ok({ displayName, displayNameQuoted, uri: uri.value, bracketed: lt >= 0, params: p.params, raw });
}

/** display-name = *(token LWS): RFC 4475 §3.1.2.15 (baddn) has `Bell, Alexander`. */
function checkTokenDisplayName(s: string, start: number, end: number): string | undefined {
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (!isWsp(c) && !hasClass(c, CharClass.TOKEN)) return 'display name is neither a token sequence nor a quoted string';
  }
  return undefined;
}

/** A comma-separated list of name-addrs (Contact, Route, Record-Route, Path). */
export function parseNameAddrList(value: string): Result<NameAddr[]> {
  // Usual case, one value: parseNameAddr checks quotes and brackets itself.
  if (value.indexOf(',') < 0) {
    const one = parseNameAddr(value);
    return one.ok ? ok([one.value]) : one;
  }
  const items = splitList(value);
  if (!items.ok) return items;
  const out: NameAddr[] = [];
  for (const item of items.value) {
    const na = parseNameAddr(item);
    if (!na.ok) return na;
    out.push(na.value);
  }
  return ok(out);
}

export function tagOf(na: NameAddr): string | undefined {
  const p = findParam(na.params, 'tag');
  return p?.value ?? undefined;
}

/**
 * Writes a name-addr in the always-safe form: display name quoted, URI in
 * angle brackets (RFC 3261 §20.10 allows brackets everywhere).
 */
export function formatNameAddr(na: { displayName?: string | undefined; uri: string | Uri; params?: readonly Param[] }): string {
  const uri = typeof na.uri === 'string' ? na.uri : na.uri.raw;
  const name = na.displayName !== undefined && na.displayName !== '' ? `${quote(na.displayName)} ` : '';
  return `${name}<${uri}>${formatParams(na.params ?? [])}`;
}
