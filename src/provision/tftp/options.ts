/**
 * Option negotiation for a read request (RFC 2347 §2).
 *
 * "Options which the server does not support should be omitted from the
 * OACK" and an option with a value the server will not honour may likewise
 * be left out; the transfer then runs with the RFC 1350 defaults for it.
 * Only when at least one option is acknowledged is an OACK sent; otherwise
 * the server answers with DATA block 1 as in plain RFC 1350.
 */
import type { RequestOption } from './packet.js';

/** RFC 1350 §2: blocks are 512 bytes unless RFC 2348 negotiates otherwise. */
export const DEFAULT_BLKSIZE = 512;
/** RFC 2348: "Valid values range between 8 and 65464 octets, inclusive." */
export const MIN_BLKSIZE = 8;
export const MAX_BLKSIZE = 65464;
/** RFC 2349 §"Timeout Interval Option": 1..255 seconds. */
const MIN_TIMEOUT_S = 1;
const MAX_TIMEOUT_S = 255;
/** RFC 7440 §3: 1..65535 blocks. */
const MAX_WINDOWSIZE_RFC = 65535;

export interface Limits {
  maxBlksize: number;
  maxWindowsize: number;
}

export interface Negotiated {
  blksize: number;
  windowsize: number;
  /** The client's RFC 2349 timeout in ms, or undefined when it asked for none. */
  timeoutMs: number | undefined;
  /** Name/value pairs for the OACK, in the client's order; empty → no OACK. */
  oack: Array<[string, string]>;
  /** What the client asked for, for the operator's events. */
  requested: Record<string, string>;
}

/** A decimal integer with no sign, spaces or leading "0x"; undefined otherwise. */
function parseCount(value: string): number | undefined {
  if (value.length === 0 || value.length > 10) return undefined;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
  }
  return Number(value);
}

export function negotiate(options: readonly RequestOption[], size: number, limits: Limits): Negotiated {
  const result: Negotiated = {
    blksize: DEFAULT_BLKSIZE,
    windowsize: 1,
    timeoutMs: undefined,
    oack: [],
    // No prototype: a client-chosen key such as "__proto__" or "constructor"
    // must be an ordinary entry, not a hit on Object.prototype.
    requested: Object.create(null) as Record<string, string>,
  };
  const seen = new Set<string>();
  for (const opt of options) {
    if (!Object.hasOwn(result.requested, opt.key)) result.requested[opt.key] = opt.value;
    // A repeated option is ambiguous; the first occurrence wins.
    if (seen.has(opt.key)) continue;
    seen.add(opt.key);
    const n = parseCount(opt.value);
    if (n === undefined) continue;
    switch (opt.key) {
      case 'blksize': {
        // RFC 2348: the server may answer with a smaller size than asked.
        if (n < MIN_BLKSIZE || n > MAX_BLKSIZE) break;
        result.blksize = Math.min(n, limits.maxBlksize);
        result.oack.push([opt.name, String(result.blksize)]);
        break;
      }
      case 'tsize': {
        // RFC 2349: a read request carries tsize 0 and the OACK the real size.
        // Except for an empty file: curl (7.88, lib/tftp.c) fails the download
        // with "invalid tsize -:0:- value in OACK packet" (exit 71), also
        // against tftpd-hpa. Leaving the option out is legal (RFC 2347 §2)
        // and lets libcurl-based clients fetch empty files.
        if (size > 0) result.oack.push([opt.name, String(size)]);
        break;
      }
      case 'timeout': {
        // RFC 2349: the server must answer with the same value or leave it out.
        if (n < MIN_TIMEOUT_S || n > MAX_TIMEOUT_S) break;
        result.timeoutMs = n * 1000;
        result.oack.push([opt.name, opt.value]);
        break;
      }
      case 'windowsize': {
        // RFC 7440 §3: the server may answer with a smaller window.
        if (n < 1 || n > MAX_WINDOWSIZE_RFC) break;
        result.windowsize = Math.min(n, limits.maxWindowsize);
        result.oack.push([opt.name, String(result.windowsize)]);
        break;
      }
      default:
        // RFC 2347 §2: unknown options are ignored, not refused.
        break;
    }
  }
  return result;
}
