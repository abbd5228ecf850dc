import * as os from 'node:os';
import pg from 'pg';
import type { PgIndexDb } from '../home/pg/pg-db.js';
import { NOTIFY_CHANNEL } from '../home/pg/pg-db.js';
import { quoteIdent } from '../home/pg/ident.js';

/**
 * serve instances sharing one PostgreSQL store. Each one says it is alive
 * (`instances`, seen every few seconds) and which registrations it holds
 * (`registrations`), so `sipsec status` on any of them can say where a
 * phone is registered; and each LISTENs for the commits of the others, so
 * a change made anywhere reaches it at once (the poll is the fallback).
 * Registrations themselves stay with the instance holding the phone's
 * connection.
 */

export interface HeldRegistration {
  phone: unknown;
  aor: unknown;
  contact: unknown;
  remote: unknown;
  expires: unknown;
}

export interface Presence {
  id: string;
  /** Registrations held by the other live instances. */
  elsewhere(): Promise<Array<{ instance: string; phone: string | null; aor: string; contact: string; remote: string; expires: number }>>;
  instances(): Promise<Array<{ id: string; host: string; pid: number; started: string; seenSecondsAgo: number; info: unknown }>>;
  close(): Promise<void>;
}

/** An instance not seen for this long is gone (crashed): its rows no longer count. */
const STALE_S = 30;
const HEARTBEAT_MS = 5_000;
const PUBLISH_MS = 1_000;

export async function joinStore(o: {
  store: PgIndexDb;
  id?: string | undefined;
  info: Record<string, unknown>;
  registrations: () => HeldRegistration[];
  onChange: () => void;
  onError: (reason: string) => void;
}): Promise<Presence> {
  const id = o.id ?? `${os.hostname()}:${process.pid}`;
  const started = new Date().toISOString();
  let client: pg.Client | undefined;
  let closed = false;
  const connect = async (): Promise<pg.Client> => {
    const c = new pg.Client({ connectionString: o.store.connection.url, application_name: `sipsec serve ${id}` });
    c.on('error', (e) => {
      o.onError(`the store connection failed: ${e.message}`);
      if (client === c) client = undefined;
    });
    c.on('notification', (n) => {
      if (n.channel === NOTIFY_CHANNEL) o.onChange();
    });
    await c.connect();
    if (o.store.connection.schema) await c.query(`SET search_path TO ${quoteIdent(o.store.connection.schema)}`);
    await c.query(`LISTEN ${NOTIFY_CHANNEL}`);
    await c.query(
      'INSERT INTO instances (id, host, pid, started, seen, info) VALUES ($1, $2, $3, $4, now(), $5) ON CONFLICT (id) DO UPDATE SET host = excluded.host, pid = excluded.pid, started = excluded.started, seen = now(), info = excluded.info',
      [id, os.hostname(), process.pid, started, JSON.stringify(o.info)],
    );
    return c;
  };
  const db = async (): Promise<pg.Client> => (client ??= await connect());
  await db();

  // What this instance last wrote, by AOR + contact: only differences go out.
  let published = new Map<string, { expiresAt: number; row: HeldRegistration }>();
  let busy = false;
  const publish = async () => {
    if (busy || closed) return;
    busy = true;
    try {
      const now = Date.now();
      const current = new Map<string, { expiresAt: number; row: HeldRegistration }>();
      for (const r of o.registrations()) current.set(`${String(r.aor)}\n${String(r.contact)}`, { expiresAt: now + Number(r.expires) * 1000, row: r });
      const gone = [...published.keys()].filter((k) => !current.has(k));
      // A refresh moves the expiry; a few seconds of drift is not a change.
      const changed = [...current].filter(([k, v]) => {
        const old = published.get(k);
        return !old || Math.abs(old.expiresAt - v.expiresAt) > 5_000 || String(old.row.remote) !== String(v.row.remote);
      });
      if (gone.length === 0 && changed.length === 0) return;
      const c = await db();
      await c.query('BEGIN');
      try {
        if (gone.length > 0) await c.query('DELETE FROM registrations WHERE instance = $1 AND aor || E\'\\n\' || contact = ANY($2)', [id, gone]);
        if (changed.length > 0) {
          const rows = changed.map(([, v]) => v);
          await c.query(
            'INSERT INTO registrations (aor, instance, contact, phone, remote, expires) SELECT t.aor, $1, t.contact, t.phone, t.remote, to_timestamp(t.ms / 1000.0) FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::float8[]) AS t(aor, contact, phone, remote, ms) ' +
              'ON CONFLICT (aor, instance, contact) DO UPDATE SET phone = excluded.phone, remote = excluded.remote, expires = excluded.expires',
            [id, rows.map((r) => String(r.row.aor)), rows.map((r) => String(r.row.contact)), rows.map((r) => (typeof r.row.phone === 'string' ? r.row.phone : null)), rows.map((r) => String(r.row.remote)), rows.map((r) => r.expiresAt)],
          );
        }
        await c.query('COMMIT');
      } catch (e) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw e;
      }
      published = current;
    } catch (e) {
      o.onError(`publishing registrations failed: ${(e as Error).message}`);
    } finally {
      busy = false;
    }
  };
  const heartbeat = async () => {
    try {
      await (await db()).query('UPDATE instances SET seen = now() WHERE id = $1', [id]);
    } catch (e) {
      o.onError(`the instance heartbeat failed: ${(e as Error).message}`);
    }
  };
  const timers = [setInterval(() => void publish(), PUBLISH_MS), setInterval(() => void heartbeat(), HEARTBEAT_MS)];
  for (const t of timers) t.unref();

  return {
    id,
    elsewhere: async () => {
      const r = await (await db()).query(
        `SELECT r.instance, r.phone, r.aor, r.contact, r.remote, greatest(0, extract(epoch FROM r.expires - now()))::int AS expires FROM registrations r JOIN instances i ON i.id = r.instance
         WHERE r.instance <> $1 AND i.seen > now() - make_interval(secs => $2) AND r.expires > now() ORDER BY r.aor, r.instance`,
        [id, STALE_S],
      );
      return r.rows as Array<{ instance: string; phone: string | null; aor: string; contact: string; remote: string; expires: number }>;
    },
    instances: async () => {
      const r = await (await db()).query('SELECT id, host, pid, started, extract(epoch FROM now() - seen)::int AS ago, info FROM instances WHERE seen > now() - make_interval(secs => $1) ORDER BY started', [STALE_S]);
      return (r.rows as Array<{ id: string; host: string; pid: number; started: string; ago: number; info: string }>).map((x) => ({ id: x.id, host: x.host, pid: x.pid, started: x.started, seenSecondsAgo: x.ago, info: JSON.parse(x.info) as unknown }));
    },
    close: async () => {
      closed = true;
      for (const t of timers) clearInterval(t);
      // Leave the list now (a connection lost in an outage is made again for it); if the store is down, the row ages out.
      const c = client ?? (await connect().catch(() => undefined));
      client = undefined;
      if (!c) return;
      await c.query('DELETE FROM registrations WHERE instance = $1', [id]).catch(() => undefined);
      await c.query('DELETE FROM instances WHERE id = $1', [id]).catch(() => undefined);
      await c.end().catch(() => undefined);
    },
  };
}
