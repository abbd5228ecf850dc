import assert from 'node:assert/strict';
import { makeTable, type Route } from '../../src/provision/routes.js';
import type { RenderContext, RenderedFile, SharedRenderContext, VendorModule } from '../../src/vendors/types.js';
import { fixtureContextFor, fixtureShared, type FixtureOverrides } from './fixture.js';
import { checkGolden } from './golden.js';

/**
 * Checks every hardware vendor module must pass, written from the brief
 * and vendors.md rather than from the modules' code.
 */

export interface Rendering {
  ctx: RenderContext;
  shared: SharedRenderContext;
  /** Shared files first, then the phone's. */
  files: RenderedFile[];
  phoneFiles: RenderedFile[];
  sharedFiles: RenderedFile[];
}

/** Render one fixture phone (and its vendor's shared files, from a shared context holding that phone). */
export function renderFixture(mod: VendorModule, overrides: FixtureOverrides = {}): Rendering {
  const ctx = fixtureContextFor(mod, overrides);
  const shared = fixtureShared({
    phones: [ctx.phone],
    domain: ctx.domain,
    org: ctx.org,
    registrar: ctx.registrar,
    provisioningUrl: ctx.provisioningUrl,
    tftpServer: ctx.tftpServer,
    ntp: ctx.ntp,
    caPem: ctx.pem.ca,
  });
  const sharedFiles = mod.renderShared?.(shared) ?? [];
  const phoneFiles = mod.renderPhone(ctx);
  return { ctx, shared, files: [...sharedFiles, ...phoneFiles], phoneFiles, sharedFiles };
}

export function byPath(files: RenderedFile[], p: string): RenderedFile {
  const f = files.find((x) => x.path === p);
  assert.ok(f, `no rendered file ${p} (have: ${files.map((x) => x.path).join(', ')})`);
  return f;
}

export const text = (f: RenderedFile): string => f.content.toString('utf8');

/** holdsKey is set on exactly the files that contain private key material. */
export function checkKeyFlags(files: RenderedFile[]): void {
  for (const f of files) {
    assert.equal(f.holdsKey, f.content.includes('PRIVATE KEY'), `${f.path}: holdsKey=${f.holdsKey} but the file ${f.content.includes('PRIVATE KEY') ? 'contains' : 'does not contain'} a private key`);
  }
}

/** Phone files name their owner; shared files name none and hold no key or secret. */
export function checkOwners(r: Rendering): void {
  for (const f of r.phoneFiles) assert.equal(f.phone, r.ctx.phone.name, `${f.path}: owner`);
  for (const f of r.sharedFiles) {
    assert.equal(f.phone, undefined, `${f.path}: a shared file has an owner`);
    assert.ok(!f.holdsKey && !f.content.includes('PRIVATE KEY'), `${f.path}: a shared file holds a key`);
    assert.ok(!f.content.includes(r.ctx.phone.secret), `${f.path}: a shared file holds a phone's SIP secret`);
  }
}

/** The rendered files as the route table would hold them (case-insensitive lookup, aliases). */
export function routeTable(mod: VendorModule, files: RenderedFile[]) {
  const routes: Route[] = files.map((f) => ({
    path: f.path,
    phone: f.phone,
    vendor: mod.descriptor.id,
    contentType: f.contentType,
    holdsKey: f.holdsKey,
    transports: f.transports ?? mod.descriptor.transports,
    content: f.content,
    aliases: f.aliases ?? [],
  }));
  return makeTable(routes);
}

/** Every referenced path is answered by the route table of the same rendering. */
export function checkRoutes(mod: VendorModule, files: RenderedFile[], refs: string[]): void {
  assert.ok(refs.length > 0, 'no references extracted: the check would prove nothing');
  const table = routeTable(mod, files);
  for (const ref of refs) assert.ok(table.lookup(ref), `referenced file '${ref}' is not a route of this rendering (${files.map((f) => f.path).join(', ')})`);
}

