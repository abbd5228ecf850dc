/**
 * Checks of a parsed request or response before the transaction and
 * application layers act on it, with the response each failure gets.
 * The order follows RFC 3261: syntax of the headers a response must copy
 * first (400, or nothing sensible can be sent back), then the proxy
 * checks of §16.3 (scheme 416, Max-Forwards 483, Proxy-Require 420) or
 * the UAS checks of §8.2 (method 405/501, Request-URI scheme 416, Require
 * 420, body 415, Accept 406).
 *
 * What is deliberately accepted (RFC 4475 allows either reaction):
 * a bare `z9hG4bK` branch (§3.2.1), a non-GMT Date (§3.1.2.12, Date is
 * never read), an RFC 2543 request without Max-Forwards or branch cookie
 * (§3.4.1), and non-SIP URIs in To, From and Contact (§3.3.4: the
 * registrar refuses to bind them, see isSipUri).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { canonicalName, SINGLETON_HEADERS } from './headers.js';
import { accepts } from './media-type.js';
import type { SipRequest, SipResponse } from './message.js';
import { DROP, respond, type Reaction } from './result.js';
import { asciiLower, hasControl } from './syntax.js';
import { schemeOf } from './uri.js';
import { paramValue } from './params.js';
import { parseDeltaSeconds } from './scalars.js';

/** Methods sipsec recognises (RFC 3261 and the extension RFCs phones use). Method names are case-sensitive (§7.1). */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'INVITE',
  'ACK',
  'BYE',
  'CANCEL',
  'OPTIONS',
  'REGISTER',
  'PRACK', // RFC 3262
  'SUBSCRIBE', // RFC 6665
  'NOTIFY', // RFC 6665
  'PUBLISH', // RFC 3903
  'INFO', // RFC 6086
  'REFER', // RFC 3515
  'MESSAGE', // RFC 3428
  'UPDATE', // RFC 3311
]);

export interface ValidateOptions {
  /**
   * The request will be forwarded (proxy role, RFC 3261 §16.3): then
   * Max-Forwards 0 is answered 483 (RFC 4475 §3.3.11, zeromf) and
   * Proxy-Require is checked instead of Require. A function decides per
   * request (e.g. true unless the Request-URI is the registrar's domain).
   * Default false: sipsec answers as a UAS/registrar.
   */
  proxy?: boolean | ((req: SipRequest) => boolean);
  /** Request-URI schemes handled; others get 416 (§8.2.2.1). Default sip, sips. */
  uriSchemes?: readonly string[];
  /** Recognised methods; others get 501 (§8.2.1). Default KNOWN_METHODS. */
  knownMethods?: ReadonlySet<string>;
  /** When given, a recognised method not in this list gets 405 with Allow (§8.2.1). */
  allowedMethods?: readonly string[];
  /** Option tags supported; unknown ones in Require (or Proxy-Require as a proxy) get 420 (§8.2.2.3). */
  supportedExtensions?: readonly string[];
  /**
   * Per method, the body types sipsec reads and answers with. A body of
   * another type gets 415 with Accept (§8.2.3); an Accept that excludes
   * all of them gets 406 (§21.4.7). Default { INVITE: ['application/sdp'] }.
   */
  bodyTypes?: Readonly<Record<string, readonly string[]>>;
}

export type Verdict = { readonly ok: true } | { readonly ok: false; readonly reaction: Reaction; readonly reason: string };

const OK: Verdict = Object.freeze({ ok: true as const });
const DEFAULT_SCHEMES: readonly string[] = ['sip', 'sips'];
const DEFAULT_BODY_TYPES: Readonly<Record<string, readonly string[]>> = { INVITE: ['application/sdp'] };
const MANDATORY = ['via', 'from', 'to', 'call-id', 'cseq'];

function reject(status: number, reason: string, headers: ReadonlyArray<readonly [string, string]> = []): Verdict {
  return { ok: false, reaction: respond(status, headers), reason };
}

/** The first problem of a request, or ok. ACK is never answered, so its failures say drop. */
export function validateRequest(req: SipRequest, opts: ValidateOptions = {}): Verdict {
  const v = check(req, opts);
  if (!v.ok && req.method === 'ACK' && v.reaction.action === 'respond') return { ok: false, reaction: DROP, reason: v.reason };
  return v;
}

