import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadVendor } from '../../src/vendors/registry.js';
import type { RenderContext } from '../../src/vendors/types.js';
import { fixtureContextFor } from './fixture.js';
import { checkDescriptor, checkFiles, checkInstructions, fileNamed, goldenCase, text } from './client-checks.js';
import { assertWellFormedXml } from './wellformed.js';

const vendor = await loadVendor('zoiper');

const cases: Array<{ name: string; ctx: () => RenderContext }> = [
  { name: 'default', ctx: () => fixtureContextFor(vendor) },
  { name: 'cert-dir-windows', ctx: () => fixtureContextFor(vendor, { phone: { srtp: 'off', options: { cert_dir: 'C:\\Users\\ana\\Zoiper5', protocol_suite: 'tlsv1_3' } } }) },
  { name: 'cert-dir-unix', ctx: () => fixtureContextFor(vendor, { registrar: { host: '10.0.1.133', port: 5061 }, phone: { options: { cert_dir: '/home/ana/.Zoiper5/' } } }) },
];

function element(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
}

test('zoiper: descriptor facts are complete; AES-256 is what it offers first', () => {
  checkDescriptor(vendor, 'zoiper', 'softphone');
  assert.equal(vendor.descriptor.srtp.suites[0], 'AES_256_CM_HMAC_SHA1_80');
});

for (const c of cases) {
  test(`zoiper: ${c.name} renders its golden files and well-formed Config.xml`, () => {
    const ctx = c.ctx();
    const files = vendor.renderPhone(ctx);
    checkFiles(vendor, ctx, files);
    const xml = text(fileNamed(files, 'zoiper/telefono1/Config.xml'));
    assert.equal(assertWellFormedXml(xml), 'options');
    checkInstructions(vendor, ctx, files);
    goldenCase(vendor, c.name, ctx, files);
  });
}

test('zoiper: account over TLS with SDES, registrar as outbound proxy, TLS 1.2 by default', () => {
  for (const [mode, srtp] of [['mandatory', 'sdes'], ['optional', 'sdes'], ['off', 'none']] as const) {
    const xml = text(fileNamed(vendor.renderPhone(fixtureContextFor(vendor, { phone: { srtp: mode } })), 'zoiper/telefono1/Config.xml'));
    assert.equal(element(xml, 'SIP_transport_type'), 'tls');
    assert.equal(element(xml, 'SIP_srtp_mode'), srtp);
    assert.equal(element(xml, 'SIP_domain'), 'pbx.mycompany.com');
    assert.equal(element(xml, 'SIP_use_outbound_proxy'), 'true');
    assert.equal(element(xml, 'SIP_outbound_proxy'), 'pbx.mycompany.com:5061');
    assert.equal(element(xml, 'protocol_suite'), 'tlsv1_2');
  }
});

test('zoiper: certificate options name the files where cert_dir says, and only then is the key served', () => {
  const plain = vendor.renderPhone(fixtureContextFor(vendor));
  assert.ok(!plain.some((f) => f.holdsKey), 'no key without a place for it');
  assert.equal(element(text(fileNamed(plain, 'zoiper/telefono1/Config.xml')), 'tls_certificate_file'), undefined);
  const win = vendor.renderPhone(fixtureContextFor(vendor, { phone: { options: { cert_dir: 'C:\\Users\\ana\\Zoiper5' } } }));
  const xml = text(fileNamed(win, 'zoiper/telefono1/Config.xml'));
  assert.equal(element(xml, 'tls_certificate_file'), 'C:\\Users\\ana\\Zoiper5\\telefono1.pem');
  assert.equal(element(xml, 'domain_certificate_file'), 'C:\\Users\\ana\\Zoiper5\\ca.crt');
  // The names the config uses are files sipsec serves next to it.
  fileNamed(win, 'zoiper/telefono1/telefono1.pem');
  fileNamed(win, 'zoiper/telefono1/ca.crt');
  assert.equal(vendor.optionsSchema.safeParse({ cert_dir: 'bad"dir' }).success, false);
  assert.equal(vendor.optionsSchema.safeParse({ protocol_suite: 'sslv3' }).success, false);
});
