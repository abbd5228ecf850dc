import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, sipsec, tmpDir } from '../helpers/cli.js';

/**
 * `sipsec provision routes` as a user runs it: what it prints from the
 * route cache the home's renders keep is byte for byte what it prints with
 * no cache at all (every phone rendered, keys and PKCS#12 included), in
 * JSON and for people, after the commands that change a phone's files.
 */

test('provision routes prints the same with the route cache as with every phone rendered (JSON and table; edit, renewal; RSA and EC keys)', { timeout: 300_000 }, (t) => {
  const dir = tmpDir('sipsec-routes-cli-');
  t.after(() => cleanup(dir));
  const home = path.join(dir, 'ca');
  const run = (...args: string[]): string => {
    const r = sipsec(['--home', home, ...args]);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const cache = path.join(home, 'routes-cache.jsonl');
  const compare = (what: string) => {
    assert.ok(existsSync(cache), `${what}: the home's renders keep a route cache`);
    const fast = [run('provision', 'routes', '--json'), run('provision', 'routes')];
    rmSync(cache);
    const full = [run('provision', 'routes', '--json'), run('provision', 'routes')];
    assert.equal(fast[0], full[0], `${what}: --json`);
    assert.equal(fast[1], full[1], `${what}: the table`);
    // Put the cache back the way the commands keep it: a full render.
    run('provision', 'render');
  };

  run('ca', 'init', '--org', 'Acme', '--domain', 'acme.test', '--key', 'p256', '--no-passphrase', '--registrar', '127.0.0.1:5061');
  run('phone', 'add', 'desk', '--vendor', 'aastra', '--mac', '00:08:5d:12:34:56', '--ext', '201');
  run('phone', 'add', 'yl', '--vendor', 'yealink', '--mac', '80:5e:c0:12:34:56', '--ext', '202', '--key', 'p256');
  run('phone', 'add', 'gs', '--vendor', 'grandstream', '--mac', '00:0b:82:12:34:56', '--ext', '203', '--key', 'p256');
  run('phone', 'add', 'soft', '--vendor', 'bria', '--ext', '204');
  run('phone', 'add', 'soft2', '--vendor', 'bria', '--ext', '205', '--key', 'p256');
  run('phone', 'add', 'bs', '--vendor', 'baresip', '--ext', '206');
  compare('phones added');

  run('phone', 'edit', 'gs', '--display-name', 'Front desk, second line');
  run('phone', 'edit', 'soft', '--ext', '2040');
  compare('after phone edit');

  run('cert', 'renew', 'soft2');
  run('cert', 'renew', 'desk');
  compare('after cert renew');
});
