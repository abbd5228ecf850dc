import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { renewCert } from '../../src/home/operations.js';
import { editPhone } from '../../src/inventory/edit.js';
import { rerenderAll, rerenderPhones } from '../../src/provision/hooks.js';
import { listRoutes } from '../../src/provision/listing.js';
import { routeRow } from '../../src/provision/route-row.js';
import { buildRoutes } from '../../src/provision/routes.js';
import type { CaStore } from '../../src/home/store.js';
import { addTestPhones, tempCa } from '../helpers/ca-home.js';

/**
 * `provision routes` lists phones from the route cache the CA home's
 * renders keep; its rows must be byte for byte what rendering every phone
 * gives, whatever changed since the last render.
 */

const noPassphrase = async (): Promise<string | undefined> => undefined;

/** The JSON `provision routes --json` prints, from a full build (every phone rendered, keys and PKCS#12 included). */
async function fullJson(store: CaStore): Promise<string> {
  return JSON.stringify((await buildRoutes(store)).routes.map(routeRow), null, 2);
}

async function expectSame(store: CaStore, what: string, rendered: string[]): Promise<void> {
  await store.reload();
  const fast = await listRoutes(store);
  assert.equal(JSON.stringify(fast.rows, null, 2), await fullJson(store), `${what}: the listing is what a full build gives`);
  assert.deepEqual(fast.rendered, rendered, `${what}: rendered only the phones the cache cannot vouch for`);
}

test('provision routes from the route cache: identical to a full build after renders, edits, renewals and a damaged cache (several vendors, RSA and EC keys)', { timeout: 300_000 }, async (t) => {
  // RSA-2048 leaves by default; the `key: 'p256'` phones get EC keys.
  const ca = await tempCa({ registrar: { host: '127.0.0.1', port: 5061 }, prefix: 'sipsec-listing-' });
  t.after(() => ca.cleanup());
  const store = ca.store;
  await addTestPhones(store, [
    { name: 'a1', vendor: 'aastra', mac: '00:08:5d:00:00:01', ext: '101' },
    { name: 'y1', vendor: 'yealink', mac: '80:5e:c0:00:00:01', ext: '102', key: 'p256' },
    { name: 'g1', vendor: 'grandstream', mac: '00:0b:82:00:00:01', ext: '103' },
    { name: 'br1', vendor: 'bria', ext: '104' },
    { name: 'br2', vendor: 'bria', ext: '105', key: 'p256' },
    { name: 'b1', vendor: 'baresip', ext: '106', key: 'p256' },
    { name: 'l1', vendor: 'linphone', ext: '107' },
    { name: 's1', vendor: 'snom', mac: '00:04:13:00:00:01', ext: '108', key: 'p256' },
  ]);
  const all = ['a1', 'y1', 'g1', 'br1', 'br2', 'b1', 'l1', 's1'];
  const cacheFile = store.paths.routeCache;

  // In route table order: vendors sorted, each vendor's phones in inventory order.
  await expectSame(store, 'never rendered', ['a1', 'b1', 'br1', 'br2', 'g1', 'l1', 's1', 'y1']);
  await rerenderAll(store);
  await expectSame(store, 'after a full render', []);

  const before = store.phone('g1')!;
  await editPhone(store, before, { displayName: 'A longer display name than before' }, noPassphrase);
  await expectSame(store, 'after an edit, before its render', ['g1']);
  await rerenderPhones(store, ['g1']);
  await expectSame(store, 'after the edit was rendered', []);

  await renewCert(store, 'br2', noPassphrase);
  await expectSame(store, 'after a renewal, before its render', ['br2']);
  await rerenderPhones(store, ['br2']);
  await expectSame(store, 'after the renewal was rendered', []);

  await addTestPhones(store, [{ name: 'a2', vendor: 'aastra', mac: '00:08:5d:00:00:02', ext: '109', key: 'p256' }]);
  await rerenderPhones(store, ['a2']);
  await expectSame(store, 'a phone added and rendered (appended)', []);

  // A torn append and a line that is not an entry are skipped (a1's earlier line still stands);
  // an entry whose stamp does not match is not trusted.
  appendFileSync(cacheFile, '{"phone":"a1","stamp":"x","rows":[{"path":"a');
  appendFileSync(cacheFile, 'not json\n');
  await expectSame(store, 'a damaged cache', []);
  appendFileSync(cacheFile, JSON.stringify({ phone: 'y1', stamp: 'stale', rows: [] }) + '\n');
  await expectSame(store, 'an entry with another stamp', ['y1']);

  // A file without the header is not the cache: everything is rendered.
  writeFileSync(cacheFile, readFileSync(cacheFile, 'utf8').split('\n').slice(1).join('\n'));
  await expectSame(store, 'a cache without its header', ['a1', 'a2', 'b1', 'br1', 'br2', 'g1', 'l1', 's1', 'y1']);

  // The full render rewrites it whole.
  await rerenderAll(store);
  await expectSame(store, 'after a second full render', []);
  assert.equal(readFileSync(cacheFile, 'utf8').trim().split('\n').length, 1 + all.length + 1, 'one header and one line per phone');
});
