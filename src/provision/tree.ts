import { lstatSync, promises as fs, type Stats } from 'node:fs';
import * as path from 'node:path';
import { writeDerivedFileAtomicSync } from '../core/atomic.js';
import { SipsecError, errnoCode } from '../core/errors.js';
import { writeManifest, type Listing, type OwnerKey } from './manifest.js';

/**
 * Bringing a folder in line with a plan of files, touching nothing sipsec
 * did not write:
 * 1. every check first (a same-named file sipsec did not write, a folder
 *    where a file goes, a symbolic link on the way), so a refusal writes
 *    nothing;
 * 2. the manifest gains the new paths before they are written, so after a
 *    crash every file sipsec may have written is still listed as its own;
 * 3. each file is written atomically (temp file + rename), skipped when
 *    already identical; readers see the old file or the new one;
 * 4. files of the owners in scope that the plan no longer has are removed,
 *    then folders they leave empty;
 * 5. the final manifest, last.
 */

export interface PlannedFile {
  /** Path inside the folder, `/`-separated. */
  rel: string;
  content: Buffer;
  mode: number;
  owner: OwnerKey;
}

export interface ApplyOptions {
  /** Owners this plan speaks for: their files not in the plan are removed. */
  inScope(owner: OwnerKey): boolean;
  /** Whether an owner outside the scope still has files (its paths cannot be taken over). */
  isLive(owner: OwnerKey): boolean;
  /**
   * Every owner that may be in scope or not live, when the caller knows
   * them (a render of some phones): only their listed paths are looked at,
   * not the whole manifest. Without it every listed path is judged.
   */
  owners?: ReadonlySet<OwnerKey>;
  /** Replace same-named files sipsec did not write. */
  force: boolean;
  /** Only say what would be written and removed (`sipsec doctor --out`); write nothing. */
  dryRun?: boolean;
}

export interface ApplyResult {
  written: string[];
  unchanged: string[];
  removed: string[];
  /** With dryRun: the files of `written` that are not there at all (the others differ). */
  missing?: string[];
}

/** Paths and their parents, relative: `a/b/c` -> `a`, `a/b`. */
function ancestors(rel: string): string[] {
  const parts = rel.split('/');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('/'));
  return out;
}

