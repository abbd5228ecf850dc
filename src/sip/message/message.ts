/**
 * The SIP message model (RFC 3261 §7): a request or a response, an
 * ordered list of header fields, and a body.
 *
 * Header fields are kept exactly as received: order, name spelling and
 * unknown headers (RFC 4475 §3.1.1.1, wsinv), with folding undone and the
 * value trimmed (§7.3.1). Typed views (Via, From, To, CSeq, Contact, ...)
 * are parsed on first use and cached until the headers change, so a
 * registrar only pays for what it reads. Every typed view returns a
 * Result: a broken header is data, not an exception.
 */
import { canonicalName, headerKey, splitList, UNSPLITTABLE_HEADERS } from './headers.js';
import { parseCSeq, type CSeq } from './cseq.js';
import { parseMediaType, type MediaType } from './media-type.js';
import { parseNameAddr, parseNameAddrList, type NameAddr } from './name-addr.js';
import { err, ok, type Result } from './result.js';
import { parseMaxForwards } from './scalars.js';
import { CharClass, allOf } from './syntax.js';
import { parseUri, type Uri } from './uri.js';
import { parseViaList, type Via } from './via.js';

export interface HeaderField {
  /** Name as received (or as given when built), e.g. `v` or `VIA`. */
  readonly name: string;
  /** Lower-case full name, e.g. `via`: what lookups use. */
  readonly key: string;
  /** Unfolded, trimmed value. */
  readonly value: string;
}

/** Header fields in order, looked up case-insensitively and by compact form. */
export class SipHeaders implements Iterable<HeaderField> {
  #fields: HeaderField[];
  #version = 0;

  constructor(init?: Iterable<readonly [string, string]>) {
    this.#fields = [];
    if (init) for (const [name, value] of init) this.#fields.push({ name, key: headerKey(name), value });
  }

  /** Wraps already-keyed fields without copying (the parser's path). */
  static fromFields(fields: HeaderField[]): SipHeaders {
    const h = new SipHeaders();
    h.#fields = fields;
    return h;
  }

  /** Bumped on every change; typed views cache against it. */
  get version(): number {
    return this.#version;
  }

  get size(): number {
    return this.#fields.length;
  }

  fields(): readonly HeaderField[] {
    return this.#fields;
  }

  [Symbol.iterator](): Iterator<HeaderField> {
    return this.#fields[Symbol.iterator]();
  }

