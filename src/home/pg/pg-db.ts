import { SipsecError } from '../../core/errors.js';
import { DB_SCHEMA_VERSION, INDEXES, IndexDb, certColumns, phoneColumns, KEEP_CHANGES, norm, parseRow, type Change, type IndexBackend, type Meta, type RowChanges, type SharedFile } from '../db.js';
import type { CertEntry, Index, Phone } from '../schema.js';
import { SyncPg, type Row, type Step } from './sync-client.js';

/**
 * The index in PostgreSQL: the same tables as sipsec.db (db.ts), so
 * several machines share one inventory and CA index. Two additions for
 * that: `files` holds what every machine's copy of the home needs
 * (certificates, phone and server keys, ca.crt, the CRL, config.json;
 * never a CA key), and every commit ends with a NOTIFY on `sipsec_changes`
 * so a serve elsewhere picks the change up at once. Sequence numbers come
 * from a counter row in `meta`, taken in the committing transaction: they
 * are in commit order with no gaps, which the follower relies on.
 */

export const NOTIFY_CHANNEL = 'sipsec_changes';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS phones (ord BIGSERIAL NOT NULL, name TEXT PRIMARY KEY, lname TEXT NOT NULL, vendor TEXT NOT NULL, mac TEXT, sipuser TEXT NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS phones_ord ON phones(ord);
CREATE TABLE IF NOT EXISTS phone_ips (ip TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (ip, name));
CREATE TABLE IF NOT EXISTS certs (ord BIGSERIAL NOT NULL, serial TEXT PRIMARY KEY, nserial TEXT NOT NULL, name TEXT NOT NULL, lname TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL, overlap INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS certs_ord ON certs(ord);
CREATE TABLE IF NOT EXISTS changes (seq BIGINT PRIMARY KEY, kind TEXT NOT NULL, key TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, mode INTEGER NOT NULL, data BYTEA NOT NULL, seq BIGINT NOT NULL);
CREATE INDEX IF NOT EXISTS files_seq ON files(seq);
CREATE TABLE IF NOT EXISTS instances (id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, started TEXT NOT NULL, seen TIMESTAMPTZ NOT NULL, info TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS registrations (aor TEXT NOT NULL, instance TEXT NOT NULL, contact TEXT NOT NULL, phone TEXT, remote TEXT NOT NULL, expires TIMESTAMPTZ NOT NULL, PRIMARY KEY (aor, instance, contact));
${INDEXES}`;

/** The advisory lock that serialises writers across machines (the file lock does it on one). */
const WRITE_LOCK = 0x5195ec;

type DataRow = { data: string };

/** Rows as one array per column, in `keys` order: the parameters of an INSERT ... SELECT FROM unnest(...). */
function columnsOf<T extends Record<string, unknown>>(rows: T[], keys: Array<keyof T>): unknown[][] {
  return keys.map((k) => rows.map((r) => r[k]));
}

/** bytea crosses the worker boundary as a Uint8Array (structured clone drops Buffer's prototype). */
function buf(v: Uint8Array): Buffer {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

function phones(rows: Row[]): Phone[] {
  return (rows as DataRow[]).map((r) => parseRow<Phone>(r.data, 'phone'));
}

function certs(rows: Row[]): CertEntry[] {
  return (rows as DataRow[]).map((r) => parseRow<CertEntry>(r.data, 'certificate'));
}

export class PgIndexDb implements IndexBackend {
  readonly kind = 'postgres' as const;
  readonly file: string;
  private readonly pg: SyncPg;
  /** Where to connect (with the password, if the URL has one): for serve's own listening connection. */
  readonly connection: { url: string; schema: string | undefined };

  private constructor(label: string, pg: SyncPg, connection: { url: string; schema: string | undefined }) {
    this.file = label;
    this.pg = pg;
    this.connection = connection;
  }

  /** Connect, and create the tables if this database (schema) has none yet. */
  static open(url: string, schema: string | undefined, label: string): PgIndexDb {
    const pg = new SyncPg(url, schema, label);
    try {
      // The tables exist at the version this sipsec writes: one read, no DDL (every command opens the store).
      const present = pg.query("SELECT to_regclass('meta') IS NOT NULL AND to_regclass('registrations') IS NOT NULL AS ok")[0] as { ok: boolean };
      if (present.ok) {
        const v = (pg.query("SELECT value FROM meta WHERE key = 'schema'")[0] as { value: string } | undefined)?.value;
        if (v !== undefined && Number(v) === DB_SCHEMA_VERSION) return new PgIndexDb(label, pg, { url, schema });
      }
      const [, , version] = pg.tx([
        // Two sipsecs creating the tables at once: one waits for the other.
        { sql: 'SELECT pg_advisory_xact_lock($1)', params: [WRITE_LOCK + 1] },
        { sql: SCHEMA },
        { sql: "SELECT value FROM meta WHERE key = 'schema'" },
      ]);
      const v = (version?.[0] as { value: string } | undefined)?.value;
      if (v === undefined) {
        pg.tx([{ sql: "INSERT INTO meta (key, value) VALUES ('schema', $1), ('crlNumber', '0'), ('seq', '0') ON CONFLICT DO NOTHING", params: [String(DB_SCHEMA_VERSION)] }]);
      } else if (Number(v) > DB_SCHEMA_VERSION) {
        throw new SipsecError('CA_CORRUPT', `the store ${label} was written by a newer sipsec (schema ${v})`, 'upgrade sipsec');
      }
    } catch (e) {
      pg.close();
      throw e;
    }
    return new PgIndexDb(label, pg, { url, schema });
  }

  close(): void {
    this.pg.close();
  }

  /** Whether the store holds a CA yet (a machine attaching to it, or `ca init`). */
  hasCa(): boolean {
    return this.pg.query("SELECT 1 FROM certs WHERE kind = 'ca' LIMIT 1").length > 0;
  }

  meta(): Meta {
    const m = new Map((this.pg.query('SELECT key, value FROM meta') as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
    const t = m.get('transition');
    return { crlNumber: Number(m.get('crlNumber') ?? '0'), transition: t ? parseRow<Index['transition']>(t, 'rotation record') : undefined };
  }

  allPhones(): Array<{ text: string; phone: Phone }> {
    return (this.pg.query('SELECT data FROM phones ORDER BY ord') as DataRow[]).map((r) => ({ text: r.data, phone: parseRow<Phone>(r.data, 'phone') }));
  }

  allCerts(): Array<{ text: string; cert: CertEntry }> {
    return (this.pg.query('SELECT data FROM certs ORDER BY ord') as DataRow[]).map((r) => ({ text: r.data, cert: parseRow<CertEntry>(r.data, 'certificate') }));
  }

  phoneCount(): number {
    return Number((this.pg.query('SELECT count(*)::int AS n FROM phones')[0] as { n: number }).n);
  }

  phone(name: string): Phone | undefined {
    return phones(this.pg.query('SELECT data FROM phones WHERE name = $1', [name]))[0];
  }

  phonesMatching(q: { lnames?: string[]; macs?: string[]; sipusers?: string[]; ips?: string[] }): Phone[] {
    const rows = this.pg.query(
      'SELECT data FROM phones WHERE lname = ANY($1) OR mac = ANY($2) OR sipuser = ANY($3) OR name IN (SELECT name FROM phone_ips WHERE ip = ANY($4)) ORDER BY ord',
      [q.lnames ?? [], q.macs ?? [], q.sipusers ?? [], q.ips ?? []],
    );
    return phones(rows);
  }

  phonesOfVendor(vendor: string): Phone[] {
    return phones(this.pg.query('SELECT data FROM phones WHERE vendor = $1 ORDER BY ord', [vendor]));
  }

  livePhoneNames(vendor: string): string[] {
    const rows = this.pg.query("SELECT p.name FROM phones p WHERE p.vendor = $1 AND EXISTS (SELECT 1 FROM certs c WHERE c.name = p.name AND c.kind = 'phone' AND c.status = 'valid') ORDER BY p.ord", [vendor]);
    return (rows as Array<{ name: string }>).map((r) => r.name);
  }

  certsOf(name: string): CertEntry[] {
    return certs(this.pg.query('SELECT data FROM certs WHERE name = $1 ORDER BY ord', [name]));
  }

  certBySerial(serial: string): CertEntry | undefined {
    return certs(this.pg.query('SELECT data FROM certs WHERE nserial = $1 ORDER BY ord LIMIT 1', [norm(serial)]))[0];
  }

  overlapCerts(): CertEntry[] {
    return certs(this.pg.query('SELECT data FROM certs WHERE overlap = 1 ORDER BY ord'));
  }

  revokedCerts(): CertEntry[] {
    return certs(this.pg.query("SELECT data FROM certs WHERE status = 'revoked' ORDER BY ord"));
  }

  certsOfKind(kind: string): CertEntry[] {
    return certs(this.pg.query('SELECT data FROM certs WHERE kind = $1 ORDER BY ord', [kind]));
  }

  validCertsNamed(lname: string): CertEntry[] {
    return certs(this.pg.query("SELECT data FROM certs WHERE lname = $1 AND status = 'valid' ORDER BY ord", [lname]));
  }

  lastSeq(): number {
    return Number((this.pg.query("SELECT value FROM meta WHERE key = 'seq'")[0] as { value: string } | undefined)?.value ?? '0');
  }

  changesSince(seq: number): Change[] | undefined {
    const [first, last, rows] = this.pg.tx([
      { sql: 'SELECT min(seq)::text AS seq FROM changes' },
      { sql: "SELECT value AS seq FROM meta WHERE key = 'seq'" },
      { sql: 'SELECT seq::text AS seq, kind, key FROM changes WHERE seq > $1 ORDER BY seq', params: [seq] },
    ]);
    const f = (first?.[0] as { seq: string | null } | undefined)?.seq;
    const l = Number((last?.[0] as { seq: string } | undefined)?.seq ?? '0');
    if ((f === null || f === undefined) ? l > seq : Number(f) > seq + 1) return undefined;
    return (rows as Array<{ seq: string; kind: Change['kind']; key: string }>).map((r) => ({ seq: Number(r.seq), kind: r.kind, key: r.key }));
  }

  commit(c: RowChanges, at: Date): number {
    const iso = at.toISOString();
    const kinds: string[] = [];
    const keys: string[] = [];
    const steps: Step[] = [];
    const gone = [...c.phones].filter(([, p]) => p === null).map(([n]) => n);
    const put = [...c.phones.values()].filter((p): p is Phone => p !== null);
    for (const name of c.phones.keys()) {
      kinds.push('phone');
      keys.push(name);
    }
    for (const serial of c.certs.keys()) {
      kinds.push('cert');
      keys.push(serial);
    }
    if (c.meta) {
      kinds.push('meta');
      keys.push('index');
    }
    for (const n of c.notes ?? []) {
      kinds.push(n.kind);
      keys.push(n.key);
    }
    // First: take the sequence numbers (the row lock orders concurrent commits).
    steps.push({ sql: "UPDATE meta SET value = (value::bigint + $1)::text WHERE key = 'seq' RETURNING value::bigint::text AS last", params: [kinds.length] });
    if (c.phones.size > 0) steps.push({ sql: 'DELETE FROM phone_ips WHERE name = ANY($1)', params: [[...c.phones.keys()]] });
    if (gone.length > 0) steps.push({ sql: 'DELETE FROM phones WHERE name = ANY($1)', params: [gone] });
    if (put.length > 0) {
      steps.push({
        sql:
          'INSERT INTO phones (name, lname, vendor, mac, sipuser, data) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) ' +
          'ON CONFLICT (name) DO UPDATE SET lname = excluded.lname, vendor = excluded.vendor, mac = excluded.mac, sipuser = excluded.sipuser, data = excluded.data',
        params: columnsOf(put.map(phoneColumns), ['name', 'lname', 'vendor', 'mac', 'sipuser', 'data']),
      });
      const ips = put.flatMap((p) => [...new Set(p.ips)].map((ip) => [ip, p.name] as const));
      if (ips.length > 0) steps.push({ sql: 'INSERT INTO phone_ips (ip, name) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING', params: [ips.map((x) => x[0]), ips.map((x) => x[1])] });
    }
    const dropped = [...c.certs].filter(([, e]) => e === null).map(([s]) => s);
    const certsPut = [...c.certs.values()].filter((e): e is CertEntry => e !== null);
    if (dropped.length > 0) steps.push({ sql: 'DELETE FROM certs WHERE serial = ANY($1)', params: [dropped] });
    if (certsPut.length > 0) {
      steps.push({
        sql:
          'INSERT INTO certs (serial, nserial, name, lname, kind, status, overlap, data) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[]) ' +
          'ON CONFLICT (serial) DO UPDATE SET nserial = excluded.nserial, name = excluded.name, lname = excluded.lname, kind = excluded.kind, status = excluded.status, overlap = excluded.overlap, data = excluded.data',
        params: columnsOf(certsPut.map(certColumns), ['serial', 'nserial', 'name', 'lname', 'kind', 'status', 'overlap', 'data']),
      });
    }
    if (c.meta) {
      steps.push({ sql: "INSERT INTO meta (key, value) VALUES ('crlNumber', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value", params: [String(c.meta.crlNumber)] });
      if (c.meta.transition) steps.push({ sql: "INSERT INTO meta (key, value) VALUES ('transition', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value", params: [JSON.stringify(c.meta.transition)] });
      else steps.push({ sql: "DELETE FROM meta WHERE key = 'transition'" });
    }
    const seqNow = "(SELECT value::bigint FROM meta WHERE key = 'seq')";
    steps.push({ sql: `INSERT INTO changes (seq, kind, key, at) SELECT ${seqNow} - $1::bigint + t.n, t.kind, t.key, $4 FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS t(kind, key, n)`, params: [kinds.length, kinds, keys, iso] });
    const files = c.files ?? [];
    if (files.length > 0) {
      steps.push({
        sql: `INSERT INTO files (path, mode, data, seq) SELECT t.path, t.mode, t.data, ${seqNow} FROM unnest($1::text[], $2::int[], $3::bytea[]) AS t(path, mode, data) ON CONFLICT (path) DO UPDATE SET mode = excluded.mode, data = excluded.data, seq = excluded.seq`,
        params: [files.map((f) => f.path), files.map((f) => f.mode), files.map((f) => f.data)],
      });
    }
    steps.push({ sql: `DELETE FROM changes WHERE seq <= ${seqNow} - $1::bigint AND ${seqNow} % 1000 < $2::bigint`, params: [KEEP_CHANGES, kinds.length] });
    steps.push({ sql: `SELECT pg_notify($1, ${seqNow}::text)`, params: [NOTIFY_CHANNEL] });
    const rows = this.pg.tx(steps);
    return Number((rows[0]?.[0] as { last: string } | undefined)?.last ?? '0');
  }

  /** Files changed after `seq` (a machine's copy of the home catching up), and the newest number among them. */
  filesSince(seq: number): Array<SharedFile & { seq: number }> {
    const rows = this.pg.query('SELECT path, mode, data, seq::text AS seq FROM files WHERE seq > $1 ORDER BY seq', [seq]) as Array<{ path: string; mode: number; data: Uint8Array; seq: string }>;
    return rows.map((r) => ({ path: r.path, mode: r.mode, data: buf(r.data), seq: Number(r.seq) }));
  }

  /** The stored content of some files (to skip uploading what has not changed). */
  fileContents(paths: string[]): Map<string, Buffer> {
    const rows = this.pg.query('SELECT path, data FROM files WHERE path = ANY($1)', [paths]) as Array<{ path: string; data: Uint8Array }>;
    return new Map(rows.map((r) => [r.path, buf(r.data)]));
  }

  /** Which of these files the store holds. */
  filesPresent(paths: string[]): Set<string> {
    return new Set((this.pg.query('SELECT path FROM files WHERE path = ANY($1)', [paths]) as Array<{ path: string }>).map((r) => r.path));
  }

  /** Take the writers' lock without waiting; true if this connection now holds it. */
  tryLock(): boolean {
    return (this.pg.query('SELECT pg_try_advisory_lock($1) AS ok', [WRITE_LOCK])[0] as { ok: boolean }).ok;
  }

  unlock(): void {
    this.pg.query('SELECT pg_advisory_unlock($1)', [WRITE_LOCK]);
  }

  /** Run a statement for serve's instance and registration rows. */
  exec(sql: string, params?: unknown[]): Row[] {
    return this.pg.query(sql, params);
  }

  copyTo(file: string): void {
    // The archive holds a SQLite database whatever the store: one consistent read, written as sipsec.db.
    const [meta, ph, ce] = this.pg.tx([
      { sql: 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ' },
      { sql: 'SELECT key, value FROM meta' },
      { sql: 'SELECT data FROM phones ORDER BY ord' },
      { sql: 'SELECT data FROM certs ORDER BY ord' },
    ]).slice(1);
    const m = new Map((meta as Array<{ key: string; value: string }>).map((r) => [r.key, r.value]));
    const db = IndexDb.open(file, { create: true, wal: false });
    try {
      const t = m.get('transition');
      db.commit(
        {
          phones: new Map(phones(ph ?? []).map((p) => [p.name, p])),
          certs: new Map(certs(ce ?? []).map((e) => [e.serial, e])),
          meta: { crlNumber: Number(m.get('crlNumber') ?? '0'), transition: t ? parseRow<Index['transition']>(t, 'rotation record') : undefined },
        },
        new Date(),
      );
    } finally {
      db.close();
    }
  }

  quickCheck(): string {
    // PostgreSQL checks its own pages; what sipsec can check is that the rows read back as records.
    try {
      this.allPhones();
      this.allCerts();
      this.meta();
      return 'ok';
    } catch (e) {
      return e instanceof Error ? e.message : String(e);
    }
  }
}
