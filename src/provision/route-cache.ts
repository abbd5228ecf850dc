import { createHash } from 'node:crypto';
import { promises as fs, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../core/atomic.js';
import { errnoCode } from '../core/errors.js';
import type { CaStore } from '../home/store.js';
import type { Phone } from '../home/schema.js';
import { templatesDir } from '../vendors/templates.js';
import type { RouteRow } from './route-row.js';

/**
 * What the renders of the CA home's tree (provision/) rendered, phone by
 * phone: each phone's route rows (sizes included) under a stamp of
 * everything its files are made from. Kept beside the tree, in the home:
 * the tree holds only the files its manifest lists. `provision routes` lists a phone whose stamp still matches
 * from here instead of rendering it again (a PKCS#12's key derivation, the
 * legacy key form, reading the key: ~1 ms a phone, 11 s at 10,000 phones,
 * issue 14); a phone changed since, or never rendered, is rendered for real.
 *
 * One JSON line per rendered phone, appended by each render (a phone edit
 * appends one line instead of rewriting the fleet's entries); the last line
 * of a phone wins. A full render rewrites the file, and an append that finds
 * it more than twice its last rewritten size compacts it. A torn or odd line
 * is skipped: that phone is rendered for real, so the file is never trusted
 * for more than a shortcut.
 */

export interface CachedPhone {
  phone: string;
  stamp: string;
  rows: RouteRow[];
}

/** Compaction slack: below this the file is left to grow (a few hundred phones' lines). */
const SLACK = 1 << 20;

const sha = (s: string) => createHash('sha256').update(s).digest('base64url').slice(0, 22);

let codeStamp: string | undefined;

/**
 * Which renderer made the rows: size and time of every compiled module of
 * sipsec and every template (a vendor module, the key conversions and the
 * PKCS#12 builder all shape the files, and so do what they import), so an
 * upgraded or rebuilt sipsec does not list what its predecessor rendered.
 * About 240 stats, once per process (~2 ms).
 */
function rendererStamp(): string {
  if (codeStamp !== undefined) return codeStamp;
  const self = fileURLToPath(import.meta.url);
  const ext = path.extname(self);
  const parts: string[] = [];
  const walk = (dir: string, keep: (name: string) => boolean) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p, keep);
      else if (e.isFile() && keep(e.name)) parts.push(fileStamp(p));
    }
  };
  walk(path.join(path.dirname(self), '..'), (name) => name.endsWith(ext));
  walk(templatesDir(), () => true);
  codeStamp = sha(parts.join('\n'));
  return codeStamp;
}

function fileStamp(file: string): string {
  try {
    const st = statSync(file);
    return `${file} ${st.size} ${st.mtimeMs}`;
  } catch {
    return `${file} -`;
  }
}

/** What every phone's files are made from besides its own record: the renderer, the CA config, the CA certificates, a rotation. */
export function globalStamp(store: CaStore, caPem: string): string {
  return sha(JSON.stringify([rendererStamp(), store.config, caPem, store.index.transition ?? null]));
}

/** A phone's stamp: the global one, its record (options and secret included) and its certificate (and so its key). */
export function phoneStamp(globals: string, phone: Phone, serial: string): string {
  return sha(`${globals}\0${serial}\0${JSON.stringify(phone)}`);
}

function isRow(v: unknown): v is RouteRow {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.path === 'string' &&
    (r.phone === null || typeof r.phone === 'string') &&
    typeof r.vendor === 'string' &&
    typeof r.contentType === 'string' &&
    typeof r.holdsKey === 'boolean' &&
    Array.isArray(r.transports) &&
    r.transports.every((t) => t === 'tftp' || t === 'http' || t === 'https') &&
    typeof r.bytes === 'number' &&
    Array.isArray(r.aliases) &&
    r.aliases.every((a) => typeof a === 'string')
  );
}

function parseLine(line: string): CachedPhone | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const e = v as Record<string, unknown>;
  if (typeof e.phone !== 'string' || typeof e.stamp !== 'string' || !Array.isArray(e.rows) || !e.rows.every(isRow)) return undefined;
  return { phone: e.phone, stamp: e.stamp, rows: e.rows };
}

/** The cache (`routeCache` of the CA home), by phone (the last line of each); empty when there is none. */
export async function readRouteCache(file: string): Promise<Map<string, CachedPhone>> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return new Map();
    throw e;
  }
  const byPhone = new Map<string, CachedPhone>();
  const lines = text.split('\n');
  // The first line is the header; a file without one is not ours.
  if (headerBytes(lines[0] ?? '') === undefined) return byPhone;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const e = parseLine(line);
    if (e) byPhone.set(e.phone, e);
  }
  return byPhone;
}

/** The header line: the size of the entries when the file was last rewritten whole (compaction compares with it). */
function header(bytes: number): string {
  return JSON.stringify({ schema: 1, rewrittenBytes: bytes });
}

function headerBytes(line: string): number | undefined {
  try {
    const v: unknown = JSON.parse(line);
    if (typeof v !== 'object' || v === null) return undefined;
    const h = v as Record<string, unknown>;
    return h.schema === 1 && typeof h.rewrittenBytes === 'number' ? h.rewrittenBytes : undefined;
  } catch {
    return undefined;
  }
}

const lineOf = (e: CachedPhone) => JSON.stringify({ phone: e.phone, stamp: e.stamp, rows: e.rows }) + '\n';

async function rewrite(file: string, entries: Iterable<CachedPhone>): Promise<void> {
  const body = [...entries].map(lineOf).join('');
  // Derived from the store and rebuilt by any render: atomic, not fsynced (as the rendered files).
  await writeFileAtomic(file, header(Buffer.byteLength(body)) + '\n' + body, { mode: 0o600, durable: false });
}

/**
 * Record what a render of the CA home's tree rendered (called under the
 * render lock, after its files were written). `whole`: it rendered every
 * live phone, so the file is rewritten with these alone. `known` says which
 * phones still exist, for compaction.
 */
export async function recordRoutes(file: string, entries: CachedPhone[], whole: boolean, known: (phone: string) => boolean): Promise<void> {
  if (whole) return rewrite(file, entries);
  if (entries.length === 0) return;
  let first = '';
  let size = 0;
  try {
    const h = await fs.open(file, 'r');
    try {
      size = (await h.stat()).size;
      const buf = Buffer.alloc(128);
      const { bytesRead } = await h.read(buf, 0, buf.length, 0);
      first = buf.subarray(0, bytesRead).toString('utf8').split('\n')[0] ?? '';
    } finally {
      await h.close();
    }
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e;
  }
  const rewritten = headerBytes(first);
  if (rewritten === undefined || size > 2 * rewritten + SLACK) {
    const kept = rewritten === undefined ? new Map<string, CachedPhone>() : await readRouteCache(file);
    for (const e of entries) kept.set(e.phone, e);
    return rewrite(file, [...kept.values()].filter((e) => known(e.phone)));
  }
  await fs.appendFile(file, entries.map(lineOf).join(''), { mode: 0o600 });
}
