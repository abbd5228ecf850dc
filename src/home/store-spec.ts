import { promises as fs } from 'node:fs';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { SipsecError, errnoCode, messageOf } from '../core/errors.js';
import { writeFileAtomic } from '../core/atomic.js';
import type { HomePaths } from './paths.js';
import { isDenied, notReadable } from './writable.js';

/**
 * Where a CA home keeps its index: `sqlite` (sipsec.db in the home, the
 * default) or a PostgreSQL URL several machines share. A home is bound to
 * its store once (`store.json`, 0600: the URL may carry a password), so a
 * later command without `--store` can never split it across two stores.
 */
export type StoreSpec = { kind: 'sqlite' } | { kind: 'postgres'; url: string; schema: string | undefined; label: string };

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The URL without its password, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable URL>';
  }
}

/**
 * Parse `--store` / SIPSEC_STORE. `?schema=NAME` keeps the tables in their
 * own PostgreSQL schema (several CAs in one database); `{home}` in it stands
 * for this home's path, hashed (one setting for many homes on one machine).
 */
export function parseStoreSpec(text: string, home: string): StoreSpec {
  const t = text.trim();
  if (t === '' || t === 'sqlite') return { kind: 'sqlite' };
  if (!/^postgres(ql)?:\/\//.test(t)) throw new SipsecError('BAD_INPUT', `--store must be sqlite or a postgres:// URL, not ${JSON.stringify(t.replace(/:[^:@/]*@/, ':***@'))}`, 'e.g. --store postgres://sipsec@db.example.com/sipsec');
  let u: URL;
  try {
    u = new URL(t);
  } catch (e) {
    throw new SipsecError('BAD_INPUT', `--store is not a valid URL: ${messageOf(e)}`, 'e.g. --store postgres://sipsec@db.example.com/sipsec');
  }
  let schema = u.searchParams.get('schema') ?? undefined;
  u.searchParams.delete('schema');
  if (schema !== undefined) {
    schema = schema.replace('{home}', `h_${createHash('sha256').update(home).digest('hex').slice(0, 16)}`);
    if (!SCHEMA_NAME.test(schema)) throw new SipsecError('BAD_INPUT', `--store schema ${JSON.stringify(schema)} is not a plain PostgreSQL name`, 'use lower-case letters, digits and _ (at most 63), starting with a letter');
  }
  const url = u.toString();
  return { kind: 'postgres', url, schema, label: redactUrl(url) + (schema ? ` (schema ${schema})` : '') };
}

const BindingSchema = z.object({ store: z.string().min(1) }).strict();

/** The store this home is bound to, if it was bound to one other than sqlite. */
export async function readBinding(paths: HomePaths): Promise<string | undefined> {
  let text: string;
  try {
    text = await fs.readFile(paths.storeBinding, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    if (isDenied(e)) throw await notReadable(paths.root, e);
    throw new SipsecError('UNREADABLE', `cannot read ${paths.storeBinding}: ${messageOf(e)}`, 'run sipsec as the user that owns the CA home');
  }
  try {
    return BindingSchema.parse(JSON.parse(text)).store;
  } catch (e) {
    throw new SipsecError('CA_CORRUPT', `${paths.storeBinding} is not a store binding: ${messageOf(e)}`, 'restore it, or remove it and give --store again');
  }
}

export async function writeBinding(paths: HomePaths, store: string): Promise<void> {
  await writeFileAtomic(paths.storeBinding, JSON.stringify({ store }, null, 2) + '\n', { mode: 0o600 });
}

/**
 * The store a command uses on a home: its binding, which a `--store`
 * (or SIPSEC_STORE) given must agree with; or the one given, for a home
 * not yet bound.
 */
export async function resolveStore(paths: HomePaths, given: string | undefined): Promise<{ spec: StoreSpec; text: string; bound: boolean }> {
  const bound = await readBinding(paths);
  if (bound !== undefined) {
    const spec = parseStoreSpec(bound, paths.root);
    if (given !== undefined && given.trim() !== '' && given.trim() !== bound) {
      const other = parseStoreSpec(given, paths.root);
      const same = other.kind === spec.kind && (other.kind === 'sqlite' || (spec.kind === 'postgres' && other.url === spec.url && other.schema === spec.schema));
      if (!same) throw new SipsecError('BAD_INPUT', `the CA home ${paths.root} is bound to the store ${spec.kind === 'postgres' ? spec.label : 'sqlite'}, not ${other.kind === 'postgres' ? other.label : 'sqlite'}`, `drop --store (and SIPSEC_STORE), or use another --home`);
    }
    return { spec, text: bound, bound: true };
  }
  const text = given?.trim() ?? '';
  return { spec: parseStoreSpec(text, paths.root), text, bound: false };
}

/** SIPSEC_STORE, when set (the library's default; `--store` overrides it). */
export function storeFromEnv(): string | undefined {
  const v = process.env.SIPSEC_STORE;
  return v && v.trim() !== '' ? v : undefined;
}
