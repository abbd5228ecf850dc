/**
 * SDP (RFC 4566) parsing and serialisation, just enough of it for a SIP
 * registrar whose echo answers audio offers: session-level lines, media
 * sections, `c=` at both levels, and attributes kept in order with their raw
 * values. Parsing is total: `parseSdp` never throws; a malformed description
 * gives `{ ok: false, error }` with one precise line naming what is wrong.
 *
 * Deliberate leniencies (each is a deviation a real phone has been seen to
 * make, or costs nothing to tolerate) are reported in `warnings`, never
 * silently swallowed:
 * - CRLF, LF or a mix (RFC 4566 §5 asks for CRLF, "parsers SHOULD be tolerant
 *   and also accept records terminated with a single newline character");
 * - blank lines and a missing final line break;
 * - a missing `t=` (some SIP UAs omit it) and an empty `s=`;
 * - unknown single-letter line types are kept, not fatal (RFC 4566 §5 says to
 *   ignore the whole description; refusing a call for that helps nobody).
 */

export type AddrType = 'IP4' | 'IP6';

/** `c=<nettype> <addrtype> <connection-address>` (RFC 4566 §5.7). */
export interface SdpConnection {
  netType: string;
  /** `IP4`, `IP6`, or whatever the peer wrote (kept for diagnostics). */
  addrType: string;
  address: string;
  /** IP4 multicast only: `addr/ttl[/count]`. */
  ttl?: number;
  /** Multicast address count: `addr/ttl/count` (IP4) or `addr/count` (IP6). */
  count?: number;
}

/** `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>` (§5.2). */
export interface SdpOrigin {
  username: string;
  /** Kept as text: peers send values beyond 2^53 (NTP timestamps). */
  sessionId: string;
  sessionVersion: string;
  netType: string;
  addrType: string;
  address: string;
}

/** `a=<name>` (property attribute: value null) or `a=<name>:<value>` (§5.13). */
export interface SdpAttribute {
  name: string;
  value: string | null;
}

/** A line kept verbatim: its one-letter type and everything after `=`. */
export interface SdpLine {
  type: string;
  value: string;
}

export interface SdpMedia {
  /** `audio`, `video`, `application`, ... */
  media: string;
  port: number;
  /** `m=audio 49170/2 ...`: number of consecutive ports (§5.14). */
  portCount?: number;
  /** `RTP/AVP`, `RTP/SAVP`, `RTP/SAVPF`, `UDP/TLS/RTP/SAVP`, ... exactly as written. */
  proto: string;
  /** Payload type numbers for RTP profiles, otherwise opaque tokens. */
  formats: string[];
  info?: string;
  connections: SdpConnection[];
  bandwidths: string[];
  key?: string;
  attributes: SdpAttribute[];
  /** Unknown line types seen inside this media section, in order. */
  extra: SdpLine[];
}

export interface SessionDescription {
  version: number;
  origin: SdpOrigin;
  sessionName: string;
  info?: string;
  uri?: string;
  emails: string[];
  phones: string[];
  connection?: SdpConnection;
  bandwidths: string[];
  /** `t=`, `r=` and `z=` lines in order; the echo never schedules sessions. */
  timing: SdpLine[];
  key?: string;
  attributes: SdpAttribute[];
  /** Unknown line types at session level, in order. */
  extra: SdpLine[];
  media: SdpMedia[];
}

export type SdpParseResult =
  | { ok: true; sdp: SessionDescription; warnings: string[] }
  | { ok: false; error: string };

/** Bodies larger than this are refused before any work (a SIP body over TLS is rarely above 4 KB). */
export const MAX_SDP_LENGTH = 65536;

class SdpSyntaxError extends Error {}

function fail(lineNo: number, message: string): never {
  throw new SdpSyntaxError(lineNo > 0 ? `SDP line ${lineNo}: ${message}` : `SDP: ${message}`);
}

