import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';
import { ServeProcess } from '../helpers/serve.js';
import { baresipPorts, cli, heldBaresipFiles, initHome, startBaresip, type BaresipPorts, type RunningBaresip } from '../helpers/registrar-home.js';
import { cleanupStack, describeVerdict, fetchOverHttps, phoneOf, startVerify, stepOf, type VerifyChild } from '../helpers/verify.js';
import { collectOutput, ctrlTcp, freePort, stop } from '../vendors/peer-stubs.js';
import type { PhoneVerdict, StepName } from '../../src/verify/evaluate.js';

/**
 * `sipsec verify` against real phones that get it wrong, each case
 * asserting the FAIL on the right step and the hint's key words:
 * a revoked certificate, a baresip registering over UDP, SRTP off (held
 * off by the inventory, and switched off by hand), a certificate from
 * another sipsec CA, and a linphonec that does not trust sipsec's CA
 * (baresip 1.0 never checks the server certificate; linphone aborts the
 * handshake with an alert).
 *
 * The baresip cases share one CA home and one serve and run in parallel
 * (six light processes). verify watches live, as an operator would, and
 * the test stops it with Ctrl-C (SIGINT: verify prints its report) once
 * its progress shows the verdict; the UDP case instead attaches after the
 * fact with a short --timeout and ends on its own, judging serve's
 * history. No verdict depends on how long anything takes.
 */

/** `sipsec phone add` for a headless baresip, with extra flags (e.g. --srtp off). */
function addBaresipPhone(home: string, name: string, ext: string, p: BaresipPorts, flags: string[] = []): string {
  cli(home, ['phone', 'add', name, '--vendor', 'baresip', '--ext', ext, '--option', `ctrl_port=${p.ctrl}`, '--option', `sip_listen=127.0.0.1:${p.sip}`, '--option', `rtp_ports=${p.rtp}`, ...flags]);
  return path.join(home, 'provision', name);
}

function editAccounts(dir: string, edit: (line: string) => string): string {
  const file = path.join(dir, 'accounts');
  const text = readFileSync(file, 'utf8');
  const next = text
    .split('\n')
    .map((l) => (l.startsWith('<sip:') ? edit(l) : l))
    .join('\n');
  assert.notEqual(next, text, 'the accounts line changed');
  writeFileSync(file, next);
  return next;
}

function assertFail(v: PhoneVerdict, step: StepName, failure: string, hint: RegExp[]): void {
  if (process.env.SIPSEC_DEBUG_VERDICTS) console.error(`--- ${v.phone}\n${describeVerdict(v)}`);
  const s = stepOf(v, step);
  assert.equal(s.state, 'FAIL', `${v.phone} ${step}:\n${describeVerdict(v)}`);
  assert.equal(s.failure, failure, `${v.phone} ${step} failure mode:\n${describeVerdict(v)}`);
  for (const re of hint) assert.match(s.hint ?? '', re, `${v.phone} ${step} hint`);
  assert.equal(v.ok, false);
}

