import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, sipsec, tmpDir, inHome as cli } from '../helpers/cli.js';
import { detectSeparator, parseCsv, writeCsv } from '../../src/inventory/csv.js';
import { parsePhoneSheet } from '../../src/inventory/import.js';
import { indexSnapshot, readIndex } from '../helpers/index-db.js';

function initHome(home: string): void {
  const r = sipsec(['--home', home, 'ca', 'init', '--org', 'Acme', '--domain', 'acme.test', '--key', 'p256', '--leaf-key', 'p256', '--no-passphrase']);
  assert.equal(r.code, 0, r.stderr);
}

interface IndexFile {
  certificates: Array<{ serial: string; name: string; status: string; supersededBy?: string }>;
  phones: Array<{ name: string; vendor: string; ips: string[]; ext?: string; secret: string; mac?: string; displayName?: string; srtp: string; options: Record<string, unknown> }>;
}

function index(home: string): IndexFile {
  return readIndex(home) as unknown as IndexFile;
}

const phoneOf = (home: string, name: string) => index(home).phones.find((p) => p.name === name)!;
const serialOf = (home: string, name: string) => index(home).certificates.filter((c) => c.name === name && c.status === 'valid').at(-1)!.serial;

test('separators: , ; and tab detected from the header row; a quoted field keeps the separator inside', () => {
  assert.equal(detectSeparator('name,vendor\n'), ',');
  assert.equal(detectSeparator('\ufeff# exported\nname;vendor;"a,b"\n'), ';');
  assert.equal(detectSeparator('name\tvendor\tmac\n'), '\t');
  assert.equal(detectSeparator('name\n'), ',');
  assert.deepEqual(
    parseCsv('name;display_name\nt1;"Smith; Bob"\n').map((r) => r.cells),
    [
      ['name', 'display_name'],
      ['t1', 'Smith; Bob'],
    ],
  );
  assert.deepEqual(
    parseCsv('name\tdisplay_name\nt1\t"a\tb" \n').map((r) => r.cells),
    [
      ['name', 'display_name'],
      ['t1', 'a\tb'],
    ],
  );
  // What sipsec writes, it reads back, whatever the separator.
  const rows = [
    ['name', 'display_name', 'ip'],
    ['t1', 'Smith, "Bob"; jr', '10.0.1.1 10.0.1.2'],
    ['t2', ' edge ', ''],
  ];
  for (const sep of [',', ';', '\t'] as const) {
    assert.deepEqual(
      parseCsv(writeCsv(rows, sep)).map((r) => r.cells),
      rows,
      JSON.stringify(sep),
    );
  }
});

test('columns: unknown ones ignored with one warning naming them; option:KEY and vendor option names are options', async () => {
  const sheet = await parsePhoneSheet(
    [
      'name,vendor,mac,room,Notes,option:persistent_tls,model',
      'a1,aastra,00:08:5d:00:00:01,R12,call first,no,57i',
      'y1,yealink,80:5e:c0:00:00:01,R13,,,t46g',
      'a2,aastra,00:08:5d:00:00:02,,,,57i',
    ].join('\n'),
    'fleet.csv',
  );
  assert.deepEqual(sheet.warnings, [
    "fleet.csv: columns 'room', 'Notes' ignored: not sipsec's (write option:KEY for a vendor option)",
    "fleet.csv: column 'model' is not a aastra option: ignored on lines 2, 4",
  ]);
  assert.deepEqual(sheet.rows[0]!.input.options, { persistent_tls: 'no' });
  assert.deepEqual(sheet.rows[1]!.input.options, { model: 't46g' });
  assert.deepEqual(sheet.rows[1]!.emptyOptions, ['persistent_tls']);
});

test('phone import: ; and tab sheets, extra columns, duplicate at its own line, re-import needs --update or --skip-existing', (t) => {
  const home = tmpDir();
  t.after(() => cleanup(home));
  initHome(home);
  const semi = path.join(home, 'semi.csv');
  writeFileSync(semi, ['name;vendor;mac;ext;ip;display_name;room', 't1;aastra;00:08:5d:00:00:01;101;10.0.1.1;"Smith; Bob";R1', 't2;baresip;;102;;;R2'].join('\r\n') + '\r\n');
  const r = cli(home, 'phone', 'import', semi);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr.match(/warning:/g)?.length, 1, r.stderr);
  assert.match(r.stderr, /warning: .*semi\.csv: column 'room' ignored: not sipsec's/);
  assert.equal(phoneOf(home, 't1').displayName, 'Smith; Bob');

  const tab = path.join(home, 'tab.csv');
  writeFileSync(tab, ['name\tvendor\text', 't3\tlinphone\t103'].join('\n') + '\n');
  assert.equal(cli(home, 'phone', 'import', tab).code, 0);
  assert.equal(phoneOf(home, 't3').ext, '103');

  const dup = path.join(home, 'dup.csv');
  writeFileSync(dup, ['name,vendor,ext', 'n1,baresip,201', 'n2,baresip,202', 'N1,baresip,203'].join('\n') + '\n');
  const d = cli(home, 'phone', 'import', dup);
  assert.equal(d.code, 2);
  assert.match(d.stderr, /dup\.csv line 4: N1: the name appears again \(first at line 2\)/);
  assert.doesNotMatch(d.stderr, /line 2:/);
  assert.match(d.stderr, /error: 1 of 3 row\(s\) in .*dup\.csv are invalid; nothing was issued/);

  const before = indexSnapshot(home);
  const again = cli(home, 'phone', 'import', semi);
  assert.equal(again.code, 2);
  assert.match(again.stderr, /error: .*semi\.csv: 2 row\(s\) name phones already in the inventory: t1 \(line 2\), t2 \(line 3\); nothing was issued \(run again with --update to change them in place, or --skip-existing to add only the new ones\)/);
  assert.equal(indexSnapshot(home), before);
  const both = cli(home, 'phone', 'import', semi, '--update', '--skip-existing');
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--update and --skip-existing contradict each other/);

  // --skip-existing: only the new row is added.
  writeFileSync(semi, readFileSync(semi, 'utf8') + 't4;baresip;;104;;;R4\r\n');
  const skip = cli(home, 'phone', 'import', semi, '--skip-existing', '--json');
  assert.equal(skip.code, 0, skip.stderr);
  const sj = JSON.parse(skip.stdout) as Record<string, unknown>;
  assert.equal(sj.schema, 1);
  assert.equal(sj.added, 1);
  assert.equal(sj.skipped, 2);
  assert.equal(sj.updated, 0);
  assert.deepEqual(
    index(home).phones.map((p) => p.name),
    ['t1', 't2', 't3', 't4'],
  );
});

