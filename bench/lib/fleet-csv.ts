/**
 * A generated phone sheet for the import and fleet benchmarks: a mix of
 * every vendor, in the `phone import` CSV format. Phone i is `p<i>`, its
 * extension 1000 + i, its MAC the vendor's OUI followed by i + 1 in hex
 * (unique up to 16,777,214 phones); softphones have no MAC.
 */
export const VENDOR_MIX: ReadonlyArray<readonly [vendor: string, mac: (i: number) => string]> = [
  ['aastra', (i) => `00085d${hex(i)}`],
  ['cisco-spa', (i) => `000e08${hex(i)}`],
  ['grandstream', (i) => `000b82${hex(i)}`],
  ['yealink', (i) => `805ec0${hex(i)}`],
  ['polycom', (i) => `0004f2${hex(i)}`],
  ['snom', (i) => `000413${hex(i)}`],
  ['baresip', () => ''],
  ['linphone', () => ''],
  ['zoiper', () => ''],
  ['bria', () => ''],
  ['acrobits', () => ''],
  ['blink', () => ''],
];

/** The largest sheet the MAC scheme keeps unique (the low three octets, 000000 and ffffff left out). */
export const MAX_PHONES = 0xfffffe;

function hex(i: number): string {
  return (i + 1).toString(16).padStart(6, '0');
}

export interface SheetPhone {
  name: string;
  vendor: string;
  mac: string;
  ext: string;
}

/** Phone i of the sheet. */
export function sheetPhone(i: number): SheetPhone {
  const [vendor, mac] = VENDOR_MIX[i % VENDOR_MIX.length]!;
  return { name: `p${i}`, vendor, mac: mac(i), ext: String(1000 + i) };
}

/** The CSV text of phones 0 .. count-1, header row included. */
export function phoneSheet(count: number): string {
  if (!Number.isInteger(count) || count < 0 || count > MAX_PHONES) throw new Error(`phone sheet of ${count} phones: give 0 to ${MAX_PHONES}`);
  const rows = ['name,vendor,mac,ext'];
  for (let i = 0; i < count; i++) {
    const p = sheetPhone(i);
    rows.push(`${p.name},${p.vendor},${p.mac},${p.ext}`);
  }
  return rows.join('\n') + '\n';
}
