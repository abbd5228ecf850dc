import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { x509 } from '../../src/pki/x509.js';
import { generateKey } from '../../src/pki/keys.js';
import { ipBytes, issueCertificate, signerFromCert } from '../../src/pki/certificate.js';
import { toPem } from '../../src/pki/pem.js';
import { cleanup, run, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';

test('IP SAN octets for IPv4, IPv6 (:: and embedded IPv4)', () => {
  assert.equal(ipBytes('10.0.1.132').toString('hex'), '0a000184');
  assert.equal(ipBytes('::1').toString('hex'), '00000000000000000000000000000001');
  assert.equal(ipBytes('2001:db8::10').toString('hex'), '20010db8000000000000000000000010');
  assert.equal(ipBytes('::ffff:192.0.2.2').toString('hex'), '00000000000000000000ffffc0000202');
  assert.equal(ipBytes('fe80:0:0:0:1:2:3:4').toString('hex'), 'fe800000000000000001000200030004');
});

test('the DER encoder agrees with two independent parsers (Node/OpenSSL and @peculiar/x509)', async (t) => {
  const openssl = requirePeer('openssl');
  const dir = tmpDir();
  t.after(() => cleanup(dir));
  const caKey = await generateKey('p256');
  const now = new Date('2026-01-02T03:04:05Z');
  const ca = await issueCertificate({ profile: 'ca', cn: 'Ünïcode CA', org: 'Firma & Söhne', sans: { dns: [], ip: [], uri: [] }, subjectKey: caKey, notBefore: now, notAfter: new Date('2055-06-07T08:09:10Z') }, undefined);
  const leafKey = await generateKey('rsa2048');
  const leaf = await issueCertificate(
    {
      profile: 'server',
      cn: 'pbx.example.com',
      org: 'Firma & Söhne',
      sans: { dns: ['pbx.example.com', 'localhost'], ip: ['10.0.1.133', '::1', '2001:db8::10'], uri: ['sip:example.com'] },
      subjectKey: leafKey,
      notBefore: now,
      notAfter: new Date('2028-01-01T00:00:00Z'),
    },
    signerFromCert(ca.der, caKey, 'sha384'),
  );
  const nodeLeaf = new X509Certificate(leaf.der);
  const nodeCa = new X509Certificate(ca.der);
  assert.ok(nodeLeaf.verify(nodeCa.publicKey), 'signature verifies');
  assert.ok(nodeLeaf.checkIssued(nodeCa));
  assert.equal(nodeLeaf.serialNumber.toLowerCase(), leaf.serial);
  assert.equal(nodeLeaf.subjectAltName, 'DNS:pbx.example.com, DNS:localhost, IP Address:10.0.1.133, IP Address:0:0:0:0:0:0:0:1, IP Address:2001:DB8:0:0:0:0:0:10, URI:sip:example.com');
  assert.equal(new Date(nodeLeaf.validFrom).toISOString(), now.toISOString());
  assert.equal(new Date(nodeCa.validTo).toISOString(), '2055-06-07T08:09:10.000Z', 'GeneralizedTime from 2050 on');
  assert.ok(nodeCa.ca);

  const pLeaf = new x509.X509Certificate(leaf.der);
  const pCa = new x509.X509Certificate(ca.der);
  assert.ok(await pLeaf.verify({ publicKey: pCa.publicKey, signatureOnly: true }));
  assert.equal(pLeaf.issuer, pCa.subject);
  assert.match(pCa.subject, /CN=Ünïcode CA/);
  const bc = pCa.getExtension(x509.BasicConstraintsExtension);
  assert.equal(bc?.ca, true);
  assert.equal(bc?.pathLength, 0);
  assert.equal(bc?.critical, true);
  const ku = pLeaf.getExtension(x509.KeyUsagesExtension);
  assert.equal(ku?.usages, x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
  assert.equal(pCa.getExtension(x509.KeyUsagesExtension)?.usages, x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign);
  const aki = pLeaf.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
  const ski = pCa.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  assert.ok(aki && aki === ski, 'AKI of the leaf = SKI of the CA');

  writeFileSync(path.join(dir, 'ca.pem'), toPem('CERTIFICATE', ca.der));
  writeFileSync(path.join(dir, 'leaf.pem'), toPem('CERTIFICATE', leaf.der));
  const text = run(openssl, ['x509', '-in', path.join(dir, 'leaf.pem'), '-noout', '-text']).stdout;
  assert.match(text, /Signature Algorithm: ecdsa-with-SHA384/);
  assert.match(run(openssl, ['x509', '-in', path.join(dir, 'leaf.pem'), '-noout', '-checkip', '2001:db8::10']).stdout, /does match/);
  const v = run(openssl, ['verify', '-x509_strict', '-CAfile', path.join(dir, 'ca.pem'), path.join(dir, 'leaf.pem')], { env: { ...process.env, TZ: 'UTC' } });
  assert.equal(v.code, 0, v.stdout + v.stderr);
});
