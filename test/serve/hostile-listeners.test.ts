/**
 * Issue 13: what a hostile-input run found open on a live `sipsec serve`,
 * driven through the real CLI and raw sockets: handshake deadlines and
 * caps on every stream listener (item 1), TLS renegotiation (6), the
 * HTTPS lockout (2), phone files that cannot be enumerated (7), and a
 * serve that cannot bind one port (8).
 *
 * Several tests connect from other loopback addresses (127.0.0.x): on
 * Linux the whole 127/8 is local, and each address has its own slots and
 * its own lockout, so one case cannot disturb another.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as dgram from 'node:dgram';
import * as https from 'node:https';
import * as net from 'node:net';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { cleanup, sipsec, sipsecSpawn, tmpDir } from '../helpers/cli.js';
import { ServeProcess } from '../helpers/serve.js';
import { CaStore } from '../../src/home/store.js';

interface RouteJson {
  path: string;
  phone: string | null;
  holdsKey: boolean;
  transports: string[];
}

async function setup(home: string) {
  const steps = [
    ['ca', 'init', '--org', 'Hostile Test', '--domain', 'pbx.test', '--key', 'p256', '--no-passphrase', '--registrar', '127.0.0.1:5061', '--provisioning-url', 'https://localhost/prov/', '--tftp-server', '127.0.0.1'],
    ['server', 'add', 'registrar', '--dns', 'localhost', '--ip', '127.0.0.1'],
    ['phone', 'add', 'soft1', '--vendor', 'baresip', '--ext', '103'],
    ['phone', 'add', 'soft2', '--vendor', 'baresip', '--ext', '104'],
  ];
  for (const s of steps) {
    const r = sipsec(['--home', home, ...s]);
    assert.equal(r.code, 0, `${s.join(' ')}: ${r.stderr}`);
  }
  const routes = JSON.parse(sipsec(['--home', home, 'provision', 'routes', '--json']).stdout) as RouteJson[];
  const store = await CaStore.open(home);
  const secret = (n: string) => store.index.phones.find((p) => p.name === n)!.secret;
  return { routes, secret, ca: readFileSync(path.join(home, 'ca.crt'), 'utf8') };
}

/** A plain TCP connection from `from`; resolves once connected. */
function rawConnect(port: number, from: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', localAddress: from }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves when the socket is closed by the other side, rejects after `ms` (a bound, never a measurement). */
function closedWithin(s: net.Socket, ms: number, what: string): Promise<void> {
  if (s.destroyed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    s.on('error', () => undefined);
    const timer = setTimeout(() => reject(new Error(`${what}: still open after ${ms} ms`)), ms);
    s.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A TLS client from `from`: whether the handshake completed or the server closed first. */
function tlsAttempt(port: number, from: string, o: tls.ConnectionOptions = {}): Promise<{ result: 'secure' | 'closed'; socket: tls.TLSSocket }> {
  return new Promise((resolve) => {
    const raw = net.connect({ port, host: '127.0.0.1', localAddress: from });
    raw.on('error', () => undefined);
    const socket = tls.connect({ socket: raw, rejectUnauthorized: false, servername: 'localhost', ...o });
    socket.on('error', () => undefined);
    socket.once('secureConnect', () => resolve({ result: 'secure', socket }));
    socket.once('close', () => resolve({ result: 'closed', socket }));
  });
}

/** The first bytes of a ClientHello whose record announces 512 bytes: a handshake that can never finish. */
const TRUNCATED_HELLO = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]), randomBytes(32)]);

/** Three connections that never finish their opening, one trickling bytes so an idle timer would never fire. */
async function stalled(port: number, from: string): Promise<net.Socket[]> {
  const silent = await rawConnect(port, from);
  const header = await rawConnect(port, from);
  header.write(Buffer.from([0x16, 0x03, 0x01, 0x00]));
  const trickle = await rawConnect(port, from);
  trickle.write(TRUNCATED_HELLO.subarray(0, 5));
  let i = 5;
  const timer = setInterval(() => {
    if (trickle.destroyed || i >= TRUNCATED_HELLO.length) return clearInterval(timer);
    trickle.write(TRUNCATED_HELLO.subarray(i, i + 1));
    i++;
  }, 200);
  trickle.once('close', () => clearInterval(timer));
  return [silent, header, trickle];
}

