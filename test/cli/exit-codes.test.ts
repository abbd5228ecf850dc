import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { buildProgram, commandPath } from '../../src/cli/main.js';
import { cleanup, sipsec, tmpDir } from '../helpers/cli.js';

/**
 * README: "exit code 2 for bad input and 1 for everything else", errors on
 * one line. Every command sipsec has (walked from the real program, so a
 * new command without a case here fails this test) is given bad input:
 * flags, values, names, MACs, IPs, duplicates, CSV rows, a passphrase that
 * cannot be asked for without a terminal.
 */

function leaves(c: Command): Command[] {
  return c.commands.length === 0 ? [c] : c.commands.flatMap(leaves);
}

test('every command exits 2 with one error line on bad input', { timeout: 600_000 }, (t) => {
  const dir = tmpDir('sipsec-exit-');
  t.after(() => cleanup(dir));
  const home = path.join(dir, 'ca');
  const enc = path.join(dir, 'enc');
  const ok = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    const r = sipsec(args, { env });
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  };
  ok(['--home', home, 'ca', 'init', '--org', 'Acme', '--domain', 'acme.test', '--key', 'p256', '--no-passphrase']);
  ok(['--home', home, 'server', 'add', 'reg', '--dns', 'localhost', '--ip', '127.0.0.1']);
  ok(['--home', home, 'phone', 'add', 'p1', '--vendor', 'baresip', '--ext', '101']);
  ok(['--home', home, 'phone', 'add', 'desk', '--vendor', 'aastra', '--mac', '00:08:5d:12:34:56']);
  ok(['--home', enc, 'ca', 'init', '--org', 'Acme', '--domain', 'acme.test', '--key', 'p256'], { SIPSEC_CA_PASSPHRASE: 'a long passphrase' });
  const csv = (name: string, lines: string[]) => {
    const f = path.join(dir, name);
    writeFileSync(f, lines.join('\n') + '\n');
    return f;
  };
  const badRow = csv('bad-row.csv', ['name,vendor,mac', 'ok1,aastra,00:08:5d:00:00:01', 'bad2,aastra,01:00:5e:00:00:02']);
  const dupRows = csv('dup.csv', ['name,vendor,ext', 'x1,baresip,301', 'x1,baresip,302']);
  const reservedRow = csv('reserved.csv', ['name,vendor', 'aastra.cfg,baresip']);
  const noName = csv('no-name.csv', ['vendor,mac', 'aastra,00:08:5d:00:00:03']);
  const ast = path.join(dir, 'ast');

  const h = (...args: string[]) => ['--home', home, ...args];
  const e = (...args: string[]) => ['--home', enc, ...args];
  const cases: Record<string, string[][]> = {
    'ca init': [
      ['--home', path.join(dir, 'n1'), 'ca', 'init', '--org', 'A', '--domain', 'bad domain', '--no-passphrase'],
      ['--home', path.join(dir, 'n2'), 'ca', 'init', '--org', 'A', '--domain', 'a.test', '--key', 'rsa1024', '--no-passphrase'],
      ['--home', path.join(dir, 'n3'), 'ca', 'init', '--org', 'A', '--domain', 'a.test', '--days', 'ten', '--no-passphrase'],
      // No --passphrase-file, no SIPSEC_CA_PASSPHRASE, no terminal.
      ['--home', path.join(dir, 'n4'), 'ca', 'init', '--org', 'A', '--domain', 'a.test', '--key', 'p256'],
      ['--home', badRow, 'ca', 'init', '--org', 'A', '--domain', 'a.test', '--no-passphrase'],
      ['--home', path.join(dir, 'n5'), '--store', 'mysql://db/sipsec', 'ca', 'init', '--org', 'A', '--domain', 'a.test', '--no-passphrase'],
      ['--home', path.join(dir, 'n6'), '--store', 'postgres://db/sipsec?schema=Bad-Name', 'ca', 'init', '--org', 'A', '--domain', 'a.test', '--no-passphrase'],
    ],
    // A home with its own index: another store is refused before any connection, not half-used.
    'ca show': [h('ca', 'show', 'extra'), h('ca', 'show', '--bogus'), h('--store', 'postgres://127.0.0.1:1/sipsec', 'ca', 'show')],
    'ca crl': [h('ca', 'crl', '--bogus'), e('ca', 'crl')],
    'ca passphrase': [h('ca', 'passphrase'), h('ca', 'passphrase', '--remove', '--new-passphrase-file', path.join(dir, 'pw')), h('ca', 'passphrase', '--new-passphrase-file', path.join(dir, 'missing-pw'))],
    'ca rotate': [h('ca', 'rotate', '--key', 'rsa1024'), h('ca', 'rotate', '--days', 'ten'), e('ca', 'rotate', '--key', 'p256')],
    'ca status': [h('ca', 'status', 'extra')],
    'ca retire-old': [h('ca', 'retire-old', '--bogus')],
    'ca backup': [h('ca', 'backup'), h('ca', 'backup', path.join(dir, 'no-such-dir', 'b.tar')), h('ca', 'backup', path.join(home, 'inside.tar'))],
    'ca restore': [h('ca', 'restore'), h('ca', 'restore', path.join(dir, 'missing.tar')), h('ca', 'restore', badRow)],
    'ca config': [h('ca', 'config', '--registrar', 'pbx:99999'), h('ca', 'config', '--provisioning-url', 'ftp://x/'), h('ca', 'config', '--ntp', 'not a host')],
    'server add': [h('server', 'add', 'bad name!'), h('server', 'add', 's2', '--ip', '999.1.1.1'), h('server', 'add', 's2', '--dns', '*.acme.test'), h('server', 'add', 'reg'), e('server', 'add', 's3')],
    'phone add': [
      h('phone', 'add', 'p2', '--vendor', 'nokia'),
      h('phone', 'add', 'p2', '--vendor', 'aastra', '--mac', '00:08:5d:12:34'),
      h('phone', 'add', 'p2', '--vendor', 'aastra', '--mac', '01:00:5e:00:00:fb'),
      h('phone', 'add', 'p2', '--vendor', 'aastra', '--mac', '00:00:00:00:00:00'),
      h('phone', 'add', 'p2', '--vendor', 'aastra', '--mac', 'ff:ff:ff:ff:ff:ff'),
      h('phone', 'add', 'p2', '--vendor', 'aastra', '--mac', '00:08:5d:12:34:56'),
      h('phone', 'add', 'p2', '--vendor', 'aastra'),
      h('phone', 'add', 'p2', '--vendor', 'baresip', '--ip', '10.0.1'),
      h('phone', 'add', 'p1', '--vendor', 'baresip'),
      h('phone', 'add', 'p2', '--vendor', 'baresip', '--ext', '101'),
      h('phone', 'add', 'baresip', '--vendor', 'baresip'),
      h('phone', 'add', 'aastra.cfg', '--vendor', 'aastra', '--mac', '00:08:5d:00:00:09'),
      h('phone', 'add', 'p2', '--vendor', 'baresip', '--line', '0'),
      h('phone', 'add', 'p2', '--vendor', 'baresip', '--option', 'bogus=1'),
      h('phone', 'add', 'p2', '--vendor', 'baresip', '--srtp', 'maybe'),
      h('phone', 'add', 'p2'),
    ],
    'phone import': [h('phone', 'import', path.join(dir, 'missing.csv')), h('phone', 'import', badRow), h('phone', 'import', dupRows), h('phone', 'import', reservedRow), h('phone', 'import', noName), h('phone', 'import', dir)],
    'phone list': [h('phone', 'list', 'extra')],
    'phone show': [h('phone', 'show', 'bad name!'), h('phone', 'show')],
    'phone remove': [h('phone', 'remove'), h('phone', 'remove', '../p1')],
    'phone edit': [h('phone', 'edit', 'desk', '--ip', '10.0.1'), h('phone', 'edit', 'desk', '--mac', '01:00:5e:00:00:fb'), h('phone', 'edit', 'desk', '--secret', 'x', '--rotate-secret'), h('phone', 'edit', 'desk', '--ip', '10.0.1.5', '--add-ip', '10.0.1.6'), h('phone', 'edit', 'desk', '--srtp', 'maybe'), h('phone', 'edit')],
    'phone export': [h('phone', 'export', '--csv', '--json'), h('phone', 'export', 'extra')],
    'phone resync': [h('phone', 'resync'), h('phone', 'resync', 'p1', '--all'), h('phone', 'resync', 'p1', '--timeout', 'x')],
    'cert list': [h('cert', 'list', 'extra'), h('cert', 'list', '--expiring', 'soon')],
    'cert show': [h('cert', 'show')],
    'cert revoke': [h('cert', 'revoke', 'p1', '--reason', 'nope'), h('cert', 'revoke', 'ca'), e('cert', 'revoke', 'ca')],
    'cert renew': [h('cert', 'renew', 'ca'), h('cert', 'renew', 'a b'), h('cert', 'renew'), h('cert', 'renew', 'p1', '--expiring', '60d'), h('cert', 'renew', 'p1', '--grace', 'soon'), h('cert', 'renew', 'p1', '--now', '--grace', '1d')],
    'cert export': [h('cert', 'export', 'p1', '--format', 'xml'), h('cert', 'export', 'p1', '--format', 'p12', '--out', path.join(dir, 'x.p12')), h('cert', 'export', 'ca', '--with-key'), h('cert', 'export', 'p1', '--format', 'p12', '--password-file', path.join(dir, 'missing-pw'), '--out', path.join(dir, 'y.p12'))],
    'ast-tls-cert': [
      ['ast-tls-cert', '-m', 'bogus', '-C', 'pbx.test', '-d', ast, '-e'],
      ['ast-tls-cert', '-b', 'abc', '-C', 'pbx.test', '-d', ast, '-e'],
      ['ast-tls-cert', '-b', '1024', '-C', 'pbx.test', '-d', ast, '-e'],
    ],
    'provision render': [h('provision', 'render', '--bogus')],
    'provision routes': [h('provision', 'routes', 'extra')],
    'provision vendors': [h('provision', 'vendors', '--bogus')],
    'pbx asterisk': [h('pbx', 'asterisk', '--pjsip', '--chan-sip'), h('pbx', 'asterisk', '--install-dir', '/etc/asterisk/sipsec'), h('pbx', 'asterisk', '--legacy-tls', '99999')],
    'pbx kamailio': [h('pbx', 'kamailio', '--listen', 'bad:port:x')],
    dhcp: [h('dhcp', '--vendor', 'nokia'), h('dhcp', '--format', 'windows')],
    serve: [h('serve', '--tftp-port', '99999'), h('serve', '--tls-min', '0.9'), h('serve', '--rtp-ports', '1-2'), h('serve', '--key-window', 'forever'), h('serve', '--echo-suites', 'NOPE'), h('serve', '--instance', 'two words')],
    status: [h('status', '--bogus')],
    verify: [h('verify'), h('verify', 'p1', '--all'), h('verify', 'p1', '--timeout', 'never')],
    probe: [h('probe', 'sips:127.0.0.1:9', '--as', 'p1', '--duration', '0s'), h('probe', 'notauri', '--as', 'p1', '--call', 'none'), h('probe', 'sips:127.0.0.1:9'), h('probe', 'sips:127.0.0.1:9', '--as', 'p1', '--suite', 'NOPE')],
    demo: [h('demo', '--bogus')],
    doctor: [h('doctor', '--expiring', 'soon'), h('doctor', 'extra')],
  };

  const commands = leaves(buildProgram()).map(commandPath).map((p) => p.replace(/^sipsec /, ''));
  assert.deepEqual([...commands].sort(), Object.keys(cases).sort(), 'a bad-input case for every command sipsec --help lists');

  const failures: string[] = [];
  for (const [command, list] of Object.entries(cases)) {
    for (const args of list) {
      const r = sipsec(args, { timeoutMs: 60_000 });
      const what = `sipsec ${args.join(' ')}`;
      // A CSV import reports every bad row, one line each with its file line, then one summary line.
      const lines = command === 'phone import' ? /^(error: [^\n]+\n)+$/ : /^error: [^\n]+\n$/;
      if (r.code !== 2) failures.push(`${what}: exit ${r.code}, want 2: ${r.stderr.trim()}`);
      else if (!lines.test(r.stderr)) failures.push(`${what}: not one error line: ${JSON.stringify(r.stderr)}`);
      else if (r.stdout !== '') failures.push(`${what}: printed on stdout: ${r.stdout}`);
      else if (/this is a bug in sipsec/.test(r.stderr)) failures.push(`${what}: ${r.stderr}`);
    }
  }
  assert.deepEqual(failures, []);
});
