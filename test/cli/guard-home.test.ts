import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as path from 'node:path';
import { cleanup, cliEntry, repoRoot, run, sipsec, sipsecSpawn, tmpDir } from '../helpers/cli.js';
import { ServeProcess } from '../helpers/serve.js';

/**
 * Guard rails of the CA home (issue 11): `ca init` never mixes a CA into
 * another tool's files; a home this user cannot write is one clear line and
 * exit 1 for every command that writes; one serve per home, refused before
 * it binds a port.
 */

const mode = (f: string) => statSync(f).mode & 0o777;

function requireRoot(): void {
  // Read-only mounts and running as another uid need root; this suite runs as root (the peers' installer does too).
  assert.equal(process.getuid?.(), 0, 'this test mounts a read-only tmpfs and runs sipsec as uid 65534: run it as root');
}

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir).sort()) out[f] = readFileSync(path.join(dir, f), 'utf8');
  return out;
}

test('ca init refuses a folder holding another tool\'s ca.crt/ca.key (ast_tls_cert); --force moves them aside', (t) => {
  const dir = tmpDir('sipsec-foreign-');
  t.after(() => cleanup(dir));
  // What ast_tls_cert leaves in /etc/asterisk/keys: ca.crt, ca.key, asterisk.{crt,key,pem}.
  const keys = path.join(dir, 'keys');
  const ast = sipsec(['ast-tls-cert', '-e', '-C', 'pbx.mycompany.com', '-O', 'My Super Company', '-d', keys]);
  assert.equal(ast.code, 0, ast.stderr);
  chmodSync(keys, 0o755);
  const before = snapshot(keys);
  assert.ok('ca.crt' in before && 'ca.key' in before);

  const init = ['--home', keys, 'ca', 'init', '--org', 'Acme', '--domain', 'acme.test', '--key', 'p256', '--no-passphrase'];
  const refused = sipsec(init);
  assert.equal(refused.code, 1);
  assert.equal(
    refused.stderr,
    `error: ${keys} holds files that are not a sipsec CA: asterisk.crt, asterisk.key, asterisk.pem, ca.crt, ca.key (pick an empty or new --home such as ${path.join(dir, 'sipsec')}, or give --force to move them to ${keys}.replaced-<time>)\n`,
  );
  assert.deepEqual(snapshot(keys), before, 'nothing replaced, nothing added');
  assert.equal(mode(keys), 0o755, 'a refused folder keeps its mode');

  const forced = sipsec([...init, '--force', '--json']);
  assert.equal(forced.code, 0, forced.stderr);
  const replaced = (JSON.parse(forced.stdout) as { replaced: string }).replaced;
  assert.match(replaced, new RegExp(`^${keys}\\.replaced-`));
  assert.deepEqual(snapshot(replaced), before, 'the other tool\'s files, byte for byte, moved aside');
  assert.ok(!existsSync(path.join(keys, 'ca.key')), 'no foreign ca.key left beside the new CA');
  assert.ok(existsSync(path.join(keys, 'private', 'ca.key')) && existsSync(path.join(keys, 'config.json')));
  assert.equal(mode(keys), 0o700);

  // A sipsec CA with a stranger beside it: CA_EXISTS names the stranger.
  writeFileSync(path.join(keys, 'notes.txt'), 'mine\n');
  const again = sipsec(init);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^error: a CA already exists in .* beside files sipsec did not create: notes\.txt \(/);

  // An empty folder, or one holding only the repository's placeholder, is fine.
  const empty = path.join(dir, 'empty');
  mkdirSync(empty);
  writeFileSync(path.join(empty, '.gitkeep'), '');
  const ok = sipsec(['--home', empty, 'ca', 'init', '--org', 'Acme', '--domain', 'acme.test', '--key', 'p256', '--no-passphrase']);
  assert.equal(ok.code, 0, ok.stderr);
});

