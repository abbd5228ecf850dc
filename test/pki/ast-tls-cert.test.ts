import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, run, sipsec, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';

test('ast-tls-cert: the Asterisk secure-calling tutorial commands, unchanged, give correct certificates', async (t) => {
  const openssl = requirePeer('openssl');
  const base = tmpDir();
  t.after(() => cleanup(base));
  const keys = path.join(base, 'etc', 'asterisk', 'keys');
  const env = { SIPSEC_CA_PASSPHRASE: 'tutorial passphrase' };

  // ./ast_tls_cert -C pbx.mycompany.com -O "My Super Company" -d /etc/asterisk/keys
  const a = sipsec(['ast-tls-cert', '-C', 'pbx.mycompany.com', '-O', 'My Super Company', '-d', keys], { env });
  assert.equal(a.code, 0, a.stderr);
  // ./ast_tls_cert -m client -c /etc/asterisk/keys/ca.crt -k /etc/asterisk/keys/ca.key -C phone1.mycompany.com -O "My Super Company" -d /etc/asterisk/keys -o malcolm
  const b = sipsec(['ast-tls-cert', '-m', 'client', '-c', path.join(keys, 'ca.crt'), '-k', path.join(keys, 'ca.key'), '-C', 'phone1.mycompany.com', '-O', 'My Super Company', '-d', keys, '-o', 'malcolm'], { env });
  assert.equal(b.code, 0, b.stderr);

  for (const f of ['ca.crt', 'ca.key', 'asterisk.crt', 'asterisk.key', 'asterisk.pem', 'malcolm.crt', 'malcolm.key', 'malcolm.pem']) {
    assert.ok(statSync(path.join(keys, f)).isFile(), f);
  }
  for (const f of ['ca.key', 'asterisk.key', 'asterisk.pem', 'malcolm.key', 'malcolm.pem']) assert.equal(statSync(path.join(keys, f)).mode & 0o777, 0o600, f);
  assert.match(readFileSync(path.join(keys, 'ca.key'), 'utf8'), /ENCRYPTED PRIVATE KEY/, 'the CA key is encrypted (no -e)');
  // <name>.pem = key + certificate, as Asterisk's tlscertfile expects.
  assert.match(readFileSync(path.join(keys, 'asterisk.pem'), 'utf8'), /^-----BEGIN PRIVATE KEY-----[\s\S]+-----BEGIN CERTIFICATE-----/);

  const ca = path.join(keys, 'ca.crt');
  const caText = run(openssl, ['x509', '-in', ca, '-noout', '-text']).stdout;
  assert.match(caText, /Version: 3/);
  assert.match(caText, /CA:TRUE/);
  const srv = run(openssl, ['x509', '-in', path.join(keys, 'asterisk.crt'), '-noout', '-text', '-serial']).stdout;
  const cli = run(openssl, ['x509', '-in', path.join(keys, 'malcolm.crt'), '-noout', '-text', '-serial']).stdout;
  assert.match(srv, /DNS:pbx.mycompany.com/);
  assert.match(cli, /DNS:phone1.mycompany.com/);
  for (const text of [srv, cli]) {
    assert.match(text, /Version: 3/);
    assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    assert.doesNotMatch(text, /serial=01\n/, 'ast_tls_cert gave every leaf serial 01');
  }
  assert.notEqual(/serial=(\w+)/.exec(srv)?.[1], /serial=(\w+)/.exec(cli)?.[1]);
  assert.equal(run(openssl, ['verify', '-CAfile', ca, '-purpose', 'sslserver', path.join(keys, 'asterisk.crt')]).code, 0);
  assert.equal(run(openssl, ['verify', '-CAfile', ca, '-purpose', 'sslclient', path.join(keys, 'malcolm.crt')]).code, 0);
  assert.match(run(openssl, ['x509', '-in', path.join(keys, 'asterisk.crt'), '-noout', '-checkhost', 'pbx.mycompany.com']).stdout, /does match/);

  // An IP as CN becomes an IP SAN (the talk's "common name did not match (10.0.1.133)").
  const c = sipsec(['ast-tls-cert', '-C', '10.0.1.133', '-O', 'My Super Company', '-d', keys, '-o', 'byip', '-c', ca, '-k', path.join(keys, 'ca.key')], { env });
  assert.equal(c.code, 0, c.stderr);
  assert.match(run(openssl, ['x509', '-in', path.join(keys, 'byip.crt'), '-noout', '-checkip', '10.0.1.133']).stdout, /does match/);

  // A wrong CA passphrase is one clear line.
  const bad = sipsec(['ast-tls-cert', '-m', 'client', '-c', ca, '-k', path.join(keys, 'ca.key'), '-C', 'x.mycompany.com', '-d', keys, '-o', 'x'], { env: { SIPSEC_CA_PASSPHRASE: 'wrong' } });
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^error: cannot decrypt the CA key: wrong passphrase/);
  // -e: an unencrypted CA key, as the newer script does.
  const d = sipsec(['ast-tls-cert', '-e', '-C', 'pbx2.mycompany.com', '-O', 'X', '-d', path.join(base, 'k2')]);
  assert.equal(d.code, 0, d.stderr);
  assert.match(readFileSync(path.join(base, 'k2', 'ca.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
});
