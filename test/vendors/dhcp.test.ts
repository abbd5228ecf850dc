import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SipsecError } from '../../src/core/errors.js';
import type { Phone } from '../../src/home/schema.js';
import { dhcpSnippets, dhcpVendorIds } from '../../src/provision/dhcp.js';
import { vendorIds } from '../../src/vendors/registry.js';
import { FIXTURE_PHONE } from './fixture.js';

const addrs = { tftpServer: '10.0.1.133', provisioningUrl: 'https://pbx.mycompany.com/provision/' };
const phone = (name: string, vendor: string, mac?: string): Phone => ({ ...FIXTURE_PHONE, name, vendor, mac });
const inventory = [phone('telefono1', 'aastra', '00085d123456'), phone('spa', 'cisco-spa', '000e08aabbcc'), phone('soft', 'baresip')];

describe('sipsec dhcp (library)', () => {
  test('covers exactly the hardware vendors', () => {
    assert.deepEqual(dhcpVendorIds(), ['aastra', 'cisco-spa', 'grandstream', 'polycom', 'snom', 'yealink']);
    for (const id of dhcpVendorIds()) assert.ok(vendorIds().includes(id), `${id} is not a registered vendor`);
  });

  test('dnsmasq: per-MAC tags for the inventory\'s phones, the options each vendor reads', () => {
    const r = dhcpSnippets(addrs, inventory, { format: 'dnsmasq' });
    assert.deepEqual(
      r.vendors.map((v) => v.vendor),
      ['aastra', 'cisco-spa'],
    );
    assert.deepEqual(r.global, []);
    const lines = r.text.split('\n');
    const host = lines.indexOf('dhcp-host=00:08:5d:12:34:56,set:sipsec-aastra');
    assert.ok(host > 0 && lines[host - 1] === '# telefono1');
    assert.ok(lines.includes('dhcp-option=tag:sipsec-aastra,66,"10.0.1.133"'));
    assert.ok(lines.includes('dhcp-option=tag:sipsec-cisco-spa,66,"10.0.1.133"'));
    assert.ok(lines.includes('dhcp-option=tag:sipsec-cisco-spa,150,10.0.1.133'));
    // Every line is a comment, blank, or a dnsmasq directive.
    for (const l of lines) assert.match(l, /^(#.*|dhcp-host=[0-9a-f:]{17},set:sipsec-[a-z-]+|dhcp-option=(tag:sipsec-[a-z-]+,)?\d+,\S+|)$/, l);
  });

  test('no phones: every hardware vendor, subnet-wide, one value per option code', () => {
    const r = dhcpSnippets(addrs, [], { format: 'dnsmasq' });
    assert.deepEqual(
      r.global.map((o) => o.code),
      [66, 67, 150, 160],
    );
    assert.equal(r.global.find((o) => o.code === 66)?.value, '10.0.1.133');
    // Snom's 66 is a URL and conflicts with the TFTP host the others want: reported, not silently merged.
    assert.ok(r.notes.some((n) => /snom wants option 66/.test(n)));
  });

  test('HTTPS provisioning: URL options point at TFTP for the first boot (the phone has no CA yet)', () => {
    const polycom = dhcpSnippets(addrs, [], { vendor: 'polycom' });
    assert.equal(polycom.global.find((o) => o.code === 160)?.value, 'tftp://10.0.1.133/');
    assert.ok(polycom.notes.some((n) => /HTTPS/.test(n)));
    const http = dhcpSnippets({ ...addrs, provisioningUrl: 'http://10.0.1.133:8080/prov/' }, [], { vendor: 'polycom' });
    assert.equal(http.global.find((o) => o.code === 160)?.value, 'http://10.0.1.133:8080/prov/');
    const snom = dhcpSnippets({ ...addrs, provisioningUrl: 'http://10.0.1.133:8080/prov/' }, [phone('s', 'snom', '000413a1b2c3')], { vendor: 'snom' });
    assert.deepEqual(
      snom.vendors[0]!.options.map((o) => [o.code, o.value]),
      [
        [66, 'http://10.0.1.133:8080'],
        [67, 'prov/{mac}.xml'],
      ],
    );
    // Only TFTP-host vendors: no note about URLs.
    assert.ok(!dhcpSnippets(addrs, [], { vendor: 'aastra' }).notes.some((n) => /HTTPS/.test(n)));
  });

  test('option 150 needs an IPv4 address; a TFTP port cannot be sent', () => {
    const named = dhcpSnippets({ ...addrs, tftpServer: 'tftp.mycompany.com' }, [], { vendor: 'cisco-spa' });
    assert.deepEqual(
      named.global.map((o) => o.code),
      [66],
    );
    assert.ok(named.notes.some((n) => /option 150 left out/.test(n)));
    const port = dhcpSnippets({ ...addrs, tftpServer: '10.0.1.133:6969' }, [], { vendor: 'aastra' });
    assert.equal(port.global[0]!.value, '10.0.1.133');
    assert.ok(port.notes.some((n) => /port 6969/.test(n)));
  });

  test('ISC dhcpd: option definitions for 150/160, host blocks per phone', () => {
    const r = dhcpSnippets(addrs, [...inventory, phone('vvx', 'polycom', '0004f2123456')], { format: 'isc' });
    assert.match(r.text, /^option cisco-tftp-servers code 150 = array of ip-address;$/m);
    assert.match(r.text, /^option polycom-boot-server code 160 = text;$/m);
    assert.match(r.text, /host sipsec-spa \{\n {2}hardware ethernet 00:0e:08:aa:bb:cc;\n {2}option tftp-server-name "10\.0\.1\.133";\n {2}option cisco-tftp-servers 10\.0\.1\.133;\n\}/);
    assert.match(r.text, /host sipsec-vvx \{\n {2}hardware ethernet 00:04:f2:12:34:56;\n {2}option polycom-boot-server "tftp:\/\/10\.0\.1\.133\/";/);
    // Braces balance.
    assert.equal((r.text.match(/\{/g) ?? []).length, (r.text.match(/\}/g) ?? []).length);
  });

  test('Kea: valid JSON; 150/160 as raw hex that decodes to the values', () => {
    const r = dhcpSnippets(addrs, [phone('vvx', 'polycom', '0004f2123456'), phone('spa', 'cisco-spa', '000e08aabbcc')], { format: 'kea' });
    const json = JSON.parse(r.text) as { Dhcp4: { reservations: Array<{ 'hw-address': string; 'option-data': Array<{ name?: string; code?: number; data: string }> }> } };
    const byMac = new Map(json.Dhcp4.reservations.map((x) => [x['hw-address'], x['option-data']]));
    const vvx = byMac.get('00:04:f2:12:34:56')!;
    assert.equal(Buffer.from(vvx.find((o) => o.code === 160)!.data, 'hex').toString(), 'tftp://10.0.1.133/');
    assert.equal(vvx.find((o) => o.name === 'tftp-server-name')!.data, '10.0.1.133');
    const spa = byMac.get('00:0e:08:aa:bb:cc')!;
    assert.deepEqual([...Buffer.from(spa.find((o) => o.code === 150)!.data, 'hex')], [10, 0, 1, 133]);
  });

  test('unknown vendors and softphones are refused with a SipsecError', () => {
    assert.throws(
      () => dhcpSnippets(addrs, [], { vendor: 'nokia' }),
      (e: unknown) => e instanceof SipsecError && e.code === 'UNKNOWN_VENDOR' && /choose one of: aastra/.test(e.hint ?? ''),
    );
    const soft = vendorIds().find((id) => !dhcpVendorIds().includes(id));
    if (soft !== undefined) {
      assert.throws(
        () => dhcpSnippets(addrs, [], { vendor: soft }),
        (e: unknown) => e instanceof SipsecError && e.code === 'UNSUPPORTED',
      );
    }
  });
});
