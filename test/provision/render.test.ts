import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isSipsecError } from '../../src/core/errors.js';
import { revokeCert, renewCert } from '../../src/home/operations.js';
import { rerenderAll, rerenderPhones, removePhoneFiles } from '../../src/provision/hooks.js';
import { MANIFEST, readManifest } from '../../src/provision/manifest.js';
import { renderTree } from '../../src/provision/render.js';
import { buildRoutes } from '../../src/provision/routes.js';
import { addTestPhones, noPassphrase, tempCa, type TestCa } from '../helpers/ca-home.js';

/**
 * The rendered tree on disk: every path inside a file is the final one,
 * a folder holds sipsec's files beside anyone else's without touching
 * theirs, and every change re-renders exactly what it affects.
 */

/** Every regular file under `dir`, relative, `/`-separated. */
function walk(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(full, base));
    else out.push(path.relative(base, full).split(path.sep).join('/'));
  }
  return out.sort();
}

function manifestOf(dir: string): Record<string, string> {
  return (JSON.parse(readFileSync(path.join(dir, MANIFEST), 'utf8')) as { files: Record<string, string> }).files;
}

async function fleet(): Promise<TestCa> {
  const ca = await tempCa({ registrar: { host: '127.0.0.1', port: 5061 }, leafKey: 'p256', prefix: 'sipsec-render-' });
  await addTestPhones(ca.store, [
    { name: 'soft1', vendor: 'baresip', ext: '101' },
    { name: 'lin1', vendor: 'linphone', ext: '102' },
    { name: 'desk1', vendor: 'aastra', mac: '00:08:5d:00:00:01', ext: '103' },
    { name: 'desk2', vendor: 'aastra', mac: '00:08:5d:00:00:02', ext: '104' },
    { name: 'spa1', vendor: 'cisco-spa', mac: '00:0e:08:00:00:01', ext: '105', options: { model: '504G' } },
    { name: 'yea1', vendor: 'yealink', mac: '80:5e:c0:00:00:01', ext: '106', options: { model: 'T48G' } },
  ]);
  return ca;
}

test('render: the ready directories name their files at their final path, in the CA home and in --out', { timeout: 120_000 }, async () => {
  const ca = await fleet();
  try {
    const home = ca.store.paths.provisionDir;
    const elsewhere = path.join(ca.dir, 'tftp');
    for (const out of [home, elsewhere]) {
      // Twice: the first render of a folder and a re-render over an existing tree.
      for (let round = 0; round < 2; round++) {
        const r = await renderTree(ca.store, out);
        assert.equal(r.out, out);
        const baresip = readFileSync(path.join(out, 'soft1', 'config'), 'utf8');
        assert.match(baresip, new RegExp(`^sip_certificate\\s+${path.join(out, 'soft1', 'cert.pem').replace(/[.]/g, '\\.')}$`, 'm'));
        assert.match(baresip, new RegExp(`^sip_cafile\\s+${path.join(out, 'soft1', 'ca.crt').replace(/[.]/g, '\\.')}$`, 'm'));
        const rc = readFileSync(path.join(out, 'lin1', 'linphonerc'), 'utf8');
        for (const f of ['ca.crt', 'cert.pem', 'key.pem']) assert.ok(rc.includes(`=${path.join(out, 'lin1', f)}`), `linphonerc names ${f} at its final path`);
        // No file anywhere names a folder other than the final one.
        for (const rel of walk(out)) assert.doesNotMatch(readFileSync(path.join(out, rel), 'latin1'), /\.rendering-|\.old-\d/, `${rel} names a temporary folder`);
        for (const l of r.lines) assert.doesNotMatch(l, /\.rendering-/);
        assert.ok(r.lines.some((l) => l.includes(`baresip -f ${path.join(out, 'soft1')}`)));
        assert.equal(readdirSync(path.dirname(out)).filter((n) => n.includes('.rendering-') || n.includes('.old-')).length, 0, 'no temporary folder left beside the tree');
      }
    }
  } finally {
    ca.cleanup();
  }
});

