import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isSipsecError } from '../../src/core/errors.js';
import { MANIFEST, readManifest, writeManifest } from '../../src/provision/manifest.js';
import { ManifestText, manifestText, parseManifestText } from '../../src/provision/manifest-text.js';

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
    // A quoted path is not in sipsec's fast form, but written and read back all the same.
    await writeManifest(dir, manifestText(quoted));
    assert.equal(readFileSync(file, 'utf8'), oldText(quoted));
    assert.deepEqual(await read(readFileSync(file, 'utf8')), quoted);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('manifest text: looked up and edited in place, it says what the parsed Map says and edits to what manifestText writes', () => {
  // A fleet-like listing: a few paths per phone, some vendor-wide ones.
  const files = new Map<string, string>();
  for (let i = 0; i < 300; i++) {
    files.set(`805ec0${String(i).padStart(6, '0')}.cfg`, `phone:p${i}`);
    files.set(`baresip/p${i}/accounts`, `phone:p${i}`);
  }
  files.set('y000000000028.cfg', 'vendor:yealink');
  files.set('aastra.cfg', 'vendor:aastra');
  const own = ManifestText.of(manifestText(files))!;
  assert.ok(own);
  assert.equal(own.get('baresip/p7/accounts'), 'phone:p7');
  assert.equal(own.get('baresip/p7'), undefined);
  assert.equal(own.get('baresip/p7/accounts/x'), undefined);
  assert.equal(own.get('aastra.cfg'), 'vendor:aastra');
  assert.deepEqual(own.ownedBy(new Set(['phone:p7', 'vendor:aastra'])), [
    ['805ec0000007.cfg', 'phone:p7'],
    ['aastra.cfg', 'vendor:aastra'],
    ['baresip/p7/accounts', 'phone:p7'],
  ]);
  assert.deepEqual(own.ownedBy(new Set(['phone:p1000'])), []);
  // 'phone:p1' must not find p10..p19 or p100..p199.
  assert.deepEqual(own.ownedBy(new Set(['phone:p1'])).map(([rel]) => rel), ['805ec0000001.cfg', 'baresip/p1/accounts']);

  const edits: Array<{ set: Array<[string, string]>; drop: string[] }> = [
    { set: [['805ec0000400.cfg', 'phone:p400'], ['baresip/p400/accounts', 'phone:p400']], drop: [] },
    { set: [], drop: ['805ec0000007.cfg', 'baresip/p7/accounts'] },
    { set: [['aastra.cfg', 'phone:p1'], ['0.cfg', 'phone:first'], ['zz/last', 'phone:last']], drop: ['y000000000028.cfg', 'not-listed'] },
    { set: [['baresip/p10/accounts', 'phone:p10']], drop: [] },
    // Several new paths between the same two lines, one of those lines dropped.
    { set: [['baresip/p7/c', 'phone:p7'], ['baresip/p7/a', 'phone:p7'], ['baresip/p7/b', 'phone:p7']], drop: ['baresip/p7/accounts'] },
    // Many edits (an import): through the parsed Map, to the same text.
    { set: Array.from({ length: 100 }, (_, i): [string, string] => [`new/${i}`, `phone:n${i}`]), drop: ['aastra.cfg'] },
  ];
  for (const { set, drop } of edits) {
    const expected = new Map(files);
    for (const [rel, owner] of set) expected.set(rel, owner);
    for (const rel of drop) expected.delete(rel);
    assert.equal(own.edited(set, drop), manifestText(expected), JSON.stringify({ set, drop }));
  }
  // Emptied, and filled again from empty.
  assert.equal(own.edited([], [...files.keys()]), manifestText(new Map()));
  const empty = ManifestText.of(manifestText(new Map()))!;
  assert.equal(empty.get('a'), undefined);
  assert.equal(empty.edited([['b', 'phone:b'], ['a', 'phone:a']], []), manifestText(new Map([['a', 'phone:a'], ['b', 'phone:b']])));
  // Parsed whole, it is the same Map.
  assert.deepEqual(new Map(own.all()), files);
  // An unsafe path or a foreign form is not sipsec's own text.
  for (const rel of ['../x', 'a//b', '/etc/passwd', 'a/', '.', 'a/./b']) assert.equal(ManifestText.of(manifestText(new Map([[rel, 'phone:p1']]))), undefined, rel);
  assert.equal(ManifestText.of(JSON.stringify({ schema: 1, files: { a: 'phone:p1' } })), undefined);
});
