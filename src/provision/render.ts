import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../core/atomic.js';
import type { CaStore } from '../home/store.js';
import type { Phone } from '../home/schema.js';
import { loadVendor } from '../vendors/registry.js';
import type { VendorModule } from '../vendors/types.js';
import { phoneContext, sharedContext } from './context.js';
import { buildRoutes } from './routes.js';

/**
 * Writing the provisioning tree to disk: every route at its path (key
 * files 0600), plus a ready directory `<out>/<phone>/` for clients that run
 * from one (baresip, linphone). A manifest records which phone owns which
 * file so removing a phone removes exactly its files.
 */

const MANIFEST = '.sipsec-manifest.json';
const ManifestSchema = z.record(z.string(), z.string());

export interface RenderResult {
  out: string;
  files: string[];
  lines: string[];
}

function safeJoin(root: string, rel: string): string {
  const full = path.resolve(root, rel);
  if (!full.startsWith(path.resolve(root) + path.sep)) throw new Error(`refusing to write outside ${root}: ${rel}`);
  return full;
}

async function writeOne(root: string, rel: string, content: Buffer, ownerOnly: boolean): Promise<string> {
  const file = safeJoin(root, rel);
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  // Derived from the store and re-rendered at will: atomic, but not fsynced.
  await writeFileAtomic(file, content, { mode: ownerOnly ? 0o600 : 0o644, durable: false });
  return file;
}

async function readManifest(out: string): Promise<Record<string, string>> {
  try {
    return ManifestSchema.parse(JSON.parse(await fs.readFile(path.join(out, MANIFEST), 'utf8')));
  } catch {
    return {};
  }
}

/** Render some phones (and their vendors' shared files) into `out`, leaving other phones' files alone. */
export async function renderPhones(store: CaStore, names: string[], out: string): Promise<RenderResult> {
  const phones = store.index.phones.filter((p) => names.includes(p.name) && store.current(p.name));
  await fs.mkdir(out, { recursive: true, mode: 0o700 });
  const manifest = await readManifest(out);
  const files: string[] = [];
  const lines: string[] = [];
  const vendors = new Map<string, VendorModule>();
  for (const p of phones) if (!vendors.has(p.vendor)) vendors.set(p.vendor, await loadVendor(p.vendor));
  const caPem = await store.caCertPem();
  for (const [id, vendor] of vendors) {
    if (!vendor.renderShared) continue;
    const all = store.index.phones.filter((p) => p.vendor === id && store.current(p.name));
    for (const f of vendor.renderShared(await sharedContext(store, all))) {
      if (f.localOnly) continue;
      files.push(await writeOne(out, f.path, f.content, f.holdsKey));
      manifest[f.path] = `vendor:${id}`;
    }
  }
  // Phones render independently: overlap their file I/O (fsyncs) instead of waiting on each.
  const perPhone: Array<{ lines: string[]; files: string[] }> = new Array(phones.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < phones.length; i = next++) {
      const phone = phones[i]!;
      const vendor = vendors.get(phone.vendor)!;
      const localDir = safeJoin(out, phone.name);
      const ctx = await phoneContext(store, phone, vendor, localDir, caPem);
      const rendered = vendor.renderPhone(ctx);
      const written = await Promise.all(
        rendered.map((f) => {
          const rel = f.localOnly ? path.join(phone.name, f.path) : f.path;
          manifest[rel] = phone.name;
          // A phone's files carry its SIP secret even when they hold no key: owner-only.
          return writeOne(out, rel, f.content, true);
        }),
      );
      const lines = [`rendered ${written.length} file(s) for ${phone.name} (${vendor.descriptor.name}) in ${out}`, ...(vendor.instructions?.(ctx) ?? []).map((l) => `  ${l}`)];
      perPhone[i] = { lines, files: written };
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, phones.length) }, worker));
  for (const r of perPhone) {
    files.push(...r.files);
    lines.push(...r.lines);
  }
  await writeFileAtomic(path.join(out, MANIFEST), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
  return { out, files, lines };
}

/** Remove the files the manifest says belong to these phones. */
export async function unrenderPhones(out: string, names: string[]): Promise<string[]> {
  const manifest = await readManifest(out);
  const removed: string[] = [];
  for (const [rel, owner] of Object.entries(manifest)) {
    if (!names.includes(owner)) continue;
    await fs.rm(safeJoin(out, rel), { force: true });
    removed.push(rel);
    delete manifest[rel];
  }
  for (const name of names) await fs.rm(safeJoin(out, name), { recursive: true, force: true }).catch(() => undefined);
  if (Object.keys(manifest).length > 0 || removed.length > 0) {
    await fs.mkdir(out, { recursive: true, mode: 0o700 });
    await writeFileAtomic(path.join(out, MANIFEST), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
  }
  return removed;
}

/**
 * Render the whole tree fresh: into a sibling temp directory, then swapped
 * into place, so a crash never leaves a half-rendered tree being served.
 */
export async function renderTree(store: CaStore, out: string): Promise<RenderResult> {
  const target = path.resolve(out);
  // Validate the whole table first: conflicting paths fail before anything is written.
  await buildRoutes(store);
  const tmp = `${target}.rendering-${process.pid}`;
  await fs.rm(tmp, { recursive: true, force: true });
  const result = await renderPhones(
    store,
    store.index.phones.map((p: Phone) => p.name),
    tmp,
  );
  const old = `${target}.old-${process.pid}`;
  await fs.rename(target, old).catch(() => undefined);
  await fs.rename(tmp, target);
  await fs.rm(old, { recursive: true, force: true });
  return { out: target, files: result.files.map((f) => path.join(target, path.relative(tmp, f))), lines: result.lines.map((l) => l.split(tmp).join(target)) };
}