test('every TLS listener closes handshakes that never complete, counts them per address, and gives the slots back', async (t) => {
  const home = tmpDir();
  t.after(() => cleanup(home));
  await setup(home);
  // 2 s: long enough for the fourth connection below to be refused while the three are still pending.
  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', '0', '--sip-port', '0', '--diagnostic-port', 'off', '--handshake-timeout', '2s', '--max-conn-per-ip', '3']);
  t.after(() => serve.stop());
  const listeners: Array<[string, number]> = [
    ['sip', serve.ports.sip!],
    ['https', serve.ports.https!],
  ];
  for (const [i, [name, port]] of listeners.entries()) {
    const from = `127.0.0.${11 + i}`;
    const held = await stalled(port, from);
    // The address's three slots are taken: a fourth connection is closed before any handshake.
    const fourth = await tlsAttempt(port, from);
    assert.equal(fourth.result, 'closed', `${name}: a fourth connection from ${from} while three are pending`);
    // All three are closed at the deadline (an idle timer would never close the trickling one).
    await Promise.all(held.map((s, k) => closedWithin(s, 20_000, `${name} stalled connection ${k}`)));
    // The slots came back: the same address completes a handshake now.
    const after = await tlsAttempt(port, from);
    assert.equal(after.result, 'secure', `${name}: a handshake from ${from} after the stalled ones were closed`);
    after.socket.destroy();
    const ev = await serve.waitFor((e) => e.event === 'tls.handshake' && e.code === 'tls.handshake_timeout' && e.protocol === name && String(e.remote).startsWith(`${from}:`));
    assert.match(String(ev.error), /no TLS handshake within 2 s/);
  }
  const refused = await serve.waitFor((e) => e.code === 'conn.too_many_per_address');
  assert.match(String(refused.event === 'sip.reject' ? refused.why : refused.reason), /more than 3 connections from 127\.0\.0\.1[12]/);
});

test('the global cap on connections in their handshake refuses a new address too', async (t) => {
  const home = tmpDir();
  t.after(() => cleanup(home));
  await setup(home);
  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', '0', '--sip-port', '0', '--diagnostic-port', 'off', '--handshake-timeout', '3s', '--max-handshakes', '2']);
  t.after(() => serve.stop());
  for (const [name, port] of [['sip', serve.ports.sip!], ['https', serve.ports.https!]] as const) {
    const a = await rawConnect(port, '127.0.0.21');
    const b = await rawConnect(port, '127.0.0.22');
    const third = await tlsAttempt(port, '127.0.0.23');
    assert.equal(third.result, 'closed', `${name}: a third pending handshake, from a third address`);
    await Promise.all([closedWithin(a, 20_000, `${name} a`), closedWithin(b, 20_000, `${name} b`)]);
    const later = await tlsAttempt(port, '127.0.0.23');
    assert.equal(later.result, 'secure', `${name}: room again once the two were closed`);
    later.socket.destroy();
  }
  const ev = await serve.waitFor((e) => e.code === 'conn.too_many_handshakes');
  assert.match(String(ev.event === 'sip.reject' ? ev.why : ev.reason), /2 connections already waiting for their TLS handshake/);
});

test('the diagnostic TCP port closes a connection that has not sent a whole first message in time', async (t) => {
  const home = tmpDir();
  t.after(() => cleanup(home));
  await setup(home);
  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', 'off', '--sip-port', '0', '--diagnostic-port', '0', '--handshake-timeout', '2s', '--max-conn-per-ip', '3']);
  t.after(() => serve.stop());
  const listen = await serve.waitFor((e) => e.event === 'sip.listen');
  const port = Number(listen.diagnosticTcpPort);
  assert.ok(port > 0, 'the diagnostic TCP port is up');
  const silent = await rawConnect(port, '127.0.0.31');
  const trickle = await rawConnect(port, '127.0.0.31');
  const partial = Buffer.from('REGISTER sip:pbx.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.31:5060;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nX-Padding: ');
  let i = 0;
  const timer = setInterval(() => {
    if (trickle.destroyed) return clearInterval(timer);
    trickle.write(partial.subarray(i % partial.length, (i % partial.length) + 1));
    i++;
  }, 200);
  t.after(() => clearInterval(timer));
  const third = await rawConnect(port, '127.0.0.31');
  // The fourth from the same address is over --max-conn-per-ip.
  const fourth = await rawConnect(port, '127.0.0.31');
  await closedWithin(fourth, 20_000, 'fourth diagnostic connection');
  await Promise.all([closedWithin(silent, 20_000, 'silent'), closedWithin(trickle, 20_000, 'trickling'), closedWithin(third, 20_000, 'third')]);
  const ev = await serve.waitFor((e) => e.event === 'sip.reject' && e.code === 'sip.first_message_timeout');
  assert.equal(ev.transport, 'tcp');
  assert.match(String(ev.why), /no first SIP message within 2 s/);
  // A whole message is still answered 403 "use TLS".
  const ok = await rawConnect(port, '127.0.0.31');
  const answer = new Promise<string>((resolve) => {
    let got = '';
    ok.on('data', (d: Buffer) => (got += d.toString('latin1')));
    ok.once('close', () => resolve(got));
  });
  ok.write('OPTIONS sip:pbx.test SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.31:5060;branch=z9hG4bK2\r\nMax-Forwards: 70\r\nFrom: <sip:x@pbx.test>;tag=1\r\nTo: <sip:pbx.test>\r\nCall-ID: diag-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n');
  assert.match(await answer, /^SIP\/2\.0 403 /);
});