/** A URL under one of `bases` → the route path it names; fails for a URL elsewhere. */
export function urlToRoute(url: string, bases: string[]): string {
  const base = bases.find((b) => url.startsWith(b));
  assert.ok(base, `URL ${url} is not under ${bases.join(' or ')}`);
  return url.slice(base.length);
}

/** Nothing secret or key-like in the operator instructions. */
export function checkInstructions(mod: VendorModule, ctx: RenderContext): void {
  const lines = mod.instructions?.(ctx) ?? [];
  assert.ok(lines.length >= 1 && lines.length <= 3, 'one or two lines (three at most with a warning)');
  const all = lines.join('\n');
  assert.ok(!all.includes(ctx.phone.secret), 'the SIP secret is in the instructions');
  assert.ok(!/PRIVATE KEY|BEGIN CERTIFICATE/.test(all), 'PEM in the instructions');
  const keyBody = ctx.pem.key.split('\n')[1] ?? '';
  const legacyBody = ctx.pem.keyLegacy.split('\n')[1] ?? '';
  assert.ok(keyBody.length > 0 && !all.includes(keyBody.slice(0, 20)) && !all.includes(legacyBody.slice(0, 20)), 'key material in the instructions');
  for (const l of lines) assert.ok(!l.includes('\n'), 'an instruction line holds a line break');
}

/** Text of the non-PEM parts of the rendered files (PEM blocks, however escaped, removed). */
export function withoutPem(files: RenderedFile[]): string {
  return files
    .filter((f) => !f.contentType.includes('octet-stream'))
    .map((f) => text(f).replace(/-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----/g, '<pem>'))
    .join('\n');
}

/**
 * Render with entirely different addresses: none of the fixture's may
 * remain (nothing hard-coded), the new ones must appear.
 */
export function checkAddressesFromContext(mod: VendorModule, expectSeen: (r: Rendering) => string[]): void {
  const other: FixtureOverrides = {
    domain: 'voip.example.net',
    org: 'Other Org',
    registrar: { host: 'sip.example.net', port: 5071 },
    provisioningUrl: 'http://prov.example.net:8080/p/',
    tftpServer: '192.0.2.69',
    ntp: 'time.example.net',
  };
  const r = renderFixture(mod, other);
  const body = withoutPem(r.files);
  for (const old of ['pbx.mycompany.com', '10.0.1.133', '10.0.1.1', 'My Super Company', '5061']) {
    assert.ok(!body.includes(old), `fixture address '${old}' is still in the files rendered for other addresses: hard-coded?`);
  }
  for (const seen of expectSeen(r)) assert.ok(body.includes(seen), `'${seen}' missing from the files rendered for other addresses`);
}

/** Options given as strings are accepted and survive a second parse (stored options are parsed again). */
export function checkOptionsRoundTrip(mod: VendorModule, input: Record<string, string>): Record<string, unknown> {
  const once = mod.optionsSchema.parse(input);
  const twice = mod.optionsSchema.parse(once);
  assert.deepEqual(twice, once, 'options do not survive a second parse');
  for (const v of Object.values(once)) assert.ok(['string', 'number', 'boolean'].includes(typeof v), 'parsed options must be storable scalars');
  return once;
}

/** A bad option is refused with a message that names the problem. */
export function checkOptionRejected(mod: VendorModule, input: Record<string, unknown>, message: RegExp): void {
  const r = mod.optionsSchema.safeParse(input);
  assert.equal(r.success, false, `options ${JSON.stringify(input)} were accepted`);
  const messages = r.error!.issues.map((i) => i.message).join('; ');
  assert.match(messages, message);
}

/** File names that carry the MAC use the vendor's declared case (route lookup forgives, phones may not). */
export function checkMacCase(mod: VendorModule, files: RenderedFile[], mac: string): void {
  const expected = mod.descriptor.macCase === 'upper' ? mac.toUpperCase() : mac.toLowerCase();
  const carrying = files.filter((f) => f.path.toLowerCase().includes(mac.toLowerCase()));
  assert.ok(carrying.length > 0, 'no file is named by the MAC');
  for (const f of carrying) assert.ok(f.path.includes(expected), `${f.path}: MAC not in ${mod.descriptor.macCase} case`);
}

