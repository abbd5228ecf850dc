import { test } from 'node:test';
import assert from 'node:assert/strict';
import { phoneContext, phoneContextDry } from '../../src/provision/context.js';
import { loadVendor, vendorIds } from '../../src/vendors/registry.js';
import type { RenderedFile } from '../../src/vendors/types.js';
import { addTestPhones, tempCa } from '../helpers/ca-home.js';

/** What serve learns from a render without key material: everything but the content. */
function shape(files: RenderedFile[]) {
  return files.map((f) => ({ path: f.path, aliases: f.aliases ?? [], contentType: f.contentType, holdsKey: f.holdsKey, transports: f.transports ?? null, localOnly: f.localOnly ?? false, phone: f.phone ?? null }));
}

const MACS: Record<string, string> = { aastra: '00085d', 'cisco-spa': 'e05fb9', grandstream: '000b82', polycom: '0004f2', snom: '000413', yealink: '805ec0' };

test('every vendor names its files, their types and whether they hold a key without reading the key: a render without key material has the same routes as the real one (RSA and EC keys)', { timeout: 120_000 }, async () => {
  for (const leafKey of ['p256', 'rsa2048'] as const) {
    const ca = await tempCa({ registrar: { host: 'pbx.dry.test', port: 5061 }, leafKey });
    try {
      const ids = vendorIds();
      await addTestPhones(
        ca.store,
        ids.map((id, i) => ({ name: `dry-${id}`, vendor: id, ext: String(300 + i), ...(MACS[id] ? { mac: `${MACS[id]}0000${(10 + i).toString(16).padStart(2, '0')}` } : {}), ips: [`10.0.9.${i + 1}`] })),
      );
      const caPem = await ca.store.caCertPem();
      for (const id of ids) {
        const vendor = await loadVendor(id);
        const phone = ca.store.phone(`dry-${id}`)!;
        const real = vendor.renderPhone(await phoneContext(ca.store, phone, vendor, undefined, caPem));
        const dry = vendor.renderPhone(phoneContextDry(ca.store, phone, vendor, caPem));
        assert.ok(real.length > 0, id);
        assert.deepEqual(shape(dry), shape(real), `${id} (${leafKey})`);
      }
    } finally {
      ca.cleanup();
    }
  }
});
