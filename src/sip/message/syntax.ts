/**
 * RFC 3261 §25.1 basic rules as lookup tables, so the hot parsing paths
 * scan characters with one array read instead of regular expressions (no
 * backtracking, nothing quadratic on hostile input).
 */

const TOKEN = 1 << 0; // token
const WORD = 1 << 1; // word (Call-ID)
const UNRESERVED = 1 << 2; // alphanum / mark
const USER = 1 << 3; // unreserved / user-unreserved (escapes handled apart)
const PASSWORD = 1 << 4; // unreserved / "&" / "=" / "+" / "$" / ","
const PARAM = 1 << 5; // paramchar without escapes: param-unreserved / unreserved
const HNV = 1 << 6; // hname/hvalue chars without escapes: hnv-unreserved / unreserved
const HEX = 1 << 7;
const SCHEME = 1 << 8; // ALPHA / DIGIT / "+" / "-" / "." (RFC 3986 §3.1)
const HOSTCHAR = 1 << 9; // alphanum / "-" / "."
const GENVALUE = 1 << 10; // token chars plus ":" "[" "]" (gen-value = token / host)

export const CharClass = { TOKEN, WORD, UNRESERVED, USER, PASSWORD, PARAM, HNV, HEX, SCHEME, HOSTCHAR, GENVALUE } as const;

const table = new Uint16Array(128);

function mark(chars: string, flags: number): void {
  for (let i = 0; i < chars.length; i++) table[chars.charCodeAt(i)] |= flags;
}

const ALPHA = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const DIGIT = '0123456789';
const ALNUM = ALPHA + DIGIT;
const MARK = "-_.!~*'()";

mark(ALNUM + "-.!%*_+`'~", TOKEN | WORD | GENVALUE);
mark('()<>:\\"/[]?{}', WORD);
mark(ALNUM + MARK, UNRESERVED | USER | PASSWORD | PARAM | HNV);
mark('&=+$,;?/', USER);
mark('&=+$,', PASSWORD);
mark('[]/:&+$', PARAM);
mark('[]/?:+$', HNV);
mark(DIGIT + 'abcdefABCDEF', HEX);
mark(ALNUM + '+-.', SCHEME);
mark(ALNUM + '-.', HOSTCHAR);
mark(':[]', GENVALUE);

export function hasClass(code: number, flags: number): boolean {
  return code < 128 && (table[code] & flags) !== 0;
}

export function isTokenChar(code: number): boolean {
  return code < 128 && (table[code] & TOKEN) !== 0;
}

/** Every char of s[start, end) is in `flags`; empty is false. */
export function allOf(s: string, flags: number, start = 0, end = s.length): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || (table[c] & flags) === 0) return false;
  }
  return true;
}

export function isToken(s: string, start = 0, end = s.length): boolean {
  return allOf(s, TOKEN, start, end);
}

/**
 * Like allOf, but `%HH` escapes (RFC 3261 §19.1.2 `escaped`) are also
 * accepted, and a `%` not followed by two hex digits is refused.
 */
export function allOfEscaped(s: string, flags: number, start = 0, end = s.length): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25) {
      if (i + 2 >= end) return false;
      if (!hasClass(s.charCodeAt(i + 1), HEX) || !hasClass(s.charCodeAt(i + 2), HEX)) return false;
      i += 2;
      continue;
    }
    if (c >= 128 || (table[c] & flags) === 0) return false;
  }
  return true;
}

export function isWsp(code: number): boolean {
  return code === 0x20 || code === 0x09;
}

/** Index of the first non-SP/HTAB char at or after i (header values are already unfolded). */
export function skipWs(s: string, i: number, end = s.length): number {
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09) break;
    i++;
  }
  return i;
}

/** Index after the last non-SP/HTAB char before end. */
export function trimEndIndex(s: string, start: number, end: number): number {
  while (end > start) {
    const c = s.charCodeAt(end - 1);
    if (c !== 0x20 && c !== 0x09) break;
    end--;
  }
  return end;
}