function check(req: SipRequest, opts: ValidateOptions): Verdict {
  // The parser already answers 505 (RFC 4475 §3.1.2.16, badvers); this
  // covers requests built or altered in code.
  if (asciiLower(req.version) !== 'sip/2.0') return reject(505, `unsupported version ${req.version.slice(0, 20)}`);
  const syntax = checkCommonHeaders(req);
  if (syntax) return reject(400, syntax);

  // Contact syntax (RFC 4475 §3.1.2.13 regbadct); '*' only in REGISTER (§10.2.2).
  const contacts = req.contacts();
  if (!contacts.ok) return reject(400, contacts.error);
  if (contacts.value === '*' && req.method !== 'REGISTER') return reject(400, "Contact '*' outside REGISTER");
  // §20.19 / §20.10: delta-seconds. Checked here, before authentication,
  // because a REGISTER would otherwise read `-1` or `abc` as absent
  // (§10.3 step 7 default) and bind for an hour.
  const expires = req.headers.first('expires');
  if (expires !== undefined && parseDeltaSeconds(expires) === undefined) return reject(400, 'malformed Expires header: not delta-seconds');
  if (req.method === 'REGISTER' && contacts.value !== '*') {
    for (const na of contacts.value) {
      const e = paramValue(na.params, 'expires');
      if (e !== undefined && parseDeltaSeconds(e) === undefined) return reject(400, 'malformed expires parameter in the Contact header: not delta-seconds');
    }
  }
  const ctype = req.contentType();
  if (!ctype.ok) return reject(400, ctype.error);

  // Request-URI (§8.2.2.1, §16.3 step 2). `<sip:...>` has no scheme at all:
  // malformed, 400 (RFC 4475 §3.1.2.7 ltgtruri); a valid but unhandled
  // scheme is 416 (§3.3.2 unkscm, §3.3.3 novelsc).
  const scheme = schemeOf(req.uri);
  if (scheme === undefined) return reject(400, 'Request-URI is not a URI');
  if (!(opts.uriSchemes ?? DEFAULT_SCHEMES).includes(scheme)) return reject(416, `Request-URI scheme ${scheme} not supported`);
  const ruri = req.requestUri();
  if (!ruri.ok) return reject(400, `Request-URI: ${ruri.error}`);
  // §19.1.1 table: headers are not allowed in a Request-URI (RFC 4475 §3.1.2.11 escruri).
  if ('headers' in ruri.value && ruri.value.headers !== undefined) return reject(400, 'Request-URI carries ?headers');

  const proxy = typeof opts.proxy === 'function' ? opts.proxy(req) : (opts.proxy ?? false);
  const mf = req.maxForwards();
  if (proxy) {
    // §16.3 step 3 (RFC 4475 §3.3.11, zeromf). A proxy that wants to answer
    // OPTIONS itself (§11) passes a function returning false for it.
    if (mf.ok && mf.value === 0) return reject(483, 'Max-Forwards is 0');
    // The parser lets an escaped control through a quoted-string (§25.1
    // quoted-pair); a request sipsec relays must not carry one to a phone.
    for (const f of req.headers) if (hasControl(f.value)) return reject(400, `control character in the ${canonicalName(f.key)} header value: not relayed`);
    const unsupported = unsupportedTags(req, 'proxy-require', opts);
    if (typeof unsupported === 'string') return reject(400, unsupported);
    if (unsupported.length) return reject(420, `unsupported Proxy-Require: ${unsupported.join(', ')}`, [['Unsupported', unsupported.join(', ')]]);
  }

  const known = (opts.knownMethods ?? KNOWN_METHODS).has(req.method);
  if (!known) return reject(501, `unknown method ${req.method.slice(0, 40)}`);
  if (opts.allowedMethods && !opts.allowedMethods.includes(req.method)) {
    return reject(405, `method ${req.method} not allowed`, [['Allow', opts.allowedMethods.join(', ')]]);
  }
  // Checked after the method so an unknown method with a mismatching CSeq
  // gets 501 (RFC 4475 §3.1.2.18, mismatch02).
  const cseq = req.cseq();
  if (cseq.ok && cseq.value.method !== req.method) return reject(400, 'CSeq method differs from the request method');

  // §8.2.2.3: Require is a UAS matter and is ignored on ACK and CANCEL.
  if (!proxy && req.method !== 'ACK' && req.method !== 'CANCEL') {
    const unsupported = unsupportedTags(req, 'require', opts);
    if (typeof unsupported === 'string') return reject(400, unsupported);
    if (unsupported.length) return reject(420, `unsupported Require: ${unsupported.join(', ')}`, [['Unsupported', unsupported.join(', ')]]);
  }

  // hasOwn: a method token may well be spelt `constructor` or `__proto__`.
  const table = opts.bodyTypes ?? DEFAULT_BODY_TYPES;
  const types = Object.hasOwn(table, req.method) ? table[req.method] : undefined;
  if (types && types.length > 0 && !proxy) {
    if (req.body.length > 0) {
      const essence = ctype.value?.essence;
      if (essence === undefined || !types.includes(essence)) {
        return reject(415, `body of type ${essence ?? '(none)'} not supported`, [['Accept', types.join(', ')]]);
      }
    }
    const acceptValues = req.headers.all('accept');
    let acceptable = false;
    for (const t of types) {
      const a = accepts(acceptValues, t);
      if (!a.ok) return reject(400, a.error);
      if (a.value) acceptable = true;
    }
    if (!acceptable) return reject(406, `Accept excludes ${types.join(', ')}`);
  }
  return OK;
}

