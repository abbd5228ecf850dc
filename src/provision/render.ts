import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { SipsecError } from '../core/errors.js';
import { withLock } from '../core/lock.js';
import type { CaStore } from '../home/store.js';
import type { Phone } from '../home/schema.js';
import { loadVendor } from '../vendors/registry.js';
import type { VendorModule } from '../vendors/types.js';
import { phoneContextSync, sharedContext } from './context.js';
import { RENDER_LOCK, ownerPhone, phoneOwner, readListing, vendorOwner, type OwnerKey } from './manifest.js';
import { applyPlan, type PlannedFile } from './tree.js';
import { globalStamp, phoneStamp, recordRoutes, type CachedPhone } from './route-cache.js';
import { routeRow } from './route-row.js';
import { toRoute } from './routes.js';

/**
 * Writing the provisioning tree to disk: every route at its path (a
 * phone's files 0600, vendor-wide files 0644 unless they hold a key), plus
 * a ready directory `<out>/<phone>/` for clients that run from one
 * (baresip, linphone), whose configs name their files by their final
 * absolute path. The folder's manifest says which files are sipsec's
 * (src/provision/tree.ts): only those are replaced or removed.
 *
 * A whole-tree render and a render of some phones run the same way; the
 * latter renders only those phones (plus the vendor-wide files, which are
 * few and depend on the vendor's phones), so one phone costs one phone.
 */

export interface RenderResult {
  /** Absolute folder rendered into. */
  out: string;
  /** Absolute paths of the files rendered (written or already identical). */
  files: string[];
  /** Paths (relative to out) written, already identical, and removed. */
  written: string[];
  unchanged: string[];
  removed: string[];
  /** With dryRun: the files of `written` that are not in the folder at all. */
  missing?: string[];
  /** What was rendered and what to do with it, for a person. */
  lines: string[];
}

export interface RenderOptions {
  /** Replace same-named files in the folder that sipsec did not write. */
  force?: boolean;
  /** Compare the folder with what would be rendered and write nothing (`sipsec doctor --out`). */
  dryRun?: boolean;
}

/** Which phones a render speaks for: all of them, or these (plus every vendor's shared files). */
type Selection = { all: true } | { all: false; phones: string[]; drop: string[]; vendors?: string[] };

/** A rendered file's path, checked: inside the folder, no `..`, no empty parts. */
function relPath(p: string, owner: string): string {
  const rel = p.replace(/^\/+/, '');
  if (rel === '' || rel.includes('\\') || rel.includes('\0') || rel.split('/').some((x) => x === '' || x === '.' || x === '..')) {
    throw new SipsecError('INTERNAL', `refusing to write '${p}' for ${owner} outside the provisioning folder`, 'this is a bug in sipsec: rendered paths are relative and plain');
  }
  return rel;
}

/** Names of the phones that have something to fetch: recorded, with a valid certificate. */
function livePhones(store: CaStore): Set<string> {
  const valid = new Set<string>();
  for (const c of store.index.certificates) if (c.kind === 'phone' && c.status === 'valid') valid.add(c.name);
  return new Set(store.index.phones.filter((p) => valid.has(p.name)).map((p) => p.name));
}

/**
 * The phones a render looks at: the whole inventory for a full render; for
 * some phones, those phones and the other phones of their vendors (the
 * vendor-wide files list them), read by index, so one phone's change does
 * not read the fleet.
 */
function phonesInScope(store: CaStore, sel: Selection): { phones: Phone[]; live: Set<string>; vendors: Set<string> | undefined } {
  const names = sel.all ? [] : [...sel.phones, ...sel.drop];
  const named = names.flatMap((n) => store.phone(n) ?? []);
  // A phone no longer recorded, whose vendor the caller did not say: its vendor's files are found by looking at everything.
  if (sel.all || (named.length < names.length && !sel.vendors)) return { phones: store.index.phones, live: livePhones(store), vendors: undefined };
  const vendors = new Set([...named.map((p) => p.vendor), ...(sel.vendors ?? [])]);
  const phones = [...vendors].flatMap((v) => store.phonesOfVendor(v));
  const live = new Set([...vendors].flatMap((v) => store.livePhoneNames(v)));
  return { phones, live, vendors };
}

/**
 * The owners a render of some phones may drop files of (inScope or not
 * isLive below): the named phones, the phones of their vendors that have
 * nothing to fetch any more, and those vendors' shared files.
 */