/** Printable, bounded excerpt of peer input for an error message. */
export function excerpt(s: string, max = 60): string {
  // Error results are one line: control characters (CR, LF, NUL) never get through.
  const clean = s.replace(/[\u0000-\u001f\u007f]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}...` : clean;
}

function parseConnection(value: string, lineNo: number): SdpConnection {
  const parts = value.trim().split(/[ \t]+/);
  if (parts.length !== 3) {
    fail(lineNo, `c= needs "<nettype> <addrtype> <address>", got "${excerpt(value)}"`);
  }
  const [netType, addrType, addrField] = parts;
  const conn: SdpConnection = { netType, addrType, address: addrField };
  const slash = addrField.split('/');
  if (slash.length > 1) {
    conn.address = slash[0];
    const nums = slash.slice(1).map((n) => (/^\d{1,9}$/.test(n) ? Number(n) : NaN));
    if (nums.some((n) => Number.isNaN(n)) || slash.length > 3) {
      fail(lineNo, `c= address suffix must be "/ttl[/count]" (IP4) or "/count" (IP6), got "${excerpt(addrField)}"`);
    }
    // RFC 4566 §5.7: IP4 multicast is addr/ttl[/count]; IP6 has no TTL, addr/count.
    if (addrType === 'IP6') {
      if (nums.length !== 1) fail(lineNo, `c= IP6 takes only "/count", got "${excerpt(addrField)}"`);
      conn.count = nums[0];
    } else {
      conn.ttl = nums[0];
      if (nums.length === 2) conn.count = nums[1];
    }
  }
  if (conn.address === '') fail(lineNo, 'c= has an empty address');
  return conn;
}

function parseOrigin(value: string, lineNo: number): SdpOrigin {
  const parts = value.trim().split(/[ \t]+/);
  if (parts.length !== 6) {
    fail(lineNo, `o= needs 6 fields "<username> <sess-id> <sess-version> IN <addrtype> <address>", got ${parts.length}: "${excerpt(value)}"`);
  }
  const [username, sessionId, sessionVersion, netType, addrType, address] = parts;
  if (!/^\d+$/.test(sessionId)) fail(lineNo, `o= sess-id must be digits, got "${excerpt(sessionId)}"`);
  if (!/^\d+$/.test(sessionVersion)) fail(lineNo, `o= sess-version must be digits, got "${excerpt(sessionVersion)}"`);
  return { username, sessionId, sessionVersion, netType, addrType, address };
}

function parseMediaLine(value: string, lineNo: number): SdpMedia {
  const parts = value.trim().split(/[ \t]+/);
  if (parts.length < 3 || parts[0] === '') {
    fail(lineNo, `m= needs "<media> <port>[/<count>] <proto> <fmt> ...", got "${excerpt(value)}"`);
  }
  const [media, portField, proto, ...formats] = parts;
  const pm = /^(\d{1,5})(?:\/(\d{1,5}))?$/.exec(portField);
  if (!pm) fail(lineNo, `m= port must be a number (optionally /count), got "${excerpt(portField)}"`);
  const port = Number(pm[1]);
  if (port > 65535) fail(lineNo, `m= port ${port} is above 65535`);
  const m: SdpMedia = {
    media,
    port,
    proto,
    formats,
    connections: [],
    bandwidths: [],
    attributes: [],
    extra: [],
  };
  if (pm[2] !== undefined) {
    const count = Number(pm[2]);
    if (count < 1) fail(lineNo, `m= port count must be at least 1, got ${count}`);
    m.portCount = count;
  }
  // RFC 4566 §5.14 requires at least one format; a few stacks send none on
  // a rejected (port 0) stream, which is harmless.
  if (formats.length === 0 && port !== 0) {
    fail(lineNo, `m=${media} lists no formats (RFC 4566 §5.14 needs at least one)`);
  }
  return m;
}

function parseAttribute(value: string): SdpAttribute {
  const colon = value.indexOf(':');
  if (colon < 0) return { name: value, value: null };
  return { name: value.slice(0, colon), value: value.slice(colon + 1) };
}

/**
 * Parse an SDP body. Never throws: malformed input gives a one-line error
 * with the line number.
 */
export function parseSdp(text: string): SdpParseResult {
  try {
    return parseOrThrow(text);
  } catch (e) {
    if (e instanceof SdpSyntaxError) return { ok: false, error: e.message };
    // Anything else is a bug in this module; still never escape the entry point.
    return { ok: false, error: `SDP: internal parser error: ${e instanceof Error ? e.message : String(e)}` };
  }
}

function parseOrThrow(text: string): SdpParseResult {
  if (typeof text !== 'string') fail(0, 'body is not text');
  if (text.length > MAX_SDP_LENGTH) fail(0, `body is ${text.length} characters, above the ${MAX_SDP_LENGTH} limit`);
  if (text.trim() === '') fail(0, 'body is empty');
  const warnings: string[] = [];
  if (/\n/.test(text) && !/\r\n/.test(text)) warnings.push('lines end in LF, not CRLF (RFC 4566 §5)');
  // The final line break ends the last line; it does not start a blank one.
  const rawLines = text.replace(/(?:\r\n|\n|\r)$/, '').split(/\r?\n|\r/);

  let version: number | undefined;
  let origin: SdpOrigin | undefined;
  let sessionName: string | undefined;
  const session: Omit<SessionDescription, 'version' | 'origin' | 'sessionName'> = {
    emails: [],
    phones: [],
    bandwidths: [],
    timing: [],
    attributes: [],
    extra: [],
    media: [],
  };
  let current: SdpMedia | undefined;
  let sawBlank = false;

  for (let i = 0; i < rawLines.length; i++) {
    const lineNo = i + 1;
    const line = rawLines[i];
    if (line.trim() === '') {
      sawBlank = true;
      continue;
    }
    const m = /^([a-zA-Z])[ \t]*=(.*)$/.exec(line);
    if (!m) fail(lineNo, `expected "<letter>=<value>", got "${excerpt(line)}"`);
    const type = m[1];
    // RFC 4566 §5: no whitespace around "="; tolerate it after the letter
    // (seen in hand-written SDP) but strip trailing whitespace from values.
    const value = m[2].replace(/[ \t]+$/, '');

    if (version === undefined) {
      if (type !== 'v') fail(lineNo, `an SDP body must start with "v=0", got "${excerpt(line)}"`);
      if (value.trim() !== '0') fail(lineNo, `only SDP version 0 exists, got v=${excerpt(value)}`);
      version = 0;
      continue;
    }

    if (type === 'm') {
      current = parseMediaLine(value, lineNo);
      session.media.push(current);
      continue;
    }

    if (current) {
      parseMediaLevel(current, type, value, lineNo, warnings);
      continue;
    }

    switch (type) {
      case 'v':
        fail(lineNo, 'a second v= line');
        break;
      case 'o':
        if (origin) fail(lineNo, 'a second o= line');
        origin = parseOrigin(value, lineNo);
        break;
      case 's':
        if (sessionName !== undefined) fail(lineNo, 'a second s= line');
        sessionName = value;
        break;
      case 'i':
        session.info = value;
        break;
      case 'u':
        session.uri = value;
        break;
      case 'e':
        session.emails.push(value);
        break;
      case 'p':
        session.phones.push(value);
        break;
      case 'c':
        if (session.connection) fail(lineNo, 'a second session-level c= line');
        session.connection = parseConnection(value, lineNo);
        break;
      case 'b':
        session.bandwidths.push(value);
        break;
      case 't':
      case 'r':
      case 'z':
        session.timing.push({ type, value });
        break;
      case 'k':
        session.key = value;
        break;
      case 'a':
        session.attributes.push(parseAttribute(value));
        break;
      default:
        warnings.push(`line ${lineNo}: unknown line type "${type}=" kept`);
        session.extra.push({ type, value });
    }
  }

  if (version === undefined) fail(0, 'no v= line');
  if (!origin) fail(0, 'no o= line (RFC 4566 §5.2 requires one)');
  if (sessionName === undefined) {
    warnings.push('no s= line (RFC 4566 §5.3 requires one)');
    sessionName = '';
  } else if (sessionName.trim() === '') {
    warnings.push('empty s= (RFC 4566 §5.3 asks for "s= " at least)');
  }
  if (!session.timing.some((l) => l.type === 't')) warnings.push('no t= line (RFC 4566 §5.9 requires one)');
  if (sawBlank) warnings.push('blank lines ignored');

  for (const [idx, media] of session.media.entries()) {
    if (media.port !== 0 && !session.connection && media.connections.length === 0) {
      // RFC 4566 §5.7: every media section needs a c= of its own or at session level.
      fail(0, `m=${media.media} (media section ${idx + 1}) has no c= line and there is none at session level`);
    }
  }

  return {
    ok: true,
    sdp: { version, origin, sessionName, ...session },
    warnings,
  };
}

function parseMediaLevel(m: SdpMedia, type: string, value: string, lineNo: number, warnings: string[]): void {
  switch (type) {
    case 'i':
      m.info = value;
      return;
    case 'c':
      m.connections.push(parseConnection(value, lineNo));
      return;
    case 'b':
      m.bandwidths.push(value);
      return;
    case 'k':
      m.key = value;
      return;
    case 'a':
      m.attributes.push(parseAttribute(value));
      return;
    case 'o':
    case 's':
    case 't':
    case 'v':
      fail(lineNo, `${type}= is a session-level line but appears inside media section m=${m.media}`);
      break;
    default:
      warnings.push(`line ${lineNo}: line type "${type}=" not expected in a media section, kept`);
      m.extra.push({ type, value });
  }
}

// ---------------------------------------------------------------------------
// Serialisation

function formatConnection(c: SdpConnection): string {
  let addr = c.address;
  if (c.ttl !== undefined) addr += `/${c.ttl}`;
  if (c.count !== undefined) addr += `/${c.count}`;
  return `${c.netType} ${c.addrType} ${addr}`;
}

function formatAttribute(a: SdpAttribute): string {
  return a.value === null ? `a=${a.name}` : `a=${a.name}:${a.value}`;
}

/**
 * Serialise with CRLF line ends in the RFC 4566 §5 order
 * (v o s i u e p c b t r z k a, then per media m i c b k a).
 */
export function serializeSdp(sdp: SessionDescription): string {
  const out: string[] = [];
  const o = sdp.origin;
  out.push(`v=${sdp.version}`);
  out.push(`o=${o.username} ${o.sessionId} ${o.sessionVersion} ${o.netType} ${o.addrType} ${o.address}`);
  // "s= " (a single space) when empty, as RFC 4566 §5.3 recommends.
  out.push(`s=${sdp.sessionName === '' ? ' ' : sdp.sessionName}`);
  if (sdp.info !== undefined) out.push(`i=${sdp.info}`);
  if (sdp.uri !== undefined) out.push(`u=${sdp.uri}`);
  for (const e of sdp.emails) out.push(`e=${e}`);
  for (const p of sdp.phones) out.push(`p=${p}`);
  if (sdp.connection) out.push(`c=${formatConnection(sdp.connection)}`);
  for (const b of sdp.bandwidths) out.push(`b=${b}`);
  for (const t of sdp.timing) out.push(`${t.type}=${t.value}`);
  if (sdp.key !== undefined) out.push(`k=${sdp.key}`);
  for (const x of sdp.extra) out.push(`${x.type}=${x.value}`);
  for (const a of sdp.attributes) out.push(formatAttribute(a));
  for (const m of sdp.media) {
    const port = m.portCount !== undefined ? `${m.port}/${m.portCount}` : `${m.port}`;
    out.push(`m=${[m.media, port, m.proto, ...m.formats].join(' ')}`);
    if (m.info !== undefined) out.push(`i=${m.info}`);
    for (const c of m.connections) out.push(`c=${formatConnection(c)}`);
    for (const b of m.bandwidths) out.push(`b=${b}`);
    if (m.key !== undefined) out.push(`k=${m.key}`);
    for (const x of m.extra) out.push(`${x.type}=${x.value}`);
    for (const a of m.attributes) out.push(formatAttribute(a));
  }
  return out.join('\r\n') + '\r\n';
}

// ---------------------------------------------------------------------------
// Accessors

/** First attribute with that name (case-insensitive, RFC 4566 §5.13 names are tokens). */
export function getAttribute(attrs: readonly SdpAttribute[], name: string): SdpAttribute | undefined {
  const lower = name.toLowerCase();
  return attrs.find((a) => a.name.toLowerCase() === lower);
}

/** Every attribute with that name, in order. */
export function getAttributes(attrs: readonly SdpAttribute[], name: string): SdpAttribute[] {
  const lower = name.toLowerCase();
  return attrs.filter((a) => a.name.toLowerCase() === lower);
}

export function hasAttribute(attrs: readonly SdpAttribute[], name: string): boolean {
  return getAttribute(attrs, name) !== undefined;
}

/** The c= that applies to a media section: its own first, else the session's (RFC 4566 §5.7). */
export function mediaConnection(sdp: SessionDescription, m: SdpMedia): SdpConnection | undefined {
  return m.connections[0] ?? sdp.connection;
}

export interface RtpMap {
  payloadType: number;
  encoding: string;
  clockRate: number;
  /** Audio channels; absent means 1 (RFC 4566 §6). */
  channels?: number;
}

/**
 * RTP/AVP static payload types (RFC 3551 §6, Table 4) that phones send
 * without an rtpmap. G722's RTP clock is 8000 although it samples at 16 kHz
 * (RFC 3551 §4.5.2).
 */
export const STATIC_PAYLOAD_TYPES: ReadonlyMap<number, RtpMap> = new Map<number, RtpMap>([
  [0, { payloadType: 0, encoding: 'PCMU', clockRate: 8000, channels: 1 }],
  [3, { payloadType: 3, encoding: 'GSM', clockRate: 8000, channels: 1 }],
  [4, { payloadType: 4, encoding: 'G723', clockRate: 8000, channels: 1 }],
  [5, { payloadType: 5, encoding: 'DVI4', clockRate: 8000, channels: 1 }],
  [6, { payloadType: 6, encoding: 'DVI4', clockRate: 16000, channels: 1 }],
  [7, { payloadType: 7, encoding: 'LPC', clockRate: 8000, channels: 1 }],
  [8, { payloadType: 8, encoding: 'PCMA', clockRate: 8000, channels: 1 }],
  [9, { payloadType: 9, encoding: 'G722', clockRate: 8000, channels: 1 }],
  [10, { payloadType: 10, encoding: 'L16', clockRate: 44100, channels: 2 }],
  [11, { payloadType: 11, encoding: 'L16', clockRate: 44100, channels: 1 }],
  [12, { payloadType: 12, encoding: 'QCELP', clockRate: 8000, channels: 1 }],
  [13, { payloadType: 13, encoding: 'CN', clockRate: 8000, channels: 1 }],
  [14, { payloadType: 14, encoding: 'MPA', clockRate: 90000 }],
  [15, { payloadType: 15, encoding: 'G728', clockRate: 8000, channels: 1 }],
  [16, { payloadType: 16, encoding: 'DVI4', clockRate: 11025, channels: 1 }],
  [17, { payloadType: 17, encoding: 'DVI4', clockRate: 22050, channels: 1 }],
  [18, { payloadType: 18, encoding: 'G729', clockRate: 8000, channels: 1 }],
]);

/** Parse one `a=rtpmap` value: `<pt> <encoding>/<clock>[/<channels>]` (RFC 4566 §6). */
export function parseRtpMap(value: string): RtpMap | undefined {
  const m = /^\s*(\d{1,3})\s+([^/\s]+)\/(\d{1,7})(?:\/(\d{1,3}))?\s*$/.exec(value);
  if (!m) return undefined;
  const payloadType = Number(m[1]);
  if (payloadType > 127) return undefined;
  const map: RtpMap = { payloadType, encoding: m[2], clockRate: Number(m[3]) };
  if (m[4] !== undefined) map.channels = Number(m[4]);
  return map;
}

/**
 * The rtpmap for every format of the media section: from `a=rtpmap` where
 * present, otherwise the static table. Formats that are neither are absent.
 */
export function rtpMaps(m: SdpMedia): Map<string, RtpMap> {
  const out = new Map<string, RtpMap>();
  const explicit = new Map<number, RtpMap>();
  for (const a of getAttributes(m.attributes, 'rtpmap')) {
    const map = a.value === null ? undefined : parseRtpMap(a.value);
    if (map && !explicit.has(map.payloadType)) explicit.set(map.payloadType, map);
  }
  for (const fmt of m.formats) {
    if (!/^\d{1,3}$/.test(fmt)) continue;
    const pt = Number(fmt);
    const map = explicit.get(pt) ?? STATIC_PAYLOAD_TYPES.get(pt);
    if (map) out.set(fmt, map);
  }
  return out;
}

/** The `a=fmtp` parameters for one payload type, raw (`0-16`, `annexb=no`, ...). */
export function fmtp(m: SdpMedia, payloadType: string): string | undefined {
  for (const a of getAttributes(m.attributes, 'fmtp')) {
    if (a.value === null) continue;
    const sp = /^\s*(\S+)\s+(.*)$/.exec(a.value);
    if (sp && sp[1] === payloadType) return sp[2];
    if (!sp && a.value.trim() === payloadType) return '';
  }
  return undefined;
}

/** `a=ptime` in milliseconds (RFC 4566 §6), media level first, else session level. */
export function ptime(m: SdpMedia, sdp?: SessionDescription): number | undefined {
  const a = getAttribute(m.attributes, 'ptime') ?? (sdp ? getAttribute(sdp.attributes, 'ptime') : undefined);
  if (!a || a.value === null) return undefined;
  const v = Number(a.value.trim());
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

export interface RtcpAttribute {
  port: number;
  connection?: SdpConnection;
}

/** `a=rtcp:<port> [<nettype> <addrtype> <address>]` (RFC 3605 §2.1). */
export function rtcp(m: SdpMedia): RtcpAttribute | undefined {
  const a = getAttribute(m.attributes, 'rtcp');
  if (!a || a.value === null) return undefined;
  const parts = a.value.trim().split(/[ \t]+/);
  if (!/^\d{1,5}$/.test(parts[0]) || Number(parts[0]) > 65535) return undefined;
  const out: RtcpAttribute = { port: Number(parts[0]) };
  if (parts.length === 4) {
    out.connection = { netType: parts[1], addrType: parts[2], address: parts[3] };
  }
  return out;
}

/** `a=rtcp-mux` (RFC 5761 §5.1.1). */
export function rtcpMux(m: SdpMedia): boolean {
  return hasAttribute(m.attributes, 'rtcp-mux');
}

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

const DIRECTIONS: readonly Direction[] = ['sendrecv', 'sendonly', 'recvonly', 'inactive'];

function directionOf(attrs: readonly SdpAttribute[]): Direction | undefined {
  for (const a of attrs) {
    const name = a.name.toLowerCase();
    if (a.value === null && (DIRECTIONS as readonly string[]).includes(name)) return name as Direction;
  }
  return undefined;
}

/**
 * The stream direction: media level overrides session level, and the
 * default is sendrecv (RFC 4566 §6; RFC 3264 §5.1).
 */
export function direction(m: SdpMedia, sdp?: SessionDescription): Direction {
  return directionOf(m.attributes) ?? (sdp ? directionOf(sdp.attributes) : undefined) ?? 'sendrecv';
}

/**
 * The direction an answerer uses for an offered direction (RFC 3264 §6.1):
 * sendonly ↔ recvonly, the others unchanged.
 */
export function answerDirection(offered: Direction): Direction {
  if (offered === 'sendonly') return 'recvonly';
  if (offered === 'recvonly') return 'sendonly';
  return offered;
}
