import assert from 'node:assert/strict';
import { isSuiteName } from '../../src/srtp/suites.js';
import type { RenderContext, RenderedFile, VendorModule } from '../../src/vendors/types.js';
import { checkGolden, type GoldenFile } from './golden-files.js';

/**
 * Checks every softphone / test-client module must pass, whatever its
 * format: descriptor facts are complete, holdsKey is set exactly on the
 * files with key material, paths are clean, and neither the instructions
 * nor any status text leak the secret or the key.
 */

export function checkDescriptor(vendor: VendorModule, id: string, kind: 'softphone' | 'test-client'): void {
  const d = vendor.descriptor;
  assert.equal(d.id, id);
  assert.equal(d.kind, kind);
  assert.equal(d.macRequired, false, 'softphones are provisioned by name');
  assert.ok(d.transports.length > 0);
  assert.ok(d.certDelivery.length > 0);
  assert.ok(d.srtp.suites.length > 0);
  for (const s of d.srtp.suites) assert.ok(isSuiteName(s), `unknown suite ${s}`);
  assert.equal(new Set(d.srtp.suites).size, d.srtp.suites.length, 'suites repeat');
  assert.ok(d.quirks.length > 0);
  for (const q of d.quirks) {
    assert.ok(q.text.length > 10 && q.source.length > 3, `quirk without text or source: ${JSON.stringify(q)}`);
    assert.ok(['verified', 'community', 'unverified'].includes(q.confidence));
  }
}

/** Key material: PEM private keys, or a PKCS#12 (binary; it holds the key by definition). */
export function holdsKeyMaterial(f: RenderedFile): boolean {
  return f.content.toString('latin1').includes('PRIVATE KEY') || f.path.endsWith('.p12');
}

export function checkFiles(vendor: VendorModule, ctx: RenderContext, files: RenderedFile[]): void {
  const id = vendor.descriptor.id;
  const served = files.filter((f) => !f.localOnly);
  const local = files.filter((f) => f.localOnly);
  assert.ok(served.length > 0, 'nothing served');
  if (ctx.localDir === undefined) assert.equal(local.length, 0, 'local-only files without a ready directory');
  const paths = served.map((f) => f.path.toLowerCase());
  assert.equal(new Set(paths).size, paths.length, 'two served files share a path');
  for (const f of files) {
    assert.ok(!f.path.startsWith('/') && !f.path.split('/').includes('..') && f.path.length > 0, `bad path ${f.path}`);
    assert.equal(f.holdsKey, holdsKeyMaterial(f), `${f.path}: holdsKey=${f.holdsKey} but key material ${holdsKeyMaterial(f) ? 'present' : 'absent'}`);
    assert.ok(f.contentType.length > 0);
    assert.equal(f.phone, ctx.phone.name, `${f.path} has no owner`);
    if (!f.localOnly) assert.ok(f.path.startsWith(`${id}/`), `${f.path} is outside ${id}/`);
    else assert.ok(!f.path.includes('/'), `ready-directory file ${f.path} is not a plain name`);
  }
}

/** Instructions never carry the secret or key material; every served URL they name exists. */
export function checkInstructions(vendor: VendorModule, ctx: RenderContext, files: RenderedFile[]): string[] {
  const lines = vendor.instructions?.(ctx) ?? [];
  assert.ok(lines.length > 0, 'no instructions');
  const keyBody = ctx.pem.key.split('\n')[1] ?? 'never';
  for (const l of lines) {
    assert.ok(!l.includes(ctx.phone.secret), `instructions print the secret: ${l}`);
    assert.ok(!l.includes('PRIVATE KEY') && !l.includes(keyBody), 'instructions print key material');
  }
  const routes = files.filter((f) => !f.localOnly).map((f) => f.path);
  const urlRe = new RegExp(`${ctx.provisioningUrl.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([^\\s)]*)`, 'g');
  for (const l of lines) {
    for (const m of l.matchAll(urlRe)) {
      const rel = m[1]!.replace(/[.,;:]+$/, '');
      const brace = /^(.*)\{([^}]*)\}$/.exec(rel);
      const wanted = brace ? brace[2]!.split(',').map((n) => `${brace[1]}${n}`) : [rel];
      for (const w of wanted) {
        if (w.endsWith('/')) assert.ok(routes.some((r) => r.startsWith(w)), `instructions name ${w} but no file is served under it`);
        else assert.ok(routes.includes(w), `instructions name ${w} but it is not served (${routes.join(', ')})`);
      }
    }
  }
  return lines;
}

/** Golden files of one case: served files by route path, ready-directory files under ready/, instructions. */
export function goldenCase(vendor: VendorModule, caseName: string, ctx: RenderContext, files: RenderedFile[]): void {
  const golden: GoldenFile[] = files.map((f) => ({ name: f.localOnly ? `ready/${f.path}` : `served/${f.path}`, content: f.content }));
  const instructions = vendor.instructions?.(ctx) ?? [];
  golden.push({ name: 'instructions.txt', content: instructions.join('\n') + '\n' });
  checkGolden(vendor.descriptor.id, caseName, golden);
}

export function fileNamed(files: RenderedFile[], p: string, local = false): RenderedFile {
  const f = files.find((x) => x.path === p && (x.localOnly === true) === local);
  assert.ok(f, `no ${local ? 'ready-directory' : 'served'} file ${p} in ${files.map((x) => x.path).join(', ')}`);
  return f;
}

export function text(f: RenderedFile): string {
  return f.content.toString('utf8');
}
