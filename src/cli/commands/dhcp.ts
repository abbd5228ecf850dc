import { Command, Option } from 'commander';
import { DHCP_FORMATS, dhcpForStore, dhcpVendorIds, type DhcpFormat } from '../../provision/dhcp.js';
import { openStore } from '../context.js';
import { note, out, printJson } from '../output.js';
import { macJson } from '../json.js';

export function register(program: Command): void {
  program
    .command('dhcp')
    .description('print DHCP options (66/67/150/160) that point phones at sipsec\'s TFTP/HTTP server, per vendor, scoped to the inventory\'s MACs, and reservations of their recorded addresses')
    .option('--vendor <vendor>', `only this vendor: ${dhcpVendorIds().join(', ')}`)
    .addOption(new Option('--format <format>', 'DHCP server syntax').choices(DHCP_FORMATS).default('dnsmasq'))
    .option('--json', 'print the options as JSON (data, not a config snippet)')
    .addHelpText(
      'after',
      `
Values come from the CA settings (sipsec ca config --tftp-server / --provisioning-url).
Phones in the inventory get per-MAC entries, with a reservation of their recorded IPv4 address
(sipsec's TFTP answers a phone's own files only from that address); vendors without phones get
subnet-wide options.

Examples:
  sipsec dhcp                                  # dnsmasq, every vendor in the inventory
  sipsec dhcp --vendor cisco-spa --format isc  # ISC dhcpd: option 66 + 150 for the SPA phones
  sipsec dhcp --vendor polycom --format kea    # Kea JSON fragment with option 160
  sipsec dhcp --format dnsmasq >> /etc/dnsmasq.d/sipsec.conf`,
    )
    .action(async (o: { vendor?: string; format: DhcpFormat; json?: boolean }, cmd: Command) => {
      const store = await openStore(cmd);
      const r = dhcpForStore(store, { ...(o.vendor !== undefined ? { vendor: o.vendor } : {}), format: o.format });
      if (o.json) {
        const { text: _text, ...data } = r;
        return printJson({ ...data, vendors: data.vendors.map((v) => ({ ...v, phones: v.phones.map((p) => ({ ...p, mac: macJson(p.mac) })) })) });
      }
      out(r.text);
      // JSON has no comments: say there why each option is there.
      if (r.format === 'kea') for (const v of r.vendors) note(v.why);
      for (const n of r.notes) note(`note: ${n}`);
    });
}
