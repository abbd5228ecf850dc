/**
 * The location service and REGISTER processing of RFC 3261 §10.3, steps 6
 * to 8 (steps 1 to 5, who may register what, are identity.ts and the
 * service): bindings per address-of-record, several contacts each, with
 * expiry, refresh, removal (Expires 0 and `*`) and 423 Interval Too Brief.
 *
 * Each binding remembers the flow it arrived on (RFC 5626 §6-style): a
 * request for the AOR goes back over that connection, whatever address
 * and port the Contact names (many phones put their listening port there,
 * vendors.md §9 item 6; phones behind NAT put an address nobody can reach).
 * A binding whose flow closes is removed (nothing could reach it; the
 * phone registers again when it reconnects).
 *
 * Contacts with `+sip.instance` and `reg-id` (RFC 5626 §4.2) are matched by
 * that pair, so a phone reconnecting from a new port replaces its binding
 * instead of adding one; other contacts by URI equivalence (§10.3 step 8,
 * §19.1.4).
 *
 * Pure logic: no sockets, an injected clock.
 */
import type { FailureCode } from '../../events/index.js';
import type { Flow } from '../transport/flow.js';
import type { SipRequest } from '../message/message.js';
import { formatNameAddr, type NameAddr } from '../message/name-addr.js';
import { paramValue, param, type Param } from '../message/params.js';
import { parseDeltaSeconds } from '../message/scalars.js';
import { isSipUri, sipUriEquals, type SipUri } from '../message/uri.js';

export interface RegistrarOptions {
  /** Shortest registration accepted (423 below it, §10.3 step 7). Default 60 s. */
  minExpires?: number;
  /** Used when the REGISTER asks for nothing. Default 3600 s. */
  defaultExpires?: number;
  /** Longer requests are shortened to this. Default 7200 s. */
  maxExpires?: number;
  /** Contacts per AOR; more are refused. Default 10. */
  maxContacts?: number;
  now?: () => number;
}

/** What the service knows about the registering phone, stored with each binding for status and routing. */
export interface BindingSource {
  flow: Flow;
  phone: string;
  /** Digest algorithm used, or `certificate` when the client certificate alone authenticated. */
  auth: string;
}

export interface Binding {
  readonly aor: string;
  /** The Contact URI as given. */
  readonly contactUri: string;
  readonly uri: SipUri;
  /** The contact's header parameters other than expires (q, +sip.instance, reg-id, ...). */
  readonly params: readonly Param[];
  readonly instance: string | undefined;
  readonly regId: string | undefined;
  readonly q: number;
  callId: string;
  cseq: number;
  expiresAt: number;
  updatedAt: number;
  source: BindingSource;
}

export type RegisterOutcome =
  | {
      readonly ok: true;
      /** Every live binding of the AOR after the request (for the 200's Contact list). */
      readonly bindings: readonly Binding[];
      readonly added: readonly Binding[];
      readonly refreshed: readonly Binding[];
      readonly removed: readonly Binding[];
      /** RFC 5626 §6: the 200 says `Require: outbound`. */
      readonly outbound: boolean;
    }
  | { readonly ok: false; readonly status: number; readonly code: RegisterRefusal; readonly reason: string; readonly headers: ReadonlyArray<readonly [string, string]> };

/** Why the binding rules refused a REGISTER (failure codes, src/events/codes.ts). */
export type RegisterRefusal = Extract<FailureCode, 'register.bad_request' | 'register.bad_contact' | 'register.bad_expires' | 'register.interval_too_brief' | 'register.cseq_out_of_order' | 'register.too_many_contacts'>;

function fail(status: number, code: RegisterRefusal, reason: string, headers: ReadonlyArray<readonly [string, string]> = []): RegisterOutcome {
  return { ok: false, status, code, reason, headers };
}

interface Wanted {
  na: NameAddr;
  uri: SipUri;
  expires: number;
  instance: string | undefined;
  regId: string | undefined;
  q: number;
}

export class Registrar {
  readonly minExpires: number;
  readonly defaultExpires: number;
  readonly maxExpires: number;
  readonly maxContacts: number;
  readonly #now: () => number;
  readonly #byAor = new Map<string, Binding[]>();
  readonly #byFlow = new Map<Flow, Set<Binding>>();

  constructor(o: RegistrarOptions = {}) {
    this.minExpires = o.minExpires ?? 60;
    this.defaultExpires = Math.max(o.defaultExpires ?? 3600, this.minExpires);
    this.maxExpires = Math.max(o.maxExpires ?? 7200, this.defaultExpires);
    this.maxContacts = o.maxContacts ?? 10;
    this.#now = o.now ?? Date.now;
  }

