/**
 * Numeric header values (RFC 3261 §25.1: Content-Length, Max-Forwards,
 * Expires and the delta-seconds of Contact `expires`).
 */
import { err, ok, type Result } from './result.js';
import { parseDigits, skipWs, trimEndIndex } from './syntax.js';

/** Content-Length = 1*DIGIT (§20.14). Negative or non-numeric values are framing errors (RFC 4475 §3.1.2.3, ncl). */
export function parseContentLength(value: string, max = Number.MAX_SAFE_INTEGER): Result<number> {
  const end = trimEndIndex(value, 0, value.length);
  const start = skipWs(value, 0, end);
  if (start === end) return err('empty Content-Length');
  const n = parseDigits(value, max, start, end);
  if (n !== undefined) return ok(n);
  for (let i = start; i < end; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return err('Content-Length is not a non-negative integer');
  }
  return err('Content-Length is too large');
}

/** Max-Forwards = 1*DIGIT in 0..255 (§20.22). */
export function parseMaxForwards(value: string): Result<number> {
  const end = trimEndIndex(value, 0, value.length);
  const n = parseDigits(value, 255, skipWs(value, 0, end), end);
  if (n === undefined) return err('Max-Forwards is not an integer in 0..255');
  return ok(n);
}

/** Largest delta-seconds kept: 2^32-1; bigger values are clamped rather than refused. */
export const MAX_DELTA_SECONDS = 0xffffffff;

/**
 * delta-seconds (Expires header, Contact `expires`): 1*DIGIT. An
 * overlarge value (RFC 4475 §3.1.2.4 has a 100-digit Expires) is clamped
 * to 2^32-1 so the registrar can then apply its own maximum; a
 * non-numeric value is undefined (RFC 3261 §10.3 step 7 then applies the
 * registrar default).
 */
export function parseDeltaSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const end = trimEndIndex(value, 0, value.length);
  const start = skipWs(value, 0, end);
  if (start === end) return undefined;
  for (let i = start; i < end; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
  }
  return parseDigits(value, MAX_DELTA_SECONDS, start, end) ?? MAX_DELTA_SECONDS;
}
