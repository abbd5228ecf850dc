import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Golden files of the PBX exports: test/pbx/golden/<case>/<file>, byte for
 * byte. They are the configs the real Asterisk 20 loaded in the interop run
 * (npm run interop -- asterisk). SIPSEC_UPDATE_GOLDEN=1 rewrites them; then
 * review the diff and run the interop run again.
 */
function root(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 10; i++) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'test', 'pbx'))) return path.join(dir, 'test', 'pbx', 'golden');
    dir = path.dirname(dir);
  }
  throw new Error('repository root (package.json + test/pbx) not found above the compiled test');
}

export function checkPbxGolden(caseName: string, files: Array<{ name: string; content: string }>): void {
  const dir = path.join(root(), caseName);
  if (process.env.SIPSEC_UPDATE_GOLDEN === '1') {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const f of files) writeFileSync(path.join(dir, f.name), f.content);
    return;
  }
  assert.deepEqual(files.map((f) => f.name).sort(), existsSync(dir) ? readdirSync(dir).sort() : [], `the files of ${caseName} differ from ${dir} (SIPSEC_UPDATE_GOLDEN=1 rewrites them)`);
  for (const f of files) assert.equal(f.content, readFileSync(path.join(dir, f.name), 'utf8'), `${caseName}/${f.name} differs from its golden file`);
}
