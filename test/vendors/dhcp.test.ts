import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { cleanup, run, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';
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
    // The recorded address is reserved: sipsec's TFTP answers a phone's files only from it.
    const host = lines.indexOf('dhcp-host=00:08:5d:12:34:56,set:sipsec-aastra,10.0.1.132');
    assert.ok(host > 0 && lines[host - 1] === '# telefono1');
    assert.ok(lines.includes('dhcp-option=tag:sipsec-aastra,66,"10.0.1.133"'));
    assert.ok(lines.includes('dhcp-option=tag:sipsec-cisco-spa,66,"10.0.1.133"'));
    assert.ok(lines.includes('dhcp-option=tag:sipsec-cisco-spa,150,10.0.1.133'));
    // Every line is a comment, blank, or a dnsmasq directive.
    for (const l of lines) assert.match(l, /^(#.*|dhcp-host=[0-9a-f:]{17},set:sipsec-[a-z-]+(,\d+\.\d+\.\d+\.\d+)?|dhcp-option=(tag:sipsec-[a-z-]+,)?\d+,\S+|)$/, l);
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
    assert.match(r.text, /host sipsec-spa \{\n {2}hardware ethernet 00:0e:08:aa:bb:cc;\n {2}fixed-address 10\.0\.1\.132;\n {2}option tftp-server-name "10\.0\.1\.133";\n {2}option cisco-tftp-servers 10\.0\.1\.133;\n\}/);
    assert.match(r.text, /host sipsec-vvx \{\n {2}hardware ethernet 00:04:f2:12:34:56;\n {2}fixed-address 10\.0\.1\.132;\n {2}option polycom-boot-server "tftp:\/\/10\.0\.1\.133\/";/);
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

  describe('reservations: MAC -> recorded IPv4 address', () => {
    const fleet = [
      { ...phone('a1', 'aastra', '00085d000001'), ips: ['10.0.1.21'] },
      { ...phone('a2', 'aastra', '00085d000002'), ips: ['2001:db8::22', '10.0.1.22', '10.0.1.122'] },
      { ...phone('a3', 'aastra', '00085d000003'), ips: [] },
      { ...phone('v6', 'yealink', '805ec0000004'), ips: ['2001:db8::24'] },
      { ...phone('spa', 'cisco-spa', '000e08000005'), ips: ['10.0.1.25'] },
      { ...phone('vvx', 'polycom', '0004f2000006'), ips: ['10.0.1.26'] },
    ];

    test('the first IPv4 address of each phone, as data and in every format; phones without one are named', () => {
      const r = dhcpSnippets(addrs, fleet, { format: 'dnsmasq' });
      assert.deepEqual(r.reservations, [
        { phone: 'a1', mac: '00:08:5d:00:00:01', ip: '10.0.1.21' },
        { phone: 'a2', mac: '00:08:5d:00:00:02', ip: '10.0.1.22' },
        { phone: 'spa', mac: '00:0e:08:00:00:05', ip: '10.0.1.25' },
        { phone: 'vvx', mac: '00:04:f2:00:00:06', ip: '10.0.1.26' },
      ]);
      assert.ok(r.text.split('\n').includes('dhcp-host=00:08:5d:00:00:03,set:sipsec-aastra'), 'a phone without an address is still tagged');
      assert.ok(r.notes.some((n) => /^a3 has no recorded IPv4 address: no reservation \(record .* sipsec phone edit a3 --ip ADDR\)$/.test(n)));
      assert.ok(r.notes.some((n) => /^v6 has no recorded IPv4 address/.test(n)));
      assert.ok(r.notes.some((n) => /^a2 has 2 IPv4 addresses; DHCP reserves one per MAC: 10\.0\.1\.22$/.test(n)));
      const isc = dhcpSnippets(addrs, fleet, { format: 'isc' }).text;
      assert.match(isc, /host sipsec-a1 \{\n {2}hardware ethernet 00:08:5d:00:00:01;\n {2}fixed-address 10\.0\.1\.21;/);
      assert.match(isc, /host sipsec-a3 \{\n {2}hardware ethernet 00:08:5d:00:00:03;\n {2}option/);
      const kea = JSON.parse(dhcpSnippets(addrs, fleet, { format: 'kea' }).text) as { Dhcp4: { reservations: Array<{ 'hw-address': string; 'ip-address'?: string }> } };
      assert.deepEqual(
        kea.Dhcp4.reservations.map((x) => [x['hw-address'], x['ip-address'] ?? null]),
        [
          ['00:08:5d:00:00:01', '10.0.1.21'],
          ['00:08:5d:00:00:02', '10.0.1.22'],
          ['00:08:5d:00:00:03', null],
          ['00:0e:08:00:00:05', '10.0.1.25'],
          ['00:04:f2:00:00:06', '10.0.1.26'],
          ['80:5e:c0:00:00:04', null],
        ],
      );
    });

    test('two phones recorded with one address: reported, since a DHCP server gives it to one MAC', () => {
      const r = dhcpSnippets(addrs, [fleet[0]!, { ...phone('a9', 'aastra', '00085d000009'), ips: ['10.0.1.21'] }]);
      assert.ok(r.notes.some((n) => /^a1 and a9 both have 10\.0\.1\.21/.test(n)), r.notes.join('\n'));
    });

    test('dnsmasq --test, dhcpd -t and kea-dhcp4 -t accept what sipsec prints', () => {
      const dir = tmpDir('sipsec-dhcp-');
      try {
        const checks: Array<{ format: 'dnsmasq' | 'isc' | 'kea'; file: string; cmd: string; args: (f: string) => string[] }> = [
          { format: 'dnsmasq', file: 'dnsmasq.conf', cmd: requirePeer('dnsmasq'), args: (f) => ['--test', '-C', f] },
          { format: 'isc', file: 'dhcpd.conf', cmd: requirePeer('dhcpd'), args: (f) => ['-t', '-cf', f] },
          { format: 'kea', file: 'kea-dhcp4.conf', cmd: requirePeer('kea-dhcp4'), args: (f) => ['-t', f] },
        ];
        for (const c of checks) {
          const file = path.join(dir, c.file);
          writeFileSync(file, dhcpSnippets(addrs, fleet, { format: c.format }).text);
          const r = run(c.cmd, c.args(file));
          assert.equal(r.code, 0, `${c.format}: ${r.stdout}${r.stderr}`);
        }
        // The checks are real: a broken reservation is refused by each.
        const broken: Record<string, string> = {
          // dnsmasq reads a bad address in dhcp-host as a host name: an unterminated option value is what it refuses.
          dnsmasq: 'dhcp-host=00:08:5d:00:00:01,set:x,10.0.1.21\ndhcp-option=tag:x,66,"10.0.1.133\n',
          isc: 'host x {\n  hardware ethernet 00:08:5d:00:00:01;\n  fixed-address 10.0.1;\n}\n',
          kea: '{ "Dhcp4": { "reservations": [ { "hw-address": "00:08:5d:00:00:01", "ip-address": "10.0.1" } ] } }\n',
        };
        for (const c of checks) {
          const file = path.join(dir, `broken-${c.file}`);
          writeFileSync(file, broken[c.format]!);
          assert.notEqual(run(c.cmd, c.args(file)).code, 0, `${c.format} accepted a broken file`);
        }
      } finally {
        cleanup(dir);
      }
    });
  });
});
