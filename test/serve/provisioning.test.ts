import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, run, sipsec, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';
import { ServeProcess } from '../helpers/serve.js';
import { CaStore } from '../../src/home/store.js';

interface RouteJson {
  path: string;
  phone: string | null;
  vendor: string;
  holdsKey: boolean;
  transports: string[];
  bytes: number;
}

async function setup(home: string) {
  const steps = [
    ['ca', 'init', '--org', 'My Super Company', '--domain', 'pbx.mycompany.com', '--key', 'p256', '--no-passphrase', '--registrar', '127.0.0.1:5061', '--provisioning-url', 'https://localhost/prov/', '--tftp-server', '127.0.0.1'],
    ['server', 'add', 'registrar', '--dns', 'localhost', '--ip', '127.0.0.1'],
    ['phone', 'add', 'telefono1', '--vendor', 'aastra', '--mac', '00:08:5d:12:34:56', '--ip', '127.0.0.1', '--ext', '101'],
    ['phone', 'add', 'telefono2', '--vendor', 'grandstream', '--mac', '00:0b:82:12:34:56', '--ip', '10.9.9.9', '--ext', '102'],
    ['phone', 'add', 'soft1', '--vendor', 'baresip', '--ext', '103'],
  ];
  for (const s of steps) {
    const r = sipsec(['--home', home, ...s]);
    assert.equal(r.code, 0, `${s.join(' ')}: ${r.stderr}`);
  }
  const routes = JSON.parse(sipsec(['--home', home, 'provision', 'routes', '--json']).stdout) as RouteJson[];
  const store = await CaStore.open(home);
  const secret = (n: string) => store.index.phones.find((p) => p.name === n)!.secret;
  const pair = (n: string) => {
    const e = store.current(n)!;
    return { cert: store.paths.cert(e.serial), key: store.paths.key(e.serial) };
  };
  return { routes, secret, pair, ca: path.join(home, 'ca.crt') };
}

