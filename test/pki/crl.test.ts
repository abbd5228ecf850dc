import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { x509 } from '../../src/pki/x509.js';
import { buildCrl, REVOCATION_REASONS, type RevokedEntry } from '../../src/pki/crl.js';
import { toPem } from '../../src/pki/pem.js';
import { run } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';
import { noPassphrase, tempCa } from '../helpers/ca-home.js';

/** RFC 5280 §5.3.1 codes as @peculiar/x509 reports them. */
const CODE: Record<string, number> = { keyCompromise: 1, cACompromise: 2, affiliationChanged: 3, superseded: 4, cessationOfOperation: 5, certificateHold: 6, privilegeWithdrawn: 9, aACompromise: 10 };

test('CRLs encoded by sipsec read back in @peculiar/x509 and openssl: signature, issuer, dates, number, AKI, every reason, high-bit and short serials, an empty list (RSA and EC CAs)', async () => {
  const openssl = requirePeer('openssl');
  for (const caKey of ['rsa2048', 'p256'] as const) {
    const ca = await tempCa({ registrar: { host: 'pbx.crl.test', port: 5061 }, caKey });
    try {
      const signer = await ca.store.signer(noPassphrase);
      const caCert = new X509Certificate(signer.certDer);
      const at = new Date('2026-12-01T10:00:00Z');
      const revoked: RevokedEntry[] = REVOCATION_REASONS.map((reason, i) => ({ serial: i === 0 ? 'ff01' : i === 1 ? '7' : `0a${i}b2c3d4e5f60718293a4b5c6d7e8f90`, revokedAt: new Date(at.getTime() + i * 60_000), reason }));
      for (const list of [revoked, []]) {
        const der = await buildCrl(signer, list, 4242n, at, new Date(at.getTime() + 30 * 86_400_000));
        const crl = new x509.X509Crl(der);
        assert.ok(await crl.verify({ publicKey: await new x509.X509Certificate(signer.certDer).publicKey.export() }), `${caKey}: signature`);
        assert.equal(crl.issuer, new x509.X509Certificate(signer.certDer).subject);
        assert.equal(crl.thisUpdate.toISOString(), at.toISOString());
        assert.equal(crl.entries.length, list.length);
        for (const [i, e] of crl.entries.entries()) {
          const want = list[i]!;
          assert.equal(BigInt(`0x${e.serialNumber}`), BigInt(`0x${want.serial}`));
          assert.equal(e.revocationDate.toISOString(), want.revokedAt.toISOString());
          // "unspecified" is left out, as RFC 5280 asks.
          assert.equal(e.reason, want.reason === 'unspecified' ? undefined : CODE[want.reason]);
        }
        const number = crl.getExtension('2.5.29.20');
        assert.ok(number, 'cRLNumber present');
        const aki = crl.getExtension(x509.AuthorityKeyIdentifierExtension);
        assert.equal(aki?.keyId, signer.keyId);
        // openssl: parses, verifies the signature against the CA, prints the number.
        const dir = ca.home;
        writeFileSync(path.join(dir, 'test.crl'), toPem('X509 CRL', der));
        writeFileSync(path.join(dir, 'test-ca.pem'), caCert.toString());
        const r = run(openssl, ['crl', '-in', path.join(dir, 'test.crl'), '-CAfile', path.join(dir, 'test-ca.pem'), '-noout', '-text']);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr + r.stdout, /verify OK/);
        assert.match(r.stdout, /X509v3 CRL Number: \n\s+4242/);
        assert.equal((r.stdout.match(/Serial Number:/g) ?? []).length, list.length);
        if (list.length > 0) assert.match(r.stdout, /Key Compromise/);
        else assert.match(r.stdout, /No Revoked Certificates/);
      }
    } finally {
      ca.cleanup();
    }
  }
});