function droppable(named: ReadonlySet<string>, seen: ReadonlySet<string>, live: ReadonlySet<string>, vendors: ReadonlySet<string>): Set<OwnerKey> {
  const owners = new Set<OwnerKey>();
  for (const name of named) owners.add(phoneOwner(name));
  for (const name of seen) if (!live.has(name)) owners.add(phoneOwner(name));
  for (const id of vendors) owners.add(vendorOwner(id));
  return owners;
}

async function pool<T>(items: T[], width: number, fn: (t: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i]!, i);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

async function renderSelection(store: CaStore, out: string, sel: Selection, opts: RenderOptions): Promise<RenderResult> {
  const root = path.resolve(out);
  const force = opts.force === true;
  // A phone's ready directory is <out>/<name>/: rendered over the CA home, a phone named `private` would write into its keys.
  const within = (a: string, b: string) => a === b || a.startsWith(b + path.sep);
  if (within(store.paths.root, root) || (within(root, store.paths.root) && !within(root, store.paths.provisionDir))) {
    throw new SipsecError('BAD_INPUT', `cannot render into ${root}: it is the CA home, holds it, or is inside it`, `render into ${store.paths.provisionDir} (the default) or a folder of its own, such as /srv/tftp`);
  }
  const dryRun = opts.dryRun === true;
  if (!dryRun) await fs.mkdir(root, { recursive: true, mode: 0o700 });
  // A dry run takes no lock: it writes nothing, and a lock file would be a write into someone's TFTP root.
  const locked = <T>(fn: () => Promise<T>) => (dryRun ? fn() : withLock(path.join(root, RENDER_LOCK), fn));
  return locked(async () => {
    // Another command may have changed the store since this one read it: render what is there now.
    await store.reload();
    const manifest = await readListing(root, force);
    const drop = new Set(sel.all ? [] : sel.drop);
    const scope = phonesInScope(store, sel);
    const live = scope.live;
    for (const name of drop) live.delete(name);
    const named = new Set(sel.all ? [] : [...sel.phones, ...sel.drop]);
    const phones = scope.phones.filter((p) => live.has(p.name) && (sel.all || named.has(p.name)));

    // Vendor-wide files: every vendor with phones, and every vendor whose files are in the folder (to drop them).
    const byVendor = new Map<string, Phone[]>();
    for (const p of scope.phones) {
      if (!live.has(p.name)) continue;
      const list = byVendor.get(p.vendor);
      if (list) list.push(p);
      else byVendor.set(p.vendor, [p]);
    }
    const vendorIds = new Set<string>([...byVendor.keys(), ...phones.map((p) => p.vendor)]);
    // A full render also drops the files of vendors no phone uses any more; a render of some phones touches only their vendors.
    if (!scope.vendors) for (const owner of manifest.all().values()) if (owner.startsWith('vendor:')) vendorIds.add(owner.slice('vendor:'.length));
    const vendors = new Map<string, VendorModule>();
    for (const id of [...vendorIds].sort()) {
      try {
        vendors.set(id, await loadVendor(id));
      } catch (e) {
        // A vendor this sipsec no longer knows, with files still listed: they are dropped (no phone uses it).
        if (byVendor.has(id)) throw e;
      }
    }

    const plan: PlannedFile[] = [];
    for (const [id, vendor] of vendors) {
      const list = byVendor.get(id);
      if (!vendor.renderShared || !list) continue;
      for (const f of vendor.renderShared(await sharedContext(store, list))) {
        if (f.localOnly) continue;
        plan.push({ rel: relPath(f.path, id), content: f.content, mode: f.holdsKey ? 0o600 : 0o644, owner: vendorOwner(id) });
      }
    }
    const caPem = await store.caCertPem();
    const perPhone: Array<{ files: PlannedFile[]; lines: string[]; cached: CachedPhone }> = new Array(phones.length);
    const globals = globalStamp(store, caPem);
    await pool(phones, 8, async (phone, i) => {
      const vendor = vendors.get(phone.vendor)!;
      // The ready directory's final path: what the configs inside it name.
      const localDir = path.join(root, phone.name);
      const ctx = phoneContextSync(store, phone, vendor, caPem, localDir);
      const owner = phoneOwner(phone.name);
      // A phone's files carry its SIP secret even when they hold no key: owner-only.
      const rendered = vendor.renderPhone(ctx);
      const files = rendered.map((f) => ({ rel: relPath(f.localOnly ? `${phone.name}/${f.path}` : f.path, phone.name), content: f.content, mode: 0o600, owner }));
      const lines = [`rendered ${files.length} file(s) for ${phone.name} (${vendor.descriptor.name}) in ${root}`, ...(vendor.instructions?.(ctx) ?? []).map((l) => `  ${l}`)];
      // What `provision routes` lists for this phone while it stays as it is (the served files do not depend on localDir).
      const rows = rendered.flatMap((f) => (f.localOnly ? [] : [routeRow(toRoute(f, vendor, f.phone ?? phone.name))]));
      perPhone[i] = { files, lines, cached: { phone: phone.name, stamp: phoneStamp(globals, phone, store.current(phone.name)!.serial), rows } };
    });
    for (const r of perPhone) plan.push(...r.files);

    const vendorScope = scope.vendors;
    const inScope = sel.all ? () => true : (owner: string) => (owner.startsWith('vendor:') ? !vendorScope || vendorScope.has(owner.slice('vendor:'.length)) : named.has(ownerPhone(owner) ?? ''));
    // Outside the scope liveness is not known here (not read): those phones' files are left as they are.
    const seen = new Set(scope.phones.map((p) => p.name));
    const isLive = (owner: string) => {
      const phone = ownerPhone(owner);
      return phone === undefined || live.has(phone) || (vendorScope !== undefined && !named.has(phone) && !seen.has(phone));
    };
    // A render of some phones names every owner it may drop: the manifest's other paths are not read.
    const owners = vendorScope ? droppable(named, seen, live, vendorScope) : undefined;
    const applied = await applyPlan(root, plan, { inScope, isLive, force, dryRun, ...(owners ? { owners } : {}) }, manifest);
    // Only the CA home's tree: a --out render may run on a read-only home, and a dry run writes nothing.
    if (!dryRun && root === path.resolve(store.paths.provisionDir)) {
      // The files are written: a cache that could not be updated keeps its old stamps, which no longer
      // match, so `provision routes` renders those phones itself. Not a failed render.
      await recordRoutes(store.paths.routeCache, perPhone.map((r) => r.cached), sel.all, (name) => store.phone(name) !== undefined).catch(() => undefined);
    }
    const removedPhones = [...new Set(applied.removed.map((rel) => manifest.get(rel)).filter((o): o is string => o !== undefined && !isLive(o)))];
    return {
      out: root,
      files: plan.map((f) => path.join(root, f.rel)),
      ...applied,
      lines: [...perPhone.flatMap((r) => r.lines), ...removedPhones.map((o) => `removed the files of ${ownerPhone(o)} from ${root}`)],
    };
  });
}

