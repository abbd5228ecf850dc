import { test } from 'node:test';
import assert from 'node:assert/strict';
import forge from 'node-forge';
import { generateKey } from '../../src/pki/keys.js';
import { issueCertificate, signerFromCert } from '../../src/pki/certificate.js';
import { buildPkcs12 } from '../../src/pki/pkcs12.js';
import type { KeyObject } from 'node:crypto';

async function chain(caSpec: 'p256' | 'rsa2048') {
  const caKey = await generateKey(caSpec);
  const now = new Date();
  const later = new Date(now.getTime() + 86_400_000);
  const sans = { dns: [], ip: [], uri: [] };
  const ca = await issueCertificate({ profile: 'ca', cn: 'T CA', org: 'T', sans, subjectKey: caKey, notBefore: now, notAfter: later }, undefined);
  const leafKey: KeyObject = await generateKey('rsa2048');
  const leaf = await issueCertificate({ profile: 'phone', cn: 'p', org: 'T', sans: { dns: ['p'], ip: [], uri: [] }, subjectKey: leafKey, notBefore: now, notAfter: later }, signerFromCert(ca.der, caKey, 'sha256'));
  return { leafKey, certs: [leaf.der, ca.der] };
}

const toForgeCert = (der: Buffer) => forge.pki.certificateFromAsn1(forge.asn1.fromDer(forge.util.createBuffer(der.toString('binary'))));

test('why node-forge no longer writes PKCS#12: it cannot even parse a chain whose CA is ECDSA', async () => {
  const { certs } = await chain('p256');
  // The RSA phone certificate parses only if forge ignores the issuer's key type...
  // ...but the CA certificate, with its EC public key, does not: forge knows RSA keys only.
  assert.throws(() => toForgeCert(certs[1]!), /OID is not RSA/);
});

test('the legacy profile (3DES key bag, SHA-1 MAC) is read by an independent implementation (node-forge)', async () => {
  const { leafKey, certs } = await chain('rsa2048');
  const p12 = buildPkcs12({ key: leafKey, certs, password: 'pässword 1', friendlyName: 'p', profile: 'legacy' });
  const asn1 = forge.asn1.fromDer(forge.util.createBuffer(p12.toString('binary')));
  const parsed = forge.pkcs12.pkcs12FromAsn1(asn1, true, 'pässword 1');
  const keyBags = parsed.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag! })[forge.pki.oids.pkcs8ShroudedKeyBag!] ?? [];
  const certBags = parsed.getBags({ bagType: forge.pki.oids.certBag! })[forge.pki.oids.certBag!] ?? [];
  assert.equal(keyBags.length, 1);
  assert.equal(certBags.length, 2);
  const key = keyBags[0]!.key as forge.pki.rsa.PrivateKey;
  const exported = leafKey.export({ format: 'jwk' });
  assert.equal(key.n.toString(16), Buffer.from(exported.n!, 'base64url').toString('hex').replace(/^0+/, ''));
  assert.throws(() => forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(forge.util.createBuffer(p12.toString('binary'))), true, 'wrong'), /MAC could not be verified|Invalid password/);
});
