import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { addServer } from '../../src/home/operations.js';
import { requirePeer } from '../helpers/peers.js';
import { foreignCa, registrarCa } from '../helpers/registrar-ca.js';
import { ServeProcess } from '../helpers/serve.js';
import { startKamailio } from '../helpers/kamailio.js';
import { cleanupStack, probeJson, probeStep, sipsecAsync } from '../helpers/verify.js';
import { freePort } from '../vendors/peer-stubs.js';
import type { ProbeReport } from '../../src/verify/probe.js';

/**
 * `sipsec probe`: sipsec acting as a provisioned phone against a SIP/TLS
 * server, end to end through real servers:
 * - sipsec's own serve: TLS checked as a phone would, REGISTER with the
 *   phone's certificate and digest, a call to the echo offering the
 *   vendor's SDES order, a tone over SRTP that comes back authentic and
 *   recognisable; also with one suite forced (AEAD_AES_128_GCM and
 *   AES_256_CM_HMAC_SHA1_32 end to end through the echo);
 * - Kamailio 5.6 loaded with `sipsec pbx kamailio --out DIR` (TLS and
 *   registration: --call none);
 * - a serve whose server certificate does not name the dialled IP (the
 *   talk's "common name did not match"), and a phone of another CA
 *   ("unable to get local issuer certificate").
 */

const allPass = (r: ProbeReport, steps: string[]) => {
  assert.deepEqual(
    r.steps.map((s) => `${s.step}:${s.result}`),
    steps.map((s) => `${s}:PASS`),
    JSON.stringify(r.steps, null, 2),
  );
  assert.equal(r.ok, true);
};

