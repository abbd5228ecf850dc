/**
 * The Via header (RFC 3261 §20.42, §25.1 via-parm):
 *
 *   via-parm      = sent-protocol LWS sent-by *( SEMI via-params )
 *   sent-protocol = protocol-name SLASH protocol-version SLASH transport
 *   sent-by       = host [ COLON port ]
 *
 * SLASH and COLON allow whitespace on both sides (RFC 4475 §3.1.1.1,
 * wsinv: `SIP  /   2.0 /UDP`). Transports are tokens; unknown ones are
 * kept (RFC 4475 §3.1.1.10, transports).
 */
import { splitList } from './headers.js';
import { findParam, formatParams, parseParams, type Param } from './params.js';
import { err, ok, type Result } from './result.js';
import { CharClass, asciiLower, hasClass, isWsp, parseDigits, skipWs, trimEndIndex } from './syntax.js';
import { hostKind, type HostKind } from './uri.js';

/** RFC 3261 §8.1.1.7: branches of RFC 3261 elements start with this. */
export const MAGIC_COOKIE = 'z9hG4bK';

export interface Via {
  readonly protocol: string;
  readonly version: string;
  /** Upper-cased (UDP, TCP, TLS, SCTP, WS, WSS, or anything else). */
  readonly transport: string;
  readonly host: string;
  readonly hostKind: HostKind;
  readonly port: number | undefined;
  readonly params: readonly Param[];
  readonly branch: string | undefined;
  readonly received: string | undefined;
  /** RFC 3581: true when present without a value (a request asking for it), else the port. */
  readonly rport: number | true | undefined;
  readonly maddr: string | undefined;
  readonly raw: string;
}

function readToken(s: string, i: number, end: number): number {
  while (i < end && hasClass(s.charCodeAt(i), CharClass.TOKEN)) i++;
  return i;
}

export function parseVia(value: string): Result<Via> {
  const end = trimEndIndex(value, 0, value.length);
  let i = skipWs(value, 0, end);
  const raw = value.slice(i, end);
  const parts: string[] = [];
  for (let n = 0; n < 3; n++) {
    if (n > 0) {
      i = skipWs(value, i, end);
      if (value.charCodeAt(i) !== 0x2f) return err("Via sent-protocol needs 'SIP/2.0/transport'");
      i = skipWs(value, i + 1, end);
    }
    const t = readToken(value, i, end);
    if (t === i) return err('Via sent-protocol has an empty or invalid part');
    parts.push(value.slice(i, t));
    i = t;
  }
  if (i >= end || !isWsp(value.charCodeAt(i))) return err('Via needs whitespace between protocol and sent-by');
  i = skipWs(value, i, end);
  // sent-by: host up to whitespace, ':' or ';' (IPv6 references in brackets).
  const hostStart = i;
  if (value.charCodeAt(i) === 0x5b) {
    const close = value.indexOf(']', i);
    if (close < 0 || close >= end) return err("Via sent-by has an unterminated '['");
    i = close + 1;
  } else {
    while (i < end) {
      const c = value.charCodeAt(i);
      if (c === 0x3a || c === 0x3b || isWsp(c)) break;
      i++;
    }
  }
  const kind = hostKind(value, hostStart, i);
  if (!kind) return err('Via sent-by has an invalid host');
  const host = value.slice(hostStart, i);
  let port: number | undefined;
  let j = skipWs(value, i, end);
  if (j < end && value.charCodeAt(j) === 0x3a) {
    j = skipWs(value, j + 1, end);
    let k = j;
    while (k < end && value.charCodeAt(k) >= 0x30 && value.charCodeAt(k) <= 0x39) k++;
    port = parseDigits(value, 65535, j, k);
    if (port === undefined) return err('Via sent-by has an invalid port');
    i = k;
  }
  const p = parseParams(value, i, end);
  if (typeof p === 'string') return err(`Via ${p}`);
  if (p.end < end) return err('unexpected text in Via');
  const params = p.params;
  const rportParam = findParam(params, 'rport');
  let rport: number | true | undefined;
  if (rportParam) {
    if (rportParam.value === null) rport = true;
    else {
      const n = parseDigits(rportParam.value, 65535);
      if (n === undefined) return err('Via rport is not a port number');
      rport = n;
    }
  }
  return ok({
    protocol: parts[0]!,
    version: parts[1]!,
    transport: parts[2]!.toUpperCase(),
    host,
    hostKind: kind,
    port,
    params,
    branch: findParam(params, 'branch')?.value ?? undefined,
    received: findParam(params, 'received')?.value ?? undefined,
    rport,
    maddr: findParam(params, 'maddr')?.value ?? undefined,
    raw,
  });
}

export function parseViaList(value: string): Result<Via[]> {
  // Usual case, one value: parseVia checks the whole text itself.
  if (value.indexOf(',') < 0) {
    const one = parseVia(value);
    return one.ok ? ok([one.value]) : one;
  }
  const items = splitList(value);
  if (!items.ok) return items;
  if (items.value.length === 0) return err('empty Via');
  const out: Via[] = [];
  for (const item of items.value) {
    const v = parseVia(item);
    if (!v.ok) return v;
    out.push(v.value);
  }
  return ok(out);
}

/**
 * An RFC 3261 branch: the magic cookie and something after it. A bare
 * `z9hG4bK` (RFC 4475 §3.2.1, badbranch) is not unique, so the
 * transaction layer should treat it like an RFC 2543 branch.
 */
export function isRfc3261Branch(branch: string | undefined): branch is string {
  return branch !== undefined && branch.length > MAGIC_COOKIE.length && branch.startsWith(MAGIC_COOKIE);
}

/** The protocol is SIP/2.0 (case-insensitive, RFC 3261 §7.1). */
export function isSip20(v: Via): boolean {
  return asciiLower(v.protocol) === 'sip' && v.version === '2.0';
}

export interface ViaParts {
  transport: string;
  host: string;
  port?: number;
  branch: string;
  rport?: boolean;
  params?: readonly Param[];
}

export function formatVia(v: ViaParts): string {
  let out = `SIP/2.0/${v.transport.toUpperCase()} ${v.host}`;
  if (v.port !== undefined) out += `:${v.port}`;
  out += `;branch=${v.branch}`;
  if (v.rport) out += ';rport';
  return out + formatParams(v.params ?? []);
}
