import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { RenderedFile } from '../../src/vendors/types.js';
import { repoRoot } from '../helpers/cli.js';

/**
 * Golden files for vendor renderings: test/vendors/golden/<set>/<path> holds
 * every rendered file byte for byte, and `_files.json` its route metadata.
 *
 *   SIPSEC_UPDATE_GOLDEN=1 npm test -- vendors     rewrites them
 *
 * Review the diff of a rewrite against vendors.md before committing it:
 * the golden files are the reviewed reference, not a snapshot to wave through.
 */

export const UPDATE_GOLDEN = process.env.SIPSEC_UPDATE_GOLDEN === '1';
const META = '_files.json';

export function goldenDir(set: string): string {
  return path.join(repoRoot(), 'test', 'vendors', 'golden', set);
}

function meta(files: RenderedFile[]) {
  return files.map((f) => ({
    path: f.path,
    contentType: f.contentType,
    holdsKey: f.holdsKey,
    phone: f.phone ?? null,
    aliases: f.aliases ?? [],
    transports: f.transports ?? null,
    localOnly: f.localOnly ?? false,
  }));
}

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(path.join(dir, prefix), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(dir, path.join(prefix, e.name)) : [path.join(prefix, e.name).split(path.sep).join('/')],
  );
}

/** The first differing line, for a readable failure instead of two whole files. */
function firstDifference(expected: Buffer, actual: Buffer): string {
  const a = expected.toString('latin1').split('\n');
  const b = actual.toString('latin1').split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) return `line ${i + 1}:\n  golden: ${JSON.stringify(a[i] ?? '(end of file)')}\n  actual: ${JSON.stringify(b[i] ?? '(end of file)')}`;
  }
  return `${expected.length} vs ${actual.length} bytes`;
}

/** Compare `files` with golden set `set` (or rewrite it under SIPSEC_UPDATE_GOLDEN=1). */
export function checkGolden(set: string, files: RenderedFile[]): void {
  const dir = goldenDir(set);
  const paths = files.map((f) => f.path);
  assert.equal(new Set(paths).size, paths.length, `${set}: a path is rendered twice`);
  if (UPDATE_GOLDEN) {
    rmSync(dir, { recursive: true, force: true });
    for (const f of files) {
      const target = path.join(dir, f.path);
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, f.content);
    }
    writeFileSync(path.join(dir, META), JSON.stringify(meta(files), null, 2) + '\n');
    return;
  }
  assert.ok(existsSync(path.join(dir, META)), `no golden files in ${dir}: run the tests once with SIPSEC_UPDATE_GOLDEN=1 and review them`);
  const expectedMeta: unknown = JSON.parse(readFileSync(path.join(dir, META), 'utf8'));
  assert.deepEqual(meta(files), expectedMeta, `${set}: file list or route metadata differ from ${META} (SIPSEC_UPDATE_GOLDEN=1 rewrites)`);
  assert.deepEqual(listFiles(dir).filter((p) => p !== META).sort(), [...paths].sort(), `${set}: stray or missing golden files in ${dir}`);
  for (const f of files) {
    const golden = readFileSync(path.join(dir, f.path));
    if (!golden.equals(f.content)) assert.fail(`${set}/${f.path} differs from its golden file (SIPSEC_UPDATE_GOLDEN=1 rewrites), first at ${firstDifference(golden, f.content)}`);
  }
}
