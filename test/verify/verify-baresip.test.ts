import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';
import { ServeProcess } from '../helpers/serve.js';
import { addBaresip, baresipPorts, initHome, startBaresip, type RunningBaresip } from '../helpers/registrar-home.js';
import { serialOf } from '../helpers/registrar-ca.js';
import { cleanupStack, describeVerdict, fetchOverHttps, phoneOf, startVerify, stepOf } from '../helpers/verify.js';
import { ctrlTcp, freePort } from '../vendors/peer-stubs.js';

/**
 * The first real-peer test: `sipsec verify NAME` attached to a
 * running `sipsec serve`, watching a real baresip 1.0 that sipsec
 * provisioned: its four files fetched from serve over HTTPS with curl and
 * its client certificate, baresip run from that fetched copy, registering
 * over TLS and calling the SRTP echo (200). verify ends on its own when
 * all four steps pass, exits 0, and its JSON carries the evidence.
 */
test('verify: a real baresip provisioned by serve over HTTPS, registered over TLS, calling the SRTP echo: all four steps PASS', { timeout: 120_000 }, async (t) => {
  const defer = cleanupStack(t);
  const bin = requirePeer('baresip');
  const curl = requirePeer('curl');
  const home = tmpDir('sipsec-verify-baresip-');
  defer(() => cleanup(home));
  const sipPort = await freePort();
  // The real CLI: ca init (registrar 127.0.0.1:sipPort), server cert with DNS localhost + IP 127.0.0.1.
  initHome(home, sipPort);
  const ports = await baresipPorts();
  const readyDir = addBaresip(home, 'telefono1', '101', ports);

  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', '0', '--sip-port', String(sipPort), '--diagnostic-port', '0']);
  defer(() => serve.stop());
  const html = path.join(home, 'report.html');
  const verify = startVerify(home, ['telefono1', '--json', '--html', html, '--timeout', '60s']);
  defer(() => verify.kill());
  await verify.progress(/watching serve \(pid \d+\) for telefono1/, 20_000, 'verify to attach to serve');

  // Provisioning as the phone does it: its files over HTTPS, authenticated by its own certificate.
  const files = ['config', 'accounts', 'cert.pem', 'ca.crt'];
  const fetched = fetchOverHttps(curl, {
    port: serve.ports.https!,
    basePath: '/prov/',
    vendor: 'baresip',
    phone: 'telefono1',
    files,
    caFile: path.join(home, 'ca.crt'),
    certKeyPem: path.join(readyDir, 'cert.pem'),
    dest: path.join(home, 'fetched'),
  });
  // The served config names its siblings by bare name: it runs from the fetched directory.
  assert.match(readFileSync(path.join(fetched, 'config'), 'utf8'), /^sip_certificate\s+cert\.pem$/m);
  await verify.progress(/telefono1: provisioning PASS/, 20_000, 'verify to see the provisioning');

  let phone: RunningBaresip | undefined;
  defer(() => phone?.stop());
  phone = await startBaresip(bin, fetched);
  await serve.waitFor((e) => e.event === 'register.ok' && e.phone === 'telefono1', 30_000);
  await verify.progress(/telefono1: registration PASS/, 20_000, 'verify to see the registration');

  // A call to the echo over ctrl_tcp; hang up once baresip hears audio back (non-zero rx bitrate).
  const dial = await ctrlTcp(ports.ctrl, 'dial', 'sip:200@pbx.test');
  assert.equal(dial.ok, true, JSON.stringify(dial));
  const start = await serve.waitFor((e) => e.event === 'call.start' && e.phone === 'telefono1', 30_000);
  assert.equal(start.suite, 'AES_CM_128_HMAC_SHA1_80');
  await phone.waitFor((s) => s.includes('SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)') && /audio=\d+\/[1-9]\d* \(bit\/s\)/.test(s), 30_000, 'SRTP audio back from the echo');
  await ctrlTcp(ports.ctrl, 'hangup');
  await serve.waitFor((e) => e.event === 'call.end' && e.phone === 'telefono1', 20_000);

  // verify ends by itself once every step passes.
  const { code, report } = await verify.result(30_000);
  const v = phoneOf(report, 'telefono1');
  assert.equal(code, '0', `verify exit code; verdict:\n${describeVerdict(v)}\nstderr:\n${verify.stderr()}`);
  assert.equal(report.ok, true);
  assert.equal(v.ok, true, describeVerdict(v));
  assert.equal(v.vendor, 'baresip');
  for (const s of v.steps) assert.equal(s.state, 'PASS', describeVerdict(v));

  // 1. Provisioning: each route fetched, over which protocol, none missing.
  const prov = stepOf(v, 'provisioning').data as { fetched: Array<{ file: string; protocol: string; bytes: number }>; neverFetched: string[] };
  assert.deepEqual(prov.fetched.map((f) => f.file).sort(), files.map((f) => `baresip/telefono1/${f}`).sort());
  for (const f of prov.fetched) {
    assert.equal(f.protocol, 'https');
    assert.ok(f.bytes > 0);
  }
  assert.deepEqual(prov.neverFetched, []);

  // 2. TLS: version, cipher, and the phone's current certificate (the serial of the cert it was served).
  const pem = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(readFileSync(path.join(fetched, 'cert.pem'), 'utf8'))![0];
  const tls = stepOf(v, 'tls');
  const tlsData = tls.data as { version: string; cipher: string; certSerial: string; presentedCertificate: boolean; currentCertificate: boolean };
  assert.match(tlsData.version, /^TLSv1\.[23]$/);
  assert.ok(tlsData.cipher.length > 0);
  assert.equal(tlsData.presentedCertificate, true);
  assert.equal(tlsData.certSerial.replace(/^0+/, ''), serialOf(pem));
  assert.equal(tlsData.currentCertificate, true);
  assert.match(tls.summary, /its current certificate/);

  // 3. Registration: transport, expiry, contact, source address.
  const reg = stepOf(v, 'registration').data as { aor: string; transport: string; expires: number; contact: string; remote: string; algorithm: string };
  assert.equal(reg.aor, 'sip:101@pbx.test');
  assert.equal(reg.transport, 'tls');
  assert.ok(Number(reg.expires) > 0, `expires ${reg.expires}`);
  assert.match(String(reg.contact), /^<?sip:/);
  assert.match(reg.remote, /^127\.0\.0\.1:\d+$/);
  assert.equal(reg.algorithm, 'MD5');

  // 4. The call: SDES suite, packets both ways, no authentication failures.
  const call = stepOf(v, 'call').data as { suite: string; packetsIn: number; packetsOut: number; authFailures: number; oneWayAudio: boolean; chosen: string };
  assert.equal(call.suite, 'AES_CM_128_HMAC_SHA1_80');
  assert.ok(call.packetsIn > 0 && call.packetsOut > 0, `packets in ${call.packetsIn} out ${call.packetsOut}`);
  assert.equal(call.authFailures, 0);
  assert.equal(call.oneWayAudio, false);

  // The timeline and the HTML page were written too.
  assert.ok(v.events.some((e) => e.event === 'call.end'));
  assert.ok(existsSync(html));
  const page = readFileSync(html, 'utf8');
  assert.match(page, /<td class="pass"><b>PASS<\/b>/);
  assert.match(page, /telefono1/);
});