  first(name: string): string | undefined {
    const key = headerKey(name);
    for (const f of this.#fields) if (f.key === key) return f.value;
    return undefined;
  }

  /** Every field value of that name, in order (not split on commas). */
  all(name: string): string[] {
    const key = headerKey(name);
    const out: string[] = [];
    for (const f of this.#fields) if (f.key === key) out.push(f.value);
    return out;
  }

  count(name: string): number {
    const key = headerKey(name);
    let n = 0;
    for (const f of this.#fields) if (f.key === key) n++;
    return n;
  }

  has(name: string): boolean {
    return this.first(name) !== undefined;
  }

  /**
   * Every list element of that header across all its fields (RFC 3261
   * §7.3.1: `Require: a, b` and two `Require` fields are the same).
   * Headers whose values contain non-separator commas (Authorization,
   * Date, ...) are returned unsplit.
   */
  list(name: string): Result<string[]> {
    const key = headerKey(name);
    const out: string[] = [];
    for (const f of this.#fields) {
      if (f.key !== key) continue;
      if (UNSPLITTABLE_HEADERS.has(key)) {
        out.push(f.value);
        continue;
      }
      const items = splitList(f.value);
      if (!items.ok) return err(`${canonicalName(key)}: ${items.error}`);
      for (const item of items.value) out.push(item);
    }
    return ok(out);
  }

  append(name: string, value: string): this {
    this.#fields.push({ name, key: headerKey(name), value });
    this.#version++;
    return this;
  }

  /** Inserts before every other field (a proxy's new top Via, RFC 3261 §16.6 step 8). */
  prepend(name: string, value: string): this {
    this.#fields.unshift({ name, key: headerKey(name), value });
    this.#version++;
    return this;
  }

  /** Replaces the first field of that name in place and removes the others; appends when absent. */
  set(name: string, value: string): this {
    const key = headerKey(name);
    const idx = this.#fields.findIndex((f) => f.key === key);
    if (idx < 0) return this.append(name, value);
    this.#fields[idx] = { name: this.#fields[idx]!.name, key, value };
    this.#fields = this.#fields.filter((f, i) => i <= idx || f.key !== key);
    this.#version++;
    return this;
  }

  /** Replaces the value of the first field of that name only (e.g. the top Via field). False when absent. */
  replaceFirst(name: string, value: string): boolean {
    const key = headerKey(name);
    const idx = this.#fields.findIndex((f) => f.key === key);
    if (idx < 0) return false;
    this.#fields[idx] = { name: this.#fields[idx]!.name, key, value };
    this.#version++;
    return true;
  }

  /** Removes every field of that name; returns how many. */
  delete(name: string): number {
    const key = headerKey(name);
    const before = this.#fields.length;
    this.#fields = this.#fields.filter((f) => f.key !== key);
    const removed = before - this.#fields.length;
    if (removed) this.#version++;
    return removed;
  }

  clone(): SipHeaders {
    return SipHeaders.fromFields(this.#fields.slice());
  }
}

/** Contact: `*` (REGISTER removal of all bindings, RFC 3261 §10.2.2) or a list. */
export type ContactList = '*' | readonly NameAddr[];

abstract class SipMessageBase {
  version: string;
  readonly headers: SipHeaders;
  body: Buffer;
  #memo = new Map<string, unknown>();
  #memoVersion = 0;

  protected constructor(version: string, headers: SipHeaders, body: Buffer) {
    this.version = version;
    this.headers = headers;
    this.body = body;
    this.#memoVersion = headers.version;
  }

  protected memo<T>(key: string, compute: () => T): T {
    if (this.#memoVersion !== this.headers.version) {
      this.#memo.clear();
      this.#memoVersion = this.headers.version;
    }
    const hit = this.#memo.get(key);
    // Cached values are Results (objects), never undefined.
    if (hit !== undefined) return hit as T;
    const value = compute();
    this.#memo.set(key, value);
    return value;
  }

  /** The single value of a header that must appear exactly once. */
  single(name: string): Result<string> {
    return this.#single(headerKey(name));
  }

  #single(key: string): Result<string> {
    return this.#optional(key) ?? err(`missing ${canonicalName(key)} header`);
  }

  /** Like #single, but undefined when the header is absent. */
  #optional(key: string): Result<string> | undefined {
    let found: string | undefined;
    let n = 0;
    for (const f of this.headers.fields()) {
      if (f.key !== key) continue;
      n++;
      found = f.value;
    }
    if (found === undefined) return undefined;
    if (n > 1) return err(`duplicate ${canonicalName(key)} header`);
    return ok(found);
  }

  /** All Via values, top first (RFC 3261 §20.42). */
  vias(): Result<Via[]> {
    return this.memo('via', () => {
      const out: Via[] = [];
      for (const f of this.headers.fields()) {
        if (f.key !== 'via') continue;
        const list = parseViaList(f.value);
        if (!list.ok) return list;
        for (const v of list.value) out.push(v);
      }
      if (out.length === 0) return err('missing Via header');
      return ok(out);
    });
  }

  topVia(): Result<Via> {
    const vias = this.vias();
    return vias.ok ? ok(vias.value[0]!) : vias;
  }

  from(): Result<NameAddr> {
    return this.memo('from', () => this.nameAddr('from'));
  }

  to(): Result<NameAddr> {
    return this.memo('to', () => this.nameAddr('to'));
  }

  private nameAddr(key: string): Result<NameAddr> {
    const v = this.#single(key);
    if (!v.ok) return v;
    const na = parseNameAddr(v.value);
    return na.ok ? na : err(`${canonicalName(key)}: ${na.error}`);
  }

  /** Call-ID = word [ "@" word ] (RFC 3261 §25.1). */
  callId(): Result<string> {
    return this.memo('call-id', () => {
      const v = this.#single('call-id');
      if (!v.ok) return v;
      const id = v.value;
      const at = id.indexOf('@');
      const valid =
        at < 0
          ? allOf(id, CharClass.WORD)
          : allOf(id, CharClass.WORD, 0, at) && allOf(id, CharClass.WORD, at + 1) && id.indexOf('@', at + 1) < 0;
      return valid ? ok(id) : err('Call-ID is not word["@"word]');
    });
  }

  cseq(): Result<CSeq> {
    return this.memo('cseq', () => {
      const v = this.#single('cseq');
      return v.ok ? parseCSeq(v.value) : v;
    });
  }

  /** Max-Forwards, or undefined when absent (RFC 2543 clients omit it, RFC 4475 §3.4.1). */
  maxForwards(): Result<number | undefined> {
    return this.memo('max-forwards', () => {
      const v = this.#optional('max-forwards');
      if (v === undefined) return ok(undefined);
      return v.ok ? parseMaxForwards(v.value) : v;
    });
  }

  /** Every Contact, in order; `*` alone is allowed once (RFC 3261 §20.10). */
  contacts(): Result<ContactList> {
    return this.memo('contact', (): Result<ContactList> => {
      const out: NameAddr[] = [];
      let star = false;
      for (const f of this.headers.fields()) {
        if (f.key !== 'contact') continue;
        if (f.value.trim() === '*') {
          star = true;
          continue;
        }
        const list = parseNameAddrList(f.value);
        if (!list.ok) return err(`Contact: ${list.error}`);
        for (const na of list.value) out.push(na);
      }
      if (star) return out.length === 0 ? ok('*') : err("Contact '*' mixed with other contacts");
      return ok(out);
    });
  }

  /** A list of name-addrs from any header: Route, Record-Route, Path, Service-Route. */
  nameAddrs(name: string): Result<NameAddr[]> {
    const key = headerKey(name);
    return this.memo(`list:${key}`, () => {
      const out: NameAddr[] = [];
      for (const f of this.headers.fields()) {
        if (f.key !== key) continue;
        const list = parseNameAddrList(f.value);
        if (!list.ok) return err(`${canonicalName(key)}: ${list.error}`);
        for (const na of list.value) out.push(na);
      }
      return ok(out);
    });
  }

  /** Content-Type, or undefined when absent. */
  contentType(): Result<MediaType | undefined> {
    return this.memo('content-type', () => {
      const v = this.#optional('content-type');
      if (v === undefined) return ok(undefined);
      if (!v.ok) return v;
      const mt = parseMediaType(v.value);
      return mt.ok ? mt : err(`Content-Type: ${mt.error}`);
    });
  }
}

export class SipRequest extends SipMessageBase {
  readonly kind = 'request' as const;
  method: string;
  /** The Request-URI exactly as on the request line. */
  uri: string;

  constructor(init: { method: string; uri: string; version?: string; headers?: SipHeaders | Iterable<readonly [string, string]>; body?: Buffer | string }) {
    const headers = init.headers instanceof SipHeaders ? init.headers : new SipHeaders(init.headers);
    const body = typeof init.body === 'string' ? Buffer.from(init.body, 'utf8') : (init.body ?? Buffer.alloc(0));
    super(init.version ?? 'SIP/2.0', headers, body);
    this.method = init.method;
    this.uri = init.uri;
  }

  #ruriText: string | undefined;
  #ruri: Result<Uri> | undefined;

  /** The parsed Request-URI; re-parsed when `uri` is rewritten (a proxy retargeting, RFC 3261 §16.5). */
  requestUri(): Result<Uri> {
    if (this.#ruri === undefined || this.#ruriText !== this.uri) {
      this.#ruriText = this.uri;
      this.#ruri = parseUri(this.uri);
    }
    return this.#ruri;
  }
}

export class SipResponse extends SipMessageBase {
  readonly kind = 'response' as const;
  status: number;
  reason: string;

  constructor(init: { status: number; reason: string; version?: string; headers?: SipHeaders | Iterable<readonly [string, string]>; body?: Buffer | string }) {
    const headers = init.headers instanceof SipHeaders ? init.headers : new SipHeaders(init.headers);
    const body = typeof init.body === 'string' ? Buffer.from(init.body, 'utf8') : (init.body ?? Buffer.alloc(0));
    super(init.version ?? 'SIP/2.0', headers, body);
    this.status = init.status;
    this.reason = init.reason;
  }
}

export type SipMessage = SipRequest | SipResponse;
