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
