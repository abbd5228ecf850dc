import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { LiveRoutes } from '../../src/provision/live-routes.js';
import { buildRoutes, type RouteTable } from '../../src/provision/routes.js';
import { revokeCert, renewCert } from '../../src/home/operations.js';
import { editPhone } from '../../src/inventory/edit.js';
import { addTestPhones, noPassphrase, tempCa } from '../helpers/ca-home.js';

/**
 * serve's route table follows changes phone by phone (LiveRoutes); after
 * every kind of change it must answer exactly what a full build answers,
 * and re-render only the phones the change touched.
 */

function digest(t: RouteTable): string[] {
  return t.routes.map((r) => `${r.path} ${r.phone ?? '-'} ${createHash('sha256').update(r.content).digest('hex').slice(0, 16)}`).sort();
}

test('LiveRoutes: after each change the live table equals a full build, and only the changed phones are re-rendered', { timeout: 120_000 }, async (t) => {
  const ca = await tempCa({ registrar: { host: '127.0.0.1', port: 5061 }, leafKey: 'p256', prefix: 'sipsec-live-' });
  t.after(() => ca.cleanup());
  const store = ca.store;
  await addTestPhones(store, [
    { name: 'a1', vendor: 'aastra', mac: '00:08:5d:00:00:01', ext: '101', ips: ['10.0.1.1'] },
    { name: 'a2', vendor: 'aastra', mac: '00:08:5d:00:00:02', ext: '102' },
    { name: 'y1', vendor: 'yealink', mac: '80:5e:c0:00:00:01', ext: '103' },
    { name: 'b1', vendor: 'baresip', ext: '104' },
  ]);
  const live = new LiveRoutes(store);
  const check = async (what: string, expectPhones: string[] | 'full') => {
    await store.reload();
    const r = await live.update();
    if (expectPhones === 'full') assert.equal(r.full, true, `${what}: a full rebuild`);
    else assert.deepEqual([r.full, [...r.phones].sort()], [false, [...expectPhones].sort()], `${what}: re-rendered only these`);
    assert.deepEqual(digest(live.table), digest(await buildRoutes(store)), `${what}: the live table is what a full build gives`);
  };
  await check('start', 'full');
  await check('nothing changed', []);

  await addTestPhones(store, [{ name: 'a3', vendor: 'aastra', mac: '00:08:5d:00:00:03', ext: '105' }]);
  await check('a phone added', ['a3']);

  const a2 = store.index.phones.find((p) => p.name === 'a2')!;
  await editPhone(store, a2, { rotateSecret: true, displayName: 'Lobby' }, noPassphrase);
  await check('a phone edited (secret, display name)', ['a2']);

  await renewCert(store, 'y1', noPassphrase, { graceMs: 0 });
  await check('a certificate renewed', ['y1']);

  await revokeCert(store, 'b1', 'keyCompromise', noPassphrase);
  await check('a certificate revoked: its files go', ['b1']);
  assert.ok(!live.table.routes.some((r) => r.phone === 'b1'));

  await store.update((draft) => {
    draft.phones = draft.phones.filter((p) => p.name !== 'a1');
  });
  await check('a phone removed', ['a1']);

  await store.updateConfig({ ntp: 'ntp.example.test' });
  await check('the CA config changed: every file names it', 'full');
});
