import Database from 'better-sqlite3';
import { SipsecError, messageOf } from '../core/errors.js';
import type { CertEntry, Index, Phone } from './schema.js';

/**
 * The certificate index and the inventory in SQLite (better-sqlite3: a
 * maintained, synchronous driver; a commit is one call, no event-loop turn
 * in the middle of a transaction). One row per phone and per certificate,
 * the record itself as JSON (validated by zod when written), and the
 * columns looked up beside it, indexed. WAL: serve reads while a command
 * writes. Every commit appends to `changes`, so a follower (serve) applies
 * only what changed since the sequence number it last saw.
 *
 * Certificates and keys stay PEM files by serial; they are written and
 * fsynced before the commit that refers to them.
 */

export const DB_SCHEMA_VERSION = 1;

/** What is looked up, indexed the same way in SQLite and PostgreSQL (pg/pg-db.ts). */
export const INDEXES = `
CREATE INDEX IF NOT EXISTS phones_lname ON phones(lname);
CREATE INDEX IF NOT EXISTS phones_mac ON phones(mac);
CREATE INDEX IF NOT EXISTS phones_sipuser ON phones(sipuser);
CREATE INDEX IF NOT EXISTS phones_vendor ON phones(vendor);
CREATE INDEX IF NOT EXISTS phone_ips_name ON phone_ips(name);
CREATE INDEX IF NOT EXISTS certs_name ON certs(name);
CREATE INDEX IF NOT EXISTS certs_lname ON certs(lname);
CREATE INDEX IF NOT EXISTS certs_nserial ON certs(nserial);
CREATE INDEX IF NOT EXISTS certs_kind ON certs(kind);
CREATE INDEX IF NOT EXISTS certs_status ON certs(status);
CREATE INDEX IF NOT EXISTS certs_overlap ON certs(overlap) WHERE overlap = 1;
`;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS phones (
  name TEXT PRIMARY KEY,
  lname TEXT NOT NULL,
  vendor TEXT NOT NULL,
  mac TEXT,
  sipuser TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS phone_ips (ip TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (ip, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS certs (
  serial TEXT PRIMARY KEY,
  nserial TEXT NOT NULL,
  name TEXT NOT NULL,
  lname TEXT NOT NULL,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  -- 1: valid and replaced, waiting for its phone to show it has the new one (a renewal overlap).
  overlap INTEGER NOT NULL,
  data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, key TEXT NOT NULL, at TEXT NOT NULL);
${INDEXES}`;

/** Change-log rows kept; a follower further behind than this reloads everything. */
export const KEEP_CHANGES = 200_000;

export type ChangeKind = 'phone' | 'cert' | 'meta' | 'config';

export interface Change {
  seq: number;
  kind: ChangeKind;
  key: string;
}

/** What one commit writes: a record (insert or replace) or null (delete), by key. */
export interface RowChanges {
  phones: Map<string, Phone | null>;
  certs: Map<string, CertEntry | null>;
  meta?: { crlNumber: number; transition: Index['transition'] | undefined };
  /** Extra change-log rows (e.g. `config` after config.json changed). */
  notes?: Array<{ kind: ChangeKind; key: string }>;
  /** Files other machines need (a shared store): written in the same transaction. */
  files?: SharedFile[];
}

/** A file of the home kept in a shared store, by its path relative to the home. */
export interface SharedFile {
  path: string;
  mode: number;
  data: Buffer;
}

/**
 * What the store reads and writes, whichever database holds it: SQLite in
 * the home (IndexDb) or PostgreSQL (pg/pg-db.ts). Every call is
 * synchronous: one commit is one call, with no event-loop turn inside.
 */
export interface IndexBackend {
  readonly kind: 'sqlite' | 'postgres';
  /** The file, or the redacted URL: for messages. */
  readonly file: string;
  close(): void;
  meta(): Meta;
  allPhones(): Array<{ text: string; phone: Phone }>;
  allCerts(): Array<{ text: string; cert: CertEntry }>;
  phoneCount(): number;
  phone(name: string): Phone | undefined;
  phonesMatching(q: { lnames?: string[]; macs?: string[]; sipusers?: string[]; ips?: string[] }): Phone[];
  phonesOfVendor(vendor: string): Phone[];
  livePhoneNames(vendor: string): string[];
  certsOf(name: string): CertEntry[];
  certBySerial(serial: string): CertEntry | undefined;
  overlapCerts(): CertEntry[];
  revokedCerts(): CertEntry[];
  certsOfKind(kind: string): CertEntry[];
  validCertsNamed(lname: string): CertEntry[];
  lastSeq(): number;
  changesSince(seq: number): Change[] | undefined;
  commit(c: RowChanges, at: Date): number;
  /** A consistent copy as a SQLite database file (what `ca backup` archives). */
  copyTo(file: string): void;
  quickCheck(): string;
}

export interface Meta {
  crlNumber: number;
  transition: Index['transition'] | undefined;
}

/** Serials compare as numbers: lower-case hex without leading zeros. */
export function norm(serial: string): string {
  return serial.toLowerCase().replace(/^0+/, '');
}

export function parseRow<T>(text: string, what: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new SipsecError('CA_CORRUPT', `the index database holds an unreadable ${what}: ${messageOf(e)}`, 'restore the CA home from a backup (sipsec ca restore FILE)');
  }
}

type Row = { data: string };

/** A phone's indexed columns beside its record: one definition for both stores. */
export function phoneColumns(p: Phone) {
  return { name: p.name, lname: p.name.toLowerCase(), vendor: p.vendor, mac: p.mac ?? null, sipuser: p.ext ?? p.name, data: JSON.stringify(p) };
}

/** A certificate's indexed columns; overlap 1: valid and replaced, waiting for its phone (a renewal overlap). */
export function certColumns(e: CertEntry) {
  return { serial: e.serial, nserial: norm(e.serial), name: e.name, lname: e.name.toLowerCase(), kind: e.kind, status: e.status, overlap: e.status === 'valid' && e.supersededBy !== undefined ? 1 : 0, data: JSON.stringify(e) };
}

export class IndexDb implements IndexBackend {
  readonly kind = 'sqlite' as const;
  readonly file: string;
  private readonly db: Database.Database;
  private readonly st: ReturnType<typeof statements>;

  private constructor(file: string, db: Database.Database) {
    this.file = file;
    this.db = db;
    this.st = statements(db);
  }

  /**
   * Open (and create) the database. `readonly` opens an existing one
   * without ever writing (a home this user may only read).
   */
  static open(file: string, opts: { readonly?: boolean; create?: boolean; wal?: boolean } = {}): IndexDb {
    let db: Database.Database;
    try {
      db = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: !(opts.create ?? false) });
    } catch (e) {
      throw new SipsecError('UNREADABLE', `cannot open the index database ${file}: ${messageOf(e)}`, 'check its permissions, or restore the CA home from a backup');
    }
    try {
      db.pragma('busy_timeout = 30000');
      if (!opts.readonly) {
        if (opts.wal ?? true) db.pragma('journal_mode = WAL');
        // FULL: a commit is on disk when it returns (the index is the commit point of every change).
        db.pragma('synchronous = FULL');
        db.exec(SCHEMA);
        const v = db.prepare('SELECT value FROM meta WHERE key = ?').get('schema') as { value: string } | undefined;
        if (!v) {
          db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run('schema', String(DB_SCHEMA_VERSION));
          db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run('crlNumber', '0');
        } else if (Number(v.value) > DB_SCHEMA_VERSION) {
          throw new SipsecError('CA_CORRUPT', `the index database ${file} was written by a newer sipsec (schema ${v.value})`, 'upgrade sipsec');
        }
      }
      return new IndexDb(file, db);
    } catch (e) {
      db.close();
      if (e instanceof SipsecError) throw e;
      throw new SipsecError('CA_CORRUPT', `the index database ${file} is unusable: ${messageOf(e)}`, 'restore the CA home from a backup (sipsec ca restore FILE)');
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  meta(): Meta {
    const rows = this.st.metaAll.all() as Array<{ key: string; value: string }>;
    const m = new Map(rows.map((r) => [r.key, r.value]));
    const t = m.get('transition');
    return { crlNumber: Number(m.get('crlNumber') ?? '0'), transition: t ? parseRow<Index['transition']>(t, 'rotation record') : undefined };
  }

  allPhones(): Array<{ text: string; phone: Phone }> {
    return (this.st.phonesAll.all() as Row[]).map((r) => ({ text: r.data, phone: parseRow<Phone>(r.data, 'phone') }));
  }

  allCerts(): Array<{ text: string; cert: CertEntry }> {
    return (this.st.certsAll.all() as Row[]).map((r) => ({ text: r.data, cert: parseRow<CertEntry>(r.data, 'certificate') }));
  }

  phoneCount(): number {
    return (this.st.phoneCount.get() as { n: number }).n;
  }

  phone(name: string): Phone | undefined {
    const r = this.st.phoneByName.get(name) as Row | undefined;
    return r ? parseRow<Phone>(r.data, 'phone') : undefined;
  }

  /** Phones matching any of: a name (case-insensitively), a MAC, a SIP user, an IP. */
  phonesMatching(q: { lnames?: string[]; macs?: string[]; sipusers?: string[]; ips?: string[] }): Phone[] {
    const out = new Map<string, Phone>();
    const add = (rows: Row[]) => {
      for (const r of rows) {
        const p = parseRow<Phone>(r.data, 'phone');
        out.set(p.name, p);
      }
    };
    for (const n of q.lnames ?? []) add(this.st.phonesByLname.all(n) as Row[]);
    for (const m of q.macs ?? []) add(this.st.phonesByMac.all(m) as Row[]);
    for (const u of q.sipusers ?? []) add(this.st.phonesBySipuser.all(u) as Row[]);
    for (const ip of q.ips ?? []) add(this.st.phonesByIp.all(ip) as Row[]);
    return [...out.values()];
  }

  phonesOfVendor(vendor: string): Phone[] {
    return (this.st.phonesByVendor.all(vendor) as Row[]).map((r) => parseRow<Phone>(r.data, 'phone'));
  }

  /** Phones of a vendor that have a valid phone certificate (something to fetch). */
  livePhoneNames(vendor: string): string[] {
    return (this.st.livePhoneNames.all(vendor) as Array<{ name: string }>).map((r) => r.name);
  }

  /** A name's certificates, oldest first. */
  certsOf(name: string): CertEntry[] {
    return (this.st.certsByName.all(name) as Row[]).map((r) => parseRow<CertEntry>(r.data, 'certificate'));
  }

  certBySerial(serial: string): CertEntry | undefined {
    const r = this.st.certByNserial.get(norm(serial)) as Row | undefined;
    return r ? parseRow<CertEntry>(r.data, 'certificate') : undefined;
  }

  /** Certificates in a renewal overlap: valid, replaced, not yet settled. */
  overlapCerts(): CertEntry[] {
    return (this.st.certsOverlap.all() as Row[]).map((r) => parseRow<CertEntry>(r.data, 'certificate'));
  }

  revokedCerts(): CertEntry[] {
    return (this.st.certsRevoked.all() as Row[]).map((r) => parseRow<CertEntry>(r.data, 'certificate'));
  }

  certsOfKind(kind: string): CertEntry[] {
    return (this.st.certsByKind.all(kind) as Row[]).map((r) => parseRow<CertEntry>(r.data, 'certificate'));
  }

  /** Valid certificates whose name matches, case-insensitively. */
  validCertsNamed(lname: string): CertEntry[] {
    return (this.st.validCertsByLname.all(lname) as Row[]).map((r) => parseRow<CertEntry>(r.data, 'certificate'));
  }

  lastSeq(): number {
    return (this.st.lastSeq.get() as { seq: number }).seq;
  }

  /** Changes after `seq`, or undefined when the log no longer reaches back that far. */
  changesSince(seq: number): Change[] | undefined {
    const first = (this.st.firstSeq.get() as { seq: number | null }).seq;
    // Pruned past us (sequence numbers are never reused, so a gap, or an empty log behind a higher counter, means rows were dropped).
    if ((first === null && this.lastSeq() > seq) || (first !== null && first > seq + 1)) return undefined;
    return this.st.changesSince.all(seq) as Change[];
  }

  /** Write one change set in one transaction; returns the last change number. */
  commit(c: RowChanges, at: Date): number {
    const iso = at.toISOString();
    const run = this.db.transaction(() => {
      for (const [name, p] of c.phones) {
        this.st.phoneIpsDelete.run(name);
        if (p === null) {
          this.st.phoneDelete.run(name);
        } else {
          this.st.phoneUpsert.run(phoneColumns(p));
          for (const ip of new Set(p.ips)) this.st.phoneIpInsert.run(ip, p.name);
        }
        this.st.changeInsert.run('phone', name, iso);
      }
      for (const [serial, e] of c.certs) {
        if (e === null) this.st.certDelete.run(serial);
        else this.st.certUpsert.run(certColumns(e));
        this.st.changeInsert.run('cert', serial, iso);
      }
      if (c.meta) {
        this.st.metaPut.run('crlNumber', String(c.meta.crlNumber));
        if (c.meta.transition) this.st.metaPut.run('transition', JSON.stringify(c.meta.transition));
        else this.st.metaDelete.run('transition');
        this.st.changeInsert.run('meta', 'index', iso);
      }
      for (const n of c.notes ?? []) this.st.changeInsert.run(n.kind, n.key, iso);
      const last = this.lastSeq();
      if (last % 1000 === 0 && last > KEEP_CHANGES) this.st.changesPrune.run(last - KEEP_CHANGES);
      return last;
    });
    return run.immediate();
  }

  /**
   * A consistent copy of the database in one file (VACUUM INTO: a read
   * transaction, so writers in other processes are not stopped).
   */
  copyTo(file: string): void {
    this.db.prepare('VACUUM INTO ?').run(file);
  }

  /** SQLite's own check of the file (`PRAGMA quick_check`): 'ok', or what is wrong. */
  quickCheck(): string {
    const rows = this.db.pragma('quick_check') as Array<{ quick_check: string }>;
    return rows.map((r) => r.quick_check).join('; ');
  }
}

function statements(db: Database.Database) {
  return {
    metaAll: db.prepare('SELECT key, value FROM meta'),
    metaPut: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    metaDelete: db.prepare('DELETE FROM meta WHERE key = ?'),
    phonesAll: db.prepare('SELECT data FROM phones ORDER BY rowid'),
    phoneCount: db.prepare('SELECT count(*) AS n FROM phones'),
    phoneByName: db.prepare('SELECT data FROM phones WHERE name = ?'),
    phonesByLname: db.prepare('SELECT data FROM phones WHERE lname = ? ORDER BY rowid'),
    phonesByMac: db.prepare('SELECT data FROM phones WHERE mac = ? ORDER BY rowid'),
    phonesBySipuser: db.prepare('SELECT data FROM phones WHERE sipuser = ? ORDER BY rowid'),
    phonesByIp: db.prepare('SELECT p.data AS data FROM phone_ips i JOIN phones p ON p.name = i.name WHERE i.ip = ? ORDER BY p.rowid'),
    phonesByVendor: db.prepare('SELECT data FROM phones WHERE vendor = ? ORDER BY rowid'),
    livePhoneNames: db.prepare("SELECT p.name AS name FROM phones p WHERE p.vendor = ? AND EXISTS (SELECT 1 FROM certs c WHERE c.name = p.name AND +c.kind = 'phone' AND +c.status = 'valid') ORDER BY p.rowid"),
    phoneUpsert: db.prepare(
      'INSERT INTO phones (name, lname, vendor, mac, sipuser, data) VALUES (@name, @lname, @vendor, @mac, @sipuser, @data) ' +
        'ON CONFLICT(name) DO UPDATE SET lname = excluded.lname, vendor = excluded.vendor, mac = excluded.mac, sipuser = excluded.sipuser, data = excluded.data',
    ),
    phoneDelete: db.prepare('DELETE FROM phones WHERE name = ?'),
    phoneIpsDelete: db.prepare('DELETE FROM phone_ips WHERE name = ?'),
    phoneIpInsert: db.prepare('INSERT OR IGNORE INTO phone_ips (ip, name) VALUES (?, ?)'),
    certsAll: db.prepare('SELECT data FROM certs ORDER BY rowid'),
    certsByName: db.prepare('SELECT data FROM certs WHERE name = ? ORDER BY rowid'),
    certByNserial: db.prepare('SELECT data FROM certs WHERE nserial = ? ORDER BY rowid LIMIT 1'),
    certsByKind: db.prepare('SELECT data FROM certs WHERE kind = ? ORDER BY rowid'),
    certsOverlap: db.prepare('SELECT data FROM certs WHERE overlap = 1 ORDER BY rowid'),
    certsRevoked: db.prepare("SELECT data FROM certs WHERE status = 'revoked' ORDER BY rowid"),
    // The unary + keeps SQLite on the name index (the status index matches half the table).
    validCertsByLname: db.prepare("SELECT data FROM certs WHERE lname = ? AND +status = 'valid' ORDER BY rowid"),
    certUpsert: db.prepare(
      'INSERT INTO certs (serial, nserial, name, lname, kind, status, overlap, data) VALUES (@serial, @nserial, @name, @lname, @kind, @status, @overlap, @data) ' +
        'ON CONFLICT(serial) DO UPDATE SET nserial = excluded.nserial, name = excluded.name, lname = excluded.lname, kind = excluded.kind, status = excluded.status, overlap = excluded.overlap, data = excluded.data',
    ),
    certDelete: db.prepare('DELETE FROM certs WHERE serial = ?'),
    changeInsert: db.prepare('INSERT INTO changes (kind, key, at) VALUES (?, ?, ?)'),
    changesSince: db.prepare('SELECT seq, kind, key FROM changes WHERE seq > ? ORDER BY seq'),
    changesPrune: db.prepare('DELETE FROM changes WHERE seq <= ?'),
    lastSeq: db.prepare("SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'changes'), 0) AS seq"),
    firstSeq: db.prepare('SELECT min(seq) AS seq FROM changes'),
  };
}