test('verify: real phones that fail get FAIL on the right step with the hint for their failure mode', { timeout: 240_000, concurrency: true }, async (t) => {
  const defer = cleanupStack(t);
  const bin = requirePeer('baresip');
  const linphonec = requirePeer('linphonec');
  const curl = requirePeer('curl');
  const home = tmpDir('sipsec-verify-fail-');
  defer(() => cleanup(home));
  const sipPort = await freePort();
  initHome(home, sipPort);
  const p = {
    revoked: await baresipPorts(),
    udp: await baresipPorts(),
    off: await baresipPorts(),
    byHand: await baresipPorts(),
    foreign: await baresipPorts(),
  };
  addBaresipPhone(home, 'telefono3', '103', p.revoked);
  // Revoking removes telefono3's files from the tree; the phone still has the ones it fetched.
  const revokedDir = heldBaresipFiles(home, 'telefono3', path.join(home, 'held-telefono3'));
  const udpDir = addBaresipPhone(home, 'telefono4', '104', p.udp);
  const offDir = addBaresipPhone(home, 'telefono5', '105', p.off, ['--srtp', 'off']);
  const byHandDir = addBaresipPhone(home, 'telefono8', '108', p.byHand);
  addBaresipPhone(home, 'telefono6', '106', p.foreign);
  // A second sipsec CA: the same phone name and extension, so only the issuer differs.
  const other = path.join(home, 'other');
  initHome(other, sipPort);
  const foreignDir = addBaresipPhone(other, 'telefono6', '106', p.foreign);
  // Revoked before serve starts: serve loads the CRL with it.
  cli(home, ['cert', 'revoke', 'telefono3', '--reason', 'keyCompromise']);
  assert.match(readFileSync(path.join(offDir, 'accounts'), 'utf8'), /^<sip:105@pbx\.test;transport=tls>;(?!.*mediaenc)/m, 'an --srtp off phone is rendered without mediaenc');

  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', 'off', '--sip-port', String(sipPort), '--diagnostic-port', '0']);
  defer(() => serve.stop());
  const listen = await serve.waitFor((e) => e.event === 'sip.listen');
  const diagPort = Number(listen.diagnosticUdpPort);
  assert.ok(diagPort > 0, 'the diagnostic UDP port');

  const phones: RunningBaresip[] = [];
  const verifies: VerifyChild[] = [];
  defer(async () => {
    for (const v of verifies) await v.kill();
    for (const ph of phones) await ph.stop();
  });
  const watch = async (name: string): Promise<VerifyChild> => {
    const v = startVerify(home, [name, '--json', '--timeout', '120s']);
    verifies.push(v);
    await v.progress(new RegExp(`watching serve \\(pid \\d+\\) for ${name}`), 30_000, `verify ${name} to attach`);
    return v;
  };
  const baresip = async (dir: string) => {
    const r = await startBaresip(bin, dir);
    phones.push(r);
    return r;
  };

  await Promise.all([
    t.test('a revoked certificate: tls and registration FAIL, "revoked" hint', async () => {
      const v = await watch('telefono3');
      await baresip(revokedDir);
      await v.progress(/telefono3: tls FAIL/, 30_000, 'verify to judge the revoked handshake');
      await v.progress(/telefono3: registration FAIL/, 30_000, 'verify to see the refused REGISTER');
      const { code, report } = await v.interrupt();
      const ph = phoneOf(report, 'telefono3');
      assert.equal(code, '1', 'verify exits non-zero when not every step passes');
      assertFail(ph, 'tls', 'client-cert-revoked', [/revoked/, /sipsec cert renew telefono3/]);
      assert.match(stepOf(ph, 'tls').summary, /revoked/);
      assertFail(ph, 'registration', 'client-cert-revoked', [/revoked/]);
      assert.equal(stepOf(ph, 'registration').data.status, 403);
      assert.equal(stepOf(ph, 'call').state, 'NOT SEEN');
    }),

    t.test('a baresip registering over UDP to the diagnostic port: tls FAIL naming the transport setting (verify attached afterwards)', async () => {
      // The phone's accounts line as someone edited it: UDP, straight at the plain SIP port.
      editAccounts(udpDir, (l) => l.replace(';transport=tls>', ';transport=udp>').replace(/outbound="sip:[^"]+"/, `outbound="sip:127.0.0.1:${diagPort};transport=udp"`));
      await baresip(udpDir);
      const rejected = await serve.waitFor((e) => e.event === 'sip.reject' && e.phone === 'telefono4', 30_000);
      assert.equal(rejected.transport, 'udp');
      // Attached after the fact: verify judges serve's history, then its --timeout ends the watch.
      const v = startVerify(home, ['telefono4', '--json', '--timeout', '5s']);
      verifies.push(v);
      const { code, report } = await v.result(30_000);
      const ph = phoneOf(report, 'telefono4');
      assert.equal(code, '1');
      assertFail(ph, 'tls', 'udp-registration', [/UDP/, /`;transport=tls` in accounts/]);
      assert.match(stepOf(ph, 'tls').summary, /REGISTER .* over UDP/);
      assert.equal(stepOf(ph, 'registration').state, 'NOT SEEN');
    }),

    t.test('SRTP off in the inventory (--srtp off): the echo answers in clear, call FAIL with the srtp-off hint', async () => {
      const v = await watch('telefono5');
      const phone = await baresip(offDir);
      await v.progress(/telefono5: registration PASS/, 30_000, 'verify to see the registration');
      assert.equal((await ctrlTcp(p.off.ctrl, 'dial', 'sip:200@pbx.test')).ok, true);
      const start = await serve.waitFor((e) => e.event === 'call.start' && e.phone === 'telefono5', 30_000);
      assert.equal(start.srtp, 'none');
      assert.equal(start.suite, null);
      // The audio path itself works (in clear): baresip hears the echo.
      await phone.waitFor((s) => /audio=\d+\/[1-9]\d* \(bit\/s\)/.test(s), 30_000, 'plain RTP back from the echo');
      await ctrlTcp(p.off.ctrl, 'hangup');
      await v.progress(/telefono5: call FAIL/, 30_000, 'verify to judge the call');
      const { code, report } = await v.interrupt();
      const ph = phoneOf(report, 'telefono5');
      assert.equal(code, '1');
      assert.equal(stepOf(ph, 'tls').state, 'PASS', describeVerdict(ph));
      assert.equal(stepOf(ph, 'registration').state, 'PASS', describeVerdict(ph));
      assertFail(ph, 'call', 'srtp-off', [/SRTP is off on the phone/, /--srtp off/, /--srtp mandatory/, /mediaenc=srtp-mand/]);
      const data = stepOf(ph, 'call').data as { suite: unknown; packetsIn: number; packetsOut: number };
      assert.equal(data.suite, null);
      assert.ok(data.packetsIn > 0 && data.packetsOut > 0, 'plain RTP flowed both ways');
    }),

    t.test('SRTP switched off by hand on a phone held to SRTP: the echo refuses, call FAIL with the srtp-off hint', async () => {
      editAccounts(byHandDir, (l) => l.replace(';mediaenc=srtp-mand', ''));
      const v = await watch('telefono8');
      await baresip(byHandDir);
      await v.progress(/telefono8: registration PASS/, 30_000, 'verify to see the registration');
      assert.equal((await ctrlTcp(p.byHand.ctrl, 'dial', 'sip:200@pbx.test')).ok, true);
      const reject = await serve.waitFor((e) => e.event === 'call.reject' && e.phone === 'telefono8', 30_000);
      assert.equal(reject.status, 488);
      await v.progress(/telefono8: call FAIL/, 30_000, 'verify to judge the call');
      const { code, report } = await v.interrupt();
      const ph = phoneOf(report, 'telefono8');
      assert.equal(code, '1');
      assertFail(ph, 'call', 'srtp-off', [/SRTP is off on the phone/, /plain RTP/, /mandatory/, /mediaenc=srtp-mand/]);
      assert.match(stepOf(ph, 'call').summary, /^488 to the echo/);
    }),

    t.test('a phone certificate from another CA: tls FAIL with the foreign-certificate hint', async () => {
      const v = await watch('telefono6');
      await baresip(foreignDir);
      await v.progress(/telefono6: tls FAIL/, 30_000, 'verify to judge the foreign certificate');
      const { code, report } = await v.interrupt();
      const ph = phoneOf(report, 'telefono6');
      assert.equal(code, '1');
      assertFail(ph, 'tls', 'client-cert-foreign', [/another CA/, /`sip_certificate`/]);
      assert.match(stepOf(ph, 'tls').summary, /not issued by this CA|another CA|self-signed/);
      // Nothing in the handshake names telefono6: the REGISTER on the same connection does (its AOR).
      assert.ok(ph.events.some((e) => e.event === 'tls.handshake' && e.ok === false && e.phone === undefined));
      assertFail(ph, 'registration', 'client-cert-foreign', [/another CA/]);
    }),

    t.test('linphonec that does not trust sipsec\'s CA (another CA as root_ca): it aborts the handshake with an alert, tls FAIL naming root_ca', async (st) => {
      const later = cleanupStack(st);
      // Its own CA home and serve: nothing else connects from 127.0.0.1 there, so the address
      // linphonec fetched its files from ties its anonymous handshakes to it.
      const lhome = path.join(home, 'lin');
      const lsip = await freePort();
      initHome(lhome, lsip);
      const tlsPort = await freePort();
      cli(lhome, ['phone', 'add', 'telefono7', '--vendor', 'linphone', '--ext', '107', '--option', `sip_tls_port=${tlsPort}`]);
      const lserve = await ServeProcess.start(lhome, ['--tftp-port', 'off', '--https-port', '0', '--sip-port', String(lsip), '--diagnostic-port', 'off']);
      later(() => lserve.stop());
      const v = startVerify(lhome, ['telefono7', '--json', '--timeout', '120s']);
      verifies.push(v);
      const ready = path.join(lhome, 'provision', 'telefono7');
      const fetched = fetchOverHttps(curl, {
        port: lserve.ports.https!,
        basePath: '/prov/',
        vendor: 'linphone',
        phone: 'telefono7',
        files: ['linphonerc', 'cert.pem', 'key.pem', 'ca.crt'],
        caFile: path.join(lhome, 'ca.crt'),
        certKeyPem: path.join(ready, 'cert.pem'),
        keyPem: path.join(ready, 'key.pem'),
        dest: path.join(lhome, 'fetched'),
      });
      const rc = readFileSync(path.join(fetched, 'linphonerc'), 'utf8');
      assert.match(rc, /^root_ca=ca\.crt$/m);
      assert.match(rc, /^verify_server_certs=1$/m);
      // The phone trusts another CA: its ca.crt is the other sipsec CA's.
      copyFileSync(path.join(other, 'ca.crt'), path.join(fetched, 'ca.crt'));
      await v.progress(/telefono7: provisioning PASS/, 30_000, 'verify to see the provisioning');

      // Pitfall L2: its database folder must exist; L3: no sound card, so "soundcard use files".
      const userHome = path.join(lhome, 'home');
      mkdirSync(path.join(userHome, '.local', 'share', 'linphone'), { recursive: true });
      const child = spawn(linphonec, ['-c', path.join(fetched, 'linphonerc'), '-d', '6', '-l', path.join(lhome, 'linphonec.log')], { cwd: fetched, env: { ...process.env, HOME: userHome }, stdio: ['pipe', 'pipe', 'pipe'] });
      later(() => stop(child));
      collectOutput(child);
      child.stdin!.on('error', () => undefined);
      child.stdin!.write('soundcard use files\n');
      const hs = await lserve.waitFor((e) => e.event === 'tls.handshake' && e.ok === false, 40_000);
      assert.match(String(hs.alert), /^received (unknown ca|bad certificate|certificate unknown)/, `the alert linphone sent: ${JSON.stringify(hs)}`);
      await v.progress(/telefono7: tls FAIL/, 30_000, 'verify to judge the aborted handshake');
      const { code, report } = await v.interrupt();
      const ph = phoneOf(report, 'telefono7');
      assert.equal(code, '1');
      assertFail(ph, 'tls', 'phone-rejects-ca', [/unable to get local issuer certificate/, /does not trust sipsec's CA/, /`root_ca` in \[sip\] of linphonerc/]);
      assert.match(stepOf(ph, 'tls').summary, /^the phone aborted the handshake: (unknown ca|bad certificate|certificate unknown)/);
      assert.equal(stepOf(ph, 'registration').state, 'NOT SEEN');
      child.stdin!.write('quit\n');
    }),
  ]);
});