  /** §10.3 steps 6-8 for a REGISTER already authorised for `aor`. */
  register(req: SipRequest, aor: string, source: BindingSource): RegisterOutcome {
    const now = this.#now();
    const callId = req.callId();
    const cseq = req.cseq();
    const contacts = req.contacts();
    if (!callId.ok || !cseq.ok || !contacts.ok) return fail(400, 'register.bad_request', 'unreadable Call-ID, CSeq or Contact');
    const headerExpires = req.headers.first('expires');
    // §10.3 step 7 reads a missing Expires as the default, never a broken
    // one: `-1` or `abc` is a client bug the phone should hear about.
    if (headerExpires !== undefined && parseDeltaSeconds(headerExpires) === undefined) return fail(400, 'register.bad_expires', 'malformed Expires header: not delta-seconds (RFC 3261 §20.19)');
    const current = this.#live(aor, now);

    // Step 6: `*` removes every binding, only with Expires: 0 and alone.
    if (contacts.value === '*') {
      if (headerExpires === undefined || parseDeltaSeconds(headerExpires) !== 0) return fail(400, 'register.bad_contact', "Contact '*' needs Expires: 0 (RFC 3261 §10.3 step 6)");
      const removed: Binding[] = [];
      const kept: Binding[] = [];
      for (const b of current) {
        // An older request of the same call (same Call-ID, lower CSeq) must not undo a newer one.
        if (b.callId === callId.value && cseq.value.seq <= b.cseq) kept.push(b);
        else removed.push(b);
      }
      this.#store(aor, kept);
      for (const b of removed) this.#unindex(b);
      return { ok: true, bindings: kept, added: [], refreshed: [], removed, outbound: false };
    }

    // Step 7: the interval of each contact.
    const wanted: Wanted[] = [];
    for (const na of contacts.value) {
      if (!isSipUri(na.uri)) return fail(400, 'register.bad_contact', `Contact ${na.uri.raw.slice(0, 60)} is not a sip: or sips: URI`);
      const param = paramValue(na.params, 'expires');
      const fromParam = parseDeltaSeconds(param);
      if (param !== undefined && fromParam === undefined) return fail(400, 'register.bad_expires', 'malformed expires parameter in the Contact header: not delta-seconds (RFC 3261 §20.10)');
      const asked = fromParam ?? parseDeltaSeconds(headerExpires) ?? this.defaultExpires;
      if (asked !== 0 && asked < this.minExpires) {
        return fail(423, 'register.interval_too_brief', `registration interval ${asked} s is shorter than ${this.minExpires} s`, [['Min-Expires', String(this.minExpires)]]);
      }
      const qText = paramValue(na.params, 'q');
      const q = qText === undefined || qText === '' ? 1 : Number(qText);
      if (!Number.isFinite(q) || q < 0 || q > 1) return fail(400, 'register.bad_contact', `Contact q=${qText?.slice(0, 10)} is not between 0 and 1`);
      wanted.push({
        na,
        uri: na.uri,
        expires: Math.min(asked, this.maxExpires),
        instance: paramValue(na.params, '+sip.instance') || undefined,
        regId: paramValue(na.params, 'reg-id') || undefined,
        q,
      });
    }

    // Step 8: add, refresh or remove each contact; all or nothing.
    const next = current.slice();
    const added: Binding[] = [];
    const refreshed: Binding[] = [];
    const removed: Binding[] = [];
    for (const w of wanted) {
      const idx = next.findIndex((b) => sameBinding(b, w));
      if (idx >= 0) {
        const b = next[idx]!;
        if (b.callId === callId.value && cseq.value.seq <= b.cseq) {
          return fail(400, 'register.cseq_out_of_order', `CSeq ${cseq.value.seq} is not above ${b.cseq} of the binding's last REGISTER (out of order, RFC 3261 §10.3 step 8)`);
        }
        if (w.expires === 0) {
          next.splice(idx, 1);
          removed.push(b);
          continue;
        }
        const updated = this.#binding(aor, w, callId.value, cseq.value.seq, now, source);
        next[idx] = updated;
        removed.push(b);
        refreshed.push(updated);
        continue;
      }
      if (w.expires === 0) continue;
      const b = this.#binding(aor, w, callId.value, cseq.value.seq, now, source);
      next.push(b);
      added.push(b);
    }
    if (next.length > this.maxContacts) return fail(403, 'register.too_many_contacts', `more than ${this.maxContacts} contacts for ${aor}`);
    this.#store(aor, next);
    for (const b of removed) this.#unindex(b);
    for (const b of [...added, ...refreshed]) this.#index(b);
    const outbound = wanted.some((w) => w.instance !== undefined && w.regId !== undefined) && hasTag(req, 'supported', 'outbound');
    return { ok: true, bindings: next, added, refreshed: refreshed, removed: removed.filter((b) => !refreshed.some((r) => sameBinding(r, b))), outbound };
  }