test('render --out: only the manifest\'s files are sipsec\'s; everything else in the folder stays', { timeout: 120_000 }, async () => {
  const ca = await fleet();
  try {
    const out = path.join(ca.dir, 'srv', 'tftp');
    mkdirSync(path.join(out, 'firmware'), { recursive: true });
    writeFileSync(path.join(out, 'firmware', '57i.st'), 'firmware image');
    writeFileSync(path.join(out, 'XMLDefault.cnf.xml'), '<other tool/>');
    const first = await renderTree(ca.store, out);
    assert.equal(readFileSync(path.join(out, 'firmware', '57i.st'), 'utf8'), 'firmware image');
    assert.equal(readFileSync(path.join(out, 'XMLDefault.cnf.xml'), 'utf8'), '<other tool/>');
    const manifest = manifestOf(out);
    assert.deepEqual(Object.keys(manifest).sort(), first.files.map((f) => path.relative(out, f)).sort(), 'the manifest lists exactly the files written');
    assert.equal(manifest['aastra.cfg'], 'vendor:aastra');
    assert.equal(manifest['00085D000001.cfg'], 'phone:desk1');
    assert.equal(manifest['soft1/cert.pem'], 'phone:soft1');
    assert.ok(!('firmware/57i.st' in manifest));
    // Every route is on disk, with the right mode.
    for (const r of (await buildRoutes(ca.store)).routes) assert.equal(statSync(path.join(out, r.path)).mode & 0o777, r.phone ? 0o600 : 0o644, r.path);

    // baresip writes its uuid into the ready directory: not sipsec's, so it stays.
    writeFileSync(path.join(out, 'soft1', 'uuid'), 'baresip uuid');
    await ca.store.update((d) => {
      d.phones = d.phones.filter((p) => p.name !== 'soft1' && p.name !== 'spa1');
    });
    const second = await renderTree(ca.store, out);
    assert.deepEqual(second.removed.filter((r) => r.startsWith('soft1/')).sort(), ['soft1/ca.crt', 'soft1/cert.pem', 'soft1/config', 'soft1/accounts'].sort());
    assert.ok(second.removed.includes('spa504G.cfg'), 'a vendor file no phone needs any more is removed');
    assert.ok(!existsSync(path.join(out, 'baresip')), 'emptied folders go');
    assert.deepEqual(readdirSync(path.join(out, 'soft1')), ['uuid'], 'a file sipsec did not write stays, and so does its folder');
    assert.equal(readFileSync(path.join(out, 'firmware', '57i.st'), 'utf8'), 'firmware image');
    assert.equal(readFileSync(path.join(out, 'XMLDefault.cnf.xml'), 'utf8'), '<other tool/>');
    assert.ok(!Object.keys(manifestOf(out)).some((rel) => rel.startsWith('soft1/') || rel.startsWith('spa')));
    assert.equal(second.written.length, 0, 'nothing that did not change is rewritten');
  } finally {
    ca.cleanup();
  }
});

test('render --out: a same-named file sipsec did not write is refused, nothing written; --force replaces it', { timeout: 120_000 }, async () => {
  const ca = await fleet();
  try {
    const out = path.join(ca.dir, 'tftp');
    mkdirSync(out);
    writeFileSync(path.join(out, 'aastra.cfg'), 'written by hand');
    writeFileSync(path.join(out, 'fw.bin'), 'firmware');
    await assert.rejects(renderTree(ca.store, out), (e: unknown) => {
      assert.ok(isSipsecError(e));
      assert.equal(e.code, 'BAD_INPUT', 'bad input: exit code 2');
      assert.match(e.message, /did not write.*aastra\.cfg/);
      assert.match(e.hint ?? '', /--force/);
      assert.doesNotMatch(e.line(), /\n/);
      return true;
    });
    assert.deepEqual(walk(out), ['aastra.cfg', 'fw.bin'], 'a refusal writes nothing, not even the manifest');
    assert.equal(readFileSync(path.join(out, 'aastra.cfg'), 'utf8'), 'written by hand');

    const forced = await renderTree(ca.store, out, { force: true });
    assert.ok(forced.written.includes('aastra.cfg'));
    assert.match(readFileSync(path.join(out, 'aastra.cfg'), 'utf8'), /Generated by sipsec/);
    assert.equal(manifestOf(out)['aastra.cfg'], 'vendor:aastra', 'a replaced file becomes sipsec\'s');
    assert.equal(readFileSync(path.join(out, 'fw.bin'), 'utf8'), 'firmware');
    // Now it is sipsec's: the next render replaces it without --force.
    writeFileSync(path.join(out, 'aastra.cfg'), 'edited');
    assert.deepEqual((await renderTree(ca.store, out)).written, ['aastra.cfg']);
  } finally {
    ca.cleanup();
  }
});