test('probe against sipsec serve, Kamailio, a server certificate without the dialled IP, and a server of another CA', { timeout: 180_000, concurrency: true }, async (t) => {
  const defer = cleanupStack(t);
  const kamailio = requirePeer('kamailio');
  const ca = await registrarCa([{ name: 'telefono1', vendor: 'baresip', ext: '101' }]);
  defer(() => ca.cleanup());
  // A second server certificate that names only `localhost`: dialled as 127.0.0.1 it does not match.
  await addServer(ca.store, { name: 'localonly', dns: ['localhost'], ip: [] }, async () => undefined);

  await Promise.all([
    t.test('against sipsec: all PASS, in the vendor order and with a forced GCM or AES-256/_32 suite; then a certificate without the dialled IP', async (st) => {
      const later = cleanupStack(st);
      let serve = await ServeProcess.start(ca.home, ['--tftp-port', 'off', '--https-port', 'off', '--sip-port', '0', '--diagnostic-port', 'off', '--cert', 'registrar']);
      later(() => serve.stop());
      const target = `sips:127.0.0.1:${serve.ports.sip}`;
      const steps = ['tls', 'register', 'call', 'media', 'unregister'];

      // The vendor's order (baresip: AES_CM_128_HMAC_SHA1_80 first).
      const def = await probeJson(ca.home, [target, '--as', 'telefono1', '--duration', '1s']);
      assert.equal(def.code, '0', def.stderr);
      allPass(def.report, steps);
      const tls = probeStep(def.report, 'tls');
      assert.match(tls.detail, /^TLSv1\.[23] \S+, server certificate verified \(IP SAN 127\.0\.0\.1\)/);
      assert.match(String(tls.data?.serverCertificate), /DNS:localhost, IP:127\.0\.0\.1/);
      assert.equal(tls.data?.clientCertSerial, (await ca.pair('telefono1')).serial);
      assert.match(probeStep(def.report, 'register').detail, /^200 OK for sip:101@pbx\.test/);
      const call = probeStep(def.report, 'call');
      assert.equal(call.data?.chosen, 'AES_CM_128_HMAC_SHA1_80');
      assert.deepEqual(call.data?.offered, ['1 AES_CM_128_HMAC_SHA1_80', '2 AES_CM_128_HMAC_SHA1_32', '3 AEAD_AES_128_GCM', '4 AEAD_AES_256_GCM']);
      const media = probeStep(def.report, 'media').data as { sent: number; received: number; authFailures: number; toneRatio: number };
      assert.equal(media.authFailures, 0);
      assert.ok(media.received >= media.sent * 0.8, `${media.received} of ${media.sent} back`);
      assert.ok(media.toneRatio >= 0.5, `the tone came back (ratio ${media.toneRatio})`);

      // One suite forced, end to end through the echo: serve's own record of the call agrees.
      for (const suite of ['AEAD_AES_128_GCM', 'AES_256_CM_HMAC_SHA1_32']) {
        const r = await probeJson(ca.home, [target, '--as', 'telefono1', '--suite', suite, '--duration', '1s']);
        assert.equal(r.code, '0', `${suite}: ${JSON.stringify(r.report.steps)}`);
        allPass(r.report, steps);
        assert.deepEqual(probeStep(r.report, 'call').data?.offered, [`1 ${suite}`]);
        assert.equal(probeStep(r.report, 'call').data?.chosen, suite);
        assert.equal(probeStep(r.report, 'media').data?.suite, suite);
        const end = await serve.waitFor((e) => e.event === 'call.end' && e.phone === 'telefono1' && e.suite === suite, 20_000);
        assert.ok(Number(end.packetsIn) > 0 && Number(end.packetsOut) > 0, `${suite}: echo packets in ${end.packetsIn} out ${end.packetsOut}`);
        assert.equal(end.authFailures, 0, `${suite}: no SRTP authentication failure at the echo`);
      }

      // The same serve presenting a certificate that names only localhost, dialled by IP.
      await serve.stop();
      serve = await ServeProcess.start(ca.home, ['--tftp-port', 'off', '--https-port', 'off', '--sip-port', '0', '--diagnostic-port', 'off', '--cert', 'localonly']);
      const mismatch = await probeJson(ca.home, [`sips:127.0.0.1:${serve.ports.sip}`, '--as', 'telefono1', '--call', 'none']);
      assert.equal(mismatch.code, '1', 'probe exits non-zero on a FAIL');
      assert.equal(mismatch.report.ok, false);
      const bad = probeStep(mismatch.report, 'tls');
      assert.equal(bad.result, 'FAIL');
      assert.match(bad.detail, /Certificate common name did not match \(127\.0\.0\.1\)/);
      assert.match(bad.detail, /DNS:localhost/);
      // The fix, from the failure table: re-issue the server certificate with the address dialled.
      assert.match(bad.hint ?? '', /re-issue|Re-issue/);
      assert.match(bad.hint ?? '', /--ip 127\.0\.0\.1/);
      // The chain itself is fine: only the name is wrong, and a phone that does not check names would register.
      assert.equal(probeStep(mismatch.report, 'register').result, 'PASS');
      // Dialled by the name the certificate carries, it passes.
      const byName = await probeJson(ca.home, [`sips:localhost:${serve.ports.sip}`, '--as', 'telefono1', '--call', 'none']);
      assert.equal(byName.code, '0', JSON.stringify(byName.report.steps));
      assert.match(probeStep(byName.report, 'tls').detail, /DNS SAN localhost/);

      // A phone of another CA: the server certificate does not chain to its trust anchor.
      const other = await foreignCa([{ name: 'telefono1', vendor: 'baresip', ext: '101' }]);
      later(() => other.cleanup());
      const foreign = await probeJson(other.home, [`sips:localhost:${serve.ports.sip}`, '--as', 'telefono1', '--call', 'none']);
      assert.equal(foreign.code, '1');
      const chain = probeStep(foreign.report, 'tls');
      assert.equal(chain.result, 'FAIL');
      assert.match(chain.detail, /unable to get local issuer certificate/);
      assert.match(chain.hint ?? '', /sipsec server add/);
      assert.equal(probeStep(foreign.report, 'register').result, 'FAIL', 'sipsec refuses the other CA\'s phone');
    }),

    t.test('against Kamailio loaded with `sipsec pbx kamailio --out DIR`: TLS and registration PASS (--call none)', async (st) => {
      const later = cleanupStack(st);
      const port = await freePort();
      const out = path.join(ca.dir, 'kam');
      const written = await sipsecAsync(['--home', ca.home, 'pbx', 'kamailio', '--out', out, '--cert', 'registrar', '--listen', `127.0.0.1:${port}`]);
      assert.equal(written.code, '0', written.stderr);
      assert.match(readFileSync(path.join(out, 'kamailio.cfg'), 'utf8'), new RegExp(`^listen=tls:127\\.0\\.0\\.1:${port}$`, 'm'));
      const kam = await startKamailio(kamailio, path.join(out, 'kamailio.cfg'), path.join(ca.dir, 'kam-run'), port);
      later(() => kam.stop());
      const r = await probeJson(ca.home, [`sips:127.0.0.1:${port}`, '--as', 'telefono1', '--call', 'none']);
      assert.equal(r.code, '0', `${JSON.stringify(r.report.steps, null, 2)}\n${kam.log()}`);
      assert.equal(probeStep(r.report, 'tls').result, 'PASS');
      assert.match(probeStep(r.report, 'tls').detail, /server certificate verified \(IP SAN 127\.0\.0\.1\)/);
      assert.equal(probeStep(r.report, 'register').result, 'PASS');
      assert.match(probeStep(r.report, 'register').detail, /^200 OK for sip:101@pbx\.test/);
      assert.equal(probeStep(r.report, 'call').result, 'SKIP');
      assert.equal(probeStep(r.report, 'unregister').result, 'PASS');
      assert.equal(kam.child.exitCode, null, `kamailio still runs:\n${kam.log()}`);
    }),
  ]);
});