test('serve over TFTP: real clients fetch exactly the route table; keys only to the phone, only in the window', async (t) => {
  const curl = requirePeer('curl');
  const atftp = requirePeer('atftp');
  const tftp = requirePeer('tftp');
  const home = tmpDir();
  t.after(() => cleanup(home));
  const { routes } = await setup(home);
  const fw = path.join(home, 'firmware');
  mkdirSync(fw);
  writeFileSync(path.join(fw, '57i.st'), Buffer.alloc(256 * 1024, 7));
  symlinkSync('/etc/passwd', path.join(fw, 'passwd'));
  const serve = await ServeProcess.start(home, ['--tftp-port', '0', '--https-port', 'off', '--sip-port', 'off', '--firmware', fw]);
  t.after(() => serve.stop());
  const port = String(serve.ports.tftp);
  const out = path.join(home, 'out');
  mkdirSync(out);

  // Every TFTP route of telefono1 (its IP is 127.0.0.1), by curl, byte for byte; MAC case does not matter.
  const aastra = routes.filter((r) => r.vendor === 'aastra');
  assert.ok(aastra.some((r) => r.path === '00085D123456.cfg') && aastra.some((r) => r.holdsKey));
  for (const r of aastra) {
    const file = path.join(out, 'x');
    const got = run(curl, ['-sS', '--max-time', '20', '-o', file, `tftp://127.0.0.1:${port}/${r.path.toLowerCase()}`]);
    assert.equal(got.code, 0, `${r.path}: ${got.stderr}`);
    assert.equal(readFileSync(file).length, r.bytes, r.path);
  }
  const cfg = readFileSync(path.join(home, 'provision', '00085D123456.cfg'));
  const viaAtftp = path.join(out, 'a.cfg');
  assert.equal(run(atftp, ['--option', 'blksize 1428', '-g', '-r', '00085D123456.cfg', '-l', viaAtftp, '127.0.0.1', port]).code, 0);
  assert.ok(readFileSync(viaAtftp).equals(cfg));
  const viaHpa = path.join(out, 'h.cfg');
  const hpa = run(tftp, ['127.0.0.1', port, '-m', 'binary', '-c', 'get', 'aastra.cfg', viaHpa]);
  assert.equal(hpa.code, 0, hpa.stderr);
  assert.ok(readFileSync(viaHpa).equals(readFileSync(path.join(home, 'provision', 'aastra.cfg'))));
  // Firmware: regular files only; a symlink in the folder is not served.
  assert.equal(run(curl, ['-sS', '--tftp-blksize', '1428', '-o', path.join(out, 'fw'), `tftp://127.0.0.1:${port}/57i.st`]).code, 0);
  assert.equal(readFileSync(path.join(out, 'fw')).length, 256 * 1024);
  assert.notEqual(run(curl, ['-sS', '-o', path.join(out, 'p'), `tftp://127.0.0.1:${port}/passwd`]).code, 0);

  // telefono2's files go only to its recorded address (10.9.9.9), not to us.
  const gs = routes.find((r) => r.phone === 'telefono2' && r.path.endsWith('.xml'))!;
  const denied = run(curl, ['-sS', '-o', path.join(out, 'd'), `tftp://127.0.0.1:${port}/${gs.path}`]);
  assert.notEqual(denied.code, 0);
  // Not in the table: nothing is served from disk, whatever the path.
  for (const bad of ['index.json', 'private/ca.key', '../ca/index.json', 'provision/00085D123456.cfg']) {
    assert.notEqual(run(curl, ['-sS', '-o', path.join(out, 'n'), `tftp://127.0.0.1:${port}/${bad}`]).code, 0, bad);
  }
  const keyFetch = await serve.waitFor((e) => e.event === 'provision.fetch' && e.holdsKey === true);
  assert.equal(keyFetch.phone, 'telefono1');
  assert.match(String(keyFetch.warning), /private key of telefono1 sent in clear over tftp/);
  const deny = await serve.waitFor((e) => e.event === 'provision.denied' && e.phone === 'telefono2');
  assert.match(String(deny.reason), /only served to telefono2's address 10\.9\.9\.9/);
  const fetch = await serve.waitFor((e) => e.event === 'provision.fetch' && e.file === '00085d123456.cfg');
  for (const k of ['time', 'phone', 'remote', 'protocol', 'bytes', 'ms', 'result']) assert.ok(k in fetch, `provision.fetch has ${k}`);

  // ca config: the tree on disk and what serve answers follow it, and agree.
  const seen = serve.events.length;
  assert.equal(sipsec(['--home', home, 'ca', 'config', '--ntp', '10.1.2.3']).code, 0);
  const rendered = readFileSync(path.join(home, 'provision', 'aastra.cfg'));
  assert.match(rendered.toString('utf8'), /^time server1: 10\.1\.2\.3$/m);
  await serve.waitFor((e) => e.event === 'serve.reload' && serve.events.indexOf(e) >= seen, 15_000);
  const afterConfig = path.join(out, 'h2.cfg');
  assert.equal(run(tftp, ['127.0.0.1', port, '-m', 'binary', '-c', 'get', 'aastra.cfg', afterConfig]).code, 0);
  assert.ok(readFileSync(afterConfig).equals(rendered), 'serve answers what the tree on disk holds');

  assert.equal(await serve.stop(), 0);
  // The same events are in the log file in the CA home.
  const log = readFileSync(path.join(home, 'serve.log'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { event: string });
  assert.ok(log.some((e) => e.event === 'provision.fetch'));

  // --key-window 0: never a key in clear, even to the right phone.
  const strict = await ServeProcess.start(home, ['--tftp-port', '0', '--https-port', 'off', '--sip-port', 'off', '--key-window', '0']);
  t.after(() => strict.stop());
  const keyRoute = aastra.find((r) => r.holdsKey)!;
  assert.notEqual(run(curl, ['-sS', '-o', path.join(out, 'k'), `tftp://127.0.0.1:${strict.ports.tftp}/${keyRoute.path}`]).code, 0);
  const refused = await strict.waitFor((e) => e.event === 'provision.denied');
  assert.match(String(refused.reason), /never served over cleartext/);
});

test('serve over HTTPS: curl with the CA; digest, basic and client certificates; wrong credentials refused', async (t) => {
  const curl = requirePeer('curl');
  const home = tmpDir();
  t.after(() => cleanup(home));
  const { routes, secret, pair, ca } = await setup(home);
  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', '0', '--http-port', '0', '--sip-port', 'off', '--allow', '127.0.0.0/8']);
  t.after(() => serve.stop());
  const base = `https://localhost:${serve.ports.https}/prov`;
  const soft = routes.find((r) => r.phone === 'soft1' && r.path.endsWith('/config'))!;
  const key = routes.find((r) => r.phone === 'soft1' && r.holdsKey)!;
  const get = (url: string, extra: string[] = []) => {
    const r = run(curl, ['-sS', '--max-time', '20', '--cacert', ca, '-o', '/dev/null', '-w', '%{http_code}', ...extra, url]);
    return r.stdout.trim();
  };
  // The server certificate verifies against the CA under the name dialled.
  assert.equal(get(`${base}/${soft.path}`), '401', 'no credentials');
  assert.equal(get(`${base}/${soft.path}`, ['--digest', '-u', `soft1:${secret('soft1')}`]), '200');
  assert.equal(get(`${base}/${key.path}`, ['--digest', '-u', `soft1:${secret('soft1')}`]), '200');
  assert.equal(get(`${base}/${soft.path}`, ['--basic', '-u', `soft1:${secret('soft1')}`]), '200');
  assert.equal(get(`${base}/${soft.path}`, ['--digest', '-u', 'soft1:wrong-password']), '401');
  assert.equal(get(`${base}/${soft.path}`, ['--basic', '-u', 'nobody:wrong-password']), '401');
  // Another phone's credentials do not open soft1's files.
  assert.equal(get(`${base}/${soft.path}`, ['--digest', '-u', `telefono1:${secret('telefono1')}`]), '404');
  // The phone's own client certificate is enough; another phone's is not.
  const own = pair('soft1');
  const other = pair('telefono1');
  assert.equal(get(`${base}/${key.path}`, ['--cert', own.cert, '--key', own.key]), '200');
  assert.equal(get(`${base}/${key.path}`, ['--cert', other.cert, '--key', other.key]), '404');
  // Path attacks, methods, unknown files.
  assert.equal(get(`${base}/../index.json`, ['--path-as-is']), '400');
  assert.equal(get(`${base}/%2e%2e/index.json`, ['--path-as-is']), '400');
  // A file that does not exist is challenged like a phone's file (issue 13: a 404 here, against 401
  // for a phone's file, told which MAC-named files exist); after authentication it is 404.
  assert.equal(get(`${base}/nothing-here`), '401');
  assert.equal(get(`${base}/nothing-here`, ['--digest', '-u', `soft1:${secret('soft1')}`]), '404');
  assert.equal(get(`https://localhost:${serve.ports.https}/index.json`), '400');
  assert.equal(get(`${base}/${soft.path}`, ['-X', 'PUT', '--digest', '-u', `soft1:${secret('soft1')}`]), '405');
  // Shared files need no credentials; a wrong CA fails the TLS check.
  const shared = routes.find((r) => r.phone === null && r.transports.includes('https'))!;
  assert.equal(get(`${base}/${shared.path}`), '200');
  const wrongCa = run(curl, ['-sS', '--max-time', '10', '--cacert', '/etc/ssl/certs/ca-certificates.crt', `${base}/${shared.path}`]);
  assert.notEqual(wrongCa.code, 0);
  // Plain HTTP: keys go out only to the phone's address inside the window (soft1 has no recorded address).
  assert.equal(get(`http://127.0.0.1:${serve.ports.http}/prov/${soft.path}`), '200');
  const denied = await serve.waitFor((e) => e.event === 'provision.denied' && e.status === 401);
  assert.equal(denied.protocol, 'https');
  assert.equal(await serve.stop(), 0);
});