/**
 * Presence, uniqueness and syntax of the headers every response copies,
 * plus Max-Forwards (RFC 3261 §8.1.1, §20). Returns the problem or undefined.
 */
function checkCommonHeaders(msg: SipRequest | SipResponse): string | undefined {
  // One pass over the fields instead of a lookup per header name: this runs for every message.
  const counts = new Map<string, number>();
  for (const f of msg.headers) {
    if (SINGLETON_HEADERS.has(f.key) || f.key === 'via') counts.set(f.key, (counts.get(f.key) ?? 0) + 1);
  }
  for (const key of MANDATORY) if (!counts.has(key)) return `missing ${canonicalName(key)} header`;
  for (const [key, n] of counts) if (n > 1 && key !== 'via') return `duplicate ${canonicalName(key)} header`;
  const vias = msg.vias();
  if (!vias.ok) return vias.error;
  const from = msg.from();
  if (!from.ok) return from.error;
  const to = msg.to();
  if (!to.ok) return to.error;
  const callId = msg.callId();
  if (!callId.ok) return callId.error;
  const cseq = msg.cseq();
  if (!cseq.ok) return cseq.error;
  const mf = msg.maxForwards();
  if (!mf.ok) return mf.error;
  return undefined;
}

function unsupportedTags(req: SipRequest, header: 'require' | 'proxy-require', opts: ValidateOptions): string[] | string {
  const tags = req.headers.list(header);
  if (!tags.ok) return tags.error;
  const supported = new Set((opts.supportedExtensions ?? []).map(asciiLower));
  return tags.value.filter((t) => !supported.has(asciiLower(t)));
}

export interface ResponseValidateOptions {
  /**
   * `uac` (default): the response is for a request sipsec sent; more than
   * one Via means it was misrouted and is discarded (RFC 3261 §8.1.3.3).
   * `proxy`: it will be forwarded to the next Via, which must not be a
   * broadcast or multicast address (RFC 4475 §3.3.10, bcast).
   */
  role?: 'uac' | 'proxy';
}

/** Responses are never answered: every failure is a drop (RFC 3261 §18.3). */
export function validateResponse(res: SipResponse, opts: ResponseValidateOptions = {}): Verdict {
  const drop = (reason: string): Verdict => ({ ok: false, reaction: DROP, reason });
  const syntax = checkCommonHeaders(res);
  if (syntax) return drop(syntax);
  const vias = res.vias();
  if (!vias.ok) return drop(vias.error);
  if ((opts.role ?? 'uac') === 'uac') {
    if (vias.value.length > 1) return drop('response with more than one Via reached a UAC (RFC 3261 §8.1.3.3)');
    return OK;
  }
  const next = vias.value[1];
  if (next) {
    // Where §18.2.2 would send it. A multicast maddr is legitimate there; a
    // limited broadcast never is.
    const target = next.maddr ?? next.received ?? next.host;
    const bare = target.startsWith('[') ? target.slice(1, -1) : target;
    if (bare === '255.255.255.255') return drop('next Via is the broadcast address 255.255.255.255');
    if (next.maddr === undefined && isMulticast(bare)) return drop('next Via is a multicast address without maddr');
  }
  return OK;
}

/** IPv4 multicast 224/4 or IPv6 multicast ff00::/8. */
function isMulticast(h: string): boolean {
  if (isIPv4(h)) {
    const first = Number(h.slice(0, h.indexOf('.')));
    return first >= 224 && first <= 239;
  }
  return isIPv6(h) && asciiLower(h).startsWith('ff');
}