/** TLS 1.2 renegotiation from the client: 'renegotiated', or how the server refused it. */
async function renegotiate(port: number, from: string): Promise<string> {
  const { result, socket } = await tlsAttempt(port, from, { maxVersion: 'TLSv1.2' });
  assert.equal(result, 'secure');
  return new Promise((resolve) => {
    socket.once('close', () => resolve('closed'));
    const started = socket.renegotiate({ rejectUnauthorized: false }, (err) => {
      if (!err) {
        resolve('renegotiated');
        socket.destroy();
      }
    });
    if (!started) resolve('not started');
  });
}

test('client-initiated TLS 1.2 renegotiation is refused on the SIP and HTTPS ports', async (t) => {
  const home = tmpDir();
  t.after(() => cleanup(home));
  await setup(home);
  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', '0', '--sip-port', '0', '--diagnostic-port', 'off']);
  t.after(() => serve.stop());
  for (const [name, port] of [['sip', serve.ports.sip!], ['https', serve.ports.https!]] as const) {
    assert.equal(await renegotiate(port, '127.0.0.41'), 'closed', `${name}: the server closes a connection that renegotiates`);
    const ev = await serve.waitFor((e) => e.event === 'tls.handshake' && e.code === 'tls.renegotiation_refused' && e.protocol === name);
    assert.match(String(ev.reason), /renegotiation refused/);
  }
});

interface HttpAnswer {
  status: number;
  challenge: string[];
}

