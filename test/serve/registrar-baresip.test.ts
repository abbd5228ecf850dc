import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, sipsec, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';
import { ServeProcess } from '../helpers/serve.js';
import { addBaresip, baresipPorts, cli, heldBaresipFiles, initHome, setBaresipPassword, startBaresip, type RunningBaresip } from '../helpers/registrar-home.js';
import { ctrlTcp, freePort } from '../vendors/peer-stubs.js';

/**
 * baresip 1.0 (Debian) against `sipsec serve`, configured exactly as
 * `sipsec phone add --vendor baresip` renders it: registration over TLS
 * with the client certificate, refusals (revoked, another CA, wrong
 * password) with the reason in the events, and a call between two
 * baresips through the proxy with srtp-mand and media both ways.
 */
test('baresip (real) through sipsec serve: register, refusals, and an SRTP call through the proxy', { timeout: 240_000 }, async (t) => {
  const bin = requirePeer('baresip');
  const home = tmpDir('sipsec-reg-baresip-');
  t.after(() => cleanup(home));
  const sipPort = await freePort();
  initHome(home, sipPort);
  const a = addBaresip(home, 'telefono1', '101', await baresipPorts());
  const bPorts = await baresipPorts();
  const b = addBaresip(home, 'telefono2', '102', bPorts);
  const cPorts = await baresipPorts();
  addBaresip(home, 'telefono3', '103', cPorts);
  // Revoking removes telefono3's files from the tree; the phone still has the ones it fetched.
  const revokedDir = heldBaresipFiles(home, 'telefono3', path.join(home, 'held-telefono3'));

  // Another CA, same phone name and extension: its certificate must not get in.
  const other = path.join(home, 'other');
  initHome(other, sipPort);
  const foreignDir = addBaresip(other, 'telefono1', '101', await baresipPorts());

  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', 'off', '--sip-port', String(sipPort), '--diagnostic-port', 'off']);
  t.after(() => serve.stop());
  const running: RunningBaresip[] = [];
  t.after(() => {
    if (process.env.SIPSEC_DEBUG_EVENTS) for (const e of serve.events) console.error(JSON.stringify(e).slice(0, 400));
  });
  t.after(async () => {
    for (const r of running) await r.stop();
  });

  // 1. Two phones register over TLS with their certificates (digest on top, MD5: what libre 1.1 speaks).
  running.push(await startBaresip(bin, a), await startBaresip(bin, b));
  const ok1 = await serve.waitFor((e) => e.event === 'register.ok' && e.phone === 'telefono1', 30_000);
  const ok2 = await serve.waitFor((e) => e.event === 'register.ok' && e.phone === 'telefono2', 30_000);
  for (const ev of [ok1, ok2]) {
    assert.equal(ev.transport, 'tls');
    assert.match(String(ev.tlsVersion), /^TLSv1\.[23]$/);
    assert.ok(typeof ev.cipher === 'string' && ev.cipher.length > 0);
    assert.match(String(ev.certSerial), /^[0-9a-f]+$/);
    assert.equal(ev.algorithm, 'MD5');
  }
  await running[0]!.waitFor((s) => /101@pbx\.test: \{0\/TLS\/v4\} 200 OK/.test(s), 20_000, 'baresip to report 200 OK');
  const status = JSON.parse(sipsec(['--home', home, 'status', '--json']).stdout) as { registrations: Array<Record<string, unknown>> };
  const regs = status.registrations.filter((r) => r.phone === 'telefono1' || r.phone === 'telefono2');
  assert.equal(regs.length, 2);
  for (const r of regs) {
    for (const k of ['phone', 'aor', 'contact', 'remote', 'transport', 'tlsVersion', 'cipher', 'certSerial', 'expires']) assert.ok(r[k] !== undefined && r[k] !== null, `status.registrations[].${k}`);
    assert.equal(r.transport, 'tls');
    assert.ok(Number(r.expires) > 0);
  }
  assert.equal(regs.find((r) => r.phone === 'telefono1')!.certSerial, ok1.certSerial);

  // 2. A call from telefono1 to 102 through the proxy, SRTP mandatory on both sides, media both ways.
  const dial = await ctrlTcp(Number(/ctrl_tcp_listen\s+127\.0\.0\.1:(\d+)/.exec(readConfig(a))![1]), 'dial', 'sip:102@pbx.test');
  assert.equal(dial.ok, true);
  const proxied = await serve.waitFor((e) => e.event === 'call.proxy', 30_000);
  assert.equal(proxied.status, 200);
  assert.equal(proxied.phone, 'telefono1');
  assert.equal(proxied.callee, 'telefono2');
  // baresip prints its audio bitrate (tx/rx) once a call runs: a non-zero rx on both sides is media flowing.
  const media = (s: string) => s.includes('SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)') && /audio=\d+\/[1-9]\d* \(bit\/s\)/.test(s);
  await running[0]!.waitFor(media, 30_000, 'SRTP media at telefono1');
  await running[1]!.waitFor(media, 30_000, 'SRTP media at telefono2');
  for (const r of running) assert.doesNotMatch(r.output.text(), /no valid a=crypto|srtp: .*failed to decrypt RTP /);
  await ctrlTcp(Number(/ctrl_tcp_listen\s+127\.0\.0\.1:(\d+)/.exec(readConfig(a))![1]), 'hangup');
  const end = await serve.waitFor((e) => e.event === 'call.end', 20_000);
  assert.equal(end.status, 200);

  // 3. A revoked certificate: serve picks up the new CRL; the handshake event and the refusal say why.
  cli(home, ['cert', 'revoke', 'telefono3', '--reason', 'keyCompromise']);
  await serve.waitFor((e) => e.event === 'serve.reload', 15_000);
  const revoked = await startBaresip(bin, revokedDir);
  running.push(revoked);
  const hsRevoked = await serve.waitFor((e) => e.event === 'tls.handshake' && e.ok === false && /revoked/.test(String(e.error)), 30_000);
  assert.match(String(hsRevoked.certSubject), /CN=telefono3/);
  const failRevoked = await serve.waitFor((e) => e.event === 'register.fail' && /revoked/.test(String(e.reason)), 30_000);
  assert.equal(failRevoked.status, 403);
  await revoked.waitFor((s) => /403 Forbidden/.test(s), 20_000, 'baresip to see 403');
  await revoked.stop();

  // 4. A certificate from another CA.
  const foreign = await startBaresip(bin, foreignDir);
  running.push(foreign);
  const hsForeign = await serve.waitFor((e) => e.event === 'tls.handshake' && e.ok === false && /not issued by this CA|self-signed|another CA/.test(String(e.error)), 30_000);
  assert.ok(hsForeign.certSerial);
  await serve.waitFor((e) => e.event === 'register.fail' && /client certificate not accepted/.test(String(e.reason)), 30_000);
  await foreign.stop();

  // 5. The right certificate with a wrong password.
  const wrongDir = path.join(home, 'wrong');
  cpSync(b, wrongDir, { recursive: true });
  rmSync(path.join(wrongDir, 'uuid'), { force: true });
  setBaresipPassword(wrongDir, 'WrongPassword123');
  const wrongPorts = await baresipPorts();
  setPorts(wrongDir, wrongPorts.ctrl, wrongPorts.sip);
  const wrong = await startBaresip(bin, wrongDir);
  running.push(wrong);
  const failPw = await serve.waitFor((e) => e.event === 'register.fail' && e.reason === 'wrong password', 30_000);
  assert.equal(failPw.status, 401);
  await serve.waitFor((e) => e.event === 'security' && e.securityEvent === 'InvalidPassword', 10_000);
  await wrong.stop();
});


function readConfig(dir: string): string {
  return readFileSync(path.join(dir, 'config'), 'utf8');
}

/** Another ctrl_tcp and SIP listen port for a copied ready directory (two baresips cannot share them). */
function setPorts(dir: string, ctrl: number, sip: number): void {
  const file = path.join(dir, 'config');
  const text = readFileSync(file, 'utf8')
    .replace(/ctrl_tcp_listen\s+127\.0\.0\.1:\d+/, `ctrl_tcp_listen\t\t127.0.0.1:${ctrl}`)
    .replace(/sip_listen\s+127\.0\.0\.1:\d+/, `sip_listen\t\t127.0.0.1:${sip}`)
    .replace(/sip_certificate\s+\S+/, `sip_certificate\t\t${path.join(dir, 'cert.pem')}`)
    .replace(/sip_cafile\s+\S+/, `sip_cafile\t\t${path.join(dir, 'ca.crt')}`);
  writeFileSync(file, text);
}
