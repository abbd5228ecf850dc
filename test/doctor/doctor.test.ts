import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, sipsec, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';
import { diagnose, doctorExitCode, FINDING_CODES, type DoctorInput, type Finding } from '../../src/doctor/checks.js';
import type { CertEntry, Config, Phone } from '../../src/home/schema.js';

/**
 * `sipsec doctor`: the pure checks on hand-made inputs (each finding
 * appears exactly when it should), then the CLI on a real home walked from
 * broken to clean with the fix each finding names, cross-checked with
 * openssl where a finding is about a certificate name.
 */

const NOW = new Date('2027-03-01T12:00:00Z');
const DAY = 86_400_000;

function cert(kind: CertEntry['kind'], name: string, o: Partial<CertEntry> = {}): CertEntry {
  return {
    serial: (Math.random() * 1e12).toString(16).replace('.', '').slice(0, 10).padStart(10, '1'),
    name,
    kind,
    subject: `CN=${name}`,
    sans: { dns: [], ip: [], uri: [] },
    keyType: 'p256',
    notBefore: new Date(NOW.getTime() - DAY).toISOString(),
    notAfter: new Date(NOW.getTime() + 365 * DAY).toISOString(),
    fingerprint: 'ab',
    status: 'valid',
    ...o,
  };
}

const CONFIG: Config = {
  version: 1,
  org: 'o',
  domain: 'pbx.test',
  cn: 'CA',
  caKey: 'p256',
  hash: 'sha256',
  leafKey: 'p256',
  leafDays: 365,
  registrar: { host: 'pbx.test', port: 5061 },
  provisioningUrl: 'https://prov.test/',
  ntp: 'ntp.test',
  encrypted: true,
  createdAt: NOW.toISOString(),
};

function phone(name: string, vendor: string, ips: string[] = []): Phone {
  return { name, vendor, ips, dns: [], ext: '101', secret: 's3cret-s3cret', srtp: 'mandatory', line: 1, options: {}, createdAt: NOW.toISOString() };
}

function clean(): DoctorInput {
  return {
    config: CONFIG,
    certificates: [cert('ca', 'ca', { notAfter: new Date(NOW.getTime() + 3000 * DAY).toISOString() }), cert('server', 'pbx.test', { sans: { dns: ['pbx.test', 'prov.test'], ip: ['10.0.1.133'], uri: [] } })],
    phones: [phone('desk', 'aastra', ['10.0.1.132']), phone('soft', 'bria')],
    vendorTransports: (v) => (v === 'aastra' ? ['tftp', 'http', 'https'] : ['https']),
    crlNextUpdate: new Date(NOW.getTime() + 20 * DAY),
    now: NOW,
  };
}

const codes = (f: Finding[]) => f.map((x) => `${x.severity}:${x.code}${x.subject ? `:${x.subject}` : ''}`);

