import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { buildRoutes } from '../../src/provision/routes.js';
import { renderTree } from '../../src/provision/render.js';
import { addTestPhones, addTestServer, tempCa } from '../helpers/ca-home.js';

/**
 * The six softphone/test-client vendors together through the real route
 * table and tree renderer: served paths never collide, ready directories
 * exist only for the clients that run from one, and key files are 0600.
 */

const SOFT = ['bria', 'acrobits', 'zoiper', 'blink', 'baresip', 'linphone'] as const;

test('softphones: one phone per vendor through buildRoutes and renderTree', { timeout: 120_000 }, async () => {
  const ca = await tempCa({ registrar: { host: '127.0.0.1', port: 5061 } });
  try {
    await addTestServer(ca.store, 'pbx.test', ['127.0.0.1']);
    await addTestPhones(
      ca.store,
      SOFT.map((vendor, i) => ({ name: `${vendor}1`, vendor, ext: String(300 + i), ...(vendor === 'zoiper' ? { options: { cert_dir: '/home/ana/.Zoiper5' } } : {}) })),
    );
    const table = await buildRoutes(ca.store);
    for (const r of table.routes) {
      assert.ok(SOFT.some((v) => r.path.startsWith(`${v}/`)), `route ${r.path} outside its vendor folder`);
      assert.equal(r.vendor, r.path.split('/')[0]);
      assert.ok(r.phone !== undefined && r.phone.startsWith(r.vendor), `${r.path} owned by ${r.phone}`);
    }
    for (const v of SOFT) assert.ok(table.forPhone(`${v}1`).length > 0, `${v} serves nothing`);
    assert.equal(table.lookup('baresip/baresip1/config')?.holdsKey, false);
    assert.equal(table.lookup('BARESIP/baresip1/cert.pem')?.holdsKey, true, 'lookup is case-insensitive');

    const out = path.join(ca.dir, 'provision');
    const result = await renderTree(ca.store, out);
    assert.ok(result.lines.some((l) => l.includes(`baresip -f ${path.join(out, 'baresip1')}`)));
    assert.deepEqual(readdirSync(path.join(out, 'baresip1')).sort(), ['accounts', 'ca.crt', 'cert.pem', 'config']);
    assert.deepEqual(readdirSync(path.join(out, 'linphone1')).sort(), ['ca.crt', 'cert.pem', 'key.pem', 'linphonerc']);
    for (const v of ['bria', 'acrobits', 'zoiper', 'blink']) assert.ok(!existsSync(path.join(out, `${v}1`)), `${v} has no ready directory`);
    for (const r of table.routes) {
      const file = path.join(out, r.path);
      assert.ok(existsSync(file), `${r.path} not written`);
      assert.equal(statSync(file).mode & 0o777, r.phone ? 0o600 : 0o644, `${r.path} mode`);
    }
  } finally {
    ca.cleanup();
  }
});