test('render --out: a folder or a symbolic link where sipsec writes is refused even with --force', { timeout: 120_000 }, async () => {
  const ca = await fleet();
  try {
    const out = path.join(ca.dir, 'tftp');
    mkdirSync(path.join(out, '00085D000001.cfg'), { recursive: true });
    for (const force of [false, true]) {
      await assert.rejects(renderTree(ca.store, out, { force }), (e: unknown) => isSipsecError(e) && e.code === 'BAD_INPUT' && /00085D000001\.cfg/.test(e.message) && /never removes a folder/.test(e.hint ?? ''));
    }
    const other = path.join(ca.dir, 'elsewhere');
    mkdirSync(other);
    const out2 = path.join(ca.dir, 'tftp2');
    mkdirSync(out2);
    symlinkSync(other, path.join(out2, 'soft1'));
    await assert.rejects(renderTree(ca.store, out2, { force: true }), (e: unknown) => isSipsecError(e) && /soft1/.test(e.message));
    assert.deepEqual(readdirSync(other), [], 'nothing written through the link');
  } finally {
    ca.cleanup();
  }
});

test('render: never into the CA home, a folder holding it, or one inside it other than provision/', { timeout: 120_000 }, async () => {
  const ca = await fleet();
  try {
    for (const out of [ca.home, ca.dir, path.join(ca.home, 'private'), path.join(ca.home, 'certs', 'x')]) {
      await assert.rejects(renderTree(ca.store, out), (e: unknown) => isSipsecError(e) && e.code === 'BAD_INPUT' && /CA home/.test(e.message), out);
    }
    assert.ok(!existsSync(path.join(ca.home, 'soft1')) && !existsSync(path.join(ca.home, 'private', 'soft1')));
    await renderTree(ca.store, path.join(ca.home, 'provision', 'sub'));
  } finally {
    ca.cleanup();
  }
});

test('render: an unreadable manifest is an error (every file would look foreign), --force starts over', { timeout: 120_000 }, async () => {
  const ca = await fleet();
  try {
    const out = path.join(ca.dir, 'tftp');
    mkdirSync(out);
    writeFileSync(path.join(out, MANIFEST), '{"files": 3');
    await assert.rejects(renderTree(ca.store, out), (e: unknown) => isSipsecError(e) && e.code === 'UNREADABLE' && /--force/.test(e.hint ?? ''));
    await renderTree(ca.store, out, { force: true });
    assert.equal(manifestOf(out)['aastra.cfg'], 'vendor:aastra');
  } finally {
    ca.cleanup();
  }
});

test('render: a tree rendered by an older sipsec (manifest without a schema) is taken over, its stale files removed', { timeout: 120_000 }, async () => {
  const ca = await fleet();
  try {
    const out = ca.store.paths.provisionDir;
    await renderTree(ca.store, out);
    // What sipsec wrote before manifests had a schema: path -> phone name or vendor:ID.
    const legacy: Record<string, string> = {};
    for (const [rel, owner] of Object.entries(manifestOf(out))) legacy[rel] = owner.startsWith('phone:') ? owner.slice(6) : owner;
    legacy['gone/config'] = 'gone';
    mkdirSync(path.join(out, 'gone'));
    writeFileSync(path.join(out, 'gone', 'config'), 'a removed phone');
    writeFileSync(path.join(out, MANIFEST), JSON.stringify(legacy));
    const m = await readManifest(out);
    assert.equal(m.get('soft1/config'), 'phone:soft1');
    assert.equal(m.get('aastra.cfg'), 'vendor:aastra');
    const r = await renderTree(ca.store, out);
    assert.deepEqual(r.removed, ['gone/config']);
    assert.ok(!existsSync(path.join(out, 'gone')));
    assert.equal(r.written.length, 0);
  } finally {
    ca.cleanup();
  }
});

test('render: two phones wanting one path are refused before anything is written', { timeout: 120_000 }, async () => {
  const ca = await fleet();
  try {
    // Bypass add's own duplicate check, as an older store could hold it.
    await ca.store.update((d) => {
      const desk2 = d.phones.find((p) => p.name === 'desk2')!;
      desk2.mac = '00085d000001';
    });
    const out = path.join(ca.dir, 'tftp');
    await assert.rejects(renderTree(ca.store, out), (e: unknown) => isSipsecError(e) && e.code === 'DUPLICATE' && /00085D000001/.test(e.message) && /desk1/.test(e.message) && /desk2/.test(e.message));
    assert.ok(!existsSync(path.join(out, MANIFEST)));
  } finally {
    ca.cleanup();
  }
});

