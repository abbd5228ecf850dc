/**
 * The file-name gate every request passes before the route table sees it.
 *
 * The server itself never touches the filesystem; the route table (the
 * `lookup` function) decides what exists. This gate still refuses the names
 * that are attacks on whatever might sit behind a route table (a directory
 * of firmware images, say): parent-directory components, absolute and
 * drive paths, backslash separators, control bytes and overlong names.
 *
 * Nothing here *normalises* a name. The accepted string is byte-for-byte
 * what the phone sent, restricted to printable ASCII: no Unicode folding
 * (U+212A KELVIN SIGN lower-cases to "k", fullwidth dots are not dots to a
 * filesystem but may be to NFKC), no percent-decoding, no collapsing of
 * "a//b". Case-insensitive matching is the route table's job, on ASCII only.
 */
import { TftpErrorCode } from './packet.js';

/** Longest accepted name, in bytes. Phone boot files are < 64 bytes; 255 is the common NAME_MAX. */
export const MAX_NAME_BYTES = 255;

export type NameCheck =
  | { ok: true; name: string }
  | { ok: false; code: number; reason: string };

export interface NameRules {
  /**
   * Accept one leading "/" and look the rest up ("/spa525G.cfg" → "spa525G.cfg").
   * Off by default: absolute names are refused. Cisco SPA's factory profile
   * rule is "/spa$PSN.cfg" (shared/vendors.md §Cisco SPA), so an operator
   * with such phones may need this.
   */
  stripLeadingSlash?: boolean;
}

const SLASH = 0x2f;
const BACKSLASH = 0x5c;
const DOT = 0x2e;
const COLON = 0x3a;

function refuse(reason: string): NameCheck {
  return { ok: false, code: TftpErrorCode.ACCESS_VIOLATION, reason };
}

export function checkFileName(raw: Buffer, rules: NameRules = {}): NameCheck {
  if (raw.length === 0) return refuse('empty file name');
  if (raw.length > MAX_NAME_BYTES) return refuse(`file name longer than ${MAX_NAME_BYTES} bytes`);

  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (c < 0x20 || c === 0x7f) return refuse('file name contains a control byte');
    if (c > 0x7e) return refuse('file name contains a non-ASCII byte');
    if (c === BACKSLASH) return refuse('file name contains a backslash');
  }

  let start = 0;
  if (raw[0] === SLASH) {
    if (!rules.stripLeadingSlash) return refuse('absolute file name');
    start = 1;
    if (raw.length === 1 || raw[1] === SLASH) return refuse('absolute file name');
  }
  if (raw.length - start >= 2 && isLetter(raw[start]) && raw[start + 1] === COLON) {
    return refuse('file name starts with a drive letter');
  }
  // RFC 1350 says nothing about paths; refusing every ".." component (not
  // just a leading one) keeps "a/../../x" out while "..hidden" stays legal.
  let compStart = start;
  for (let i = start; i <= raw.length; i++) {
    if (i === raw.length || raw[i] === SLASH) {
      if (i - compStart === 2 && raw[compStart] === DOT && raw[compStart + 1] === DOT) {
        return refuse("file name has a '..' component");
      }
      compStart = i + 1;
    }
  }
  return { ok: true, name: raw.toString('latin1', start) };
}

function isLetter(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}