test('a read-only CA home: one line and exit 1 for every command that writes; reading still works', { timeout: 300_000 }, (t) => {
  requireRoot();
  const dir = tmpDir('sipsec-ro-');
  const home = path.join(dir, 'ca');
  mkdirSync(home);
  const mount = run('mount', ['-t', 'tmpfs', '-o', 'size=16m,mode=0700', 'tmpfs', home]);
  assert.equal(mount.code, 0, mount.stderr);
  t.after(() => {
    run('umount', [home]);
    cleanup(dir);
  });
  const ok = (args: string[]) => {
    const r = sipsec(['--home', home, ...args]);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  ok(['ca', 'init', '--org', 'Acme', '--domain', 'acme.test', '--key', 'p256', '--no-passphrase']);
  ok(['phone', 'add', 'p1', '--vendor', 'baresip']);
  const csv = path.join(dir, 'phones.csv');
  writeFileSync(csv, 'name,vendor\np9,baresip\n');
  assert.equal(run('mount', ['-o', 'remount,ro', home]).code, 0);

  const line = `error: the CA home ${home} is not writable by uid 0 (it is on a read-only file system; remount it read-write or copy the CA home elsewhere)\n`;
  const writes = [
    ['phone', 'add', 'p2', '--vendor', 'baresip'],
    ['phone', 'import', csv],
    ['phone', 'remove', 'p1'],
    ['server', 'add', 'reg', '--ip', '127.0.0.1'],
    ['cert', 'renew', 'p1'],
    ['cert', 'revoke', 'p1'],
    ['ca', 'config', '--ntp', 'pool.ntp.org'],
    ['ca', 'crl'],
    ['ca', 'init', '--org', 'Acme', '--domain', 'acme.test', '--key', 'p256', '--no-passphrase', '--force'],
    ['provision', 'render'],
    ['serve', '--bind', '127.0.0.1', '--tftp-port', '0', '--https-port', '0', '--sip-port', '0', '--diagnostic-port', 'off'],
  ];
  for (const args of writes) {
    const r = sipsec(['--home', home, ...args]);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr, line, args.join(' '));
  }
  for (const args of [['phone', 'list'], ['cert', 'list'], ['ca', 'show'], ['provision', 'routes']]) ok(args);
});

/** The CLI as uid/gid 65534 (nobody), through util-linux setpriv. */
function asNobody(args: string[]) {
  const runner = `const m = await import(process.argv[1]); process.exitCode = await m.main(process.argv.slice(2));`;
  const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', runner, new URL(`file://${cliEntry()}`).href, ...args], {
    encoding: 'utf8',
    env: { ...process.env, SIPSEC_CA_PASSPHRASE: '', HOME: '/tmp' },
    cwd: repoRoot(),
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

test('a CA home owned by another user: one line naming the uid, exit 1; a readable one still lists', { timeout: 120_000 }, (t) => {
  requireRoot();
  const dir = tmpDir('sipsec-owner-');
  t.after(() => cleanup(dir));
  chmodSync(dir, 0o755);
  const home = path.join(dir, 'ca');
  assert.equal(sipsec(['--home', home, 'ca', 'init', '--org', 'Acme', '--domain', 'acme.test', '--key', 'p256', '--no-passphrase']).code, 0);
  assert.equal(sipsec(['--home', home, 'phone', 'add', 'p1', '--vendor', 'baresip']).code, 0);

  // 0700 (sipsec's own mode): uid 65534 can neither read nor write it.
  const closed = asNobody(['--home', home, 'phone', 'list']);
  assert.equal(closed.code, 1);
  assert.equal(closed.stderr, `error: the CA home ${home} is not readable or writable by uid 65534 (it belongs to uid 0, mode 0700; run sipsec as that user, or give this user the CA home with chown)\n`);

  // Opened for reading (0755, files 0644): listing works, every write is one line.
  chmodSync(home, 0o755);
  for (const f of ['config.json', 'sipsec.db']) chmodSync(path.join(home, f), 0o644);
  const list = asNobody(['--home', home, 'phone', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^p1 /m);
  const line = `error: the CA home ${home} is not writable by uid 65534 (it belongs to uid 0, mode 0755; run sipsec as that user, or give this user the CA home with chown)\n`;
  for (const args of [['phone', 'add', 'p2', '--vendor', 'baresip'], ['ca', 'config', '--ntp', 'pool.ntp.org'], ['cert', 'revoke', 'p1'], ['serve', '--bind', '127.0.0.1', '--tftp-port', '0', '--https-port', '0', '--sip-port', '0', '--diagnostic-port', 'off']]) {
    const r = asNobody(['--home', home, ...args]);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr, line, args.join(' '));
  }
  // A home that cannot be created under a folder this user may not write into.
  const fresh = asNobody(['--home', path.join(dir, 'new'), 'ca', 'init', '--org', 'A', '--domain', 'a.test', '--no-passphrase']);
  assert.equal(fresh.code, 1);
  assert.equal(fresh.stderr, `error: the CA home ${path.join(dir, 'new')} is not writable by uid 65534 (its parent ${dir} refuses new folders; pick a --home this user may create)\n`);
});

async function holdPorts(): Promise<{ udp: number; tcp: number; close(): Promise<void> }> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    udp: sock.address().port,
    tcp: (srv.address() as net.AddressInfo).port,
    close: async () => {
      sock.close();
      await new Promise<void>((r) => srv.close(() => r()));
    },
  };
}