test('follow: each change re-renders what it affects in the CA home, and only that', { timeout: 180_000 }, async () => {
  const ca = await fleet();
  try {
    const out = ca.store.paths.provisionDir;
    const all = await rerenderAll(ca.store);
    const before = new Map(walk(out).map((rel) => [rel, statSync(path.join(out, rel)).ino]));

    // One phone: its files (and the few vendor-wide files), not the fleet's.
    const one = await rerenderPhones(ca.store, ['desk1']);
    const rels = one.files.map((f) => path.relative(out, f));
    assert.ok(rels.every((rel) => manifestOf(out)[rel] === 'phone:desk1' || manifestOf(out)[rel]!.startsWith('vendor:')), rels.join(' '));
    assert.ok(rels.includes('00085D000001.cfg'));
    assert.ok(!rels.some((rel) => rel.startsWith('soft1/') || rel.startsWith('00085D000002')));
    assert.ok(one.files.length < all.files.length / 2);
    assert.deepEqual(one.written, [], 'unchanged files are not rewritten');
    for (const [rel, ino] of before) assert.equal(statSync(path.join(out, rel)).ino, ino, `${rel} rewritten`);

    // cert renew: the phone's certificate and key files change, in served and ready copies.
    const { renewed } = await renewCert(ca.store, 'soft1', noPassphrase);
    const renew = await rerenderPhones(ca.store, ['soft1']);
    assert.deepEqual(renew.written.sort(), ['baresip/soft1/cert.pem', 'soft1/cert.pem']);
    const newPem = readFileSync(ca.store.paths.cert(renewed.serial), 'utf8');
    assert.ok(readFileSync(path.join(out, 'soft1', 'cert.pem'), 'utf8').startsWith(newPem.trimEnd()));

    // cert revoke: a phone without a valid certificate has nothing to fetch.
    await revokeCert(ca.store, 'desk2', 'keyCompromise', noPassphrase);
    const revoke = await rerenderPhones(ca.store, ['desk2']);
    assert.deepEqual(revoke.removed.sort(), ['00085D000002-ca.pem', '00085D000002-cert.pem', '00085D000002-chain.pem', '00085D000002-key.pem', '00085D000002.cfg']);
    assert.ok(existsSync(path.join(out, 'aastra.cfg')), 'desk1 still needs aastra.cfg');

    // A vendor-wide file follows its inputs: the SPA model file is named after the phones' model.
    await ca.store.update((d) => {
      d.phones.find((p) => p.name === 'spa1')!.options = { model: '525G' };
    });
    const model = await rerenderPhones(ca.store, ['spa1']);
    assert.ok(model.written.includes('spa525G.cfg'));
    assert.deepEqual(model.removed, ['spa504G.cfg']);

    // phone remove: its files go, the ready directory with them; the last aastra phone takes aastra.cfg along.
    await revokeCert(ca.store, 'desk1', 'cessationOfOperation', noPassphrase);
    await ca.store.update((d) => {
      d.phones = d.phones.filter((p) => p.name !== 'desk1');
    });
    const removed = await removePhoneFiles(ca.store, 'desk1');
    assert.ok(removed.removed.includes('00085D000001.cfg') && removed.removed.includes('aastra.cfg'));
    await removePhoneFiles(ca.store, 'lin1');
    assert.ok(!existsSync(path.join(out, 'lin1')) && !existsSync(path.join(out, 'linphone')));

    // ca config: every phone's files name the registrar; the whole tree follows.
    await ca.store.updateConfig({ registrar: { host: '127.0.0.2', port: 5071 }, ntp: '10.9.9.9' });
    const config = await rerenderAll(ca.store);
    assert.ok(config.written.includes('soft1/accounts') && config.written.includes('y000000000035.cfg'));
    assert.match(readFileSync(path.join(out, 'soft1', 'accounts'), 'utf8'), /outbound="sip:127\.0\.0\.2:5071;transport=tls"/);
    assert.match(readFileSync(path.join(out, 'y000000000035.cfg'), 'utf8'), /10\.9\.9\.9/);

    // In the end the tree is exactly what a fresh full render of the store gives.
    const fresh = path.join(ca.dir, 'fresh');
    await renderTree(ca.store, fresh);
    const cmp = (dir: string) => walk(dir).filter((rel) => rel !== MANIFEST && !rel.startsWith('soft1/') && !rel.startsWith('lin1/'));
    assert.deepEqual(cmp(out), cmp(fresh));
    for (const rel of cmp(fresh)) assert.ok(readFileSync(path.join(out, rel)).equals(readFileSync(path.join(fresh, rel))), rel);
  } finally {
    ca.cleanup();
  }
});