async function lstatOrUndefined(file: string): Promise<Stats | undefined> {
  try {
    return await fs.lstat(file);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
}

function describe(owner: OwnerKey): string {
  return owner.startsWith('phone:') ? `phone ${owner.slice(6)}` : `the ${owner.slice(7)} vendor files`;
}

/** A plan's own clashes: two owners wanting one path, or one's file being another's folder. */
export function checkPlan(plan: PlannedFile[]): void {
  const byRel = new Map<string, PlannedFile>();
  for (const f of plan) {
    const prev = byRel.get(f.rel);
    if (prev && prev.owner !== f.owner && !prev.content.equals(f.content)) {
      throw new SipsecError('DUPLICATE', `two files want the path '${f.rel}' (${describe(prev.owner)} and ${describe(f.owner)})`, 'two phones share a MAC, or a phone name is a vendor file name; fix the inventory');
    }
    if (!prev) byRel.set(f.rel, f);
  }
  for (const f of plan) {
    for (const dir of ancestors(f.rel)) {
      const clash = byRel.get(dir);
      if (clash) {
        throw new SipsecError('DUPLICATE', `'${dir}' would be both a file (${describe(clash.owner)}) and the folder of ${f.rel} (${describe(f.owner)})`, 'a phone name clashes with a vendor file or folder; remove that phone and add it under another name');
      }
    }
  }
}

function conflictError(out: string, foreign: string[], inTheWay: string[]): SipsecError {
  const list = (xs: string[]) => xs.slice(0, 5).join(', ') + (xs.length > 5 ? ` and ${xs.length - 5} more` : '');
  if (inTheWay.length > 0) {
    return new SipsecError('BAD_INPUT', `${out} has ${inTheWay.length} folder(s), link(s) or file(s) sipsec did not write where it needs to write: ${list(inTheWay)}`, 'move them away and render again (--force replaces same-named files only; it never removes a folder or follows a link)');
  }
  return new SipsecError('BAD_INPUT', `${out} holds ${foreign.length} file(s) sipsec did not write at paths it writes: ${list(foreign)}`, `move them away, or replace them: sipsec provision render --out ${out} --force`);
}

/** Run `fn` over `items`, at most `width` at a time (file I/O overlaps), results in order. */
async function pool<T, R>(items: T[], width: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return results;
}

/** Whether `file` already holds exactly `content` with `mode` (then it is not rewritten). */
async function same(file: string, st: Stats | undefined, content: Buffer, mode: number): Promise<boolean> {
  if (!st || !st.isFile() || (st.mode & 0o777) !== mode || st.size !== content.length) return false;
  try {
    return (await fs.readFile(file)).equals(content);
  } catch {
    return false;
  }
}

/** Remove empty folders from `dir` up to (not including) `root`; stops at the first that is not empty. */
async function pruneEmpty(root: string, dir: string): Promise<void> {
  for (let d = dir; d !== root && d.startsWith(root + path.sep); d = path.dirname(d)) {
    try {
      await fs.rmdir(d);
    } catch {
      return;
    }
  }
}

/**
 * The listed paths whose owner is in scope or gone for good. The manifest
 * lists every path of the fleet (a few per owner): each owner is judged
 * once, not once per path.
 */
function stalePaths(manifest: Listing, wanted: ReadonlyMap<string, PlannedFile>, o: ApplyOptions): string[] {
  const verdict = new Map<OwnerKey, boolean>();
  const stale: string[] = [];
  for (const [rel, owner] of o.owners ? manifest.ownedBy(o.owners) : manifest.all()) {
    if (wanted.has(rel)) continue;
    let drop = verdict.get(owner);
    if (drop === undefined) {
      drop = o.inScope(owner) || !o.isLive(owner);
      verdict.set(owner, drop);
    }
    if (drop) stale.push(rel);
  }
  return stale;
}

export async function applyPlan(out: string, plan: PlannedFile[], o: ApplyOptions, manifest: Listing): Promise<ApplyResult> {
  checkPlan(plan);
  const root = path.resolve(out);
  const wanted = new Map<string, PlannedFile>();
  for (const f of plan) if (!wanted.has(f.rel)) wanted.set(f.rel, f);

  // Files of owners in scope (or of owners gone for good) that the plan drops.
  const stale = stalePaths(manifest, wanted, o);
  const staleSet = new Set(stale);

  // 1. Checks, all before the first write.
  const foreign: string[] = [];
  const inTheWay: string[] = [];
  // Every path and parent the plan touches, looked at once, many at a time.
  const toStat = new Set<string>();
  for (const rel of wanted.keys()) {
    toStat.add(rel);
    for (const dir of ancestors(rel)) toStat.add(dir);
  }
  const statList = [...toStat];
  // Synchronous: at fleet size these are ~40,000 lstats, and a promise call's round trip costs more than the call.
  const statResults = statList.map((rel) => lstatSync(path.join(root, rel), { throwIfNoEntry: false }));
  const stats = new Map<string, Stats | undefined>(statList.map((rel, i) => [rel, statResults[i]]));
  const statOf = (rel: string) => stats.get(rel);
  /** Stale files of sipsec's sitting where a planned file needs a folder: removed before writing. */
  const blockers = new Set<string>();
  for (const f of wanted.values()) {
    const prev = manifest.get(f.rel);
    if (prev !== undefined && prev !== f.owner && !o.inScope(prev) && o.isLive(prev)) {
      throw new SipsecError('DUPLICATE', `two files want the path '${f.rel}' (${describe(prev)} and ${describe(f.owner)})`, 'two phones share a MAC, or a phone name is a vendor file name; fix the inventory');
    }
    for (const dir of ancestors(f.rel)) {
      const st = statOf(dir);
      if (!st) break;
      if (st.isDirectory()) continue;
      if (staleSet.has(dir) && !st.isSymbolicLink()) blockers.add(dir);
      else if (manifest.get(dir) !== undefined && !st.isSymbolicLink()) {
        throw new SipsecError('DUPLICATE', `'${dir}' is a file of ${describe(manifest.get(dir)!)} and the folder of ${f.rel} (${describe(f.owner)})`, 'a phone name clashes with a vendor file or folder; remove that phone and add it under another name');
      } else inTheWay.push(dir);
      break;
    }
    const st = statOf(f.rel);
    if (st?.isDirectory()) inTheWay.push(f.rel);
    else if (st && manifest.get(f.rel) === undefined && !o.force) foreign.push(f.rel);
  }
  if (foreign.length + inTheWay.length > 0) throw conflictError(root, foreign, [...new Set(inTheWay)]);

  if (o.dryRun) {
    // What a render would do, from the same comparisons; nothing is written, not even the manifest.
    const verdicts = await pool([...wanted.values()], 8, async (f) => ({ rel: f.rel, there: stats.get(f.rel) !== undefined, same: !blockers.has(f.rel) && (await same(path.join(root, f.rel), stats.get(f.rel), f.content, f.mode)) }));
    const removedDry = (await pool(stale, 16, async (rel) => ((await lstatOrUndefined(path.join(root, rel))) ? rel : undefined))).filter((r): r is string => r !== undefined);
    return {
      written: verdicts.filter((v) => !v.same).map((v) => v.rel),
      unchanged: verdicts.filter((v) => v.same).map((v) => v.rel),
      removed: removedDry,
      missing: verdicts.filter((v) => !v.there).map((v) => v.rel),
    };
  }

  // 2. Intent: every path about to be written is listed before it exists (a path and owner already listed changes nothing).
  const added = [...wanted.values()].filter((f) => manifest.get(f.rel) !== f.owner).map((f) => [f.rel, f.owner] as const);
  if (added.length > 0) await writeManifest(root, manifest.edited(added, []));

  for (const rel of blockers) await fs.rm(path.join(root, rel), { force: true });

  // 3. Write what changed.
  const written: string[] = [];
  const unchanged: string[] = [];
  const madeDirs = new Set<string>();
  const results = await pool([...wanted.values()], 8, async (f) => {
    const file = path.join(root, f.rel);
    if (!blockers.has(f.rel) && (await same(file, stats.get(f.rel), f.content, f.mode))) return { rel: f.rel, wrote: false };
    const dir = path.dirname(file);
    if (!madeDirs.has(dir)) {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      madeDirs.add(dir);
    }
    // Derived from the store and re-rendered at will: atomic, not fsynced (the manifest is).
    writeDerivedFileAtomicSync(file, f.content, f.mode);
    return { rel: f.rel, wrote: true };
  });
  for (const r of results) (r.wrote ? written : unchanged).push(r.rel);

  // 4. Remove what the owners in scope no longer have; only regular files and links, never a folder.
  const removed: string[] = [];
  for (const rel of stale) {
    const file = path.join(root, rel);
    const st = blockers.has(rel) ? undefined : await lstatOrUndefined(file);
    if (st && !st.isDirectory()) await fs.rm(file, { force: true });
    if (st || blockers.has(rel)) removed.push(rel);
    await pruneEmpty(root, path.dirname(file));
  }

  // 5. The final manifest, when step 4 dropped paths from what step 2 wrote (otherwise the file already says it all).
  if (stale.length > 0) await writeManifest(root, manifest.edited(added, stale));
  return { written, unchanged, removed };
}