export interface Quoted {
  /** Index just after the closing DQUOTE. */
  readonly end: number;
  /** The content with quoted-pairs resolved. */
  readonly value: string;
}

/**
 * Reads a quoted-string starting at s[i] === '"' (RFC 3261 §25.1):
 * qdtext is LWS, %x21, %x23-5B, %x5D-7E or UTF-8 non-ASCII; quoted-pair is
 * "\" followed by any of %x00-09 / %x0B-0C / %x0E-7F. So a NUL is fine
 * when escaped (RFC 4475 §3.1.1.2, intmeth) but a bare control is not.
 * Returns a string error when unterminated (RFC 4475 §3.1.2.6, quotbal).
 */
export function readQuoted(s: string, i: number, end = s.length): Quoted | string {
  let out = '';
  let runStart = i + 1;
  for (let j = i + 1; j < end; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x22) {
      out += s.slice(runStart, j);
      return { end: j + 1, value: out };
    }
    if (c === 0x5c) {
      if (j + 1 >= end) break;
      const n = s.charCodeAt(j + 1);
      if (n === 0x0a || n === 0x0d || n > 0x7f) return 'invalid quoted-pair in quoted string';
      out += s.slice(runStart, j) + s[j + 1];
      j++;
      runStart = j + 1;
      continue;
    }
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return 'control character in quoted string';
  }
  return 'unterminated quoted string';
}

/** Makes a quoted-string, escaping only DQUOTE and backslash. */
export function quote(value: string): string {
  let needs = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) {
      needs = true;
      break;
    }
  }
  if (!needs) return `"${value}"`;
  let out = '"';
  for (const ch of value) out += ch === '"' || ch === '\\' ? `\\${ch}` : ch;
  return `${out}"`;
}

/**
 * Lower-cases ASCII letters only: RFC 3261 case-insensitivity is ASCII
 * case-insensitivity, and String#toLowerCase would also fold non-ASCII
 * characters (and allocates even when nothing changes).
 */
export function asciiLower(s: string): string {
  let upper = false;
  let ascii = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) upper = true;
    else if (c > 0x7f) ascii = false;
  }
  if (!upper) return s;
  if (ascii) return s.toLowerCase();
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c >= 0x41 && c <= 0x5a ? String.fromCharCode(c + 0x20) : s[i];
  }
  return out;
}

/** Parses 1*DIGIT; undefined on anything else or when above max. */
export function parseDigits(s: string, max: number, start = 0, end = s.length): number | undefined {
  if (end <= start) return undefined;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return undefined;
    n = n * 10 + c;
    // Leading zeros keep n at 0, so any length of them is fine (RFC 4475 §3.1.1.1).
    if (n > max) return undefined;
  }
  return n;
}

/** Any control character but HTAB (CR and LF never survive line splitting and unfolding). */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

/** Controls other than HTAB, CR and LF: one scan of a whole message head finds whether any header value needs a closer look. */
const CONTROL_IN_LINES = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

export function hasLineControl(text: string): boolean {
  return CONTROL_IN_LINES.test(text);
}

/** Whether a header value holds a control character at all, escaped or not (HTAB aside). */
export function hasControl(value: string): boolean {
  return CONTROL.test(value);
}

/**
 * The first control character (HTAB aside) a header value holds outside a
 * quoted-pair, or undefined. RFC 3261 §25.1: values are TEXT-UTF8, LWS and
 * tokens; the only place a control may appear is escaped in a
 * quoted-string (`"\<NUL>"`, RFC 4475 §3.1.1.2 intmeth). A bare NUL is
 * what C parsers in phones truncate at.
 */
export function bareControl(value: string): number | undefined {
  if (!CONTROL.test(value)) return undefined;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (quoted && c === 0x5c) {
      i++;
      continue;
    }
    if (c === 0x22) quoted = !quoted;
    else if ((c < 0x20 && c !== 0x09) || c === 0x7f) return c;
  }
  return undefined;
}
