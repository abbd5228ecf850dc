import { SipsecError } from '../core/errors.js';
import type { IndexBackend as IndexDb, Meta, RowChanges } from './db.js';
import type { z } from 'zod';
import { CertEntrySchema, PhoneSchema, type CertEntry, type Index, type Phone } from './schema.js';

/**
 * The index as this process sees it, read from the database on demand.
 * A command that touches one phone reads that phone's rows (by indexed
 * name, MAC, SIP user, serial); one that walks the fleet reads every row
 * once and keeps it. A follower (serve) then applies only the rows the
 * change log names.
 */

interface Held<T> {
  value: T;
  /** The row as stored: an unchanged record stringifies to exactly this. */
  text: string;
}

/** Point lookups before walking every certificate once is cheaper than asking again. */
const POINT_QUERIES_BEFORE_LOAD = 64;

function norm(serial: string): string {
  return serial.toLowerCase().replace(/^0+/, '');
}

export interface Relevant {
  phones: Phone[];
  certificates: CertEntry[];
}

/** What a batch of new or changed phones could clash with: same name (any case), MAC, SIP user or address. */
export interface BatchKeys {
  names: string[];
  macs: string[];
  sipusers: string[];
  ips?: string[];
}

export function batchKeys(batch: readonly Phone[]): BatchKeys {
  return {
    names: batch.map((p) => p.name),
    macs: batch.flatMap((p) => (p.mac ? [p.mac] : [])),
    sipusers: batch.map((p) => p.ext ?? p.name),
    ips: batch.flatMap((p) => p.ips),
  };
}

export class Records {
  meta: Meta;
  seq: number;
  private phones: Map<string, Held<Phone>> | undefined;
  private phoneList: Phone[] | undefined;
  private certs: Map<string, Held<CertEntry>> | undefined;
  private certList: CertEntry[] | undefined;
  private byName: Map<string, CertEntry[]> | undefined;
  private bySerial: Map<string, CertEntry> | undefined;
  private pointQueries = 0;
  private viewCache: Index | undefined;

  constructor(private readonly db: IndexDb) {
    this.seq = db.lastSeq();
    this.meta = db.meta();
  }

  // --- whole collections -------------------------------------------------

  private loadPhones(): Map<string, Held<Phone>> {
    if (!this.phones) this.phones = new Map(this.db.allPhones().map((r) => [r.phone.name, { value: r.phone, text: r.text }]));
    return this.phones;
  }

  private loadCerts(): Map<string, Held<CertEntry>> {
    if (!this.certs) this.certs = new Map(this.db.allCerts().map((r) => [r.cert.serial, { value: r.cert, text: r.text }]));
    return this.certs;
  }

  allPhones(): Phone[] {
    this.phoneList ??= [...this.loadPhones().values()].map((h) => h.value);
    return this.phoneList;
  }

  allCerts(): CertEntry[] {
    this.certList ??= [...this.loadCerts().values()].map((h) => h.value);
    return this.certList;
  }

  phonesLoaded(): boolean {
    return this.phones !== undefined;
  }

  /** The rows as stored, for a draft to start from without reading the database again. */
  phoneTexts(): Map<string, string> | undefined {
    return this.phones ? new Map([...this.phones].map(([k, h]) => [k, h.text])) : undefined;
  }

  certTexts(): Map<string, string> | undefined {
    return this.certs ? new Map([...this.certs].map(([k, h]) => [k, h.text])) : undefined;
  }

  private certMaps(): { byName: Map<string, CertEntry[]>; bySerial: Map<string, CertEntry> } {
    if (!this.byName || !this.bySerial) {
      const byName = new Map<string, CertEntry[]>();
      const bySerial = new Map<string, CertEntry>();
      for (const e of this.allCerts()) {
        const list = byName.get(e.name);
        if (list) list.push(e);
        else byName.set(e.name, [e]);
        const s = norm(e.serial);
        if (!bySerial.has(s)) bySerial.set(s, e);
      }
      this.byName = byName;
      this.bySerial = bySerial;
    }
    return { byName: this.byName, bySerial: this.bySerial };
  }

