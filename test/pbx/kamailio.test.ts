import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { isSipsecError } from '../../src/core/errors.js';
import { kamailioConfig } from '../../src/pbx/kamailio.js';
import { writePbxFiles } from '../../src/pbx/server-tls.js';
import { revokeCert } from '../../src/home/operations.js';
import type { CaStore } from '../../src/home/store.js';
import { requirePeer } from '../helpers/peers.js';
import { addTestPhones, addTestServer, noPassphrase, tempCa } from '../helpers/ca-home.js';
import { freePort, within } from '../vendors/peer-stubs.js';
import { registrarCa } from '../helpers/registrar-ca.js';
import { ServeProcess } from '../helpers/serve.js';
import { startKamailio } from '../helpers/kamailio.js';
import { probeJson, probeStep, sipsecAsync } from '../helpers/verify.js';
import { readFileSync } from 'node:fs';
import { parseIni } from '../vendors/wellformed.js';

/** tls.cfg as sections of `key = value` lines ('#' comments). */
function tlsSections(text: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const s of parseIni(text, { commentChars: ['#'] })) {
    assert.ok(!out.has(s.name), `[${s.name}] twice`);
    out.set(s.name, new Map(s.entries));
  }
  return out;
}

async function kamCa() {
  const port = await freePort();
  const ca = await tempCa({ registrar: { host: '127.0.0.1', port } });
  await addTestServer(ca.store, 'pbx.test', ['127.0.0.1']);
  await addTestPhones(ca.store, [
    { name: 'telefono1', vendor: 'baresip', ext: '101' },
    { name: 'telefono2', vendor: 'linphone', ext: '102' },
    { name: 'telefono3', vendor: 'baresip', ext: '103' },
  ]);
  return { ca, port };
}

test('kamailio: without --out, tls.cfg points at the CA home in place, verifying and requiring client certificates', async () => {
  const { ca } = await kamCa();
  try {
    const cfg = await kamailioConfig(ca.store, {});
    assert.deepEqual(cfg.files.map((f) => f.name), ['tls.cfg']);
    const sections = tlsSections(cfg.tlsCfg);
    assert.deepEqual([...sections.keys()], ['server:default', 'client:default']);
    const server = sections.get('server:default')!;
    const entry = ca.store.current('pbx.test')!;
    assert.equal(server.get('method'), 'TLSv1.2+');
    assert.equal(server.get('verify_certificate'), 'yes');
    assert.equal(server.get('require_certificate'), 'yes');
    assert.equal(server.get('certificate'), ca.store.paths.cert(entry.serial));
    assert.equal(server.get('private_key'), ca.store.paths.key(entry.serial));
    assert.equal(server.get('ca_list'), ca.store.paths.caCert);
    assert.equal(server.get('crl'), ca.store.paths.crl);
    assert.ok(cfg.notes.some((n) => n.includes('kamailio must be able to read it')));
    const legacy = tlsSections((await kamailioConfig(ca.store, { legacyTls: true, noCrl: true })).tlsCfg).get('server:default')!;
    assert.equal(legacy.get('method'), 'TLSv1+');
    assert.equal(legacy.get('crl'), undefined);
  } finally {
    ca.cleanup();
  }
});

test('kamailio: the server certificate is the only one, or the one named; none or several is an error with a hint', async () => {
  const ca = await tempCa({ registrar: { host: 'pbx.test', port: 5061 } });
  try {
    await assert.rejects(kamailioConfig(ca.store, {}), (e: unknown) => isSipsecError(e) && e.code === 'NOT_FOUND' && /sipsec server add pbx\.test/.test(e.hint ?? ''));
    await addTestServer(ca.store, 'pbx.test', ['127.0.0.1']);
    await addTestServer(ca.store, 'edge.pbx.test', ['127.0.0.2']);
    await assert.rejects(kamailioConfig(ca.store, {}), (e: unknown) => isSipsecError(e) && e.code === 'BAD_INPUT' && /--cert NAME/.test(e.hint ?? ''));
    assert.equal((await kamailioConfig(ca.store, { cert: 'edge.pbx.test' })).server.name, 'edge.pbx.test');
    await assert.rejects(kamailioConfig(ca.store, { cert: 'nope' }), (e: unknown) => isSipsecError(e) && e.code === 'NOT_FOUND');
  } finally {
    ca.cleanup();
  }
});

// ---------------------------------------------------------------- real kamailio

