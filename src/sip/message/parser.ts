/**
 * SIP message parsing (RFC 3261 §7, §18.3, §25).
 *
 * Two entry points share this code: parseDatagram (UDP: one message per
 * datagram) and the StreamFramer (TCP/TLS, framer.ts). Neither throws:
 * the result is a parsed message, or a ParseFailure carrying the status to
 * answer (requests), `drop` (responses, ACKs, non-SIP input), a one-line
 * reason, whether a stream must be closed, and the start line and headers
 * when they could be read (so a 400 can still copy Via, From, To, Call-ID
 * and CSeq, RFC 3261 §8.2.6.2).
 *
 * The parser checks what framing needs: the start line, header field
 * syntax, Content-Length and the limits. Semantic checks of individual
 * headers (mandatory headers, CSeq, URIs, ...) are validate.ts, because a
 * proxy and a registrar answer them differently.
 */
import { headerKey } from './headers.js';
import { resolveLimits, type SipLimits } from './limits.js';
import { SipHeaders, SipRequest, SipResponse, type HeaderField, type SipMessage } from './message.js';
import { DROP, respond, type Reaction } from './result.js';
import { parseContentLength } from './scalars.js';
import { asciiLower, bareControl, hasLineControl, isToken, parseDigits, skipWs, trimEndIndex } from './syntax.js';

export interface ParseOptions {
  limits?: Partial<SipLimits>;
}

export interface ParseSuccess {
  readonly ok: true;
  readonly message: SipMessage;
  /** Octets after the Content-Length body in a datagram, ignored (RFC 3261 §18.3; RFC 4475 §3.1.1.8, dblreq). */
  readonly ignoredBytes: number;
}

export interface ParseFailure {
  readonly ok: false;
  readonly reaction: Reaction;
  /** One precise line for the log. */
  readonly reason: string;
  /** On a stream: the framing is lost or the peer is abusive; answer (if the reaction says so), then close. */
  readonly close: boolean;
  /** The message as far as it could be read (start line and headers, no body), for building the answer. */
  readonly partial: SipMessage | undefined;
}

export type ParseResult = ParseSuccess | ParseFailure;

interface Problem {
  readonly status: number | 'drop';
  readonly reason: string;
}

/** The start line and header fields of a message, before its body is known. */
export interface Head {
  /** Undefined when the start line is not SIP at all. */
  readonly message: SipMessage | undefined;
  /** The start line looks like SIP (a request line or a status line), even if malformed. */
  readonly recognisable: boolean;
  readonly isResponse: boolean;
  /** The first non-framing problem: bad request line, version, header syntax, per-field limits. */
  readonly problem: Problem | undefined;
  readonly contentLength: number | undefined;
  /** Bad, negative or duplicated Content-Length: fatal on a stream. */
  readonly contentLengthError: string | undefined;
}

const EMPTY = Buffer.alloc(0);

/**
 * Index just after the empty line that ends the header section, or -1.
 * A line ends with LF, optionally preceded by CR: CRLF is the standard
 * (RFC 3261 §7), bare LF is tolerated because retyped test messages and
 * some embedded stacks use it.
 */
export function findHeaderEnd(buf: Buffer, from: number): number {
  let i = from;
  for (;;) {
    const p = buf.indexOf(0x0a, i);
    if (p < 0) return -1;
    if (p + 1 >= buf.length) return -1;
    const n = buf[p + 1];
    if (n === 0x0a) return p + 2;
    if (n === 0x0d) {
      if (p + 2 >= buf.length) return -1;
      if (buf[p + 2] === 0x0a) return p + 3;
    }
    i = p + 1;
  }
}

/** Where the header text stops, given the body start found by findHeaderEnd. */
export function headerTextEnd(buf: Buffer, bodyStart: number): number {
  return buf[bodyStart - 2] === 0x0d ? bodyStart - 2 : bodyStart - 1;
}

type StartLine =
  | { readonly kind: 'request'; readonly method: string; readonly uri: string; readonly version: string; readonly problem?: Problem }
  | { readonly kind: 'response'; readonly status: number; readonly reason: string; readonly version: string; readonly problem?: Problem }
  | { readonly kind: 'garbage'; readonly problem: Problem };

/** SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT, "SIP" case-insensitive (RFC 3261 §7.1). */
function isSipVersion(v: string): boolean {
  if (v.length < 7 || asciiLower(v.slice(0, 4)) !== 'sip/') return false;
  const dot = v.indexOf('.', 4);
  if (dot < 0) return false;
  return parseDigits(v, Number.MAX_SAFE_INTEGER, 4, dot) !== undefined && parseDigits(v, Number.MAX_SAFE_INTEGER, dot + 1) !== undefined;
}

function isSip20(v: string): boolean {
  return v.length === 7 && asciiLower(v) === 'sip/2.0';
}

function parseStatusLine(line: string): StartLine {
  const sp = line.indexOf(' ');
  const version = sp < 0 ? line : line.slice(0, sp);
  const drop = (reason: string): StartLine => ({ kind: 'response', status: 0, reason: '', version, problem: { status: 'drop', reason } });
  if (!isSipVersion(version)) return drop('malformed SIP version in status line');
  if (!isSip20(version)) return drop(`unsupported version ${version} in status line`);
  if (sp < 0) return drop('status line without a status code');
  const sp2 = line.indexOf(' ', sp + 1);
  const codeEnd = sp2 < 0 ? line.length : sp2;
  const status = codeEnd - sp - 1 === 3 ? parseDigits(line, 699, sp + 1, codeEnd) : undefined;
  // RFC 4475 §3.1.2.19 (bigcode): 4294967301 is not a status code.
  if (status === undefined || status < 100) return drop('status code is not three digits in 100..699');
  // Reason-Phrase may be empty but the SP before it is required (RFC 4475
  // §3.1.1.13, noreason); a missing SP is tolerated, nothing depends on it.
  return { kind: 'response', status, reason: sp2 < 0 ? '' : line.slice(sp2 + 1), version };
}

function parseRequestLine(line: string, limits: SipLimits): StartLine {
  const sp1 = line.indexOf(' ');
  const sp2 = sp1 < 0 ? -1 : line.indexOf(' ', sp1 + 1);
  const strict = sp1 > 0 && sp2 > sp1 + 1 && sp2 < line.length - 1 && line.indexOf(' ', sp2 + 1) < 0;
  if (!strict) {
    // RFC 4475 §3.1.2.8-10 (lwsruri, lwsstart, trws): extra spaces in the
    // request line. Refuse, but keep a best-effort method and URI so the
    // 400 can still be built.
    const parts = line.split(' ').filter((p) => p !== '');
    const looksSip = parts.length >= 3 && isSipVersion(parts[parts.length - 1]!) && isToken(parts[0]!);
    if (!looksSip) return { kind: 'garbage', problem: { status: 'drop', reason: 'not a SIP request or status line' } };
    return {
      kind: 'request',
      method: parts[0]!,
      uri: parts[1]!,
      version: parts[parts.length - 1]!,
      problem: { status: 400, reason: 'request line is not Method SP Request-URI SP SIP-Version with single spaces (RFC 3261 §7.1)' },
    };
  }
  const method = line.slice(0, sp1);
  const uri = line.slice(sp1 + 1, sp2);
  const version = line.slice(sp2 + 1);
  if (!isSipVersion(version) || !isToken(method)) {
    return { kind: 'garbage', problem: { status: 'drop', reason: 'not a SIP request or status line' } };
  }
  const req = (problem?: Problem): StartLine => ({ kind: 'request', method, uri, version, ...(problem ? { problem } : {}) });
  for (let i = 0; i < uri.length; i++) {
    const c = uri.charCodeAt(i);
    if (c < 0x21 || c === 0x7f) return req({ status: 400, reason: 'Request-URI contains whitespace or control characters' });
  }
  if (uri.length > limits.maxLineBytes) return req({ status: 414, reason: `Request-URI longer than ${limits.maxLineBytes} characters` });
  if (line.length > limits.maxLineBytes) return req({ status: 400, reason: `request line longer than ${limits.maxLineBytes} characters` });
  // RFC 4475 §3.1.2.16 (badvers): a well-formed but different version is 505.
  if (!isSip20(version)) return req({ status: 505, reason: `unsupported version ${version}` });
  return req();
}

function parseStartLine(line: string, limits: SipLimits): StartLine {
  if (line.length >= 4 && asciiLower(line.slice(0, 4)) === 'sip/') return parseStatusLine(line);
  return parseRequestLine(line, limits);
}

