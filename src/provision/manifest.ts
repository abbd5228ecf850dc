import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../core/atomic.js';
import { SipsecError, errnoCode } from '../core/errors.js';
import { ManifestText, manifestText } from './manifest-text.js';

/**
 * The manifest of a rendered tree: which files in a folder sipsec wrote,
 * and for whom (`phone:NAME` or `vendor:ID`). sipsec replaces and removes
 * only the files listed here, so a TFTP root shared with firmware images
 * and anything else stays as its owner left it.
 */

export const MANIFEST = '.sipsec-manifest.json';
/** Held while a tree is rendered, so two commands never interleave their manifest updates. */
export const RENDER_LOCK = '.sipsec-manifest.lock';

export type OwnerKey = string;

export function phoneOwner(name: string): OwnerKey {
  return `phone:${name}`;
}

export function vendorOwner(id: string): OwnerKey {
  return `vendor:${id}`;
}

/** The phone an owner key names, or undefined for a vendor-wide file. */
export function ownerPhone(owner: OwnerKey): string | undefined {
  return owner.startsWith('phone:') ? owner.slice('phone:'.length) : undefined;
}

const OWNER_RE = /^(phone|vendor):[A-Za-z0-9._-]+$/;
// Shapes only, with plain checks: a fleet's manifest has tens of thousands of entries, and zod's record parse of
// them cost more than the render of one phone. Each entry is then checked with plain regexes.
const ManifestV1 = z.object({ schema: z.literal(1), files: z.unknown() });

function stringRecord(v: unknown): Array<[string, string]> | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const entries = Object.entries(v);
  return entries.every(([, x]) => typeof x === 'string') ? (entries as Array<[string, string]>) : undefined;
}

/** A relative path as the manifest stores it: inside the folder, `/`-separated, nothing odd. */
function validRel(rel: string): boolean {
  // One regex, no split: a fleet's manifest holds tens of thousands of paths, checked on every read.
  return rel !== '' && !UNSAFE_REL.test(rel);
}

/** `.` or `..` as a part, an empty part, a leading or trailing `/`, a backslash or a NUL. */
const UNSAFE_REL = /(^|\/)\.{1,2}(\/|$)|\/\/|^\/|\/$|[\\\0]/;

export type Manifest = Map<string, OwnerKey>;
/** A manifest as read: shared with this process's cache, so never changed in place. */
export type ReadManifest = ReadonlyMap<string, OwnerKey>;

/**
 * A manifest as a render uses it: a few paths and owners looked up, or all
 * of it for a full render. sipsec's own text is queried where it lies
 * (src/provision/manifest-text.ts), so changing one phone in a fleet does
 * not parse the fleet's paths; any other manifest is read whole as JSON.
 */
export interface Listing {
  get(rel: string): OwnerKey | undefined;
  /** Every path of these owners. */
  ownedBy(owners: ReadonlySet<OwnerKey>): Array<[string, OwnerKey]>;
  /** Every path (a full render reads them all). */
  all(): ReadManifest;
  /** The manifest's text with these paths set and those dropped. */
  edited(set: ReadonlyArray<readonly [string, OwnerKey]>, drop: readonly string[]): string;
}

/** A manifest read whole (JSON other than sipsec's own form, or none). */
class MapListing implements Listing {
  readonly #files: ReadManifest;

  constructor(files: ReadManifest) {
    this.#files = files;
  }

  get(rel: string): OwnerKey | undefined {
    return this.#files.get(rel);
  }

  ownedBy(owners: ReadonlySet<OwnerKey>): Array<[string, OwnerKey]> {
    return [...this.#files].filter(([, owner]) => owners.has(owner));
  }

  all(): ReadManifest {
    return this.#files;
  }

  edited(set: ReadonlyArray<readonly [string, OwnerKey]>, drop: readonly string[]): string {
    const next = new Map(this.#files);
    for (const [rel, owner] of set) next.set(rel, owner);
    for (const rel of drop) next.delete(rel);
    return manifestText(next);
  }
}

/**
 * Read `<out>/.sipsec-manifest.json` whole. A folder without one holds
 * nothing of sipsec's. An unreadable one is an error (every file would
 * otherwise look foreign), unless `force` says to start over.
 */
export async function readManifest(out: string, force = false): Promise<ReadManifest> {
  return (await readListing(out, force)).all();
}

/** Read the manifest for a render (the same rules as readManifest), without parsing sipsec's own text whole. */
export async function readListing(out: string, force = false): Promise<Listing> {
  const file = path.join(out, MANIFEST);
  let text: string;
  let stamp: string;
  try {
    // A process that renders again and again (serve, an import) reads a fleet's manifest once: it is
    // replaced by rename on every write, so the same inode, size and time mean the same content.
    const st = await fs.stat(file, { bigint: true });
    stamp = `${st.ino}/${st.size}/${st.mtimeNs}`;
    const hit = seen.get(file);
    // A file changed in place within the clock's granularity can keep all three: trust only a settled one (as git does).
    const settled = Date.now() - Number(st.mtimeMs) > 2_000;
    if (hit && hit.stamp === stamp && settled) return hit.listing;
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return new MapListing(new Map());
    throw e;
  }
  const listing = listingOf(text);
  if (!listing) {
    if (force) return new MapListing(new Map());
    throw new SipsecError('UNREADABLE', `${file} is not a sipsec manifest, so which files in ${out} sipsec wrote is unknown`, `move it away, or render with --force to take over the files sipsec writes`);
  }
  seen.set(file, { stamp, listing });
  return listing;
}

/** sipsec's own text (every path checked by one pattern), or any other JSON manifest with every entry checked; undefined when untrusted. */
function listingOf(text: string): Listing | undefined {
  const own = ManifestText.of(text);
  if (own) return own;
  const entries = jsonEntries(text);
  if (entries === undefined || entries.some(([rel, owner]) => !validRel(rel) || !OWNER_RE.test(owner))) return undefined;
  return new MapListing(new Map(entries));
}

/** A manifest read as JSON: schema 1, or the schema-less one of older sipsec. */
function jsonEntries(text: string): Array<[string, OwnerKey]> | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const v1 = ManifestV1.safeParse(json);
  if (v1.success) return stringRecord(v1.data.files);
  // Written by sipsec before manifests had a schema: path -> phone name, or `vendor:ID`.
  return stringRecord(json)?.map(([rel, owner]) => [rel, owner.startsWith('vendor:') ? owner : phoneOwner(owner)]);
}

/** The manifests this process last read or wrote, by file, with the stat they had then. */
const seen = new Map<string, { stamp: string; listing: Listing }>();

/** Write a manifest's text (from manifestText or Listing.edited). */
export async function writeManifest(out: string, text: string): Promise<void> {
  const file = path.join(out, MANIFEST);
  await writeFileAtomic(file, text, { mode: 0o600 });
  const st = await fs.stat(file, { bigint: true });
  const listing = ManifestText.of(text);
  if (listing) seen.set(file, { stamp: `${st.ino}/${st.size}/${st.mtimeNs}`, listing });
  else seen.delete(file);
}
