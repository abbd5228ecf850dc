/**
 * Writing SIP messages (RFC 3261 §7) and building responses to requests
 * (§8.2.6).
 */
import { randomBytes } from 'node:crypto';
import { SipsecError } from '../../core/errors.js';
import { canonicalName } from './headers.js';
import { SipHeaders, SipRequest, SipResponse, type SipMessage } from './message.js';
import { tagOf } from './name-addr.js';
import type { Reaction } from './result.js';
import { reasonPhrase } from './status.js';
import { isToken } from './syntax.js';

const CRLF = '\r\n';

/** Header values must not smuggle line breaks (header injection). */
function cleanValue(v: string): string {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x0d || c === 0x0a) return v.replace(/[\r\n]+/g, ' ');
  }
  return v;
}

function checkName(name: string): void {
  if (!isToken(name)) throw new SipsecError('BAD_INPUT', `invalid SIP header name: ${JSON.stringify(name)}`);
}

/** The start line and header section (ending with the empty line) of a message. */
export function serializeHead(msg: SipMessage): string {
  let out =
    msg.kind === 'request'
      ? `${msg.method} ${msg.uri} ${msg.version}${CRLF}`
      : `${msg.version} ${String(msg.status).padStart(3, '0')} ${cleanValue(msg.reason)}${CRLF}`;
  let wroteLength = false;
  for (const f of msg.headers) {
    checkName(f.name);
    if (f.key === 'content-length') {
      // Always the real length, at the first Content-Length's place; extra
      // ones are dropped (RFC 3261 §20.14).
      if (wroteLength) continue;
      wroteLength = true;
      out += `${f.name}: ${msg.body.length}${CRLF}`;
      continue;
    }
    out += `${f.name}: ${cleanValue(f.value)}${CRLF}`;
  }
  if (!wroteLength) out += `Content-Length: ${msg.body.length}${CRLF}`;
  return out + CRLF;
}

/**
 * The message as bytes: CRLF line ends, headers in order, unfolded, and a
 * Content-Length that always matches the body (mandatory on streams,
 * RFC 3261 §18.3, and harmless on UDP).
 */
export function serialize(msg: SipMessage): Buffer {
  const head = Buffer.from(serializeHead(msg), 'utf8');
  return msg.body.length === 0 ? head : Buffer.concat([head, msg.body]);
}

export interface ResponseOptions {
  /** The To tag to add when the request's To has none. Default: 64 random bits. */
  toTag?: string;
  /** Extra header fields, appended in order. */
  headers?: Iterable<readonly [string, string]>;
  body?: Buffer | string;
  /** Content-Type of the body. */
  contentType?: string;
}

/** A fresh To/From tag: 64 random bits (RFC 3261 §19.3 asks for at least 32). */
export function newTag(): string {
  return randomBytes(8).toString('hex');
}

/**
 * A response to `req` per RFC 3261 §8.2.6.2: Via (all of them, in order),
 * From, Call-ID and CSeq copied; To copied with a tag added when it had
 * none (except on 100 Trying, §8.2.6.2); Timestamp echoed on 100
 * (§8.2.6.1). Field values are copied as received, so a partially
 * unparsable request (a ParseFailure's `partial`) can still be answered.
 */
export function buildResponse(req: SipRequest, status: number, reason?: string, opts: ResponseOptions = {}): SipResponse {
  const headers = new SipHeaders();
  for (const f of req.headers) {
    if (f.key === 'via' || f.key === 'from' || f.key === 'call-id' || f.key === 'cseq') {
      headers.append(canonicalName(f.key), f.value);
    } else if (f.key === 'to') {
      headers.append('To', withToTag(req, f.value, status, opts.toTag));
    } else if (f.key === 'timestamp' && status === 100) {
      headers.append('Timestamp', f.value);
    }
  }
  for (const [name, value] of opts.headers ?? []) headers.append(name, value);
  const body = typeof opts.body === 'string' ? Buffer.from(opts.body, 'utf8') : (opts.body ?? Buffer.alloc(0));
  if (body.length > 0 && opts.contentType) headers.set('Content-Type', opts.contentType);
  return new SipResponse({ status, reason: reason ?? reasonPhrase(status), headers, body });
}

function withToTag(req: SipRequest, value: string, status: number, toTag: string | undefined): string {
  if (status === 100) return value;
  const to = req.to();
  // An unparsable To is copied unchanged: adding a tag to it cannot fix it.
  if (!to.ok || tagOf(to.value) !== undefined) return value;
  return `${value};tag=${toTag ?? newTag()}`;
}

/** The response a Reaction asks for, or undefined when it says drop. */
export function responseFor(req: SipRequest, reaction: Reaction, opts: ResponseOptions = {}): SipResponse | undefined {
  if (reaction.action !== 'respond') return undefined;
  return buildResponse(req, reaction.status, reaction.phrase, { ...opts, headers: [...reaction.headers, ...(opts.headers ?? [])] });
}

/** A request from parts; header names are kept as given. */
export function createRequest(
  method: string,
  uri: string,
  headers: Iterable<readonly [string, string]>,
  body?: Buffer | string,
): SipRequest {
  if (!isToken(method)) throw new SipsecError('BAD_INPUT', `invalid SIP method: ${JSON.stringify(method)}`);
  const list = [...headers];
  for (const [name] of list) checkName(name);
  return new SipRequest({ method, uri, headers: list, ...(body !== undefined ? { body } : {}) });
}