/**
 * Parses the start line and header fields in buf[start, textEnd). Never
 * throws; problems are recorded (the first one wins) and parsing goes on
 * so that Content-Length is still found for framing.
 */
export function parseHead(buf: Buffer, start: number, textEnd: number, limits: SipLimits): Head {
  const text = buf.toString('utf8', start, textEnd);
  const len = text.length;
  let nl = text.indexOf('\n');
  let lineEnd = nl < 0 ? len : nl;
  if (lineEnd > 0 && text.charCodeAt(lineEnd - 1) === 0x0d) lineEnd--;
  const sl = parseStartLine(text.slice(0, lineEnd), limits);
  let pos = nl < 0 ? len : nl + 1;

  let problem: Problem | undefined = sl.problem;
  // A CR that does not end a line is never valid (not even in a
  // quoted-pair, §25.1) and other parsers may take it for a line end:
  // refuse rather than guess. One linear pass over the whole section.
  for (let cr = text.indexOf('\r', pos); cr >= 0; cr = text.indexOf('\r', cr + 1)) {
    if (text.charCodeAt(cr + 1) !== 0x0a) {
      problem ??= { status: 400, reason: 'bare CR inside a header line' };
      break;
    }
  }
  // Position of the next ':' at or after the current line, reused across
  // lines so that colon-less lines cannot make the scan quadratic.
  let nextColon = -1;
  // One scan of the whole head; only a head with a control in it has its values checked one by one.
  const controls = hasLineControl(text);
  const fields: HeaderField[] = [];
  let contentLength: number | undefined;
  let contentLengthError: string | undefined;
  let name: string | undefined;
  let value = '';

  const flush = (): void => {
    if (name === undefined) return;
    const key = headerKey(name);
    if (name.length + value.length + 2 > limits.maxLineBytes && !problem) {
      problem = { status: 400, reason: `header field ${name.slice(0, 40)} longer than ${limits.maxLineBytes} characters` };
    }
    if (controls && !problem) {
      const ctl = bareControl(value);
      if (ctl !== undefined) problem = { status: 400, reason: `control character 0x${ctl.toString(16).padStart(2, '0')} in the ${name.slice(0, 40)} header value` };
    }
    fields.push({ name, key, value });
    if (fields.length > limits.maxHeaders && !problem) {
      problem = { status: 400, reason: `more than ${limits.maxHeaders} header fields` };
    }
    if (key === 'content-length') {
      if (contentLength !== undefined || contentLengthError !== undefined) {
        // RFC 4475 §3.3.9 (mcl01): which one is right cannot be known.
        contentLengthError = 'duplicate Content-Length';
      } else {
        const cl = parseContentLength(value);
        if (cl.ok) contentLength = cl.value;
        else contentLengthError = cl.error;
      }
    }
    name = undefined;
  };

  while (pos < len) {
    nl = text.indexOf('\n', pos);
    const next = nl < 0 ? len : nl + 1;
    let e = nl < 0 ? len : nl;
    if (e > pos && text.charCodeAt(e - 1) === 0x0d) e--;
    const c = text.charCodeAt(pos);
    if (c === 0x20 || c === 0x09) {
      // Folded continuation: CRLF + WSP is one SP (RFC 3261 §7.3.1).
      if (name === undefined) {
        problem ??= { status: 400, reason: 'continuation line without a header field before it' };
      } else {
        const s = skipWs(text, pos, e);
        const t = trimEndIndex(text, s, e);
        if (t > s) value = value === '' ? text.slice(s, t) : `${value} ${text.slice(s, t)}`;
      }
    } else {
      flush();
      if (nextColon < pos) {
        nextColon = text.indexOf(':', pos);
        if (nextColon < 0) nextColon = len;
      }
      const colon = nextColon;
      if (colon >= e) {
        problem ??= { status: 400, reason: 'header line without a colon' };
      } else {
        // HCOLON = *( SP / HTAB ) ":" SWS: `Via  : x` is Via (RFC 4475 §3.1.1.7, longreq).
        const nameEnd = trimEndIndex(text, pos, colon);
        if (!isToken(text, pos, nameEnd)) {
          problem ??= { status: 400, reason: 'header name is not a token' };
        } else {
          name = text.slice(pos, nameEnd);
          const vs = skipWs(text, colon + 1, e);
          value = text.slice(vs, trimEndIndex(text, vs, e));
        }
      }
    }
    pos = next;
  }
  flush();

  const headers = SipHeaders.fromFields(fields);
  let message: SipMessage | undefined;
  if (sl.kind === 'request') message = new SipRequest({ method: sl.method, uri: sl.uri, version: sl.version, headers, body: EMPTY });
  else if (sl.kind === 'response' && sl.status > 0) message = new SipResponse({ status: sl.status, reason: sl.reason, version: sl.version, headers, body: EMPTY });
  return {
    message,
    recognisable: sl.kind !== 'garbage',
    isResponse: sl.kind === 'response',
    problem,
    contentLength,
    contentLengthError,
  };
}

