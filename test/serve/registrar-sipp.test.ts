import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import { cleanup, sipsec, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';
import { ServeProcess } from '../helpers/serve.js';
import { cli, initHome, phoneSecret } from '../helpers/registrar-home.js';
import { sipp, startStunnel, writeScenarios } from '../helpers/sipp.js';
import { freePort } from '../vendors/peer-stubs.js';
import { readIndex } from '../helpers/index-db.js';

/**
 * sipp scenarios against `sipsec serve`, over TCP through stunnel (the TLS
 * client): register with digest, unknown user, wrong password, un-register,
 * and the lockout (last: it locks 127.0.0.1 out).
 */
test('sipp (real, through stunnel) against sipsec serve: digest register, unknown user, wrong password, un-register, lockout', { timeout: 180_000 }, async (t) => {
  const sippBin = requirePeer('sipp');
  const stunnelBin = requirePeer('stunnel');
  const home = tmpDir('sipsec-reg-sipp-');
  t.after(() => cleanup(home));
  const sipPort = await freePort();
  initHome(home, sipPort);
  // A baresip phone: its vendor can present a certificate, so it must (the per-vendor default).
  cli(home, ['phone', 'add', 'sippphone', '--vendor', 'baresip', '--ext', '201']);
  const store = readIndex(home);
  const cert = store.certificates.filter((c) => c.name === 'sippphone' && c.status === 'valid').at(-1)!;
  const secret = phoneSecret(home, 'sippphone');
  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', 'off', '--sip-port', String(sipPort), '--diagnostic-port', 'off', '--lockout-failures', '4']);
  t.after(() => serve.stop());
  const ca = path.join(home, 'ca.crt');
  const withCert = await startStunnel(stunnelBin, home, 'phone', { listen: await freePort(), connect: sipPort, ca, cert: path.join(home, 'certs', `${cert.serial}.crt`), key: path.join(home, 'private', `${cert.serial}.key`) });
  t.after(() => withCert.stop());
  const noCert = await startStunnel(stunnelBin, home, 'anon', { listen: await freePort(), connect: sipPort, ca });
  t.after(() => noCert.stop());
  const sc = writeScenarios(home);
  const go = async (scenario: string, port: number, o: { service: string; user: string; password: string; calls?: number }) => {
    const r = sipp(sippBin, scenario, { port, localPort: await freePort(), ...o });
    assert.equal(r.code, 0, `sipp ${path.basename(scenario)} as ${o.user}: exit ${r.code}\n${r.stdout.slice(-1500)}\n${r.stderr.slice(-500)}`);
  };

  // Register with digest, carrying the phone's certificate.
  await go(sc.register, withCert.port, { service: '201', user: '201', password: secret });
  const ok = await serve.waitFor((e) => e.event === 'register.ok' && e.phone === 'sippphone');
  assert.equal(ok.certSerial, cert.serial);
  assert.equal(ok.algorithm, 'MD5');
  // sipp closed its connection: nothing can reach that binding any more, so it is gone (RFC 5626 flow semantics).
  await serve.waitFor((e) => e.event === 'register.end' && e.phone === 'sippphone' && /connection closed/.test(String(e.reason)));
  const status = JSON.parse(sipsec(['--home', home, 'status', '--json']).stdout) as { registrations: Array<{ phone: string }> };
  assert.ok(!status.registrations.some((r) => r.phone === 'sippphone'));

  // Un-register (Expires: 0).
  await go(sc.unregister, withCert.port, { service: '201', user: '201', password: secret });
  await serve.waitFor((e) => e.event === 'register.end' && e.phone === 'sippphone' && e.reason === 'unregistered');
  assert.equal(serve.events.filter((e) => e.event === 'register.ok' && e.phone === 'sippphone').length, 2);

  // Wrong password (with the right certificate) and an unknown user (no certificate): challenged again, failures reported.
  await go(sc.rejected, withCert.port, { service: '201', user: '201', password: 'not-the-secret' });
  await serve.waitFor((e) => e.event === 'register.fail' && e.reason === 'wrong password' && e.status === 401);
  await go(sc.rejected, noCert.port, { service: 'nobody', user: 'nobody', password: 'whatever123' });
  await serve.waitFor((e) => e.event === 'register.fail' && e.reason === 'unknown user' && e.status === 401);
  await serve.waitFor((e) => e.event === 'security' && e.securityEvent === 'InvalidAccountID' && e.account === 'nobody');

  // Two more failures reach --lockout-failures 4: then even the right password gets 403.
  await go(sc.rejected, noCert.port, { service: 'nobody', user: 'nobody', password: 'whatever123', calls: 2 });
  const block = await serve.waitFor((e) => e.event === 'security.block');
  assert.equal(block.failures, 4);
  await go(sc.locked, withCert.port, { service: '201', user: '201', password: secret });
  const log = readFileSync(path.join(home, 'security.log'), 'utf8');
  assert.equal(log.match(/SecurityEvent="Invalid(Password|AccountID)"/g)?.length, 4);
  assert.match(log, /SecurityEvent="FailedACL".*RemoteAddress="IPV4\/TLS\/127\.0\.0\.1\/\d+"/);
});