test('follow: renders running at once (several commands on one home) leave the manifest and the folder in agreement', { timeout: 120_000 }, async () => {
  const ca = await fleet();
  try {
    const out = ca.store.paths.provisionDir;
    await rerenderAll(ca.store);
    // Separate store objects, as separate commands would have; desk2 leaves the inventory meanwhile.
    const { CaStore } = await import('../../src/home/store.js');
    const stores = await Promise.all([0, 1, 2, 3].map(() => CaStore.open(ca.home)));
    await revokeCert(stores[0]!, 'desk2', 'cessationOfOperation', noPassphrase);
    await stores[0]!.update((d) => {
      d.phones = d.phones.filter((p) => p.name !== 'desk2');
    });
    await Promise.all([rerenderPhones(stores[0]!, ['desk2']), rerenderPhones(stores[1]!, ['soft1', 'desk1']), rerenderAll(stores[2]!), removePhoneFiles(stores[3]!, 'lin1')]);
    const listed = Object.keys(manifestOf(out)).sort();
    assert.deepEqual(walk(out).filter((rel) => rel !== MANIFEST), listed, 'every file on disk is listed, every listed file is on disk');
    assert.ok(!listed.some((rel) => rel.startsWith('00085D000002')), 'the removed phone\'s files are gone');
    assert.ok(listed.includes('soft1/config') && listed.includes('00085D000001.cfg'));
    assert.ok(!existsSync(path.join(out, '.sipsec-manifest.lock')));
  } finally {
    ca.cleanup();
  }
});

test('follow: re-rendering phones by name renders only those; a removed one (its vendor unknown) loses its files and no other phone does', { timeout: 120_000 }, async () => {
  const ca = await fleet();
  try {
    const out = ca.store.paths.provisionDir;
    await rerenderAll(ca.store);
    const before = Object.keys(manifestOf(out)).sort();
    await revokeCert(ca.store, 'desk2', 'cessationOfOperation', noPassphrase);
    await ca.store.update((d) => d.deletePhone('desk2'));
    // Without the vendor (removePhoneFiles passes it; a bare rerenderPhones of a removed name cannot), every vendor is looked at.
    const r = await rerenderPhones(ca.store, ['desk2']);
    const after = Object.keys(manifestOf(out)).sort();
    assert.deepEqual(after, before.filter((rel) => !rel.startsWith('00085D000002')));
    assert.ok(r.removed.length > 0 && r.removed.every((rel) => rel.startsWith('00085D000002')), r.removed.join(', '));
    assert.deepEqual(walk(out).filter((rel) => rel !== MANIFEST), after);
    // One named phone: only its own files (and its vendor's shared ones) are looked at; nothing else is written or removed.
    const one = await rerenderPhones(ca.store, ['soft1']);
    assert.deepEqual(one.removed, []);
    assert.ok(one.files.every((f) => f.includes('soft1') || !/\/(00085D|805EC0|desk|lin)/i.test(f)), one.files.join(', '));
  } finally {
    ca.cleanup();
  }
});

test('follow: a render of one phone also drops the files of a phone of its vendor that lost its certificate meanwhile, and nothing else', { timeout: 120_000 }, async () => {
  const ca = await fleet();
  try {
    const out = ca.store.paths.provisionDir;
    await rerenderAll(ca.store);
    const before = Object.keys(manifestOf(out)).sort();
    // desk2 (aastra) loses its certificate without a render (a crash, an older sipsec); desk1 is the same vendor.
    await revokeCert(ca.store, 'desk2', 'keyCompromise', noPassphrase);
    const r = await rerenderPhones(ca.store, ['desk1']);
    assert.deepEqual(r.removed.sort(), before.filter((rel) => rel.startsWith('00085D000002')));
    const after = Object.keys(manifestOf(out)).sort();
    assert.deepEqual(after, before.filter((rel) => !rel.startsWith('00085D000002')));
    assert.deepEqual(walk(out).filter((rel) => rel !== MANIFEST), after);
  } finally {
    ca.cleanup();
  }
});
