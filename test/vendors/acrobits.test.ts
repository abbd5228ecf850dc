import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadVendor } from '../../src/vendors/registry.js';
import type { RenderContext } from '../../src/vendors/types.js';
import { fixtureContextFor } from './fixture.js';
import { checkDescriptor, checkFiles, checkInstructions, fileNamed, goldenCase, text } from './client-checks.js';
import { assertWellFormedXml } from './wellformed.js';

const vendor = await loadVendor('acrobits');

const cases: Array<{ name: string; ctx: () => RenderContext }> = [
  { name: 'default', ctx: () => fixtureContextFor(vendor) },
  // A secret with XML-special characters that validatePhone allows (& < > " ' are refused, but ; = % are not).
  { name: 'sips-escaping', ctx: () => fixtureContextFor(vendor, { registrar: { host: '2001:db8::5', port: 5062 }, phone: { secret: 'a;b=c%d!e', displayName: undefined, options: { sips: 'yes' } } }) },
];

function element(xml: string, name: string): string | undefined {
  return new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1];
}

test('acrobits: descriptor facts are complete', () => {
  checkDescriptor(vendor, 'acrobits', 'softphone');
});

for (const c of cases) {
  test(`acrobits: ${c.name} renders its golden files and well-formed account XML`, () => {
    const ctx = c.ctx();
    const files = vendor.renderPhone(ctx);
    checkFiles(vendor, ctx, files);
    const xml = text(fileNamed(files, 'acrobits/telefono1.xml'));
    assert.equal(assertWellFormedXml(xml), 'account');
    assert.ok((element(xml, 'title') ?? '').length > 0, '<title> must not be empty (ACRO)');
    checkInstructions(vendor, ctx, files);
    goldenCase(vendor, c.name, ctx, files);
  });
}

test('acrobits: TLS transport keeps sip: URIs unless sips is asked for; host is the domain, proxy the registrar', () => {
  const xml = text(fileNamed(vendor.renderPhone(fixtureContextFor(vendor)), 'acrobits/telefono1.xml'));
  assert.equal(element(xml, 'transport'), 'tls+sip:');
  assert.equal(element(xml, 'host'), 'pbx.mycompany.com');
  assert.equal(element(xml, 'proxy'), 'pbx.mycompany.com:5061');
  assert.equal(element(xml, 'username'), '101');
  assert.equal(element(xml, 'password'), 'Fx7kQ2mZp9RtW4vYc8Hn3s');
  const sips = text(fileNamed(vendor.renderPhone(fixtureContextFor(vendor, { phone: { options: { sips: 'yes' } } })), 'acrobits/telefono1.xml'));
  assert.equal(element(sips, 'transport'), 'tls');
});

test('acrobits: SRTP is left to the person (keys unverified) and the instructions say so per mode', () => {
  for (const [mode, words] of [['mandatory', 'require it'], ['optional', 'turn on SRTP'], ['off', 'leave SRTP off']] as const) {
    const ctx = fixtureContextFor(vendor, { phone: { srtp: mode } });
    const lines = checkInstructions(vendor, ctx, vendor.renderPhone(ctx));
    assert.ok(lines.some((l) => l.includes(words)), `${mode}: ${lines.join(' | ')}`);
  }
});