/** One REGISTER over mutual TLS with a phone's certificate; the status line of the answer, or the TLS/connection error. */
async function register(store: CaStore, port: number, phone: string, aorUser: string): Promise<string> {
  const entry = store.current(phone) ?? store.history(phone).at(-1)!;
  const [cert, key, ca] = await Promise.all([store.readCertPem(entry.serial), store.readKeyPem(entry.serial), store.caCertPem()]);
  const socket = tls.connect({ host: '127.0.0.1', port, cert, key, ca });
  const tag = randomBytes(4).toString('hex');
  const p = new Promise<string>((resolve) => {
    let buf = '';
    socket.on('secureConnect', () => {
      const local = `${socket.localAddress}:${socket.localPort}`;
      socket.write(
        [
          'REGISTER sip:pbx.test SIP/2.0',
          `Via: SIP/2.0/TLS ${local};branch=z9hG4bK-${tag};rport`,
          'Max-Forwards: 70',
          `From: <sip:${aorUser}@pbx.test>;tag=${tag}`,
          `To: <sip:${aorUser}@pbx.test>`,
          `Call-ID: ${tag}@127.0.0.1`,
          'CSeq: 1 REGISTER',
          `Contact: <sip:${aorUser}@${local};transport=tls>`,
          'Expires: 600',
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n'),
      );
    });
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      const line = buf.split('\r\n')[0]!;
      if (buf.includes('\r\n')) resolve(line);
    });
    socket.on('error', (e) => resolve(`error: ${e.message}`));
    socket.on('close', () => resolve(`closed: ${buf.split('\r\n')[0] ?? ''}`));
  });
  try {
    return await within(p, 15_000, `kamailio's answer to ${phone}'s REGISTER`);
  } finally {
    socket.destroy();
  }
}

