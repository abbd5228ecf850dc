import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { cleanup, cliEntry, sipsec, tmpDir } from '../helpers/cli.js';
import { CaStore } from '../../src/home/store.js';
import Database from 'better-sqlite3';
import { indexSnapshot } from '../helpers/index-db.js';

test('two sipsec processes issuing at once: both commit, nothing lost, index valid', async (t) => {
  const home = tmpDir();
  t.after(() => cleanup(home));
  assert.equal(sipsec(['--home', home, 'ca', 'init', '--org', 'Acme', '--domain', 'acme.test', '--key', 'p256', '--no-passphrase']).code, 0);
  const runner = `const m = await import(process.argv[1]); process.exitCode = await m.main(process.argv.slice(2));`;
  const one = (name: string) =>
    new Promise<number>((resolve) => {
      const p = spawn(process.execPath, ['--input-type=module', '-e', runner, `file://${cliEntry()}`, '--home', home, 'server', 'add', name, '--key', 'p256'], { stdio: 'ignore' });
      p.on('exit', (code) => resolve(code ?? -1));
    });
  const names = Array.from({ length: 8 }, (_, i) => `s${i}.acme.test`);
  const codes = await Promise.all(names.map(one));
  assert.deepEqual(codes, names.map(() => 0));
  const store = await CaStore.open(home);
  for (const n of names) assert.ok(store.current(n), `${n} committed`);
  assert.equal(store.index.certificates.length, 1 + names.length);
});

test('bad input: one line, non-zero exit, store untouched', async (t) => {
  const home = tmpDir();
  t.after(() => cleanup(home));
  const missing = sipsec(['--home', home, 'ca', 'show']);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /^error: no CA in .* \(create one with: sipsec ca init --org ORG --domain DOMAIN/);
  assert.equal(sipsec(['--home', home, 'ca', 'init', '--org', 'Acme', '--domain', 'acme.test', '--key', 'p256', '--no-passphrase']).code, 0);
  const before = indexSnapshot(home);
  const cases: Array<[string[], RegExp]> = [
    [['ca', 'init', '--org', 'Acme', '--domain', 'acme.test', '--no-passphrase'], /^error: a CA already exists in .* \(use it, pick another --home, or replace it with --force/],
    [['ca', 'init', '--domain', 'acme.test', '--no-passphrase', '--home', path.join(home, 'x')], /^error: missing --org \(the organisation name\) \(give --org on the command line\)/],
    [['ca', 'init', '--org', 'A', '--domain', '*.acme.test', '--no-passphrase', '--home', path.join(home, 'y')], /^error: wildcard name '\*\.acme\.test' refused/],
    [['server', 'add', 'bad name'], /^error: invalid server name 'bad name'/],
    [['server', 'add', 'srv', '--ip', '10.0.1.300'], /^error: invalid IP address '10\.0\.1\.300'/],
    [['server', 'add', 'srv', '--dns', 'a..b'], /^error: invalid DNS name 'a\.\.b'/],
    [['server', 'add', 'srv', '--key', 'rsa1024'], /^error: option '--key <type>' argument 'rsa1024' is invalid/],
    [['server', 'add', 'srv', '--days', '-3'], /^error: invalid --days '-3'/],
    [['cert', 'revoke', 'nosuch'], /^error: no certificate named 'nosuch' \(see sipsec cert list\)/],
    [['cert', 'export', 'ca', '--with-key'], /^error: sipsec never exports the CA key/],
    [['phone', 'show', 'nosuch'], /^error: no phone named 'nosuch' \(see sipsec phone list\)/],
    [['cert', 'export', 'ca', '--format', 'p12'], /^error: the CA certificate is exported as pem or der/],
    [['cert', 'frobnicate'], /^error: unknown command 'frobnicate'/],
    [['server', 'add', 'srv', '--bogus'], /^error: unknown option '--bogus'/],
  ];
  for (const [args, re] of cases) {
    const r = sipsec(['--home', home, ...args]);
    assert.notEqual(r.code, 0, args.join(' '));
    assert.match(r.stderr, re, args.join(' '));
    assert.equal(indexSnapshot(home), before, `store untouched by ${args.join(' ')}`);
  }
  // A damaged record, or a damaged database file, is reported, not trusted.
  const db = path.join(home, 'sipsec.db');
  const raw = new Database(db);
  const row = raw.prepare('SELECT serial, data FROM certs LIMIT 1').get() as { serial: string; data: string };
  raw.prepare('UPDATE certs SET data = ? WHERE serial = ?').run('{"serial":', row.serial);
  raw.close();
  const corrupt = sipsec(['--home', home, 'cert', 'list']);
  assert.equal(corrupt.code, 1);
  assert.equal(corrupt.stderr.split('\n')[0], `error: the index database holds an unreadable certificate: Unexpected end of JSON input (restore the CA home from a backup (sipsec ca restore FILE))`);
  const fix = new Database(db);
  fix.prepare('UPDATE certs SET data = ? WHERE serial = ?').run(row.data, row.serial);
  fix.close();
  const good = readFileSync(db);
  writeFileSync(db, Buffer.concat([Buffer.from('this is not SQLite'), good.subarray(18)]));
  const garbage = sipsec(['--home', home, 'cert', 'list']);
  assert.equal(garbage.code, 1);
  assert.match(garbage.stderr, /^error: the index database .*sipsec\.db is unusable: file is not a database \(restore the CA home from a backup/);
  writeFileSync(db, good);
  assert.equal(indexSnapshot(home), before);
  // An unreadable CA key (another user's CA) says so.
  if (process.getuid?.() !== 0) {
    chmodSync(path.join(home, 'private', 'ca.key'), 0);
    const r = sipsec(['--home', home, 'server', 'add', 'z.acme.test']);
    assert.match(r.stderr, /^error: cannot read the CA key/);
  }
});
