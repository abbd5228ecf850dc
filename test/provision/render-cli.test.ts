import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, sipsec, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';
import { ServeProcess, type ServeEventLike } from '../helpers/serve.js';
import { addBaresip, baresipPorts, cli, initHome, startBaresip } from '../helpers/registrar-home.js';
import { freePort } from '../vendors/peer-stubs.js';
import { readIndex } from '../helpers/index-db.js';

/**
 * The provisioning tree from the CLI, with the real baresip reading it:
 * `provision render` (in the CA home and with --out) leaves ready
 * directories baresip loads and registers from; --out keeps a TFTP root's
 * own files and refuses to overwrite one it did not write (exit 2) unless
 * --force; cert renew and phone remove re-render by themselves.
 */

function currentSerial(home: string, name: string): string {
  const index = readIndex(home);
  const valid = index.certificates.filter((c) => c.name === name && c.status === 'valid');
  assert.ok(valid.length > 0, `${name} has a valid certificate`);
  return valid[valid.length - 1]!.serial;
}

/** baresip from `dir` registers with sipsec's registrar over TLS with the phone's current certificate. */
async function registersFrom(bin: string, serve: ServeProcess, home: string, dir: string): Promise<ServeEventLike> {
  const seen = serve.events.length;
  const b = await startBaresip(bin, dir);
  try {
    const ok = await serve.waitFor((e) => serve.events.indexOf(e) >= seen && (e.event === 'register.ok' || e.event === 'register.fail' || (e.event === 'tls.handshake' && e.ok === false)), 30_000);
    assert.equal(ok.event, 'register.ok', `baresip from ${dir}: ${JSON.stringify(ok)}\n${b.output.text()}`);
    assert.equal(ok.phone, 'telefono1');
    assert.equal(ok.transport, 'tls');
    assert.equal(ok.certSerial, currentSerial(home, 'telefono1'));
    const log = b.output.text();
    assert.ok(log.includes(`SIP Certificate: ${path.join(dir, 'cert.pem')}`), log);
    assert.doesNotMatch(log, /Can't read certificate file|No such file/);
    return ok;
  } finally {
    await b.stop();
  }
}

test('provision render (CLI) with the real baresip: re-rendered and --out ready directories register; --out keeps what is not sipsec\'s', { timeout: 300_000 }, async (t) => {
  const bin = requirePeer('baresip');
  const root = tmpDir('sipsec-render-cli-');
  t.after(() => cleanup(root));
  const home = path.join(root, 'ca');
  const sipPort = await freePort();
  initHome(home, sipPort);
  const ready = addBaresip(home, 'telefono1', '101', await baresipPorts());

  // A full rebuild of the CA home's tree, over the one phone add rendered.
  const render = sipsec(['--home', home, 'provision', 'render']);
  assert.equal(render.code, 0, render.stderr);
  assert.match(render.stderr, new RegExp(`baresip -f ${ready.replace(/[.]/g, '\\.')}`));
  assert.match(readFileSync(path.join(ready, 'config'), 'utf8'), new RegExp(`^sip_certificate\\s+${path.join(ready, 'cert.pem')}$`, 'm'));

  // --out into a TFTP root that holds firmware and another tool's file.
  const tftp = path.join(root, 'srv', 'tftp');
  mkdirSync(path.join(tftp, 'firmware'), { recursive: true });
  writeFileSync(path.join(tftp, 'firmware', 'image.bin'), 'firmware');
  writeFileSync(path.join(tftp, 'other.cfg'), 'another tool');
  const out = sipsec(['--home', home, 'provision', 'render', '--out', tftp, '--json']);
  assert.equal(out.code, 0, out.stderr);
  const json = JSON.parse(out.stdout) as { schema: number; out: string; files: string[]; written: string[]; removed: string[] };
  assert.equal(json.schema, 1);
  assert.equal(json.out, tftp);
  assert.deepEqual([...json.files].sort(), ['baresip/telefono1/ca.crt', 'baresip/telefono1/cert.pem', 'baresip/telefono1/config', 'baresip/telefono1/accounts', 'telefono1/ca.crt', 'telefono1/cert.pem', 'telefono1/config', 'telefono1/accounts'].sort());
  assert.equal(readFileSync(path.join(tftp, 'firmware', 'image.bin'), 'utf8'), 'firmware');
  assert.equal(readFileSync(path.join(tftp, 'other.cfg'), 'utf8'), 'another tool');

  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', 'off', '--sip-port', String(sipPort), '--diagnostic-port', 'off']);
  t.after(() => serve.stop());
  await registersFrom(bin, serve, home, ready);
  await registersFrom(bin, serve, home, path.join(tftp, 'telefono1'));

  // cert renew re-renders the CA home's tree by itself: baresip presents the new certificate.
  const before = currentSerial(home, 'telefono1');
  cli(home, ['cert', 'renew', 'telefono1']);
  const after = currentSerial(home, 'telefono1');
  assert.notEqual(after, before);
  await serve.waitFor((e) => e.event === 'serve.reload', 15_000);
  const renewed = await registersFrom(bin, serve, home, ready);
  assert.equal(renewed.certSerial, after);

  // A file of a name sipsec writes, that it did not write: refused with exit 2 and one line, nothing touched.
  const other = path.join(root, 'other-root');
  mkdirSync(path.join(other, 'telefono1'), { recursive: true });
  writeFileSync(path.join(other, 'telefono1', 'config'), 'mine');
  const refused = sipsec(['--home', home, 'provision', 'render', '--out', other]);
  assert.equal(refused.code, 2, refused.stderr);
  assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
  assert.match(refused.stderr, /^error: .*did not write.*telefono1\/config .*--force/);
  assert.deepEqual(readdirSync(other, { recursive: true }).map(String).sort(), ['telefono1', 'telefono1/config']);
  const forced = sipsec(['--home', home, 'provision', 'render', '--out', other, '--force']);
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(readFileSync(path.join(other, 'telefono1', 'config'), 'utf8'), /^sip_certificate/m);

  // phone remove: its files leave the CA home's tree (baresip's own uuid file stays, sipsec did not write it).
  cli(home, ['phone', 'remove', 'telefono1']);
  for (const f of ['config', 'accounts', 'cert.pem', 'ca.crt']) assert.ok(!existsSync(path.join(ready, f)), `${f} removed`);
  assert.ok(!existsSync(path.join(home, 'provision', 'baresip')));
  // The --out tree is rebuilt on demand: the phone's files go, the firmware stays.
  const again = sipsec(['--home', home, 'provision', 'render', '--out', tftp, '--json']);
  assert.equal(again.code, 0, again.stderr);
  assert.equal((JSON.parse(again.stdout) as { removed: string[] }).removed.length, 8);
  assert.equal(readFileSync(path.join(tftp, 'firmware', 'image.bin'), 'utf8'), 'firmware');
  assert.equal(readFileSync(path.join(tftp, 'other.cfg'), 'utf8'), 'another tool');
});
