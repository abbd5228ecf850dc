/**
 * CSeq = 1*DIGIT LWS Method (RFC 3261 §20.16). The number must fit in 32
 * bits unsigned (§8.1.1.5); RFC 4475 §3.1.2.4 (scalar02) and §3.1.2.5
 * (scalarlg) carry numbers far above that.
 */
import { err, ok, type Result } from './result.js';
import { isToken, isWsp, parseDigits, skipWs, trimEndIndex } from './syntax.js';

export const MAX_CSEQ = 0xffffffff;

export interface CSeq {
  readonly seq: number;
  readonly method: string;
}

export function parseCSeq(value: string): Result<CSeq> {
  const end = trimEndIndex(value, 0, value.length);
  const start = skipWs(value, 0, end);
  let i = start;
  while (i < end && !isWsp(value.charCodeAt(i))) i++;
  if (i === start) return err('empty CSeq');
  const seq = parseDigits(value, MAX_CSEQ, start, i);
  if (seq === undefined) return err('CSeq number is not a 32-bit unsigned integer');
  const m = skipWs(value, i, end);
  if (m === i || m >= end) return err('CSeq needs a number, whitespace and a method');
  if (!isToken(value, m, end)) return err('CSeq method is not a token');
  return ok({ seq, method: value.slice(m, end) });
}

export function formatCSeq(c: CSeq): string {
  return `${c.seq} ${c.method}`;
}
