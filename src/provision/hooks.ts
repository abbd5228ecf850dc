import { SipsecError } from '../core/errors.js';
import type { CaStore } from '../home/store.js';
import type { RenderOptions, RenderResult } from './render.js';

// The renderer (vendors, PKCS#12, templates) loads only when a change renders: commands that import these stay quick to start.
const renderer = () => import('./render.js');

/**
 * The rendered tree in the CA home (`<home>/provision/`) follows the store:
 * every command that changes what a phone is served calls one of these
 * right after its change is committed. Each renders only what the change
 * affects, atomically per file (src/provision/tree.ts). `out` renders into
 * another folder instead (a `--out` tree is otherwise rebuilt only by
 * `sipsec provision render --out DIR`).
 */

export interface FollowOptions extends RenderOptions {
  /** Default: the CA home's provision/ folder. */
  out?: string;
}

function outOf(store: CaStore, o: FollowOptions): string {
  return o.out ?? store.paths.provisionDir;
}

/**
 * After phones were added, edited, imported, or their certificates renewed
 * or revoked: re-render those phones (a removed or revoked one loses its
 * files) and the vendor-wide files that depend on them.
 */
export async function rerenderPhones(store: CaStore, names: string[], o: FollowOptions = {}): Promise<RenderResult> {
  return (await renderer()).renderPhones(store, names, outOf(store, o), o);
}

/** A phone leaves the tree: its files (ready directory included) go, vendor-wide files are re-rendered without it. */
export async function removePhoneFiles(store: CaStore, name: string, o: FollowOptions & { vendor?: string } = {}): Promise<RenderResult> {
  return (await renderer()).unrenderPhones(store, [name], outOf(store, o), { ...o, ...(o.vendor ? { vendors: [o.vendor] } : {}) });
}

/**
 * After a change every phone's files depend on (`ca config`, the CA
 * certificate, a CA rotation): the whole tree, files no longer rendered
 * removed.
 */
export async function rerenderAll(store: CaStore, o: FollowOptions = {}): Promise<RenderResult> {
  return (await renderer()).renderTree(store, outOf(store, o), o);
}

/**
 * Run a re-render after a committed change; a failure says the change
 * itself was saved, so a person fixes the tree instead of redoing the change.
 */
export async function renderAfter<T>(change: string, render: () => Promise<T>): Promise<T> {
  try {
    return await render();
  } catch (e) {
    if (e instanceof SipsecError) throw new SipsecError(e.code, `${change}, but the provisioning files were not re-rendered: ${e.message}`, e.hint ?? 'fix the cause, then run sipsec provision render');
    throw e;
  }
}