/** Builds a failure with the reaction the head allows: respond for requests, drop otherwise. */
export function failure(head: Head | undefined, status: number | 'drop', reason: string, close: boolean): ParseFailure {
  const msg = head?.message;
  let reaction: Reaction = DROP;
  const answerable = head !== undefined && head.recognisable && !head.isResponse && !(msg?.kind === 'request' && msg.method === 'ACK');
  // An ACK is never answered (RFC 3261 §17), a broken response is discarded (§18.3).
  if (status !== 'drop' && answerable) reaction = respond(status);
  return { ok: false, reaction, reason, close, partial: msg };
}

/** Attaches the body and turns the head's recorded problem, if any, into a failure. */
export function complete(head: Head, body: Buffer, ignoredBytes: number): ParseResult {
  const msg = head.message;
  if (!msg) return failure(head, 'drop', head.problem?.reason ?? 'not a SIP message', false);
  msg.body = body;
  if (head.problem) return failure(head, head.problem.status, head.problem.reason, false);
  return { ok: true, message: msg, ignoredBytes };
}

function isBlank(b: number): boolean {
  return b === 0x0d || b === 0x0a || b === 0x20 || b === 0x09 || b === 0x00;
}

/**
 * Parses one UDP datagram (RFC 3261 §18.3): the body is framed by
 * Content-Length when present (extra octets are ignored), otherwise it runs
 * to the end of the datagram. A body shorter than Content-Length is a 400
 * (RFC 4475 §3.1.2.2, clerr). The returned body shares memory with the
 * input.
 */
export function parseDatagram(input: Buffer | string, options?: ParseOptions): ParseResult {
  const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const limits = resolveLimits(options?.limits);
  // RFC 3261 §7.5: CRLFs before the start line are ignored.
  let start = 0;
  while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  let blank = true;
  for (let i = start; i < buf.length && blank; i++) blank = isBlank(buf[i]!);
  if (blank) return { ok: false, reaction: DROP, reason: 'empty datagram (keep-alive)', close: false, partial: undefined };

  let bodyStart = findHeaderEnd(buf, start);
  let textEnd: number;
  let unterminated = false;
  if (bodyStart >= 0) {
    textEnd = headerTextEnd(buf, bodyStart);
  } else {
    // The datagram ended inside the header section. When it ends with a
    // line break only the empty line is missing (RFC 4475's baddn.dat is
    // published that way); the datagram boundary then ends the headers.
    textEnd = buf.length;
    bodyStart = buf.length;
    unterminated = buf[buf.length - 1] !== 0x0a;
  }
  const head = parseHead(buf, start, textEnd, limits);
  if (!head.recognisable || !head.message) return failure(head, 'drop', head.problem?.reason ?? 'not a SIP message', false);
  if (unterminated) return failure(head, 400, 'header section not terminated by an empty line', false);
  if (head.contentLengthError) return failure(head, 400, head.contentLengthError, false);
  const available = buf.length - bodyStart;
  const bodyLen = head.contentLength ?? available;
  if (bodyLen > limits.maxBodyBytes) return failure(head, 413, `body of ${bodyLen} bytes exceeds ${limits.maxBodyBytes}`, false);
  if (bodyStart - start + bodyLen > limits.maxMessageBytes) {
    return failure(head, 513, `message of ${bodyStart - start + bodyLen} bytes exceeds ${limits.maxMessageBytes}`, false);
  }
  if (bodyLen > available) return failure(head, 400, `Content-Length ${bodyLen} exceeds the ${available} body bytes received`, false);
  return complete(head, buf.subarray(bodyStart, bodyStart + bodyLen), available - bodyLen);
}
