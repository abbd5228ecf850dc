import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, sipsec, tmpDir } from '../helpers/cli.js';
import { parseCsv } from '../../src/inventory/csv.js';
import { SipsecError } from '../../src/core/errors.js';
import { indexSnapshot } from '../helpers/index-db.js';

test('CSV parsing: quotes, escaped quotes, embedded newlines and commas, CRLF, BOM, comments', () => {
  const rows = parseCsv('\ufeffname,display_name\r\n"a","Smith, ""Bob"""\r\n# comment\n\nb,"two\nlines"\n');
  assert.deepEqual(
    rows.map((r) => [r.line, r.cells]),
    [
      [1, ['name', 'display_name']],
      [2, ['a', 'Smith, "Bob"']],
      [5, ['b', 'two\nlines']],
    ],
  );
  assert.throws(() => parseCsv('a,"b\n'), (e: unknown) => e instanceof SipsecError && /line 1: unterminated quoted field/.test(e.message));
  assert.throws(() => parseCsv('a,b"c"\n'), (e: unknown) => e instanceof SipsecError && /line 1: a quote inside an unquoted field/.test(e.message));
});

test('phone import: every bad row reported with its line, nothing issued; a good file imports every vendor', async (t) => {
  const home = tmpDir();
  t.after(() => cleanup(home));
  assert.equal(sipsec(['--home', home, 'ca', 'init', '--org', 'Acme', '--domain', 'acme.test', '--key', 'p256', '--leaf-key', 'p256', '--no-passphrase']).code, 0);
  const bad = path.join(home, 'bad.csv');
  writeFileSync(
    bad,
    [
      'name,vendor,mac,ext,ip,model',
      'ok1,aastra,00:08:5d:00:00:01,101,10.0.1.1,',
      'badmac,aastra,00:08:5d:00:00,102,,',
      'nomac,grandstream,,103,,',
      'who,nokia,,104,,',
      'opt,yealink,80:5e:c0:00:00:01,105,,t99',
      'dupmac,snom,00:08:5d:00:00:01,106,,',
      'badip,baresip,,107,10.0.1.999,',
      'ok1,linphone,,108,,',
      '"bad name",baresip,,109,,',
    ].join('\n') + '\n',
  );
  const before = indexSnapshot(home);
  const r = sipsec(['--home', home, 'phone', 'import', bad]);
  assert.equal(r.code, 2);
  const lines = r.stderr.trim().split('\n');
  const expect = [
    /bad\.csv line 3: invalid MAC address '00:08:5d:00:00'/,
    /bad\.csv line 4: --mac is required for Grandstream/,
    /bad\.csv line 5: unknown vendor 'nokia' \(choose one of: aastra, acrobits, baresip/,
    /bad\.csv line 6: invalid yealink option model/,
    /bad\.csv line 8: invalid IP address '10\.0\.1\.999'/,
    /bad\.csv line 10: invalid phone name 'bad name'/,
    /bad\.csv line 7: dupmac: MAC 00085d000001 is already used by ok1/,
    // The duplicate is reported at its own line, not at the first row's.
    /bad\.csv line 9: ok1: the name appears again \(first at line 2\)/,
  ];
  for (const re of expect) assert.ok(lines.some((l) => re.test(l)), `${re} in:\n${r.stderr}`);
  assert.match(lines.at(-1)!, /^error: \d+ of 9 row\(s\) in .*bad\.csv are invalid; nothing was issued/);
  assert.equal(indexSnapshot(home), before, 'nothing issued');

  const good = path.join(home, 'good.csv');
  writeFileSync(
    good,
    [
      'name,vendor,mac,ext,ip,display_name,srtp,model',
      'a1,aastra,00:08:5d:00:00:01,101,10.0.1.1,"Reception, front",mandatory,',
      'c1,cisco-spa,00-0E-08-00-00-01,102,,,optional,525G',
      'g1,grandstream,000b82000001,103,,,,',
      'y1,yealink,80:5e:c0:00:00:01,104,,,,t46g',
      'p1,polycom,00:04:f2:00:00:01,105,,,,',
      's1,snom,00:04:13:00:00:01,106,,,off,320',
      'b1,baresip,,107,,,,',
      'l1,linphone,,108,,,,',
      'z1,zoiper,,109,,,,',
      'r1,bria,,110,,,,',
      'k1,acrobits,,111,,,,',
      'x1,blink,,112,,,,',
    ].join('\n') + '\n',
  );
  const dry = sipsec(['--home', home, 'phone', 'import', good, '--dry-run']);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stderr, /12 row\(s\) valid: 12 to add, 0 to update \(0 certificate\(s\) re-issued\), 0 unchanged, 0 skipped; nothing issued \(--dry-run\)/);
  assert.equal(indexSnapshot(home), before);
  const imp = sipsec(['--home', home, 'phone', 'import', good, '--json']);
  assert.equal(imp.code, 0, imp.stderr);
  assert.equal(JSON.parse(imp.stdout).imported, 12);
  const list = JSON.parse(sipsec(['--home', home, 'phone', 'list', '--json']).stdout) as Array<{ name: string; displayName?: string; secret?: string; certificate: { serial: string } | null }>;
  assert.equal(list.length, 12);
  assert.ok(list.every((p) => p.certificate && p.secret === undefined), 'every phone has a certificate; no secret listed');
  assert.equal(list.find((p) => p.name === 'a1')?.displayName, 'Reception, front');
  assert.ok(existsSync(path.join(home, 'provision', '00085D000001.cfg')));
  assert.ok(existsSync(path.join(home, 'provision', 'b1', 'config')), 'baresip ready directory');
});