  #binding(aor: string, w: Wanted, callId: string, cseq: number, now: number, source: BindingSource): Binding {
    return {
      aor,
      contactUri: w.uri.raw,
      uri: w.uri,
      params: w.na.params.filter((p) => p.key !== 'expires'),
      instance: w.instance,
      regId: w.regId,
      q: w.q,
      callId,
      cseq,
      expiresAt: now + w.expires * 1000,
      updatedAt: now,
      source,
    };
  }

  #store(aor: string, list: Binding[]): void {
    if (list.length === 0) this.#byAor.delete(aor);
    else this.#byAor.set(aor, list);
  }

  #index(b: Binding): void {
    let set = this.#byFlow.get(b.source.flow);
    if (!set) {
      set = new Set();
      this.#byFlow.set(b.source.flow, set);
    }
    set.add(b);
  }

  #unindex(b: Binding): void {
    const set = this.#byFlow.get(b.source.flow);
    if (!set) return;
    set.delete(b);
    if (set.size === 0) this.#byFlow.delete(b.source.flow);
  }

  #live(aor: string, now: number): Binding[] {
    const list = this.#byAor.get(aor);
    if (!list) return [];
    return list.filter((b) => b.expiresAt > now);
  }

  /** Live bindings of an AOR, best first: highest q, then most recently refreshed (RFC 3261 §16.6 target order). */
  lookup(aor: string): Binding[] {
    return this.#live(aor, this.#now()).sort((a, b) => b.q - a.q || b.updatedAt - a.updatedAt);
  }

  /** Every live binding. */
  all(): Binding[] {
    const now = this.#now();
    const out: Binding[] = [];
    for (const list of this.#byAor.values()) for (const b of list) if (b.expiresAt > now) out.push(b);
    return out;
  }

  get size(): number {
    let n = 0;
    for (const list of this.#byAor.values()) n += list.length;
    return n;
  }

  /** Whether a live binding of `phone` sits on this flow. */
  hasBindingOn(flow: Flow): boolean {
    const set = this.#byFlow.get(flow);
    if (!set) return false;
    const now = this.#now();
    for (const b of set) if (b.expiresAt > now) return true;
    return false;
  }

  /** Latest expiry of the bindings on a flow (0 when none). */
  heldUntil(flow: Flow): number {
    let until = 0;
    for (const b of this.#byFlow.get(flow) ?? []) until = Math.max(until, b.expiresAt);
    return until;
  }

  /** The flow closed: its bindings cannot be reached any more. */
  removeFlow(flow: Flow): Binding[] {
    const set = this.#byFlow.get(flow);
    if (!set) return [];
    this.#byFlow.delete(flow);
    const gone = [...set];
    for (const b of gone) {
      const list = this.#byAor.get(b.aor);
      if (list) this.#store(b.aor, list.filter((x) => x !== b));
    }
    return gone;
  }

  /** Drops expired bindings; returns them. */
  expire(): Binding[] {
    const now = this.#now();
    const gone: Binding[] = [];
    for (const [aor, list] of this.#byAor) {
      const keep = list.filter((b) => b.expiresAt > now);
      if (keep.length === list.length) continue;
      for (const b of list) if (b.expiresAt <= now) gone.push(b);
      this.#store(aor, keep);
    }
    for (const b of gone) this.#unindex(b);
    return gone;
  }

  /** The Contact header value the 200 OK lists for a binding (§10.3 step 8: with its remaining expires). */
  contactValue(b: Binding): string {
    const left = Math.max(0, Math.round((b.expiresAt - this.#now()) / 1000));
    return formatNameAddr({ uri: b.contactUri, params: [...b.params, param('expires', String(left))] });
  }

  secondsLeft(b: Binding): number {
    return Math.max(0, Math.round((b.expiresAt - this.#now()) / 1000));
  }
}

function sameBinding(b: Binding | Wanted, w: Wanted | Binding): boolean {
  if (b.instance !== undefined && b.regId !== undefined && w.instance !== undefined && w.regId !== undefined) {
    return b.instance === w.instance && b.regId === w.regId;
  }
  return sipUriEquals(b.uri, w.uri);
}

function hasTag(req: SipRequest, header: string, tag: string): boolean {
  const l = req.headers.list(header);
  return l.ok && l.value.some((t) => t.toLowerCase() === tag);
}