  /** Whether a lookup should use the loaded certificates (a fleet-wide pass) or ask the database. */
  private certsInMemory(): boolean {
    if (this.certs) return true;
    if (++this.pointQueries > POINT_QUERIES_BEFORE_LOAD) {
      this.loadCerts();
      return true;
    }
    return false;
  }

  // --- point lookups ----------------------------------------------------

  phone(name: string): Phone | undefined {
    if (this.phones) return this.phones.get(name)?.value;
    return this.db.phone(name);
  }

  phoneCount(): number {
    return this.phones ? this.phones.size : this.db.phoneCount();
  }

  phonesOfVendor(vendor: string): Phone[] {
    return this.phones ? this.allPhones().filter((p) => p.vendor === vendor) : this.db.phonesOfVendor(vendor);
  }

  livePhoneNames(vendor: string): string[] {
    if (!this.certs || !this.phones) return this.db.livePhoneNames(vendor);
    const valid = new Set(this.allCerts().filter((c) => c.kind === 'phone' && c.status === 'valid').map((c) => c.name));
    return this.phonesOfVendor(vendor).filter((p) => valid.has(p.name)).map((p) => p.name);
  }

  certsOf(name: string): CertEntry[] {
    if (this.certsInMemory()) return this.certMaps().byName.get(name) ?? [];
    return this.db.certsOf(name);
  }

  certBySerial(serial: string): CertEntry | undefined {
    if (this.certsInMemory()) return this.certMaps().bySerial.get(norm(serial));
    return this.db.certBySerial(serial);
  }

  /** Kept until the next change: serve asks on every handshake and four times a second. */
  private overlapList: CertEntry[] | undefined;

  overlapCerts(): CertEntry[] {
    if (!this.certs) return this.db.overlapCerts();
    this.overlapList ??= this.allCerts().filter((c) => c.status === 'valid' && c.supersededBy !== undefined);
    return this.overlapList;
  }

  certsOfKind(kind: CertEntry['kind']): CertEntry[] {
    return this.certs ? this.allCerts().filter((c) => c.kind === kind) : this.db.certsOfKind(kind);
  }

  /** The records a batch could clash with (findConflicts gives the same answer on these as on the whole index). */
  relevantTo(keys: BatchKeys): Relevant {
    if (this.phones && this.certs) return { phones: this.allPhones(), certificates: this.allCerts() };
    const lnames = [...new Set(keys.names.map((n) => n.toLowerCase()))];
    const phones = this.db.phonesMatching({ lnames, macs: keys.macs, sipusers: keys.sipusers, ips: keys.ips ?? [] });
    const certificates = lnames.flatMap((n) => this.db.validCertsNamed(n));
    return { phones, certificates };
  }

  // --- following the database -------------------------------------------

  /** An `Index` over these records; its arrays are read when first touched. */
  view(): Index {
    if (!this.viewCache) {
      const v = { version: 1 as const, crlNumber: this.meta.crlNumber } as Index;
      if (this.meta.transition) v.transition = this.meta.transition;
      Object.defineProperty(v, 'phones', { enumerable: true, get: () => this.allPhones() });
      Object.defineProperty(v, 'certificates', { enumerable: true, get: () => this.allCerts() });
      this.viewCache = v;
    }
    return this.viewCache;
  }

  private changed(): void {
    this.overlapList = undefined;
    this.phoneList = undefined;
    this.certList = undefined;
    this.byName = undefined;
    this.bySerial = undefined;
    this.viewCache = undefined;
  }

  /**
   * Apply what other processes committed since we last looked. Returns the
   * phone names and certificate serials that changed, or 'all' when the
   * change log no longer reaches back (everything is read again on demand).
   */
  refresh(): { phones: string[]; certs: string[]; meta: boolean; config: boolean } | 'all' {
    const changes = this.db.changesSince(this.seq);
    if (changes === undefined) {
      this.phones = undefined;
      this.certs = undefined;
      this.meta = this.db.meta();
      this.seq = this.db.lastSeq();
      this.changed();
      return 'all';
    }
    const out = { phones: [] as string[], certs: [] as string[], meta: false, config: false };
    if (changes.length === 0) return out;
    const phones = new Set<string>();
    const certs = new Set<string>();
    for (const c of changes) {
      if (c.kind === 'phone') phones.add(c.key);
      else if (c.kind === 'cert') certs.add(c.key);
      else if (c.kind === 'meta') out.meta = true;
      else if (c.kind === 'config') out.config = true;
    }
    const rows: RowChanges = { phones: new Map(), certs: new Map() };
    for (const name of phones) rows.phones.set(name, this.phones ? (this.db.phone(name) ?? null) : null);
    if (this.certs) for (const serial of certs) rows.certs.set(serial, this.db.certBySerial(serial) ?? null);
    this.meta = this.db.meta();
    this.applyRows(rows);
    this.seq = changes[changes.length - 1]!.seq;
    out.phones = [...phones];
    out.certs = [...certs];
    return out;
  }

