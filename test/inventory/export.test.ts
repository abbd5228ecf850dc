import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, tmpDir, inHome as cli, okInHome as ok } from '../helpers/cli.js';
import { parseCsv, writeCsv } from '../../src/inventory/csv.js';
import { readIndex } from '../helpers/index-db.js';

interface Cert {
  serial: string;
  name: string;
  status: string;
  supersededBy?: string;
}
interface IndexFile {
  certificates: Cert[];
  phones: Array<Record<string, unknown> & { name: string }>;
}

function index(home: string): IndexFile {
  return readIndex(home) as unknown as IndexFile;
}

function fleet(home: string): void {
  ok(home, 'ca', 'init', '--org', 'Acme', '--domain', 'acme.test', '--key', 'p256', '--leaf-key', 'p256', '--no-passphrase');
  const sheet = path.join(home, 'fleet.csv');
  writeFileSync(
    sheet,
    [
      'name,vendor,mac,ext,ip,dns,display_name,srtp,line,model,option:persistent_tls',
      'a1,aastra,00:08:5d:00:00:01,101,10.0.1.1 10.0.1.11,a1.acme.test,"Smith, Bob",mandatory,1,,no',
      'y1,yealink,80:5e:c0:00:00:01,102,10.0.1.2,,Reception; front,optional,2,t46g,',
      's1,snom,00:04:13:00:00:01,,,,,off,1,320,',
      'b1,baresip,,104,,,,,,,',
    ].join('\n') + '\n',
  );
  ok(home, 'phone', 'import', sheet);
}

test('phone export: the import format, no secrets unless --show-secret, JSON with schema 1 and nulls', (t) => {
  const home = tmpDir();
  t.after(() => cleanup(home));
  fleet(home);
  const csv = ok(home, 'phone', 'export').stdout;
  const rows = parseCsv(csv).map((r) => r.cells);
  assert.deepEqual(rows[0], ['name', 'vendor', 'mac', 'ext', 'ip', 'dns', 'display_name', 'srtp', 'line', 'option:model', 'option:persistent_tls']);
  assert.deepEqual(rows[1], ['a1', 'aastra', '00:08:5d:00:00:01', '101', '10.0.1.1 10.0.1.11', 'a1.acme.test', 'Smith, Bob', 'mandatory', '1', '', 'no']);
  assert.deepEqual(rows[2], ['y1', 'yealink', '80:5e:c0:00:00:01', '102', '10.0.1.2', '', 'Reception; front', 'optional', '2', 'T46G', '']);
  assert.equal(rows.length, 5);
  for (const p of index(home).phones) assert.ok(!csv.includes(String(p.secret)), 'no secret in a plain export');

  const withSecret = parseCsv(ok(home, 'phone', 'export', '--csv', '--show-secret').stdout).map((r) => r.cells);
  const col = withSecret[0]!.indexOf('secret');
  assert.ok(col > 0);
  assert.equal(withSecret[1]![col], index(home).phones[0]!.secret);

  const j = JSON.parse(ok(home, 'phone', 'export', '--json').stdout) as { schema: number; phones: Array<Record<string, unknown>> };
  assert.equal(j.schema, 1);
  assert.deepEqual(j.phones[3], { name: 'b1', vendor: 'baresip', mac: null, ext: '104', ips: [], dns: [], displayName: null, srtp: 'mandatory', line: 1, options: {} });
  assert.ok(j.phones.every((p) => !('secret' in p)));
  assert.equal((JSON.parse(ok(home, 'phone', 'export', '--json', '--show-secret').stdout) as { phones: Array<{ secret: string }> }).phones[0]!.secret, index(home).phones[0]!.secret);

  const both = cli(home, 'phone', 'export', '--csv', '--json');
  assert.equal(both.code, 2);
  assert.match(both.stderr, /--csv and --json contradict each other/);
});

test('export, change one cell in a spreadsheet, import --update: that change and nothing else; certificates kept where no name changed', (t) => {
  const home = tmpDir();
  t.after(() => cleanup(home));
  fleet(home);
  const before = index(home);
  const current = (idx: IndexFile, name: string) => idx.certificates.filter((c) => c.name === name && c.status === 'valid').at(-1)!.serial;

  // Unchanged, even after a European spreadsheet re-saved it with ';' and CRLF: nothing to do.
  const exported = ok(home, 'phone', 'export').stdout;
  const cells = parseCsv(exported).map((r) => r.cells);
  const semi = path.join(home, 'semi.csv');
  writeFileSync(semi, writeCsv(cells, ';'));
  const same = JSON.parse(ok(home, 'phone', 'import', semi, '--update', '--json').stdout) as Record<string, number>;
  assert.deepEqual([same.added, same.updated, same.unchanged], [0, 0, 4]);
  assert.deepEqual(index(home), before, 'a round trip changes nothing');

  // One cell: y1's display name. Another: s1's IP (a name in its certificate).
  const header = cells[0]!;
  cells[2]![header.indexOf('display_name')] = 'Lobby';
  cells[3]![header.indexOf('ip')] = '10.0.1.3';
  const edited = path.join(home, 'edited.csv');
  writeFileSync(edited, writeCsv(cells));
  const r = JSON.parse(ok(home, 'phone', 'import', edited, '--update', '--json').stdout) as Record<string, number>;
  assert.deepEqual([r.added, r.updated, r.reissued, r.unchanged], [0, 2, 1, 2]);

  const after = index(home);
  for (const p of before.phones) {
    const q = after.phones.find((x) => x.name === p.name)!;
    const expected = p.name === 'y1' ? { ...p, displayName: 'Lobby' } : p.name === 's1' ? { ...p, ips: ['10.0.1.3'] } : p;
    assert.deepEqual(q, expected, `${p.name}: only the edited cell changed (secret and creation date included)`);
  }
  for (const name of ['a1', 'y1', 'b1']) assert.equal(current(after, name), current(before, name), `${name}: certificate kept`);
  assert.notEqual(current(after, 's1'), current(before, 's1'), 's1: re-issued for its new IP');
  const old = after.certificates.find((c) => c.serial === current(before, 's1'))!;
  assert.equal(old.status, 'valid', 'the old certificate overlaps, not revoked');
  assert.equal(old.supersededBy, current(after, 's1'));
  // The export reads back the change.
  assert.match(ok(home, 'phone', 'export').stdout, /\r\ny1,yealink,80:5e:c0:00:00:01,102,10\.0\.1\.2,,Lobby,optional,2,T46G,\r\n/);
});
