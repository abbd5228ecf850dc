import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { loadVendor } from '../../src/vendors/registry.js';
import { phoneContext } from '../../src/provision/context.js';
import type { RenderContext } from '../../src/vendors/types.js';
import { requirePeer } from '../helpers/peers.js';
import { fixtureContextFor } from './fixture.js';
import { checkDescriptor, checkFiles, checkInstructions, fileNamed, goldenCase, text } from './client-checks.js';
import { addTestPhones, tempCa } from '../helpers/ca-home.js';

const vendor = await loadVendor('blink');

/** What BLINK accounts.py `_create_sip_account` reads from the enrollment answer. */
const EnrollmentSchema = z.strictObject({
  success: z.literal(true),
  sip_address: z.string().regex(/^[^@\s]+@[^@\s]+$/),
  outbound_proxy: z.string().regex(/;transport=tls$/),
  msrp_relay: z.null(),
  xcap_root: z.null(),
  conference_server: z.null(),
  settings_url: z.null(),
  passport: z.strictObject({ crt: z.string(), key: z.string(), ca: z.string() }),
});

const cases: Array<{ name: string; ctx: () => RenderContext }> = [
  { name: 'default', ctx: () => fixtureContextFor(vendor) },
  { name: 'optional-no-display-ipv6', ctx: () => fixtureContextFor(vendor, { registrar: { host: '2001:db8::5', port: 5061 }, phone: { srtp: 'optional', displayName: undefined } }) },
];

test('blink: descriptor facts are complete', () => {
  checkDescriptor(vendor, 'blink', 'softphone');
});

for (const c of cases) {
  test(`blink: ${c.name} renders its golden files; the enrollment answer is what Blink parses`, () => {
    const ctx = c.ctx();
    const files = vendor.renderPhone(ctx);
    checkFiles(vendor, ctx, files);
    const enrollment = EnrollmentSchema.parse(JSON.parse(text(fileNamed(files, 'blink/telefono1/enrollment.json'))));
    assert.equal(enrollment.sip_address, `${ctx.sipUser}@${ctx.domain}`);
    assert.equal(enrollment.passport.ca, ctx.pem.ca);
    const sheet = text(fileNamed(files, 'blink/telefono1/settings.txt'));
    assert.ok(!sheet.includes(ctx.phone.secret), 'the settings sheet never holds the secret');
    // Every file the sheet names is served next to it.
    for (const name of [`${enrollment.sip_address}.crt`, 'ca.crt', 'enrollment.json']) fileNamed(files, `blink/telefono1/${name}`);
    checkInstructions(vendor, ctx, files);
    goldenCase(vendor, c.name, ctx, files);
  });
}

test('blink: the passport is certificate then key in one PEM; ca.crt is the CA alone (sipsimple reads only the first)', () => {
  const ctx = fixtureContextFor(vendor);
  const files = vendor.renderPhone(ctx);
  const passport = text(fileNamed(files, 'blink/telefono1/101@pbx.mycompany.com.crt'));
  assert.ok(passport.indexOf('BEGIN CERTIFICATE') < passport.indexOf('BEGIN PRIVATE KEY'));
  assert.equal(passport, ctx.pem.cert + ctx.pem.key);
  const ca = text(fileNamed(files, 'blink/telefono1/ca.crt'));
  assert.equal((ca.match(/BEGIN CERTIFICATE/g) ?? []).length, 1);
});

test('blink (GnuTLS certtool): python-sipsimple\'s TLS library reads the passport\'s certificate and key', { timeout: 60_000 }, async () => {
  const certtool = requirePeer('certtool');
  const ca = await tempCa({ registrar: { host: 'pbx.test', port: 5061 } });
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sipsec-blink-'));
  try {
    await addTestPhones(ca.store, [{ name: 'softphone2', vendor: 'blink', ext: '104' }]);
    const ctx = await phoneContext(ca.store, ca.store.index.phones[0]!, vendor, undefined);
    const passport = fileNamed(vendor.renderPhone(ctx), 'blink/softphone2/104@pbx.test.crt');
    const file = path.join(dir, 'passport.crt');
    writeFileSync(file, passport.content, { mode: 0o600 });
    const key = spawnSync(certtool, ['--key-info', '--infile', file], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(key.status, 0, key.stderr);
    assert.match(key.stdout, /Public Key Algorithm: RSA/);
    const cert = spawnSync(certtool, ['--certificate-info', '--infile', file], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(cert.status, 0, cert.stderr);
    assert.match(cert.stdout, /CN=softphone2/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    ca.cleanup();
  }
});
