import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePhoneSheet } from '../../src/inventory/import.js';
import { findConflicts, validatePhone } from '../../src/inventory/phones.js';
import { MAX_PHONES, phoneSheet, VENDOR_MIX } from '../../bench/lib/fleet-csv.js';

// The fleet bench builds its homes from this sheet: every row must be a phone `phone import` accepts, and none may clash.
test('the fleet sheet is a valid import: every vendor, unique names, MACs and extensions', async () => {
  const count = 2 * VENDOR_MIX.length * 50;
  const sheet = await parsePhoneSheet(phoneSheet(count), 'fleet.csv');
  assert.equal(sheet.rows.length, count);
  assert.deepEqual(sheet.warnings, []);
  const now = new Date();
  const phones = [];
  for (const row of sheet.rows) phones.push((await validatePhone(row.input, { key: 'p256', days: 825, now })).phone);
  assert.deepEqual(new Set(phones.map((p) => p.vendor)), new Set(VENDOR_MIX.map(([v]) => v)));
  assert.equal(new Set(phones.map((p) => p.name)).size, count);
  const macs = phones.flatMap((p) => (p.mac ? [p.mac] : []));
  assert.equal(macs.length, (count / VENDOR_MIX.length) * VENDOR_MIX.filter(([, mac]) => mac(0) !== '').length);
  assert.equal(new Set(macs).size, macs.length);
  assert.deepEqual(findConflicts(phones, { phones: [], certificates: [] }), []);
});

test('the fleet sheet refuses a size its MACs cannot keep unique', () => {
  assert.throws(() => phoneSheet(MAX_PHONES + 1), /give 0 to/);
  assert.throws(() => phoneSheet(-1), /give 0 to/);
});