function httpsGet(port: number, ca: string, pathname: string, o: { from?: string; auth?: string } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request({ host: '127.0.0.1', port, path: pathname, servername: 'localhost', ca, localAddress: o.from ?? '127.0.0.1', agent: false, headers: o.auth ? { Authorization: o.auth } : {} }, (res) => {
      res.resume();
      res.on('end', () => {
        const h = res.headers['www-authenticate'];
        resolve({ status: res.statusCode ?? 0, challenge: (Array.isArray(h) ? h : h ? [h] : []).map((v) => v.replace(/nonce="[^"]+"/g, 'nonce="x"')) });
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

test('HTTPS provisioning: wrong passwords feed the SIP lockout and security.log; the locked-out address is refused, the right password too', async (t) => {
  const home = tmpDir();
  t.after(() => cleanup(home));
  const { routes, secret, ca } = await setup(home);
  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', '0', '--sip-port', '0', '--diagnostic-port', 'off']);
  t.after(() => serve.stop());
  const port = serve.ports.https!;
  const file = `/prov/${routes.find((r) => r.phone === 'soft1' && r.path.endsWith('/config'))!.path}`;
  const from = '127.0.0.51';
  const statuses: number[] = [];
  for (let i = 0; i < 50; i++) statuses.push((await httpsGet(port, ca, file, { from, auth: basic('soft1', `guess-${i}`) })).status);
  // The default lockout (10 failures in 10 min, fail2ban's [asterisk] jail) applies to HTTPS too.
  assert.deepEqual(statuses.slice(0, 9), Array(9).fill(401));
  assert.ok(statuses.slice(10).every((s) => s === 403), `after the 10th failure every answer is 403: ${statuses.join(',')}`);
  assert.equal((await httpsGet(port, ca, file, { from, auth: basic('soft1', secret('soft1')) })).status, 403, 'the right password is refused while locked out');
  const block = await serve.waitFor((e) => e.event === 'security.block' && e.protocol === 'https');
  assert.equal(block.code, 'http.auth_locked_out');
  await serve.waitFor((e) => e.event === 'provision.denied' && e.code === 'http.auth_locked_out');

  const log = readFileSync(path.join(home, 'security.log'), 'utf8').trim().split('\n');
  assert.ok(log.length >= 10, `security.log has the failures (${log.length} lines)`);
  assert.match(log[0]!, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] SECURITY\[\d+\] sipsec: SecurityEvent="InvalidPassword",EventTV="[^"]+",Severity="Error",Service="HTTPS",EventVersion="1",AccountID="soft1",SessionID="http-[0-9a-f]+",LocalAddress="IPV4\/TLS\/127\.0\.0\.1\/\d+",RemoteAddress="IPV4\/TLS\/127\.0\.0\.51\/\d+"$/);
  for (const line of log) assert.doesNotMatch(line, /guess-/, 'never the password tried');

  // The same lockout refuses SIP from that address: one guess budget across both ports.
  const sip = await tlsAttempt(serve.ports.sip!, from);
  assert.equal(sip.result, 'secure');
  const reply = new Promise<string>((resolve) => {
    let got = '';
    sip.socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\n')) resolve(got);
    });
  });
  sip.socket.write(['REGISTER sip:pbx.test SIP/2.0', `Via: SIP/2.0/TLS ${from}:5061;branch=z9hG4bK${randomBytes(4).toString('hex')}`, 'Max-Forwards: 70', 'From: <sip:103@pbx.test>;tag=1', 'To: <sip:103@pbx.test>', 'Call-ID: lock-1', 'CSeq: 1 REGISTER', `Contact: <sip:103@${from}:5061;transport=tls>`, 'Content-Length: 0', '', ''].join('\r\n'));
  const text = await reply;
  sip.socket.destroy();
  assert.match(text, /^SIP\/2\.0 403 /);
  assert.match(text, /too many authentication failures/);

  // Another address is not affected.
  assert.equal((await httpsGet(port, ca, file, { from: '127.0.0.52', auth: basic('soft1', secret('soft1')) })).status, 200);
});

test('HTTPS provisioning does not reveal which phone files exist (MACs cannot be enumerated)', async (t) => {
  const home = tmpDir();
  t.after(() => cleanup(home));
  const { routes, secret, ca } = await setup(home);
  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', '0', '--sip-port', 'off']);
  t.after(() => serve.stop());
  const port = serve.ports.https!;
  const own = `/prov/${routes.find((r) => r.phone === 'soft1' && r.path.endsWith('/config'))!.path}`;
  const other = `/prov/${routes.find((r) => r.phone === 'soft2' && r.path.endsWith('/config'))!.path}`;
  const missing = '/prov/001122334455.cfg';
  const as1 = basic('soft1', secret('soft1'));
  // Anonymous: another phone's file and a file that does not exist get the same challenge.
  const anonOther = await httpsGet(port, ca, other);
  const anonMissing = await httpsGet(port, ca, missing);
  assert.equal(anonOther.status, 401);
  assert.deepEqual(anonMissing, anonOther);
  // Authenticated as soft1: soft2's file and a missing one are both 404.
  assert.equal((await httpsGet(port, ca, other, { auth: as1 })).status, 404);
  assert.equal((await httpsGet(port, ca, missing, { auth: as1 })).status, 404);
  // soft1's own file: the same challenge first, then the file.
  assert.deepEqual(await httpsGet(port, ca, own), anonOther);
  assert.equal((await httpsGet(port, ca, own, { auth: as1 })).status, 200);
  // Shared files still need nothing.
  const shared = routes.find((r) => r.phone === null && r.transports.includes('https'));
  if (shared) assert.equal((await httpsGet(port, ca, `/prov/${shared.path}`)).status, 200);
});

test('serve that cannot bind a port closes every listener and exits non-zero, naming every port that failed', async (t) => {
  const home = tmpDir();
  t.after(() => cleanup(home));
  await setup(home);
  // Take a UDP port for TFTP and a TCP port for HTTPS; the SIP port is free.
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', () => resolve()));
  t.after(() => udp.close());
  const tcp = net.createServer();
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', () => resolve()));
  t.after(() => tcp.close());
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const sipPort = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const tftpPort = udp.address().port;
  const httpsPort = (tcp.address() as net.AddressInfo).port;

  const child = sipsecSpawn(['--home', home, 'serve', '--json', '--bind', '127.0.0.1', '--tftp-port', String(tftpPort), '--https-port', String(httpsPort), '--sip-port', String(sipPort), '--diagnostic-port', 'off']);
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => (stderr += c));
  child.stdout!.resume();
  // Bounded: a serve that kept its other listeners open while it shut down took 46 s here.
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve still running after 30 s; stderr: ${stderr}`));
    }, 30_000);
    child.once('exit', (c) => {
      clearTimeout(timer);
      resolve(c);
    });
  });
  assert.equal(code, 1, stderr);
  assert.match(stderr, new RegExp(`TFTP on UDP 127\\.0\\.0\\.1:${tftpPort}`));
  assert.match(stderr, new RegExp(`https port ${httpsPort} is already in use`));
  assert.equal(stderr.trim().split('\n').length, 1, 'one error line naming both');
  // The SIP port that did bind is closed again.
  const refused = await new Promise<boolean>((resolve) => {
    const s = net.connect(sipPort, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
  assert.ok(refused, `nothing listens on the SIP port ${sipPort} any more`);
});
