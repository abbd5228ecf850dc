/**
 * Content-Type and Accept (RFC 3261 §20.1, §20.15; media-type grammar of
 * §25.1): used to answer 415 for bodies sipsec cannot read and 406 when
 * the client accepts nothing sipsec could answer with (RFC 4475 §3.3.6
 * invut, §3.3.15 sdp01).
 */
import { splitList } from './headers.js';
import { findParam, parseParams, type Param } from './params.js';
import { err, ok, type Result } from './result.js';
import { asciiLower, isToken, skipWs, trimEndIndex } from './syntax.js';

export interface MediaType {
  /** Lower-case `type/subtype`. */
  readonly essence: string;
  readonly type: string;
  readonly subtype: string;
  readonly params: readonly Param[];
}

export function parseMediaType(value: string): Result<MediaType> {
  const end = trimEndIndex(value, 0, value.length);
  const start = skipWs(value, 0, end);
  const slash = value.indexOf('/', start);
  if (slash < 0 || slash >= end) return err("media type without '/'");
  const typeEnd = trimEndIndex(value, start, slash);
  if (!isToken(value, start, typeEnd)) return err('invalid media type');
  const subStart = skipWs(value, slash + 1, end);
  let i = subStart;
  while (i < end && value.charCodeAt(i) !== 0x3b && value.charCodeAt(i) !== 0x20 && value.charCodeAt(i) !== 0x09) i++;
  if (!isToken(value, subStart, i)) return err('invalid media subtype');
  const p = parseParams(value, i, end);
  if (typeof p === 'string') return err(`media type ${p}`);
  if (p.end < end) return err('unexpected text after media type');
  const type = asciiLower(value.slice(start, typeEnd));
  const subtype = asciiLower(value.slice(subStart, i));
  return ok({ essence: `${type}/${subtype}`, type, subtype, params: p.params });
}

/** The q-value of a media range (RFC 3261 §20.1 accept-params); 1 when absent or malformed. */
function qValue(params: readonly Param[]): number {
  const q = findParam(params, 'q');
  if (!q || q.value === null) return 1;
  const n = Number(q.value);
  return Number.isFinite(n) && n >= 0 && n <= 1 ? n : 1;
}

/**
 * Whether an Accept header allows `essence` (e.g. `application/sdp`).
 * `acceptValues` are the values of every Accept field. No Accept field
 * means application/sdp only (§20.1); an empty one means nothing.
 * The most specific matching range decides, and q=0 refuses.
 */
export function accepts(acceptValues: readonly string[], essence: string): Result<boolean> {
  if (acceptValues.length === 0) return ok(essence === 'application/sdp');
  const [type] = essence.split('/');
  let best = -1;
  let bestQ = 0;
  for (const value of acceptValues) {
    const items = splitList(value);
    if (!items.ok) return items;
    for (const item of items.value) {
      const mt = parseMediaType(item);
      if (!mt.ok) return err(`Accept: ${mt.error}`);
      const m = mt.value;
      let specificity = -1;
      if (m.essence === essence) specificity = 2;
      else if (m.type === type && m.subtype === '*') specificity = 1;
      else if (m.essence === '*/*') specificity = 0;
      if (specificity > best) {
        best = specificity;
        bestQ = qValue(m.params);
      }
    }
  }
  return ok(best >= 0 && bestQ > 0);
}