  /** After our own commit: the rows we wrote, and the change number it ended at. */
  applyCommitted(rows: RowChanges, seq: number): void {
    if (rows.meta) this.meta = { crlNumber: rows.meta.crlNumber, transition: rows.meta.transition };
    this.applyRows(rows);
    this.seq = seq;
  }

  private applyRows(rows: RowChanges): void {
    if (this.phones) applyTo(this.phones, rows.phones);
    if (this.certs) applyTo(this.certs, rows.certs);
    this.changed();
  }

  draft(): IndexDraft {
    return new IndexDraft(this.db, this.meta, this.phoneTexts(), this.certTexts());
  }
}

/**
 * One list of records inside a draft: the whole list, read when first
 * touched (from the texts the reader already holds, else the database),
 * or single-record edits kept aside until then. `changes()` compares each
 * record with the row it was read from.
 */
class DraftList<T> {
  arr: T[] | undefined;
  private base: Map<string, string> | undefined;
  /** Single-record changes made without reading the whole list (null: deleted). */
  readonly edits = new Map<string, T | null>();

  constructor(
    private readonly key: (t: T) => string,
    private readonly load: () => Map<string, string>,
    private readonly texts: Map<string, string> | undefined,
    private readonly schema: z.ZodType<T>,
    private readonly what: string,
  ) {}

  whole(): T[] {
    if (!this.arr) {
      this.base = this.texts ?? this.load();
      const arr = [...this.base.values()].map((t) => JSON.parse(t) as T);
      for (const [k, v] of this.edits) {
        const i = arr.findIndex((x) => this.key(x) === k);
        if (v === null) {
          if (i >= 0) arr.splice(i, 1);
        } else if (i >= 0) arr[i] = v;
        else arr.push(v);
      }
      this.edits.clear();
      this.arr = arr;
    }
    return this.arr;
  }

  replace(v: T[]): void {
    this.whole();
    this.arr = v;
  }

  put(v: T): void {
    if (!this.arr) {
      this.edits.set(this.key(v), v);
      return;
    }
    const i = this.arr.findIndex((x) => this.key(x) === this.key(v));
    if (i >= 0) this.arr[i] = v;
    else this.arr.push(v);
  }

  delete(k: string): void {
    if (this.arr) this.arr = this.arr.filter((x) => this.key(x) !== k);
    else this.edits.set(k, null);
  }

  /** Records as read from the database, with this draft's single-record edits laid over them. */
  overlay(rows: T[], keep: (t: T) => boolean = () => true): T[] {
    const merged = new Map(rows.map((r) => [this.key(r), r]));
    for (const [k, v] of this.edits) {
      if (v === null) merged.delete(k);
      else if (keep(v) || merged.has(k)) merged.set(k, v);
    }
    return [...merged.values()].filter(keep);
  }

  changes(): Map<string, T | null> {
    const out = new Map<string, T | null>();
    if (!this.arr) {
      for (const [k, v] of this.edits) out.set(k, v === null ? null : this.schema.parse(v));
      return out;
    }
    const seen = new Set<string>();
    for (const v of this.arr) {
      const k = this.key(v);
      if (seen.has(k)) throw new SipsecError('INTERNAL', `two ${this.what} ${k} in one change (this is a bug in sipsec)`);
      seen.add(k);
      if (this.base!.get(k) !== JSON.stringify(v)) out.set(k, this.schema.parse(v));
    }
    for (const k of this.base!.keys()) if (!seen.has(k)) out.set(k, null);
    return out;
  }
}