async function listening(port: number, child: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`kamailio exited (${child.exitCode}):\n${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`kamailio did not listen on ${port}:\n${log()}`);
}

test('kamailio (real): `pbx kamailio --out` passes `kamailio -c` and, run, admits exactly the phones whose certificate names their AOR', { timeout: 120_000 }, async () => {
  const bin = requirePeer('kamailio');
  const { ca, port } = await kamCa();
  let child: ChildProcess | undefined;
  try {
    // A revoked phone must be refused by the CRL check.
    await revokeCert(ca.store, 'telefono3', 'keyCompromise', noPassphrase);
    const out = path.join(ca.dir, 'kam');
    const cfg = await kamailioConfig(ca.store, { installDir: out, listen: { host: '127.0.0.1', port } });
    assert.deepEqual(cfg.files.map((f) => f.name).sort(), ['kamailio.cfg', 'keys/ca.crt', 'keys/crl.pem', 'keys/pbx.test.crt', 'keys/pbx.test.key', 'tls.cfg']);
    await writePbxFiles(out, cfg.files);
    assert.equal(statSync(path.join(out, 'keys', 'pbx.test.key')).mode & 0o777, 0o600);
    const tlsCfg = tlsSections(cfg.tlsCfg).get('server:default')!;
    assert.equal(tlsCfg.get('private_key'), path.join(out, 'keys', 'pbx.test.key'));

    const check = spawnSync(bin, ['-c', '-f', path.join(out, 'kamailio.cfg')], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(check.status, 0, `kamailio -c failed:\n${check.stdout}${check.stderr}`);
    assert.match(check.stdout + check.stderr, /config file ok/);

    // -c does not load certificates: run it, so the tls module loads certificate, key, CA and CRL for real.
    const run = path.join(ca.dir, 'run');
    mkdirSync(run);
    let log = '';
    // K3: no core file if it aborts; foreground (-DD), log to stderr (-E).
    child = spawn('sh', ['-c', 'ulimit -c 0; exec "$0" "$@"', bin, '-DD', '-E', '-f', path.join(out, 'kamailio.cfg'), '-w', run, '-P', path.join(run, 'kamailio.pid'), '-Y', run, '-m', '64', '-M', '8'], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    await listening(port, child, () => log);

    assert.equal(await register(ca.store, port, 'telefono1', '101'), 'SIP/2.0 200 OK');
    assert.equal(await register(ca.store, port, 'telefono2', '102'), 'SIP/2.0 200 OK');
    assert.match(await register(ca.store, port, 'telefono2', '101'), /^SIP\/2\.0 403 /, 'a phone may not register another phone\'s AOR');
    const revoked = await register(ca.store, port, 'telefono3', '103');
    assert.match(revoked, /certificate revoked/, `the CRL check refuses a revoked phone certificate: ${revoked}`);
    assert.ok(child.exitCode === null, `kamailio died:\n${log}`);
  } finally {
    if (child?.pid !== undefined && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      process.kill(-child.pid, 'SIGTERM');
      await within(exited, 10_000, 'kamailio to stop').catch(() => process.kill(-child!.pid!, 'SIGKILL'));
    }
    ca.cleanup();
  }
});

// ---------------------------------------------------------------- the TLS edge

test('kamailio --upstream (real): the TLS edge in front of sipsec\'s registrar relays a phone\'s REGISTER, echo call and SRTP both ways; a revoked phone is refused by the edge\'s CRL', { timeout: 180_000 }, async (t) => {
  const bin = requirePeer('kamailio');
  const ca = await registrarCa([
    { name: 'telefono1', vendor: 'baresip', ext: '101' },
    { name: 'telefono3', vendor: 'baresip', ext: '103' },
  ]);
  t.after(() => ca.cleanup());
  await revokeCert(ca.store, 'telefono3', 'keyCompromise', noPassphrase);
  const [edgePort, pbxPort] = [await freePort(), await freePort()];
  const out = path.join(ca.dir, 'edge');
  const w = await sipsecAsync(['--home', ca.home, 'pbx', 'kamailio', '--out', out, '--cert', 'registrar', '--listen', `127.0.0.1:${edgePort}`, '--upstream', `127.0.0.1:${pbxPort}`, '--json']);
  assert.equal(w.code, '0', w.stderr);
  const summary = JSON.parse(w.stdout) as { upstream: string; notes: string[] };
  assert.equal(summary.upstream, `sip:127.0.0.1:${pbxPort};transport=tls`);
  const cfgText = readFileSync(path.join(out, 'kamailio.cfg'), 'utf8');
  assert.match(cfgText, new RegExp(`^\\s*\\$du = "sip:127\\.0\\.0\\.1:${pbxPort};transport=tls";$`, 'm'));
  assert.doesNotMatch(cfgText, /save\("location"\)/, 'the edge keeps no registrations: the PBX does');
  assert.equal(tlsSections(readFileSync(path.join(out, 'tls.cfg'), 'utf8')).get('server:default')!.get('crl'), path.join(out, 'keys', 'crl.pem'));
  const check = spawnSync(bin, ['-c', '-f', path.join(out, 'kamailio.cfg')], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(check.status, 0, `kamailio -c failed:\n${check.stdout}${check.stderr}`);

  // The PBX behind the edge: sipsec serve, which sees the edge's certificate and authenticates phones by digest.
  const serve = await ServeProcess.start(ca.home, ['--tftp-port', 'off', '--https-port', 'off', '--sip-port', String(pbxPort), '--diagnostic-port', 'off', '--cert', 'registrar', '--client-cert', 'optional']);
  t.after(() => serve.stop());
  const kam = await startKamailio(bin, path.join(out, 'kamailio.cfg'), path.join(ca.dir, 'edge-run'), edgePort);
  t.after(() => kam.stop());

  // A phone through the edge: TLS with its certificate (checked by the edge), REGISTER and a call to the echo
  // relayed to the PBX, the tone over SRTP to the echo and back.
  const r = await probeJson(ca.home, [`sips:127.0.0.1:${edgePort}`, '--as', 'telefono1', '--duration', '1s']);
  assert.equal(r.code, '0', `${JSON.stringify(r.report.steps, null, 2)}\n${kam.log()}`);
  assert.deepEqual(r.report.steps.map((s) => `${s.step}:${s.result}`), ['tls:PASS', 'register:PASS', 'call:PASS', 'media:PASS', 'unregister:PASS']);
  const media = probeStep(r.report, 'media').data as { sent: number; received: number; authFailures: number };
  assert.equal(media.authFailures, 0);
  assert.ok(media.received >= media.sent * 0.8, `${media.received} of ${media.sent} back through the edge`);
  // The PBX saw the phone registered over the edge's connection (its digest, the edge's certificate).
  const reg = await serve.waitFor((e) => e.event === 'register.ok' && e.phone === 'telefono1', 10_000);
  assert.equal(reg.certSerial, undefined, 'the PBX sees the edge\'s certificate, not the phone\'s');
  assert.match(String(reg.contact), /;alias=127\.0\.0\.1~\d+~3/, 'the edge marks the phone\'s connection in its Contact');
  const end = await serve.waitFor((e) => e.event === 'call.end' && e.phone === 'telefono1', 20_000);
  assert.ok(Number(end.packetsIn) > 0 && Number(end.packetsOut) > 0, `echo packets in ${end.packetsIn} out ${end.packetsOut}`);

  // The revoked phone: refused by the edge's CRL check (Asterisk behind it would have let it in).
  const revoked = await register(ca.store, edgePort, 'telefono3', '103');
  assert.match(revoked, /certificate revoked/, `the edge refuses a revoked phone certificate: ${revoked}`);
  // A phone's certificate cannot register another phone's AOR through the edge.
  assert.match(await register(ca.store, edgePort, 'telefono1', '103'), /^SIP\/2\.0 403 /);
  assert.equal(kam.child.exitCode, null, `kamailio still runs:\n${kam.log()}`);
});
