import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, run, sipsec, sipsecSpawn, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';
import { readIndex } from '../helpers/index-db.js';
import { ServeProcess } from '../helpers/serve.js';

function ok(home: string, args: string[]): string {
  const r = sipsec(['--home', home, ...args]);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

test('ca backup while serve runs and phones are being added: tar reads it, ca restore makes a working CA home from it', { timeout: 240_000 }, async (t) => {
  const openssl = requirePeer('openssl');
  const tar = requirePeer('tar');
  const dir = tmpDir('sipsec-backup-');
  t.after(() => cleanup(dir));
  const home = path.join(dir, 'home');
  ok(home, ['ca', 'init', '--org', 'Backup Test', '--domain', 'pbx.test', '--key', 'p256', '--leaf-key', 'p256', '--no-passphrase', '--registrar', '127.0.0.1:5061']);
  ok(home, ['server', 'add', 'pbx.test', '--ip', '127.0.0.1']);
  ok(home, ['phone', 'add', 'desk', '--vendor', 'yealink', '--mac', '80:5e:c0:00:00:01', '--ext', '101']);
  ok(home, ['cert', 'renew', 'desk']);
  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', '0', '--sip-port', '0', '--diagnostic-port', 'off']);
  t.after(() => serve.stop());

  // An import commits chunk after chunk while the backup is taken.
  const csv = path.join(dir, 'more.csv');
  writeFileSync(csv, ['name,vendor,ext', ...Array.from({ length: 300 }, (_, i) => `b${i},baresip,${2000 + i}`)].join('\n') + '\n');
  const importing = sipsecSpawn(['--home', home, 'phone', 'import', csv]);
  const importDone = new Promise((r) => importing.on('exit', r));
  const backups: Array<{ file: string; phones: number; certificates: number }> = [];
  for (let i = 0; i < 3; i++) {
    const file = path.join(dir, `b${i}.tar.gz`);
    const r = sipsec(['--home', home, 'ca', 'backup', file, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { schema: number; file: string; phones: number; certificates: number; compressed: boolean; files: number };
    assert.equal(j.schema, 1);
    assert.equal(j.compressed, true);
    assert.equal(statSync(file).mode & 0o777, 0o600, 'the backup holds the CA key: owner only');
    backups.push(j);
  }
  await importDone;
  // The index holds every phone's SIP secret: the database and its write-ahead log are the owner's only.
  for (const f of ['sipsec.db', 'sipsec.db-wal', 'sipsec.db-shm']) {
    if (existsSync(path.join(home, f))) assert.equal(statSync(path.join(home, f)).mode & 0o777, 0o600, f);
  }
  assert.ok(existsSync(path.join(home, 'sipsec.db-wal')), 'serve holds the database open in WAL mode');
  const finalBackup = path.join(dir, 'final.tar');
  ok(home, ['ca', 'backup', finalBackup]);

  // GNU tar reads what sipsec wrote: the expected members and nothing else.
  const listing = run(tar, ['-tzvf', path.join(dir, 'b0.tar.gz')]);
  assert.equal(listing.code, 0, listing.stderr);
  assert.match(listing.stdout, /^-rw------- .* sipsec\.db$/m);
  assert.match(listing.stdout, /^-rw------- .* private\/ca\.key$/m);
  assert.match(listing.stdout, /^-rw------- .* config\.json$/m);
  assert.doesNotMatch(listing.stdout, /provision\/|serve\.log|serve\.pid/);

  // Each copy taken mid-import is consistent: whole phones, every indexed certificate and key present, chains verify.
  for (const [i, b] of backups.entries()) {
    const restored = path.join(dir, `r${i}`);
    const r = sipsec(['--home', restored, 'ca', 'restore', b.file, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const idx = readIndex(restored);
    assert.equal(idx.phones.length, b.phones);
    for (const p of idx.phones) {
      const cert = idx.certificates.filter((c) => c.name === p.name && c.status === 'valid').at(-1);
      assert.ok(cert, `${p.name} has its certificate in backup ${i}`);
      assert.ok(statSync(path.join(restored, 'private', `${cert.serial}.key`)).mode & 0o600);
      assert.equal(run(openssl, ['verify', '-CAfile', path.join(restored, 'ca.crt'), path.join(restored, 'certs', `${cert.serial}.crt`)]).code, 0);
    }
    assert.equal(statSync(restored).mode & 0o777, 0o700);
    assert.equal(statSync(path.join(restored, 'private')).mode & 0o777, 0o700);
    assert.equal(statSync(path.join(restored, 'private', 'ca.key')).mode & 0o777, 0o600);
  }

  // The last copy is the whole CA: the same records, and the restored home works (render, a new phone, a revocation).
  const restored = path.join(dir, 'restored');
  ok(restored, ['ca', 'restore', finalBackup]);
  assert.deepEqual(readIndex(restored), readIndex(home));
  assert.equal(readIndex(restored).phones.length, 301);
  assert.ok(statSync(path.join(restored, 'provision', 'yealink-ca.pem')).isFile(), 'the tree is rendered again');
  ok(restored, ['phone', 'add', 'after', '--vendor', 'baresip', '--ext', '999']);
  ok(restored, ['cert', 'revoke', 'b7']);
  const crl = run(openssl, ['crl', '-in', path.join(restored, 'crl.pem'), '-noout', '-text']);
  const b7 = readIndex(restored).certificates.find((c) => c.name === 'b7' && c.status === 'revoked')!;
  assert.match(crl.stdout.toUpperCase(), new RegExp(b7.serial.toUpperCase().replace(/^0+/, '')));

  // Not over a running serve, not over a CA without --force; --force keeps the old one aside.
  const busy = sipsec(['--home', home, 'ca', 'restore', finalBackup, '--force']);
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, /^error: sipsec serve is running on .* \(pid \d+\) \(stop it first/);
  const full = sipsec(['--home', restored, 'ca', 'restore', finalBackup]);
  assert.equal(full.code, 1);
  assert.match(full.stderr, /^error: .*restored is not empty \(.*\) \(restore into a new --home, or give --force/);
  const forced = sipsec(['--home', restored, 'ca', 'restore', finalBackup, '--force', '--json']);
  assert.equal(forced.code, 0, forced.stderr);
  const replaced = (JSON.parse(forced.stdout) as { replaced: string }).replaced;
  assert.ok(readIndex(replaced).phones.some((p) => p.name === 'after'), 'the replaced home is kept whole');
  assert.ok(!readIndex(restored).phones.some((p) => p.name === 'after'));
});

test('ca restore refuses what is not a whole sipsec backup, with one line, and leaves nothing behind', async (t) => {
  const tar = requirePeer('tar');
  const dir = tmpDir('sipsec-restore-bad-');
  t.after(() => cleanup(dir));
  const home = path.join(dir, 'home');
  ok(home, ['ca', 'init', '--org', 'Restore Test', '--domain', 'pbx.test', '--key', 'p256', '--no-passphrase']);
  const good = path.join(dir, 'good.tar');
  ok(home, ['ca', 'backup', good]);
  // A tar of the same files plus a symlink (made by GNU tar), one with a path outside, a truncated one, a non-tar.
  const evil = path.join(dir, 'evil');
  mkdirSync(evil);
  run(tar, ['-xf', good, '-C', evil]);
  symlinkSync('/etc/passwd', path.join(evil, 'certs', 'aa.crt'));
  run(tar, ['--format=ustar', '-cf', path.join(dir, 'symlink.tar'), '-C', evil, '.']);
  mkdirSync(path.join(dir, 'up'));
  writeFileSync(path.join(dir, 'up', 'x'), 'x');
  run(tar, ['--format=ustar', '-cf', path.join(dir, 'outside.tar'), '-C', dir, 'up/x']);
  writeFileSync(path.join(dir, 'truncated.tar'), readFileSync(good).subarray(0, 1500));
  writeFileSync(path.join(dir, 'text.tar'), 'hello\n');
  const cases: Array<[string, RegExp]> = [
    ['symlink.tar', /is not a sipsec backup: tar entry \.\/certs\/aa\.crt is neither a file nor a directory \(type '2'\)/],
    ['outside.tar', /is not a sipsec backup: it holds up\/x/],
    ['truncated.tar', /is not a sipsec backup: tar archive (truncated|ends without its end-of-archive blocks)/],
    ['text.tar', /is not a sipsec backup/],
  ];
  for (const [file, re] of cases) {
    const target = path.join(dir, `t-${file}`);
    const r = sipsec(['--home', target, 'ca', 'restore', path.join(dir, file)]);
    assert.equal(r.code, 2, `${file}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, re);
    assert.throws(() => statSync(target), `${file}: no home made`);
    assert.throws(() => statSync(`${target}.restoring-${process.pid}`));
  }
  // GNU tar's own archive of a sipsec home restores (the format is plain ustar).
  const gnu = path.join(dir, 'gnu.tar');
  run(tar, ['--format=ustar', '-cf', gnu, '-C', path.join(dir, 'evil'), 'config.json', 'sipsec.db', 'ca.crt', 'crl.pem', 'private/ca.key', 'certs']);
  const viaGnu = sipsec(['--home', path.join(dir, 'via-gnu'), 'ca', 'restore', gnu]);
  assert.notEqual(viaGnu.code, 0, 'the planted symlink is in certs/ here too');
  assert.match(viaGnu.stderr, /neither a file nor a directory/);
});