/**
 * The index as a change is being made to it (inside `CaStore.update`).
 * `phones`/`certificates` are the whole lists, read when first touched (a
 * fleet-wide change); the methods below reach single records without
 * reading the rest (the everyday change). What was changed is found at the
 * end by comparing each record with the row it was read from, and only
 * those rows are written.
 */
export class IndexDraft implements Index {
  readonly version = 1 as const;
  crlNumber: number;
  transition?: Index['transition'];
  declare phones: Phone[];
  declare certificates: CertEntry[];
  private readonly phoneList: DraftList<Phone>;
  private readonly certList: DraftList<CertEntry>;
  private readonly baseMeta: string;

  constructor(
    private readonly db: IndexDb,
    meta: Meta,
    phoneTexts: Map<string, string> | undefined,
    certTexts: Map<string, string> | undefined,
  ) {
    this.crlNumber = meta.crlNumber;
    if (meta.transition) this.transition = structuredClone(meta.transition);
    this.baseMeta = JSON.stringify([meta.crlNumber, meta.transition ?? null]);
    this.phoneList = new DraftList<Phone>((p) => p.name, () => new Map(db.allPhones().map((r) => [r.phone.name, r.text])), phoneTexts, PhoneSchema, 'phones named');
    this.certList = new DraftList<CertEntry>((c) => c.serial, () => new Map(db.allCerts().map((r) => [r.cert.serial, r.text])), certTexts, CertEntrySchema, 'certificates with serial');
    for (const [prop, list] of [['phones', this.phoneList], ['certificates', this.certList]] as const) {
      Object.defineProperty(this, prop, { enumerable: true, get: () => list.whole(), set: (v: never[]) => list.replace(v) });
    }
  }

  // --- single records (a copy: change it, then put it back) -----------------

  phone(name: string): Phone | undefined {
    const list = this.phoneList;
    if (list.arr) return list.arr.find((p) => p.name === name);
    if (list.edits.has(name)) return list.edits.get(name) ?? undefined;
    return this.db.phone(name);
  }

  putPhone(p: Phone): void {
    this.phoneList.put(p);
  }

  deletePhone(name: string): void {
    this.phoneList.delete(name);
  }

  /** A name's certificates, oldest first. */
  certsOf(name: string): CertEntry[] {
    const list = this.certList;
    if (list.arr) return list.arr.filter((c) => c.name === name);
    return list.overlay(this.db.certsOf(name), (c) => c.name === name);
  }

  cert(serial: string): CertEntry | undefined {
    const n = norm(serial);
    const list = this.certList;
    if (list.arr) return list.arr.find((c) => norm(c.serial) === n);
    for (const [s, e] of list.edits) if (norm(s) === n) return e ?? undefined;
    return this.db.certBySerial(serial);
  }

  putCert(e: CertEntry): void {
    this.certList.put(e);
  }

  /** The records a batch could clash with, as this draft stands. */
  relevantTo(keys: BatchKeys): Relevant {
    const lnames = [...new Set(keys.names.map((n) => n.toLowerCase()))];
    const phones = this.phoneList.arr ?? this.phoneList.overlay(this.db.phonesMatching({ lnames, macs: keys.macs, sipusers: keys.sipusers, ips: keys.ips ?? [] }));
    const certificates = this.certList.arr ?? this.certList.overlay(lnames.flatMap((n) => this.db.validCertsNamed(n)));
    return { phones, certificates };
  }

  /** The rows to write: each changed record validated; unchanged ones left alone. */
  changes(): RowChanges {
    const out: RowChanges = { phones: this.phoneList.changes(), certs: this.certList.changes() };
    if (JSON.stringify([this.crlNumber, this.transition ?? null]) !== this.baseMeta) out.meta = { crlNumber: this.crlNumber, transition: this.transition };
    return out;
  }
}

function applyTo<T>(held: Map<string, Held<T>>, rows: Map<string, T | null>): void {
  for (const [k, v] of rows) {
    if (v === null) held.delete(k);
    else held.set(k, { value: v, text: JSON.stringify(v) });
  }
}

export function isEmpty(c: RowChanges): boolean {
  return c.phones.size === 0 && c.certs.size === 0 && !c.meta && (c.notes?.length ?? 0) === 0;
}
