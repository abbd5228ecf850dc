import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';
import { ServeProcess } from '../helpers/serve.js';
import { addBaresip, baresipPorts, cli, initHome, startBaresip, type RunningBaresip } from '../helpers/registrar-home.js';
import { freePort } from '../vendors/peer-stubs.js';
import { CaStore } from '../../src/home/store.js';

/**
 * Renewal without an outage, with baresip as the phone: after `cert renew`
 * the phone that still holds its old files registers; once it resyncs it
 * registers with the new certificate, which ends the overlap (the old one
 * is revoked as superseded), and the old files are refused from then on.
 */
test('baresip (real): registers with its old certificate after cert renew, then with the new one; then the old one is refused', { timeout: 240_000 }, async (t) => {
  const bin = requirePeer('baresip');
  const home = tmpDir('sipsec-renew-baresip-');
  t.after(() => cleanup(home));
  const sipPort = await freePort();
  initHome(home, sipPort);
  const ready = addBaresip(home, 'telefono1', '101', await baresipPorts());
  // The phone's own copy of its files: what a desk phone holds until it resyncs.
  const held = path.join(home, 'held');
  cpSync(ready, held, { recursive: true });
  rmSync(path.join(held, 'uuid'), { force: true });
  const config = path.join(held, 'config');
  writeFileSync(config, readFileSync(config, 'utf8').split(ready).join(held));
  const old = (await CaStore.open(home)).current('telefono1')!.serial;

  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', 'off', '--sip-port', String(sipPort), '--diagnostic-port', 'off']);
  t.after(() => serve.stop());
  const running: RunningBaresip[] = [];
  t.after(async () => {
    for (const r of running) await r.stop();
  });

  cli(home, ['cert', 'renew', 'telefono1']);
  const store = await CaStore.open(home);
  const renewed = store.current('telefono1')!.serial;
  assert.notEqual(renewed, old);
  await serve.waitFor((e) => e.event === 'serve.reload');

  // 1. Not resynced yet: the old certificate still registers.
  const before = await startBaresip(bin, held);
  running.push(before);
  const regOld = await serve.waitFor((e) => e.event === 'register.ok' && e.phone === 'telefono1', 30_000);
  assert.equal(regOld.certSerial, old);
  const hsOld = serve.events.find((e) => e.event === 'tls.handshake' && e.certSerial === old)!;
  assert.equal(hsOld.ok, true);
  assert.equal(hsOld.current, false);
  assert.equal((await CaStore.open(home)).bySerial(old)!.status, 'valid');
  await before.stop();

  // 2. Resynced (the re-rendered files): the new certificate registers and ends the overlap.
  const after = await startBaresip(bin, ready);
  running.push(after);
  const regNew = await serve.waitFor((e) => e.event === 'register.ok' && e.phone === 'telefono1' && e.certSerial === renewed, 30_000);
  assert.equal(regNew.transport, 'tls');
  assert.equal(serve.events.find((e) => e.event === 'tls.handshake' && e.certSerial === renewed)!.current, true);
  const superseded = await serve.waitFor((e) => e.event === 'cert.superseded' && e.serial === old, 20_000);
  assert.equal(superseded.why, 'presented');
  await serve.waitFor((e) => e.event === 'serve.reload' && serve.events.indexOf(e) > serve.events.indexOf(superseded), 20_000);
  assert.equal((await CaStore.open(home)).bySerial(old)!.reason, 'superseded');
  await after.stop();

  // 3. The old files are refused now: the CRL and the index say revoked.
  const stale = await startBaresip(bin, held);
  running.push(stale);
  const refused = await serve.waitFor((e) => e.event === 'tls.handshake' && e.certSerial === old && e.ok === false, 30_000);
  assert.match(String(refused.error), /revoked/);
  await stale.stop();
});
