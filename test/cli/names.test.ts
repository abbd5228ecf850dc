import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isSipsecError } from '../../src/core/errors.js';
import { normalizeMac } from '../../src/pki/names.js';
import { loadAllVendors } from '../../src/vendors/registry.js';
import { nameClash, segmentPattern } from '../../src/vendors/reserved.js';
import { cleanup, sipsec, tmpDir } from '../helpers/cli.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return isSipsecError(e) ? e.code : 'not a SipsecError';
  }
}

test('MACs: group (multicast, broadcast) and all-zero addresses are refused; unicast ones, local or global, accepted', () => {
  // IEEE 802: the I/G bit (bit 0 of the first octet) marks a group address.
  for (const m of ['01:00:5e:00:00:fb', '33:33:00:00:00:01', '01-80-C2-00-00-0E', 'ff:ff:ff:ff:ff:ff', '00:00:00:00:00:00', '000000000000', '0300005e0001']) {
    assert.equal(codeOf(() => normalizeMac(m)), 'BAD_MAC', m);
  }
  assert.throws(() => normalizeMac('01:00:5e:00:00:fb'), /is a multicast \(group\) address, not a device address/);
  assert.throws(() => normalizeMac('ff:ff:ff:ff:ff:ff'), /is the broadcast address/);
  assert.throws(() => normalizeMac('00:00:00:00:00:00'), /is all zeros/);
  for (const [m, want] of [
    ['00:08:5d:12:34:56', '00085d123456'],
    ['02:00:00:00:00:01', '020000000001'],
    ['80-5E-C0-AA-BB-CC', '805ec0aabbcc'],
  ]) {
    assert.equal(normalizeMac(m!), want);
  }
});

test('reserved names come from the vendor descriptors: every vendor-wide boot file and folder, and MAC- and model-named files', async () => {
  // Placeholders become patterns; a path that is the phone's own (<name>) reserves nothing.
  assert.equal(segmentPattern('acme/<name>/config')?.pattern.test('ACME'), true);
  assert.equal(segmentPattern('acme/<name>/config')?.folder, true);
  assert.equal(segmentPattern('acme-<model>.cfg')?.pattern.test('acme-t46g.cfg'), true);
  assert.equal(segmentPattern('acme-<model>.cfg')?.pattern.test('acme.cfg'), false);
  assert.equal(segmentPattern('<MAC>-ca.pem')?.pattern.test('00085D123456-cert.pem'), true);
  assert.equal(segmentPattern('<name>.xml'), undefined);

  for (const vendor of await loadAllVendors()) {
    for (const boot of vendor.descriptor.bootFiles) {
      const first = boot.split('/')[0]!;
      if (/[<>]/.test(first)) continue;
      const clash = await nameClash(first);
      assert.ok(clash?.includes(`'${first}${boot.includes('/') ? '/' : ''}'`), `${vendor.descriptor.id}: ${first} reserved (${clash})`);
    }
  }
  for (const [name, what] of [
    ['aastra.cfg', "vendor-wide file 'aastra.cfg'"],
    ['Baresip', "folder 'baresip/'"],
    ['linphone', "folder 'linphone/'"],
    ['yealink-ca.pem', "vendor-wide file 'yealink-ca.pem'"],
    ['spa525G.cfg', "vendor-wide file 'spa525G.cfg'"],
    ['00085D123456.cfg', "per-MAC file name '<MAC>.cfg'"],
    ['cfg000b82123456', "per-MAC file name 'cfg<mac>'"],
    ['snom370.htm', "vendor-wide file 'snom<model>.htm'"],
  ] as const) {
    const clash = await nameClash(name);
    assert.ok(clash?.endsWith(what), `${name}: ${clash}`);
  }
  for (const free of ['telefono1', 'lobby', 'desk-101', 'softphone1', 'baresip1', 'aastra']) assert.equal(await nameClash(free), undefined, free);
});

test('phone add and import refuse a name that collides with a vendor-wide file or folder, naming the clash; render keeps working', { timeout: 120_000 }, (t) => {
  const dir = tmpDir('sipsec-reserved-');
  t.after(() => cleanup(dir));
  const home = path.join(dir, 'ca');
  const cli = (...args: string[]) => sipsec(['--home', home, ...args]);
  assert.equal(cli('ca', 'init', '--org', 'Acme', '--domain', 'acme.test', '--key', 'p256', '--no-passphrase').code, 0);
  assert.equal(cli('phone', 'add', 'desk', '--vendor', 'aastra', '--mac', '00:08:5d:12:34:56').code, 0);

  const cfg = cli('phone', 'add', 'aastra.cfg', '--vendor', 'baresip');
  assert.equal(cfg.code, 2);
  assert.equal(cfg.stderr, "error: phone name 'aastra.cfg' would collide with the Aastra/Mitel 6700i/9000i vendor-wide file 'aastra.cfg' in the provisioning tree (pick another name)\n");
  const folder = cli('phone', 'add', 'baresip', '--vendor', 'baresip');
  assert.equal(folder.code, 2);
  assert.equal(folder.stderr, "error: phone name 'baresip' would collide with the baresip folder 'baresip/' in the provisioning tree (pick another name)\n");

  const csv = path.join(dir, 'phones.csv');
  writeFileSync(csv, 'name,vendor,mac\nsoft1,baresip,\nlinphone,linphone,\n');
  const imp = cli('phone', 'import', csv);
  assert.equal(imp.code, 2);
  assert.match(imp.stderr, /^error: .*phones\.csv line 3: phone name 'linphone' would collide with the Linphone folder 'linphone\/' in the provisioning tree \(pick another name\)\n/);

  const list = JSON.parse(cli('phone', 'list', '--json').stdout) as Array<{ name: string }>;
  assert.deepEqual(
    list.map((p) => p.name),
    ['desk'],
    'nothing recorded',
  );
  const render = cli('provision', 'render');
  assert.equal(render.code, 0, render.stderr);
  assert.ok(existsSync(path.join(home, 'provision', 'aastra.cfg')));
});
