import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Golden files for rendered configs: test/vendors/golden/<vendor>/<case>/
 * holds every file a case renders, byte for byte, under its own relative
 * path. SIPSEC_UPDATE_GOLDEN=1 rewrites them (then review the diff: the
 * golden files are what a phone gets).
 */

/** The source tree's test/vendors/golden (the compiled test runs from dist/ or .build/<name>/). */
export function goldenRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 10; i++) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'test', 'vendors'))) return path.join(dir, 'test', 'vendors', 'golden');
    dir = path.dirname(dir);
  }
  throw new Error('repository root (package.json + test/vendors) not found above the compiled test');
}

export const UPDATE_GOLDEN = process.env.SIPSEC_UPDATE_GOLDEN === '1';

function listFiles(dir: string, prefix = ''): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) out.push(...listFiles(full, `${prefix}${name}/`));
    else out.push(`${prefix}${name}`);
  }
  return out;
}

export interface GoldenFile {
  /** Relative path inside the case directory. */
  name: string;
  content: Buffer | string;
}

/** Compare (or, with SIPSEC_UPDATE_GOLDEN=1, rewrite) one case's files. */
export function checkGolden(vendor: string, caseName: string, files: GoldenFile[]): void {
  const dir = path.join(goldenRoot(), vendor, caseName);
  const names = files.map((f) => f.name);
  assert.equal(new Set(names).size, names.length, `duplicate file names in ${vendor}/${caseName}: ${names.join(', ')}`);
  for (const n of names) assert.ok(!n.startsWith('/') && !n.split('/').includes('..'), `unsafe golden name ${n}`);
  if (UPDATE_GOLDEN) {
    rmSync(dir, { recursive: true, force: true });
    for (const f of files) {
      const full = path.join(dir, f.name);
      mkdirSync(path.dirname(full), { recursive: true });
      writeFileSync(full, f.content);
    }
    return;
  }
  assert.deepEqual(names.slice().sort(), listFiles(dir).sort(), `the files of ${vendor}/${caseName} differ from ${dir} (SIPSEC_UPDATE_GOLDEN=1 rewrites them)`);
  for (const f of files) {
    const want = readFileSync(path.join(dir, f.name));
    const got = typeof f.content === 'string' ? Buffer.from(f.content, 'utf8') : f.content;
    if (!got.equals(want)) {
      // Text diffs read better than buffer diffs.
      assert.equal(got.toString('utf8'), want.toString('utf8'), `${vendor}/${caseName}/${f.name} differs from its golden file`);
      assert.fail(`${vendor}/${caseName}/${f.name} differs from its golden file (binary)`);
    }
  }
}
