import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { generateKey } from '../../src/pki/keys.js';
import { issueCertificate, signerFromCert } from '../../src/pki/certificate.js';
import { checkServerName } from '../../src/verify/identity.js';
import { parseTarget } from '../../src/verify/probe.js';

async function cert(cn: string, sans: { dns: string[]; ip: string[]; uri: string[] }) {
  const caKey = await generateKey('p256');
  const now = new Date();
  const later = new Date(now.getTime() + 86_400_000);
  const ca = await issueCertificate({ profile: 'ca', cn: 'CA', org: 'T', sans: { dns: [], ip: [], uri: [] }, subjectKey: caKey, notBefore: now, notAfter: later }, undefined);
  const leaf = await issueCertificate({ profile: 'server', cn, org: 'T', sans, subjectKey: await generateKey('p256'), notBefore: now, notAfter: later }, signerFromCert(ca.der, caKey, 'sha256'));
  return new X509Certificate(leaf.der);
}

test('server name checks as RFC 5922 phones do: IP SANs for addresses, sip: URI or DNS SANs for names, no wildcards', async () => {
  const c = await cert('pbx.mycompany.com', { dns: ['pbx.mycompany.com', '*.mycompany.com'], ip: ['10.0.1.133', '2001:db8::10'], uri: ['sip:mycompany.com'] });
  assert.equal(checkServerName(c, '10.0.1.133').ok, true);
  assert.equal(checkServerName(c, '2001:DB8:0::10').ok, true, 'IPv6 compared as addresses');
  assert.equal(checkServerName(c, 'mycompany.com').ok, true);
  assert.match(checkServerName(c, 'mycompany.com').detail, /SIP domain identity/);
  assert.equal(checkServerName(c, 'PBX.mycompany.com').ok, true);
  const ip = checkServerName(c, '10.0.1.134');
  assert.equal(ip.ok, false);
  assert.match(ip.detail, /^Certificate common name did not match \(10\.0\.1\.134\)/);
  const wild = checkServerName(c, 'other.mycompany.com');
  assert.equal(wild.ok, false);
  assert.match(wild.detail, /RFC 5922 §7\.2 forbids wildcards/);
  // The talk's failure: the IP only in the CN.
  const cnOnly = await cert('10.0.1.133', { dns: ['pbx.mycompany.com'], ip: [], uri: [] });
  const r = checkServerName(cnOnly, '10.0.1.133');
  assert.equal(r.ok, false);
  assert.match(r.detail, /it is only the CN/);
  // No SAN at all: the CN may be used.
  const legacy = await cert('pbx.mycompany.com', { dns: [], ip: [], uri: [] });
  assert.equal(checkServerName(legacy, 'pbx.mycompany.com').ok, true);
});

test('probe targets', () => {
  assert.deepEqual(parseTarget('sips:pbx.mycompany.com'), { scheme: 'sips', host: 'pbx.mycompany.com', port: 5061 });
  assert.deepEqual(parseTarget('sips:127.0.0.1:5071'), { scheme: 'sips', host: '127.0.0.1', port: 5071 });
  assert.deepEqual(parseTarget('sips:[::1]:5061'), { scheme: 'sips', host: '::1', port: 5061 });
  assert.throws(() => parseTarget('http://x'), /invalid target/);
});