test('doctor checks: a clean deployment has no findings; each fault gives exactly its finding, errors first', () => {
  assert.deepEqual(diagnose(clean()), []);
  assert.equal(doctorExitCode([]), 0);

  const cases: Array<[string, (i: DoctorInput) => DoctorInput, string[]]> = [
    ['registrar by IP not in any SAN', (i) => ({ ...i, config: { ...i.config, registrar: { host: '10.0.1.134', port: 5061 } } }), ['error:registrar.name_unmatched:10.0.1.134']],
    ['registrar named only by a revoked certificate', (i) => ({ ...i, certificates: i.certificates.map((c) => (c.kind === 'server' ? { ...c, status: 'revoked' as const } : c)) }), ['error:registrar.name_unmatched:pbx.test', 'error:provisioning.name_unmatched:prov.test']],
    ['registrar named only by an expired certificate', (i) => ({ ...i, certificates: i.certificates.map((c) => (c.kind === 'server' ? { ...c, notAfter: new Date(NOW.getTime() - DAY).toISOString() } : c)) }), ['error:registrar.name_unmatched:pbx.test', 'error:provisioning.name_unmatched:prov.test', 'error:cert.expired:pbx.test']],
    ['no wildcard matching (RFC 5922 §7.2)', (i) => ({ ...i, config: { ...i.config, registrar: { host: 'a.pbx.test', port: 5061 }, provisioningUrl: 'https://a.pbx.test/' }, certificates: [...i.certificates, cert('server', 'wild', { sans: { dns: ['*.pbx.test'], ip: [], uri: [] } })] }), ['error:registrar.name_unmatched:a.pbx.test']],
    ['plain-HTTP provisioning needs no server name', (i) => ({ ...i, config: { ...i.config, provisioningUrl: 'http://elsewhere.test/' } }), []],
    ['no NTP', (i) => ({ ...i, config: { ...i.config, ntp: undefined } }), ['warning:ntp.missing']],
    ['TFTP phone without an address', (i) => ({ ...i, phones: [...i.phones, phone('lobby', 'aastra')] }), ['warning:phone.secret_exposed:lobby']],
    ['phone certificate expiring in 10 days', (i) => ({ ...i, certificates: [...i.certificates, cert('phone', 'desk', { notAfter: new Date(NOW.getTime() + 10 * DAY).toISOString() })] }), ['warning:cert.expiring:desk']],
    ['an old expiring certificate superseded by a fresh one is not reported', (i) => ({ ...i, certificates: [...i.certificates, cert('phone', 'desk', { notAfter: new Date(NOW.getTime() + 10 * DAY).toISOString() }), cert('phone', 'desk')] }), []],
    ['CA expiring', (i) => ({ ...i, certificates: i.certificates.map((c) => (c.kind === 'ca' ? { ...c, notAfter: new Date(NOW.getTime() + 5 * DAY).toISOString() } : c)) }), ['warning:ca.expiring:ca']],
    ['CRL next update in 3 days', (i) => ({ ...i, crlNextUpdate: new Date(NOW.getTime() + 3 * DAY) }), ['warning:crl.next_update_near']],
    ['CRL past its next update', (i) => ({ ...i, crlNextUpdate: new Date(NOW.getTime() - DAY) }), ['error:crl.expired']],
    ['no CRL', (i) => ({ ...i, crlNextUpdate: null }), ['error:crl.missing']],
    ['CA key unencrypted', (i) => ({ ...i, config: { ...i.config, encrypted: false } }), ['warning:ca.key_unencrypted']],
    ['index database damaged', (i) => ({ ...i, indexCheck: '*** in database main *** Tree 4 page 4: btreeInitPage() returns error code 11' }), ['error:index.damaged']],
    ['index database checked and sound', (i) => ({ ...i, indexCheck: 'ok' }), []],
    ['stale --out tree', (i) => ({ ...i, outTrees: [{ dir: '/srv/tftp', changed: 2, missing: 0, removed: 1 }, { dir: '/srv/ok', changed: 0, missing: 0, removed: 0 }] }), ['warning:out.stale:/srv/tftp']],
  ];
  for (const [what, mutate, expected] of cases) {
    const f = diagnose(mutate(clean()));
    assert.deepEqual(codes(f).sort(), [...expected].sort(), what);
    // Errors come first, every finding names a fix, and every code is documented.
    const firstWarning = f.findIndex((x) => x.severity === 'warning');
    assert.ok(firstWarning === -1 || f.slice(firstWarning).every((x) => x.severity === 'warning'), what);
    for (const x of f) {
      assert.ok(x.code in FINDING_CODES, x.code);
      assert.ok(x.fix.length > 0 && !x.message.includes('\n'), what);
    }
    assert.equal(doctorExitCode(f), expected.some((e) => e.startsWith('error')) ? 2 : expected.length > 0 ? 1 : 0, what);
  }
});

interface DoctorJson {
  schema: number;
  status: string;
  findings: Finding[];
  errors: number;
  warnings: number;
}

function doctor(home: string): { code: number; json: DoctorJson } {
  const r = sipsec(['--home', home, 'doctor', '--json']);
  return { code: r.code, json: JSON.parse(r.stdout) as DoctorJson };
}

