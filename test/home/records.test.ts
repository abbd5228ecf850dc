import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { cleanup, sipsec, tmpDir } from '../helpers/cli.js';
import { CaStore } from '../../src/home/store.js';
import { IndexDb } from '../../src/home/db.js';
import { Records } from '../../src/home/records.js';

function changeRows(home: string): Array<{ seq: number; kind: string; key: string }> {
  const db = new Database(path.join(home, 'sipsec.db'), { readonly: true });
  try {
    return db.prepare('SELECT seq, kind, key FROM changes ORDER BY seq').all() as Array<{ seq: number; kind: string; key: string }>;
  } finally {
    db.close();
  }
}

function home(t: { after(fn: () => void): void }, phones: number): string {
  const dir = tmpDir('sipsec-records-');
  t.after(() => cleanup(dir));
  const h = path.join(dir, 'home');
  assert.equal(sipsec(['--home', h, 'ca', 'init', '--org', 'Rec', '--domain', 'rec.test', '--key', 'p256', '--leaf-key', 'p256', '--no-passphrase']).code, 0);
  if (phones > 0) {
    const csv = path.join(dir, 'phones.csv');
    writeFileSync(csv, ['name,vendor,ext', ...Array.from({ length: phones }, (_, i) => `r${i},baresip,${100 + i}`)].join('\n') + '\n');
    const r = sipsec(['--home', h, 'phone', 'import', csv]);
    assert.equal(r.code, 0, r.stderr);
  }
  return h;
}

test('a change writes only the rows it changed, each with one change-log row; a refused change writes nothing', async (t) => {
  const h = home(t, 20);
  const before = changeRows(h).length;
  const store = await CaStore.open(h);
  // A single-record change through the point API, without reading the inventory.
  await store.update((draft) => {
    const p = draft.phone('r3')!;
    draft.putPhone({ ...p, displayName: 'Three' });
  });
  // A fleet-wide change through the whole lists: only the record that differs is written.
  await store.update((draft) => {
    const p = draft.phones.find((x) => x.name === 'r7')!;
    p.displayName = 'Seven';
  });
  const after = changeRows(h).slice(before);
  assert.deepEqual(after.map((c) => [c.kind, c.key]), [['phone', 'r3'], ['phone', 'r7']]);
  await assert.rejects(
    store.update((draft) => {
      draft.putPhone({ ...draft.phone('r1')!, displayName: 'never' });
      throw new Error('refused');
    }),
    /refused/,
  );
  assert.equal(changeRows(h).length, before + 2, 'a change that throws commits nothing');
  // An invalid record is refused by its schema before anything is written.
  await assert.rejects(store.update((draft) => draft.putPhone({ ...draft.phone('r2')!, mac: 'not-a-mac' })), /mac/i);
  assert.equal(changeRows(h).length, before + 2);
  store.close();
});

test('a follower applies only what another process committed; a log pruned past it reloads everything', async (t) => {
  const h = home(t, 10);
  const follower = await CaStore.open(h);
  assert.equal(follower.index.phones.length, 10, 'the follower holds the whole inventory (as serve does)');
  assert.equal(sipsec(['--home', h, 'phone', 'edit', 'r4', '--display-name', 'Four']).code, 0);
  assert.equal(sipsec(['--home', h, 'phone', 'remove', 'r5']).code, 0);
  const changed = await follower.reload();
  assert.notEqual(changed, 'all');
  if (changed === 'all') return;
  assert.deepEqual(changed.phones.sort(), ['r4', 'r5']);
  assert.ok(changed.certs.length >= 1, 'r5 was revoked');
  assert.equal(follower.phone('r4')?.displayName, 'Four');
  assert.equal(follower.phone('r5'), undefined);
  assert.deepEqual(follower.index.phones.map((p) => p.name), ['r0', 'r1', 'r2', 'r3', 'r4', 'r6', 'r7', 'r8', 'r9'], 'inventory order kept');
  assert.equal(follower.current('r5'), undefined);
  assert.equal(follower.changeSeq(), follower.latestChange());

  // Prune the log past the follower: it cannot know what changed, so it reads everything again.
  const seen = follower.changeSeq();
  assert.equal(sipsec(['--home', h, 'phone', 'edit', 'r6', '--display-name', 'Six']).code, 0);
  const raw = new Database(path.join(h, 'sipsec.db'));
  raw.prepare('DELETE FROM changes WHERE seq <= ?').run(seen + 1);
  raw.close();
  assert.equal(await follower.reload(), 'all');
  assert.equal(follower.phone('r6')?.displayName, 'Six');
  follower.close();
});

test('point lookups answer like the whole lists: by name, serial (any case, leading zeros), vendor, and what a batch could clash with', async (t) => {
  const h = home(t, 5);
  assert.equal(sipsec(['--home', h, 'phone', 'add', 'Desk', '--vendor', 'yealink', '--mac', '80:5e:c0:00:00:09', '--ext', '900', '--ip', '10.0.0.9']).code, 0);
  const db = IndexDb.open(path.join(h, 'sipsec.db'));
  const points = new Records(db);
  const whole = new Records(db);
  const all = whole.allCerts();
  assert.equal(whole.allPhones().length, 6);
  for (const c of all) {
    assert.deepEqual(points.certBySerial(c.serial.toUpperCase()), whole.certBySerial(c.serial));
    assert.deepEqual(points.certBySerial(`00${c.serial}`), c);
    assert.deepEqual(points.certsOf(c.name), whole.certsOf(c.name));
  }
  assert.deepEqual(points.phonesOfVendor('yealink').map((p) => p.name), ['Desk']);
  assert.deepEqual(points.livePhoneNames('baresip'), ['r0', 'r1', 'r2', 'r3', 'r4']);
  const probe = { name: 'desk', vendor: 'baresip', mac: '805ec0000009', ips: ['10.0.0.9'], dns: [], ext: '101', secret: 'x'.repeat(12), srtp: 'mandatory' as const, line: 1, options: {}, createdAt: '' };
  const near = points.relevantTo({ names: [probe.name], macs: [probe.mac], sipusers: [probe.ext], ips: probe.ips });
  assert.deepEqual(near.phones.map((p) => p.name).sort(), ['Desk', 'r1'], 'same name in another case, same MAC and address (Desk), same SIP user (r1)');
  assert.deepEqual(near.certificates.map((c) => c.name), ['Desk']);
  db.close();
});
