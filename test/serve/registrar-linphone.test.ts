import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, sipsec, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';
import { ServeProcess } from '../helpers/serve.js';
import { cli } from '../helpers/registrar-home.js';
import { collectOutput, exitOf, freePort, outputMatches, stop } from '../vendors/peer-stubs.js';

/**
 * linphonec 5.1 (mbedTLS) registers with sipsec serve over TLS with its
 * client certificate, configured as `sipsec phone add --vendor linphone`
 * renders it. linphonec ignores IP SANs (peers.md L1), so the registrar is
 * provisioned as `localhost` and the server certificate names it: the
 * server name is really checked (verify_server_cn=1 for a name).
 */
test('linphonec (real) registers with sipsec serve over TLS with its client certificate', { timeout: 120_000 }, async (t) => {
  const bin = requirePeer('linphonec');
  const home = tmpDir('sipsec-reg-linphone-');
  t.after(() => cleanup(home));
  const sipPort = await freePort();
  cli(home, ['ca', 'init', '--org', 'sipsec test', '--domain', 'pbx.test', '--key', 'p256', '--leaf-key', 'p256', '--no-passphrase', '--registrar', `localhost:${sipPort}`, '--provisioning-url', 'https://localhost/prov/', '--tftp-server', '127.0.0.1']);
  cli(home, ['server', 'add', 'registrar', '--dns', 'localhost', '--ip', '127.0.0.1']);
  const tlsPort = await freePort();
  cli(home, ['phone', 'add', 'telefono2', '--vendor', 'linphone', '--ext', '102', '--option', `sip_tls_port=${tlsPort}`]);
  const dir = path.join(home, 'provision', 'telefono2');
  const rc = readFileSync(path.join(dir, 'linphonerc'), 'utf8');
  assert.match(rc, new RegExp(`reg_proxy=<sip:localhost:${sipPort};transport=tls>`));
  assert.match(rc, /verify_server_cn=1/);
  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', 'off', '--sip-port', String(sipPort), '--diagnostic-port', 'off']);
  t.after(() => serve.stop());

  // Pitfall L2: linphonec hangs without its database folder.
  const userHome = path.join(home, 'home');
  mkdirSync(path.join(userHome, '.local', 'share', 'linphone'), { recursive: true });
  const logFile = path.join(home, 'linphonec.log');
  const child = spawn(bin, ['-c', path.join(dir, 'linphonerc'), '-d', '6', '-l', logFile], { cwd: home, env: { ...process.env, HOME: userHome }, stdio: ['pipe', 'pipe', 'pipe'] });
  t.after(() => stop(child));
  const output = collectOutput(child);
  child.stdin!.on('error', () => undefined);
  child.stdin!.write('soundcard use files\n');

  const ok = await serve.waitFor((e) => e.event === 'register.ok' && e.phone === 'telefono2', 40_000);
  assert.equal(ok.aor, 'sip:102@pbx.test');
  assert.equal(ok.tlsVersion, 'TLSv1.2', 'mbedTLS 2.28 has no TLS 1.3 (peers.md §5)');
  assert.match(String(ok.certSerial), /^[0-9a-f]+$/);
  const hs = await serve.waitFor((e) => e.event === 'tls.handshake' && e.phone === 'telefono2');
  assert.match(String(hs.certSubject), /CN=telefono2/);
  const probe = setInterval(() => child.stdin!.write('status register\n'), 500);
  try {
    await outputMatches(child, output, (s) => /registered, identity=sip:102@pbx\.test/.test(s), 30_000, 'linphonec to report the registration');
  } finally {
    clearInterval(probe);
  }
  const status = JSON.parse(sipsec(['--home', home, 'status', '--json']).stdout) as { registrations: Array<Record<string, unknown>> };
  const r = status.registrations.find((x) => x.phone === 'telefono2');
  assert.ok(r, 'visible in sipsec status');
  assert.equal(r.tlsVersion, 'TLSv1.2');
  assert.equal(r.certSerial, ok.certSerial);
  child.stdin!.write('quit\n');
  await exitOf(child, 20_000);
});
