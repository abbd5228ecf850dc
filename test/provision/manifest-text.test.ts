import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isSipsecError } from '../../src/core/errors.js';
import { MANIFEST, readManifest, writeManifest } from '../../src/provision/manifest.js';
import { manifestText, parseManifestText } from '../../src/provision/manifest-text.js';

/**
 * The manifest's text is read back by a pattern instead of JSON.parse when
 * it is exactly what sipsec writes; every other text (the manifests of
 * older sipsec included) must read as it always did.
 */

const FILES = new Map([
  ['zoiper/p1/ca.crt', 'phone:p1'],
  ['000413000006.xml', 'phone:p5'],
  ['aastra.cfg', 'vendor:aastra'],
  ['baresip/soft1/accounts', 'phone:soft1'],
]);

/** What sipsec before this format wrote: JSON.stringify of the sorted object. */
function oldText(files: Map<string, string>): string {
  const sorted = Object.fromEntries([...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return JSON.stringify({ schema: 1, files: sorted }, null, 1) + '\n';
}

test('manifest text: the same bytes the JSON writer gave, read back whole by the pattern', () => {
  assert.equal(manifestText(FILES), oldText(FILES));
  assert.equal(manifestText(new Map()), oldText(new Map()));
  assert.deepEqual(parseManifestText(manifestText(FILES)), new Map([...FILES].sort(([a], [b]) => (a < b ? -1 : 1))));
  assert.deepEqual(parseManifestText(manifestText(new Map())), new Map());
});

test('manifest text: anything but the exact form is left to the JSON reader', () => {
  const text = manifestText(FILES);
  for (const other of [
    JSON.stringify({ schema: 1, files: Object.fromEntries(FILES) }), // compact
    text.replace('"phone:p5"', '"root"'), // an owner sipsec never writes
    text.replace('aastra.cfg', 'a\\"b'), // an escape in a path
    text.slice(0, -2), // cut short
    text.replace(',\n', ',\n  junk\n'),
    JSON.stringify({ 'a.cfg': 'p1' }, null, 1) + '\n', // schema-less, from before manifests had a schema
  ]) {
    assert.equal(parseManifestText(other), undefined, JSON.stringify(other.slice(0, 60)));
  }
});

test('manifest: a tree written by the old writer, compact JSON, a quoted path or the schema-less form reads the same; a bad entry is refused either way', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sipsec-manifest-text-'));
  const file = path.join(dir, MANIFEST);
  try {
    const read = async (text: string) => {
      writeFileSync(file, text);
      return new Map(await readManifest(dir));
    };
    assert.deepEqual(await read(oldText(FILES)), FILES);
    assert.deepEqual(await read(JSON.stringify({ schema: 1, files: Object.fromEntries(FILES) })), FILES);
    const quoted = new Map([...FILES, ['say "hi".cfg', 'phone:p1']]);
    assert.deepEqual(await read(oldText(quoted)), quoted);
    assert.deepEqual(await read(JSON.stringify({ 'a.cfg': 'p1', 'b.cfg': 'vendor:snom' })), new Map([['a.cfg', 'phone:p1'], ['b.cfg', 'vendor:snom']]));
    for (const bad of [manifestText(new Map([['../x', 'phone:p1']])), manifestText(FILES).replace('aastra.cfg', '/etc/passwd'), oldText(FILES).replace('"phone:p5"', '"root"')]) {
      writeFileSync(file, bad);
      await assert.rejects(readManifest(dir), (e: unknown) => isSipsecError(e) && e.code === 'UNREADABLE');
    }
    // What writeManifest writes is the old writer's text, so an older sipsec reads it too.
    await writeManifest(dir, quoted);
    assert.equal(readFileSync(file, 'utf8'), oldText(quoted));
    assert.deepEqual(await read(readFileSync(file, 'utf8')), quoted);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
