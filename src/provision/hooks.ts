import type { CaStore } from '../home/store.js';
import { renderPhones, unrenderPhones } from './render.js';

export interface RenderSummary {
  files: string[];
  lines: string[];
}

/**
 * After phones are added, renewed or removed: keep the rendered tree in the
 * CA home in step, touching only those phones' files (and their vendors'
 * shared files), so adding one phone costs one phone's rendering.
 */
export async function afterPhonesChanged(store: CaStore, added: string[], removed: string[] = []): Promise<RenderSummary> {
  const out = store.paths.provisionDir;
  if (removed.length > 0) await unrenderPhones(out, removed);
  if (added.length === 0) return { files: [], lines: [] };
  const r = await renderPhones(store, added, out);
  return { files: r.files, lines: r.lines };
}
