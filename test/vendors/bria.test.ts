import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { loadVendor } from '../../src/vendors/registry.js';
import { phoneContext } from '../../src/provision/context.js';
import type { RenderContext } from '../../src/vendors/types.js';
import { requirePeer } from '../helpers/peers.js';
import { fixtureContextFor } from './fixture.js';
import { checkDescriptor, checkFiles, checkInstructions, fileNamed, goldenCase, text } from './client-checks.js';
import { addTestPhones, tempCa } from '../helpers/ca-home.js';

const vendor = await loadVendor('bria');

const cases: Array<{ name: string; ctx: () => RenderContext }> = [
  { name: 'default', ctx: () => fixtureContextFor(vendor) },
  { name: 'line2-srtp-off-ip-registrar', ctx: () => fixtureContextFor(vendor, { registrar: { host: '10.0.1.133', port: 5061 }, phone: { line: 2, srtp: 'off', displayName: undefined } }) },
];

/** Bria's response format: [DATA] then [SETTINGS] (then [##MEMORY##]), `key="value"` settings, CRLF everywhere (BRIA-PROV). */
function parseBria(raw: string): { data: Map<string, string>; settings: Map<string, string> } {
  assert.ok(raw.endsWith('\r\n'), 'the response must end with CRLF, or Bria ignores the last line');
  assert.ok(!/[^\r]\n/.test(raw), 'every line ends with CRLF');
  const lines = raw.slice(0, -2).split('\r\n');
  const order: string[] = [];
  const data = new Map<string, string>();
  const settings = new Map<string, string>();
  let current: Map<string, string> | undefined;
  for (const l of lines) {
    const sec = /^\[(DATA|SETTINGS|##MEMORY##)\]$/.exec(l);
    if (sec) {
      order.push(sec[1]!);
      current = sec[1] === 'DATA' ? data : settings;
      continue;
    }
    assert.ok(current, `setting before a section: ${l}`);
    const kv = current === data ? /^([A-Za-z]+)=(.*)$/.exec(l) : /^([a-z_0-9]+(?::[a-z_0-9]+)+)="([^"]*)"$/.exec(l);
    assert.ok(kv, `malformed line: ${l}`);
    assert.ok(!current.has(kv[1]!), `${kv[1]} set twice`);
    current.set(kv[1]!, kv[2]!);
  }
  assert.deepEqual(order, ['DATA', 'SETTINGS'].slice(0, order.length), `sections out of order: ${order.join(', ')}`);
  return { data, settings };
}

test('bria: descriptor facts are complete', () => {
  checkDescriptor(vendor, 'bria', 'softphone');
  assert.ok(vendor.descriptor.certDelivery.includes('os-store'));
});

for (const c of cases) {
  test(`bria: ${c.name} renders its golden files and a well-formed login response`, () => {
    const ctx = c.ctx();
    const files = vendor.renderPhone(ctx);
    checkFiles(vendor, ctx, files);
    parseBria(text(fileNamed(files, 'bria/telefono1.ini')));
    checkInstructions(vendor, ctx, files);
    goldenCase(vendor, c.name, ctx, files);
  });
}

test('bria: the login response carries the account with TLS and SRTP per mode', () => {
  for (const [mode, srtp] of [['mandatory', 'true'], ['optional', 'true'], ['off', 'false']] as const) {
    const { data, settings } = parseBria(text(fileNamed(vendor.renderPhone(fixtureContextFor(vendor, { phone: { srtp: mode } })), 'bria/telefono1.ini')));
    assert.equal(data.get('Success'), '1');
    assert.equal(settings.get('proxies:proxy0:username'), '101');
    assert.equal(settings.get('proxies:proxy0:password'), 'Fx7kQ2mZp9RtW4vYc8Hn3s');
    assert.equal(settings.get('proxies:proxy0:domain'), 'pbx.mycompany.com');
    assert.equal(settings.get('proxies:proxy0:transport'), 'TLS');
    assert.equal(settings.get('proxies:proxy0:security_outgoing_srtp'), srtp);
  }
});

test('bria: instructions say how to get the PKCS#12 password and to set the proxy when the registrar is not the domain', () => {
  const ctx = fixtureContextFor(vendor, { registrar: { host: '10.0.1.133', port: 5061 } });
  const lines = checkInstructions(vendor, ctx, vendor.renderPhone(ctx));
  assert.ok(lines.some((l) => l.includes('sipsec phone show telefono1 --show-secret')));
  assert.ok(lines.some((l) => l.includes('Proxy address 10.0.1.133:5061')));
  const same = fixtureContextFor(vendor);
  assert.ok(!checkInstructions(vendor, same, vendor.renderPhone(same)).some((l) => l.includes('Proxy address')));
});

test('bria (openssl): the PKCS#12 for the OS store opens with the SIP secret and holds key, certificate and CA', { timeout: 60_000 }, async () => {
  const openssl = requirePeer('openssl');
  const ca = await tempCa({ registrar: { host: 'pbx.test', port: 5061 } });
  try {
    await addTestPhones(ca.store, [{ name: 'softphone1', vendor: 'bria', ext: '103', secret: 'Str0ngSecret99' }]);
    const phone = ca.store.index.phones[0]!;
    const ctx = await phoneContext(ca.store, phone, vendor, undefined);
    const p12 = fileNamed(vendor.renderPhone(ctx), 'bria/softphone1/softphone1.p12');
    assert.equal(p12.holdsKey, true);
    const r = spawnSync(openssl, ['pkcs12', '-info', '-nodes', '-passin', 'pass:Str0ngSecret99'], { input: p12.content, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /BEGIN PRIVATE KEY/);
    assert.equal((r.stdout.match(/BEGIN CERTIFICATE/g) ?? []).length, 2, 'phone certificate and CA');
    // RSA keys get the legacy profile old key stores import: 3DES key bag, SHA-1 MAC.
    assert.match(r.stderr + r.stdout, /pbeWithSHA1And3-KeyTripleDES-CBC/);
    const wrong = spawnSync(openssl, ['pkcs12', '-info', '-nodes', '-passin', 'pass:wrong'], { input: p12.content, encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(wrong.status, 0);
  } finally {
    ca.cleanup();
  }
});
