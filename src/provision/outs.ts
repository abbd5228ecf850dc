import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../core/atomic.js';
import type { CaStore } from '../home/store.js';

/**
 * The `--out` trees rendered from this CA home, so `sipsec doctor` can say
 * when one falls behind the store (only the home's own tree follows every
 * change by itself). A list of absolute folders in `<home>/outs.json`.
 */

const OutsSchema = z.object({ version: z.literal(1), outs: z.array(z.string()) });

export async function recordedOuts(store: CaStore): Promise<string[]> {
  try {
    const parsed = OutsSchema.safeParse(JSON.parse(await fs.readFile(store.paths.outs, 'utf8')));
    return parsed.success ? parsed.data.outs : [];
  } catch {
    return [];
  }
}

/** Remember a rendered `--out` folder (the home's own tree is not recorded). */
export async function recordOut(store: CaStore, out: string): Promise<void> {
  const dir = path.resolve(out);
  if (dir === path.resolve(store.paths.provisionDir)) return;
  const outs = await recordedOuts(store);
  if (outs.includes(dir)) return;
  await writeFileAtomic(store.paths.outs, JSON.stringify({ version: 1, outs: [...outs, dir] }, null, 2) + '\n', { mode: 0o600 });
}
