/**
 * Semicolon parameters of header values: `*( SEMI generic-param )` with
 * `generic-param = token [ EQUAL gen-value ]` and
 * `gen-value = token / host / quoted-string` (RFC 3261 §25.1). SEMI and
 * EQUAL allow whitespace on both sides (RFC 4475 §3.1.1.1, wsinv:
 * `;   tag    = 1918181833n`).
 *
 * URI parameters (inside `sip:...;lr`) are a different grammar and live in
 * uri.ts.
 */
import { CharClass, asciiLower, hasClass, quote, readQuoted, skipWs } from './syntax.js';

export interface Param {
  /** Name as received. */
  readonly name: string;
  /** Lower-case name, for case-insensitive lookup (RFC 3261 §7.3.1). */
  readonly key: string;
  /** Value with quotes removed and quoted-pairs resolved; null when the parameter has no `=`. */
  readonly value: string | null;
  /** The value was a quoted-string (serialized back with quotes). */
  readonly quoted: boolean;
}

export interface ParamsParse {
  readonly params: Param[];
  /** Index of the first char that is not part of the parameter list. */
  readonly end: number;
}

/**
 * Reads parameters starting at s[i] (which should be `;` or whitespace
 * before it). Stops at the first char that cannot continue the list and
 * reports where; the caller decides whether trailing text is an error.
 */
export function parseParams(s: string, i: number, end = s.length): ParamsParse | string {
  const params: Param[] = [];
  for (;;) {
    const j = skipWs(s, i, end);
    if (j >= end || s.charCodeAt(j) !== 0x3b) return { params, end: j };
    let k = skipWs(s, j + 1, end);
    const nameStart = k;
    while (k < end && hasClass(s.charCodeAt(k), CharClass.TOKEN)) k++;
    if (k === nameStart) return 'empty or invalid parameter name';
    const name = s.slice(nameStart, k);
    k = skipWs(s, k, end);
    if (k < end && s.charCodeAt(k) === 0x3d) {
      k = skipWs(s, k + 1, end);
      if (k < end && s.charCodeAt(k) === 0x22) {
        const q = readQuoted(s, k, end);
        if (typeof q === 'string') return `parameter ${name}: ${q}`;
        params.push({ name, key: asciiLower(name), value: q.value, quoted: true });
        i = q.end;
        continue;
      }
      const valueStart = k;
      while (k < end && hasClass(s.charCodeAt(k), CharClass.GENVALUE)) k++;
      if (k === valueStart) return `parameter ${name} has an empty or invalid value`;
      params.push({ name, key: asciiLower(name), value: s.slice(valueStart, k), quoted: false });
      i = k;
      continue;
    }
    params.push({ name, key: asciiLower(name), value: null, quoted: false });
    i = k;
  }
}

export function findParam(params: readonly Param[], key: string): Param | undefined {
  for (const p of params) if (p.key === key) return p;
  return undefined;
}

/** The value of a parameter: undefined when absent, '' when present without value. */
export function paramValue(params: readonly Param[], key: string): string | undefined {
  const p = findParam(params, key);
  if (!p) return undefined;
  return p.value ?? '';
}

export function formatParams(params: readonly Param[]): string {
  let out = '';
  for (const p of params) {
    out += `;${p.name}`;
    if (p.value !== null) out += `=${p.quoted ? quote(p.value) : p.value}`;
  }
  return out;
}

/** Makes a Param; quotes the value when it is not a valid gen-value. */
export function param(name: string, value: string | null = null): Param {
  let quoted = false;
  if (value !== null) {
    for (let i = 0; i < value.length; i++) {
      if (!hasClass(value.charCodeAt(i), CharClass.GENVALUE)) {
        quoted = true;
        break;
      }
    }
    if (value === '') quoted = true;
  }
  return { name, key: asciiLower(name), value, quoted };
}