test('sipsec doctor on a real home: from every finding to clean, each fixed by the command it names; openssl agrees on the names', { timeout: 120_000 }, async (t) => {
  const openssl = requirePeer('openssl');
  const dir = tmpDir('sipsec-doctor-');
  t.after(() => cleanup(dir));
  const home = path.join(dir, 'ca');
  const ok = (args: string[]) => {
    const r = sipsec(['--home', home, ...args]);
    assert.equal(r.code, 0, `sipsec ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  ok(['ca', 'init', '--org', 'Doctor Test', '--domain', 'pbx.test', '--key', 'p256', '--leaf-key', 'p256', '--no-passphrase', '--registrar', 'pbx.test:5061', '--provisioning-url', 'http://10.0.1.133/']);

  // `ca config` says at once that the new registrar is named by no certificate, and that there is no NTP.
  const cfg = ok(['ca', 'config', '--registrar', 'newhost.test:5061']);
  assert.match(cfg.stderr, /problem: no valid server certificate names the registrar newhost\.test: phones will report "common name did not match \(newhost\.test\)" \(fix: sipsec server add newhost\.test/);
  assert.match(cfg.stderr, /warning: phones are given no NTP server/);
  // `phone add` says at once that a TFTP phone without an address hands its secret to anyone.
  const add = ok(['phone', 'add', 'desk', '--vendor', 'aastra', '--mac', '00:08:5d:12:34:56', '--ext', '101', '--days', '10']);
  assert.match(add.stderr, /warning: desk has no recorded address: its files, SIP password included, are served over TFTP\/HTTP to any address that asks \(fix: sipsec phone edit desk --ip ADDRESS\)/);

  let d = doctor(home);
  assert.equal(d.code, 2);
  assert.equal(d.json.schema, 1);
  assert.equal(d.json.status, 'errors');
  assert.deepEqual(codes(d.json.findings).sort(), ['error:registrar.name_unmatched:newhost.test', 'warning:ca.key_unencrypted', 'warning:cert.expiring:desk', 'warning:ntp.missing', 'warning:phone.secret_exposed:desk'].sort());

  // openssl agrees that no server certificate names newhost.test.
  const servers = () => (JSON.parse(ok(['cert', 'list', '--json']).stdout) as Array<{ kind: string; serial: string; status: string }>).filter((c) => c.kind === 'server' && c.status === 'valid');
  assert.equal(servers().length, 0);
  ok(['server', 'add', 'newhost.test']);
  const [srv] = servers();
  const check = spawnSync(openssl, ['x509', '-in', path.join(home, 'certs', `${srv!.serial}.crt`), '-noout', '-checkhost', 'newhost.test'], { encoding: 'utf8' });
  assert.match(check.stdout, /Hostname newhost\.test does match certificate/);

  ok(['ca', 'config', '--ntp', 'ntp.test']);
  const pass = path.join(dir, 'pass.txt');
  writeFileSync(pass, 'correct horse battery staple\n', { mode: 0o600 });
  ok(['ca', 'passphrase', '--new-passphrase-file', pass]);
  assert.equal(statSync(path.join(home, 'private', 'ca.key')).mode & 0o777, 0o600);
  assert.match(readFileSync(path.join(home, 'private', 'ca.key'), 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
  // openssl reads the re-encrypted key with the new passphrase only.
  const pkey = spawnSync(openssl, ['pkey', '-in', path.join(home, 'private', 'ca.key'), '-passin', `file:${pass}`, '-noout'], { encoding: 'utf8' });
  assert.equal(pkey.status, 0, pkey.stderr);
  ok(['phone', 'remove', 'desk', '--passphrase-file', pass]);
  ok(['phone', 'add', 'desk', '--vendor', 'aastra', '--mac', '00:08:5d:12:34:56', '--ext', '101', '--ip', '10.0.1.132', '--passphrase-file', pass]);

  d = doctor(home);
  assert.deepEqual(d.json.findings, [], JSON.stringify(d.json.findings));
  assert.equal(d.code, 0);
  assert.equal(d.json.status, 'ok');
  assert.match(ok(['doctor']).stdout, /^no problems found$/m);

  // A --out TFTP root: checked without being written; stale after a change until rendered again; its firmware is never touched.
  const tftp = path.join(dir, 'tftp');
  mkdirSync(tftp);
  writeFileSync(path.join(tftp, 'fw.bin'), 'firmware image');
  ok(['provision', 'render', '--out', tftp]);
  assert.equal(doctor(home).code, 0);
  ok(['phone', 'add', 'desk2', '--vendor', 'aastra', '--mac', '00:08:5d:12:34:57', '--ext', '102', '--ip', '10.0.1.133', '--passphrase-file', pass]);
  const before = readdirSync(tftp).sort();
  d = doctor(home);
  assert.equal(d.code, 1);
  assert.deepEqual(codes(d.json.findings), [`warning:out.stale:${tftp}`]);
  assert.match(d.json.findings[0]!.message, /\(0 changed, [1-9]\d* missing, 0 to remove\)/);
  assert.equal(d.json.findings[0]!.fix, `sipsec provision render --out ${tftp}`);
  assert.deepEqual(readdirSync(tftp).sort(), before, 'doctor wrote nothing');
  ok(['provision', 'render', '--out', tftp]);
  assert.equal(doctor(home).code, 0);
  assert.equal(readFileSync(path.join(tftp, 'fw.bin'), 'utf8'), 'firmware image');

  // No CRL: an error until `ca crl` writes one.
  rmSync(path.join(home, 'crl.pem'));
  d = doctor(home);
  assert.equal(d.code, 2);
  assert.deepEqual(codes(d.json.findings), ['error:crl.missing']);
  ok(['ca', 'crl', '--passphrase-file', pass]);
  assert.equal(doctor(home).code, 0);

  // Bad input is exit 2 with one line.
  const bad = sipsec(['--home', home, 'doctor', '--expiring', 'soon']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
});

test('sipsec doctor --out DIR: a tree out of date is reported with its counts, from a comparison that writes nothing there', { timeout: 120_000 }, async (t) => {
  const dir = tmpDir('sipsec-doctor-out-');
  t.after(() => cleanup(dir));
  const home = path.join(dir, 'ca');
  const ok = (args: string[]) => {
    const r = sipsec(['--home', home, ...args]);
    assert.equal(r.code, 0, `sipsec ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const outCodes = (out: string) => {
    const r = sipsec(['--home', home, 'doctor', '--json', '--out', out]);
    const j = JSON.parse(r.stdout) as DoctorJson;
    return j.findings.filter((f) => f.code === 'out.stale');
  };
  ok(['ca', 'init', '--org', 'Doctor Test', '--domain', 'pbx.test', '--key', 'p256', '--leaf-key', 'p256', '--no-passphrase', '--registrar', 'pbx.test:5061', '--provisioning-url', 'http://10.0.1.133/']);
  ok(['phone', 'add', 'desk', '--vendor', 'aastra', '--mac', '00:08:5d:12:34:56', '--ext', '101', '--ip', '10.0.1.132']);

  // Never rendered (the folder does not even exist): every file missing, and the folder is not created.
  const tftp = path.join(dir, 'tftp');
  let f = outCodes(tftp);
  assert.equal(f.length, 1);
  assert.equal(f[0]!.subject, tftp);
  assert.match(f[0]!.message, /\(0 changed, [1-9]\d* missing, 0 to remove\)/);
  assert.equal(f[0]!.fix, `sipsec provision render --out ${tftp}`);
  assert.throws(() => statSync(tftp), /ENOENT/);

  // Rendered beside a firmware image: up to date, and the comparison leaves no lock or manifest change behind.
  mkdirSync(tftp);
  writeFileSync(path.join(tftp, 'fw.bin'), 'firmware');
  ok(['provision', 'render', '--out', tftp]);
  const listing = () => readdirSync(tftp, { recursive: true }).map(String).sort();
  const manifest = () => readFileSync(path.join(tftp, '.sipsec-manifest.json'), 'utf8');
  const [before, beforeManifest] = [listing(), manifest()];
  assert.deepEqual(outCodes(tftp), []);

  // A change in the store: the phone's file differs now; doctor says so, and still writes nothing.
  ok(['phone', 'edit', 'desk', '--display-name', 'Front desk']);
  f = outCodes(tftp);
  assert.equal(f.length, 1);
  assert.match(f[0]!.message, /\([1-9]\d* changed, 0 missing, 0 to remove\)/);
  assert.deepEqual([listing(), manifest()], [before, beforeManifest]);
  assert.equal(readFileSync(path.join(tftp, 'fw.bin'), 'utf8'), 'firmware');
  ok(['provision', 'render', '--out', tftp]);
  assert.deepEqual(outCodes(tftp), []);
});