/** The descriptor is complete: every quirk cites a source. */
export function checkDescriptor(mod: VendorModule): void {
  const d = mod.descriptor;
  assert.equal(d.kind, 'hardware');
  assert.equal(d.macRequired, true);
  assert.notEqual(d.macCase, 'none');
  assert.ok(d.transports.length > 0 && d.bootFiles.length > 0 && d.srtp.suites.length > 0);
  assert.ok(d.quirks.length > 0);
  for (const q of d.quirks) assert.ok(q.text.length > 0 && q.source.length > 0, `quirk without a source: ${q.text}`);
  // vendors.md §9.1: answer with AES_CM_128_HMAC_SHA1_80 by default; never put a _32 suite first.
  assert.equal(d.srtp.suites[0], 'AES_CM_128_HMAC_SHA1_80');
}

export interface SuiteSpec {
  /** Golden set name (test/vendors/golden/<set>/). */
  golden: string;
  /** Fixture overrides for the default rendering (at least the MAC). */
  overrides: FixtureOverrides;
  /** Paths (route names) the rendering's configs refer to, extracted from the rendered content. */
  references: (r: Rendering) => string[];
  /** Strings that must appear when rendered for other addresses (registrar, NTP, ...). */
  addressesSeen: (r: Rendering) => string[];
  /** Structural check of every file (parse XML, key/value lines, binary layout...). */
  structure: (r: Rendering) => void;
}

/** The tests every hardware vendor gets; call inside describe(). */
export function hardwareSuite(mod: VendorModule, spec: SuiteSpec, t: (name: string, fn: () => void) => void): void {
  const r = () => renderFixture(mod, spec.overrides);
  t('renders the golden files', () => checkGolden(spec.golden, r().files));
  t('every file is well-formed for its format', () => spec.structure(r()));
  t('every file a config refers to is a route of the same rendering', () => {
    const x = r();
    checkRoutes(mod, x.files, spec.references(x));
  });
  t('holdsKey is set exactly on files with a private key', () => {
    checkKeyFlags(r().files);
    for (const srtp of ['optional', 'off'] as const) checkKeyFlags(renderFixture(mod, { ...spec.overrides, phone: { ...spec.overrides.phone, srtp } }).files);
  });
  t('phone files name their owner; shared files hold no key or secret', () => checkOwners(r()));
  t('MAC-named files use the vendor MAC case', () => checkMacCase(mod, r().files, r().ctx.phone.mac!));
  t('addresses come from the context, never hard-coded', () => checkAddressesFromContext(mod, spec.addressesSeen));
  t('instructions carry no secret or key', () => {
    checkInstructions(mod, r().ctx);
    checkInstructions(mod, renderFixture(mod, { ...spec.overrides, phone: { ...spec.overrides.phone, line: 2, displayName: 'Ünïcode & = %' } }).ctx);
  });
  t('descriptor is complete and cites its sources', () => checkDescriptor(mod));
  t('renders without NTP', () => {
    const x = renderFixture(mod, { ...spec.overrides, ntp: undefined });
    spec.structure(x);
    assert.doesNotMatch(withoutPem(x.files), /10\.0\.1\.1(?!\d)/, 'the fixture NTP server is still there');
    assert.match(withoutPem(r().files), /10\.0\.1\.1(?!\d)/, 'the fixture NTP server is missing with NTP set');
  });
  t('an unknown option is refused with the known ones listed', () => checkOptionRejected(mod, { no_such_option: '1' }, /unknown .*option 'no_such_option'; known: /));
  t('a phone without a MAC is refused with a clear error', () => {
    assert.throws(() => mod.renderPhone(fixtureContextFor(mod, { ...spec.overrides, phone: { ...spec.overrides.phone, mac: undefined } })), /no MAC address/);
  });
}