test('a second serve on a home exits 1 before it binds a port; a dead serve\'s serve.pid is taken over', { timeout: 180_000 }, async (t) => {
  const dir = tmpDir('sipsec-twoserve-');
  const home = path.join(dir, 'ca');
  const serves: ServeProcess[] = [];
  t.after(async () => {
    for (const s of serves) await s.stop();
    cleanup(dir);
  });
  assert.equal(sipsec(['--home', home, 'ca', 'init', '--org', 'Acme', '--domain', 'acme.test', '--key', 'p256', '--no-passphrase']).code, 0);
  assert.equal(sipsec(['--home', home, 'server', 'add', 'reg', '--dns', 'localhost', '--ip', '127.0.0.1']).code, 0);
  const args = ['--tftp-port', '0', '--https-port', '0', '--sip-port', '0', '--diagnostic-port', 'off'];
  const first = await ServeProcess.start(home, args);
  serves.push(first);
  const pid = Number(readFileSync(path.join(home, 'serve.pid'), 'utf8'));
  assert.equal(pid, first.child.pid);

  // The second serve asks for ports this test holds: had it bound anything first it would report
  // "address in use"; it must stop at the lock, before binding.
  const held = await holdPorts();
  try {
    const second = sipsec(['--home', home, 'serve', '--bind', '127.0.0.1', '--tftp-port', String(held.udp), '--https-port', String(held.tcp), '--sip-port', String(held.tcp), '--diagnostic-port', 'off']);
    assert.equal(second.code, 1);
    assert.equal(second.stderr, `error: sipsec serve is already running on the CA home ${home} (pid ${pid}) (stop it first (kill ${pid}), or give this serve another --home)\n`);
    assert.equal(second.stdout, '');
  } finally {
    await held.close();
  }
  // The first one is untouched and still answers.
  const status = sipsec(['--home', home, 'status', '--json']);
  assert.equal(status.code, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { pid: number }).pid, pid);

  assert.equal(await first.stop(), 0);
  assert.ok(!existsSync(path.join(home, 'serve.pid')), 'a clean stop removes serve.pid');

  // A serve killed with -9 leaves serve.pid naming a dead process: the next serve takes it over.
  const dead = spawnSync('true').pid;
  writeFileSync(path.join(home, 'serve.pid'), `${dead}\n`);
  const next = await ServeProcess.start(home, args);
  serves.push(next);
  assert.equal(Number(readFileSync(path.join(home, 'serve.pid'), 'utf8')), next.child.pid);
  assert.equal(sipsec(['--home', home, 'status', '--json']).code, 0, 'it serves');
  assert.equal(await next.stop(), 0);

  // After a reboot the old pid may be some other program's (here: a sleep this test starts): not a serve either.
  const other = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.after(() => other.kill());
  writeFileSync(path.join(home, 'serve.pid'), `${other.pid}\n`);
  const afterReboot = await ServeProcess.start(home, args);
  serves.push(afterReboot);
  assert.equal(Number(readFileSync(path.join(home, 'serve.pid'), 'utf8')), afterReboot.child.pid);
});

test('two serves started at the same moment on one home: exactly one serves, the other exits 1', { timeout: 180_000 }, async (t) => {
  const dir = tmpDir('sipsec-race-');
  const home = path.join(dir, 'ca');
  const children: ChildProcess[] = [];
  t.after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    cleanup(dir);
  });
  assert.equal(sipsec(['--home', home, 'ca', 'init', '--org', 'Acme', '--domain', 'acme.test', '--key', 'p256', '--no-passphrase']).code, 0);
  assert.equal(sipsec(['--home', home, 'server', 'add', 'reg', '--dns', 'localhost', '--ip', '127.0.0.1']).code, 0);
  const outcomes = await Promise.all(
    [0, 1].map(
      () =>
        new Promise<{ started: boolean; code: number | null; stderr: string }>((resolve) => {
          const c = sipsecSpawn(['--home', home, 'serve', '--json', '--bind', '127.0.0.1', '--tftp-port', '0', '--https-port', '0', '--sip-port', '0', '--diagnostic-port', 'off']);
          children.push(c);
          let out = '';
          let err = '';
          c.stdout!.on('data', (d: Buffer) => {
            out += d.toString();
            if (out.includes('"event":"serve.start"')) resolve({ started: true, code: null, stderr: err });
          });
          c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
          c.on('exit', (code) => resolve({ started: false, code, stderr: err }));
        }),
    ),
  );
  const started = outcomes.filter((o) => o.started);
  const refused = outcomes.filter((o) => !o.started);
  assert.equal(started.length, 1, JSON.stringify(outcomes));
  assert.equal(refused.length, 1, JSON.stringify(outcomes));
  assert.equal(refused[0]!.code, 1);
  assert.match(refused[0]!.stderr, /^error: sipsec serve is already running on the CA home .* \(pid \d+\) \(stop it first/);
});
