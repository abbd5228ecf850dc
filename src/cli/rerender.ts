import type { CaStore } from '../home/store.js';

/**
 * Re-render what a change affects into <home>/provision. The `render`
 * engineer's rerenderPhones/rerenderAll (atomic, final paths) replace these
 * bodies; until then they call today's renderer.
 */
export async function rerenderPhones(store: CaStore, names: string[]): Promise<void> {
  const phones = names.filter((n) => store.index.phones.some((p) => p.name === n));
  if (phones.length === 0) return;
  const { renderPhones } = await import('../provision/render.js');
  await renderPhones(store, phones, store.paths.provisionDir);
}

/**
 * Every phone and vendor-wide file (a CA rotation changes the CA in all of
 * them). In place, not through today's renderTree: that one leaves the
 * baresip/linphone ready directories pointing at its temporary folder.
 */
export async function rerenderAll(store: CaStore): Promise<void> {
  await rerenderPhones(store, store.index.phones.map((p) => p.name));
}
