import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { buildProgram, commandPath } from '../../src/cli/main.js';
import { cleanup, repoRoot, sipsec, tmpDir } from '../helpers/cli.js';

/**
 * `--json` conventions (README "JSON output"): an object printed at top
 * level starts with "schema": 1; absent values are null, never missing;
 * MACs in one form everywhere, lower-case with colons.
 */

type Json = Record<string, unknown>;

function leaves(c: Command): Command[] {
  return c.commands.length === 0 ? [c] : c.commands.flatMap(leaves);
}

test('--json: schema 1 on every object, nulls for absent values, one MAC form', { timeout: 300_000 }, (t) => {
  const dir = tmpDir('sipsec-json-');
  t.after(() => cleanup(dir));
  const home = path.join(dir, 'ca');
  const json = (...args: string[]): unknown => {
    const r = sipsec(['--home', home, ...args, '--json']);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const object = (...args: string[]): Json => {
    const o = json(...args) as Json;
    assert.ok(typeof o === 'object' && o !== null && !Array.isArray(o), args.join(' '));
    assert.equal(Object.keys(o)[0], 'schema', `${args.join(' ')}: schema comes first`);
    assert.equal(o.schema, 1, args.join(' '));
    return o;
  };

  const init = object('ca', 'init', '--org', 'Acme', '--domain', 'acme.test', '--key', 'p256', '--no-passphrase');
  assert.equal(init.ntp, null, 'no --ntp: null, not missing');
  assert.equal(init.replaced, null);
  assert.equal(object('ca', 'show').ntp, null);
  const config = object('ca', 'config');
  assert.equal(config.ntp, null);
  assert.equal(config.tftpServer, 'acme.test');
  assert.equal(object('ca', 'config', '--ntp', 'pool.ntp.org').ntp, 'pool.ntp.org');

  const server = object('server', 'add', 'reg', '--ip', '127.0.0.1');
  assert.deepEqual([server.status, server.revokedAt, server.reason], ['valid', null, null]);

  // Typed upper case with dashes; printed in the one JSON form.
  const added = object('phone', 'add', 'desk', '--vendor', 'aastra', '--mac', '00-08-5D-12-34-56', '--ip', '10.0.1.132');
  assert.equal(added.mac, '00:08:5d:12:34:56');
  assert.deepEqual([added.ext, added.displayName], [null, null]);
  assert.ok(!('secret' in added), 'the secret is withheld unless --show-secret');
  const soft = object('phone', 'add', 'soft', '--vendor', 'baresip', '--ext', '102');
  assert.equal(soft.mac, null);
  const list = json('phone', 'list') as Json[];
  assert.ok(Array.isArray(list), 'listings stay arrays');
  assert.deepEqual(
    list.map((p) => p.mac),
    ['00:08:5d:12:34:56', null],
  );
  const shown = object('phone', 'show', 'desk', '--show-secret');
  assert.equal(shown.mac, '00:08:5d:12:34:56');
  assert.equal(typeof shown.secret, 'string');
  const dhcp = object('dhcp', '--vendor', 'aastra') as { vendors: Array<{ phones: Array<{ mac: string }> }> };
  assert.deepEqual(
    dhcp.vendors.flatMap((v) => v.phones.map((p) => p.mac)),
    ['00:08:5d:12:34:56'],
  );
  // Vendor files keep their vendor's case: Aastra's per-MAC file is upper case.
  const routes = json('provision', 'routes') as Json[];
  assert.ok(routes.some((r) => r.path === '00085D123456.cfg' && r.phone === 'desk'));
  assert.ok(routes.some((r) => r.path === 'aastra.cfg' && r.phone === null));

  const certs = json('cert', 'list') as Json[];
  assert.ok(certs.every((c) => c.revokedAt === null && c.reason === null));
  const csv = path.join(dir, 'phones.csv');
  writeFileSync(csv, 'name,vendor,ext\nsoft2,baresip,103\n');
  const dry = object('phone', 'import', csv, '--dry-run');
  assert.deepEqual([dry.dryRun, dry.valid, dry.imported, dry.seconds, dry.files], [true, 1, 0, null, null]);
  const imported = object('phone', 'import', csv);
  assert.deepEqual([imported.dryRun, imported.valid, imported.imported], [false, 1, 1]);
  const renewed = object('cert', 'renew', 'soft2') as { old: Json; renewed: Json };
  assert.equal(renewed.renewed.revokedAt, null);
  const revoked = object('cert', 'revoke', 'soft2', '--reason', 'keyCompromise');
  assert.equal(revoked.reason, 'keyCompromise');
  assert.equal(typeof revoked.revokedAt, 'string');
  const shownCert = object('cert', 'show', 'soft2');
  assert.equal(shownCert.status, 'revoked');
  const removed = object('phone', 'remove', 'soft2');
  assert.deepEqual([removed.removed, removed.revokedSerial], ['soft2', null], 'its certificate was revoked already');
  const crl = object('ca', 'crl');
  assert.equal(typeof crl.crlNumber, 'number');
  const render = object('provision', 'render');
  assert.ok(Array.isArray(render.files));
  assert.equal((object('pbx', 'kamailio') as { server: unknown }).server !== undefined, true);
});

test('README documents the JSON shape of every command that has --json', () => {
  const readme = readFileSync(path.join(repoRoot(), 'README.md'), 'utf8');
  const section = readme.split(/^## JSON output$/m)[1]?.split(/^## /m)[0];
  assert.ok(section, 'README has a "JSON output" section');
  const withJson = leaves(buildProgram())
    .filter((c) => c.options.some((o) => o.long === '--json'))
    .map((c) => commandPath(c));
  const missing = withJson.filter((p) => !section.includes(`\`${p}`));
  assert.deepEqual(missing, [], 'every --json command is listed in the JSON output section');
});