test('phone import --update: existing phones changed in place (same rules as edit), new ones added, errors at their line', (t) => {
  const home = tmpDir();
  t.after(() => cleanup(home));
  initHome(home);
  const sheet = path.join(home, 'fleet.csv');
  const header = 'name,vendor,mac,ext,ip,display_name,secret';
  writeFileSync(sheet, [header, 'a1,aastra,00:08:5d:00:00:01,101,10.0.1.1,Front,', 'a2,aastra,00:08:5d:00:00:02,102,10.0.1.2,,sekrit-2-abc', 'b1,baresip,,103,,,'].join('\n') + '\n');
  assert.equal(cli(home, 'phone', 'import', sheet).code, 0);
  const start = index(home);
  const secretA1 = phoneOf(home, 'a1').secret;
  const serials = Object.fromEntries(['a1', 'a2', 'b1'].map((n) => [n, serialOf(home, n)]));

  // a1: display name only (certificate kept, secret kept: empty cell); a2: new IP (re-issued); b1 unchanged; c1 new.
  writeFileSync(sheet, [header, 'a1,aastra,00:08:5d:00:00:01,101,10.0.1.1,Lobby,', 'a2,aastra,00:08:5d:00:00:02,102,10.0.1.22,,sekrit-2-abc', 'b1,baresip,,103,,,', 'c1,linphone,,104,,,'].join('\n') + '\n');
  const dry = cli(home, 'phone', 'import', sheet, '--update', '--dry-run');
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stderr, /4 row\(s\) valid: 1 to add, 2 to update \(1 certificate\(s\) re-issued\), 1 unchanged, 0 skipped; nothing issued/);
  assert.deepEqual(index(home), start, '--dry-run writes nothing');
  const up = cli(home, 'phone', 'import', sheet, '--update', '--json');
  assert.equal(up.code, 0, up.stderr);
  const j = JSON.parse(up.stdout) as Record<string, unknown>;
  assert.deepEqual([j.added, j.updated, j.reissued, j.unchanged], [1, 2, 1, 1]);
  assert.equal(phoneOf(home, 'a1').displayName, 'Lobby');
  assert.equal(phoneOf(home, 'a1').secret, secretA1, 'an empty secret cell keeps the secret');
  assert.equal(serialOf(home, 'a1'), serials.a1, 'no name changed: certificate kept');
  assert.equal(serialOf(home, 'b1'), serials.b1);
  assert.notEqual(serialOf(home, 'a2'), serials.a2, 'the IP changed: re-issued');
  const old = index(home).certificates.find((c) => c.serial === serials.a2)!;
  assert.equal(old.status, 'valid');
  assert.equal(old.supersededBy, serialOf(home, 'a2'));
  assert.deepEqual(phoneOf(home, 'a2').ips, ['10.0.1.22']);
  assert.ok(phoneOf(home, 'c1'));

  // Swapping two extensions in one sheet is fine: the result is checked, not each step.
  writeFileSync(sheet, ['name,vendor,ext', 'a1,aastra,102', 'a2,aastra,101'].join('\n') + '\n');
  const swap = cli(home, 'phone', 'import', sheet, '--update');
  assert.equal(swap.code, 0, swap.stderr);
  assert.equal(phoneOf(home, 'a1').ext, '102');
  assert.equal(phoneOf(home, 'a1').mac, '00085d000001', 'a column the sheet lacks is kept');

  const before = indexSnapshot(home);
  writeFileSync(sheet, ['name,vendor,ext,ip', 'a1,aastra,102,10.0.1.999', 'b1,linphone,103,', 'c1,linphone,101,', 'd1,baresip,104,'].join('\n') + '\n');
  const bad = cli(home, 'phone', 'import', sheet, '--update');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /fleet\.csv line 2: invalid IP address '10\.0\.1\.999'/);
  assert.match(bad.stderr, /fleet\.csv line 3: b1 is a baresip phone, the row says 'linphone' \(a phone cannot change vendor/);
  assert.match(bad.stderr, /fleet\.csv line 4: c1: SIP user '101' is already used by a2/);
  assert.match(bad.stderr, /error: 3 of 4 row\(s\) in .*fleet\.csv are invalid; nothing was issued/);
  assert.equal(indexSnapshot(home), before, 'nothing written, not even the good row');
});
