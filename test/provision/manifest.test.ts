import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isSipsecError } from '../../src/core/errors.js';
import { MANIFEST, readManifest } from '../../src/provision/manifest.js';

/**
 * A manifest says which files sipsec may replace and remove: a path in it
 * that leaves the folder (or could) must make the whole manifest
 * untrusted, whatever else it lists.
 */
test('manifest: a listed path that is absolute, climbs, has an empty or dot part, a backslash or a NUL makes the manifest untrusted; plain paths read back', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sipsec-manifest-'));
  try {
    const read = async (rel: string) => {
      writeFileSync(path.join(dir, MANIFEST), JSON.stringify({ schema: 1, files: { 'aastra.cfg': 'vendor:aastra', [rel]: 'phone:desk' } }));
      return readManifest(dir);
    };
    for (const bad of ['/etc/passwd', '../x', 'a/../../x', 'a/..', '..', '.', './a', 'a/./b', 'a//b', 'a/', 'a\\b', 'a\0b', '']) {
      await assert.rejects(read(bad), (e: unknown) => isSipsecError(e) && e.code === 'UNREADABLE', JSON.stringify(bad));
    }
    for (const good of ['a', 'desk/config', '.hidden', 'a/..b', '..b/c', 'baresip/p1/accounts', '805EC0000001-cert.pem', 'a.b/c..d']) {
      const m = await read(good);
      assert.equal(m.get(good), 'phone:desk', JSON.stringify(good));
      assert.equal(m.get('aastra.cfg'), 'vendor:aastra');
    }
    // An owner that is not phone:NAME or vendor:ID is as untrusted as a bad path.
    writeFileSync(path.join(dir, MANIFEST), JSON.stringify({ schema: 1, files: { a: 'root' } }));
    await assert.rejects(readManifest(dir), /not a sipsec manifest/);
    assert.equal((await readManifest(dir, true)).size, 0, '--force starts over');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
