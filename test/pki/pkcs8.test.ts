import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import { KEY_SPECS, generateLeafKey, legacyPrivateKeyPem, privateKeyPem } from '../../src/pki/keys.js';
import { legacyPemFromPkcs8, pkcs8KeyType } from '../../src/pki/pkcs8.js';

/**
 * The traditional key forms made by re-wrapping the PKCS#8 DER must be
 * exactly what OpenSSL exports (the vendors' files and their sizes in
 * `provision routes` depend on it), for every key type sipsec issues.
 */

test('legacy key PEM from PKCS#8 without OpenSSL: identical to OpenSSL\'s pkcs1/sec1 export for every key type', { timeout: 300_000 }, async () => {
  for (const spec of KEY_SPECS) {
    // EC keys are cheap: enough of them to meet every length of the private scalar's encoding.
    const count = spec.startsWith('rsa') ? 2 : 40;
    for (let i = 0; i < count; i++) {
      const { pem, kind } = await generateLeafKey(spec);
      const openssl = legacyPrivateKeyPem(createPrivateKey(pem));
      assert.equal(legacyPemFromPkcs8(pem), openssl, `${spec} #${i}`);
      assert.equal(pkcs8KeyType(pem), kind, `${spec} #${i}: type`);
    }
  }
});

test('a key not laid out as sipsec writes it is left to OpenSSL (undefined)', async () => {
  const { pem } = await generateLeafKey('p256');
  const key = createPrivateKey(pem);
  assert.equal(legacyPemFromPkcs8(privateKeyPem(key, 'secret')), undefined, 'encrypted');
  assert.equal(legacyPemFromPkcs8(legacyPrivateKeyPem(key)), undefined, 'already SEC1');
  assert.equal(legacyPemFromPkcs8('-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n'), undefined, 'truncated');
  assert.equal(pkcs8KeyType('not a key'), undefined);
  const ed = createPrivateKey({ key: Buffer.from('302e020100300506032b657004220420' + '11'.repeat(32), 'hex'), format: 'der', type: 'pkcs8' });
  assert.equal(legacyPemFromPkcs8(ed.export({ type: 'pkcs8', format: 'pem' }) as string), undefined, 'Ed25519');
});