/**
 * Render the whole tree into `out`: every phone's files and every vendor's
 * shared files; files sipsec wrote there before and no longer renders are
 * removed; nothing else in the folder is touched.
 */
export async function renderTree(store: CaStore, out: string, opts: RenderOptions = {}): Promise<RenderResult> {
  return renderSelection(store, out, { all: true }, opts);
}

/**
 * Render these phones into `out` (and the vendor-wide files, which depend
 * on every phone of a vendor). A named phone that was removed or has no
 * valid certificate has its files removed.
 */
export async function renderPhones(store: CaStore, names: string[], out: string, opts: RenderOptions = {}): Promise<RenderResult> {
  return renderSelection(store, out, { all: false, phones: names, drop: [] }, opts);
}

/** Remove these phones' files from `out` (and re-render the vendor-wide files without them), whether or not they are still recorded. */
export async function unrenderPhones(store: CaStore, names: string[], out: string, opts: RenderOptions & { vendors?: string[] } = {}): Promise<RenderResult> {
  return renderSelection(store, out, { all: false, phones: [], drop: names, ...(opts.vendors ? { vendors: opts.vendors } : {}) }, opts);
}
/**
 * How far a rendered folder (a `--out` tree) is behind the store: files a
 * full render would change, add (missing) and remove. Nothing is written,
 * not even a lock; a folder that does not exist is all missing.
 */
export async function checkTree(store: CaStore, out: string): Promise<{ changed: number; missing: number; removed: number }> {
  const r = await renderSelection(store, out, { all: true }, { dryRun: true });
  const missing = r.missing?.length ?? 0;
  return { changed: r.written.length - missing, missing, removed: r.removed.length };
}
