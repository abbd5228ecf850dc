import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, run, sipsec, sipsecSpawn, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';
import { IndexSchema } from '../../src/home/schema.js';
import { readIndex } from '../helpers/index-db.js';

test('kill -9 in the middle of a batch import leaves a valid store that keeps working', async (t) => {
  const openssl = requirePeer('openssl');
  const home = tmpDir();
  t.after(() => cleanup(home));
  assert.equal(sipsec(['--home', home, 'ca', 'init', '--org', 'Acme', '--domain', 'acme.test', '--key', 'p256', '--leaf-key', 'rsa2048', '--no-passphrase']).code, 0);
  const csv = path.join(home, 'phones.csv');
  writeFileSync(csv, ['name,vendor,ext', ...Array.from({ length: 400 }, (_, i) => `p${i},baresip,${1000 + i}`)].join('\n') + '\n');

  const child = sipsecSpawn(['--home', home, 'phone', 'import', csv]);
  // Kill it once at least one chunk is committed and more are on the way.
  const deadline = Date.now() + 120_000;
  for (;;) {
    const n = existsSync(path.join(home, 'sipsec.db')) || existsSync(path.join(home, 'store.json')) ? readIndex(home).phones.length : 0;
    if (n > 0) break;
    assert.ok(Date.now() < deadline, 'the import commits its first chunk');
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 150));
  child.kill('SIGKILL');
  await new Promise((r) => child.on('exit', r));

  const idx = IndexSchema.parse(readIndex(home));
  assert.ok(idx.phones.length > 0 && idx.phones.length < 400, `killed mid-batch (${idx.phones.length} committed)`);
  // Whole phones only: every phone has its certificate, every certificate its files.
  for (const p of idx.phones) {
    const cert = idx.certificates.find((c) => c.name === p.name && c.status === 'valid');
    assert.ok(cert, `${p.name} has a certificate`);
    assert.ok(existsSync(path.join(home, 'certs', `${cert.serial}.crt`)));
    assert.ok(existsSync(path.join(home, 'private', `${cert.serial}.key`)));
  }
  const last = idx.certificates.at(-1)!;
  assert.equal(run(openssl, ['verify', '-CAfile', path.join(home, 'ca.crt'), path.join(home, 'certs', `${last.serial}.crt`)]).code, 0);

  // The dead process's lock is taken over; the store keeps working.
  const list = sipsec(['--home', home, 'phone', 'list', '--json']);
  assert.equal(list.code, 0, list.stderr);
  const add = sipsec(['--home', home, 'phone', 'add', 'after-crash', '--vendor', 'baresip']);
  assert.equal(add.code, 0, add.stderr);
  // Re-running the import reports the rows that already went in, by line, and issues nothing...
  const again = sipsec(['--home', home, 'phone', 'import', csv]);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /phones\.csv: \d+ row\(s\) name phones already in the inventory: p0 \(line 2\), .*--skip-existing to add only the new ones/);
  // ...and --skip-existing finishes the interrupted import.
  const rest = sipsec(['--home', home, 'phone', 'import', csv, '--skip-existing'], { timeoutMs: 300_000 });
  assert.equal(rest.code, 0, rest.stderr);
  assert.equal(IndexSchema.parse(readIndex(home)).phones.length, 401);
});
