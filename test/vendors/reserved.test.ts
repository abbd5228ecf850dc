import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadAllVendors } from '../../src/vendors/registry.js';
import { mayBeReserved, nameClash, reservedSegments } from '../../src/vendors/reserved.js';

/**
 * A reserved segment with each placeholder filled the way least likely to
 * pass mayBeReserved: a MAC is always 12 hex digits, but a model or
 * firmware placeholder gets 'z' (no dot, breaks any run of hex digits).
 */
function hardestName(segment: string): string {
  return segment.replace(/<(MAC|mac)>/g, '00085d123456').replace(/<[A-Za-z]+>/g, 'z');
}

test("every vendor's reserved names pass the quick check, so skipping the full one never lets a clash through", async () => {
  for (const vendor of await loadAllVendors()) {
    for (const segment of reservedSegments(vendor)) {
      const name = hardestName(segment);
      assert.ok(await nameClash(name), `${vendor.descriptor.id}: '${name}' (from '${segment}') is reserved`);
      assert.equal(mayBeReserved(name), true, `${vendor.descriptor.id}: '${name}' (from '${segment}') holds no '.', no MAC and is not a vendor id: widen mayBeReserved`);
    }
  }
});

test('the quick check lets ordinary names through without loading a vendor, and keeps file-like names for the full check', () => {
  for (const name of ['x1', 'p5', 'desk-101', 'telefono1', 'lobby', 'baresip1']) assert.equal(mayBeReserved(name), false, name);
  for (const name of ['alice.smith', 'Baresip', 'cisco-spa', 'cfg000b82123456', '00085D123456']) assert.equal(mayBeReserved(name), true, name);
});
