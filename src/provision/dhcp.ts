import { isIP } from 'node:net';
import { SipsecError } from '../core/errors.js';
import { formatMac } from '../pki/names.js';
import type { Phone } from '../home/schema.js';
import type { CaStore } from '../home/store.js';
import { isVendorId, vendorIds } from '../vendors/registry.js';
import { addresses } from './context.js';

/**
 * DHCP snippets that point phones at sipsec: which option each hardware
 * vendor reads, with the values taken from the CA config (never typed in),
 * scoped to the inventory's phones by MAC where there are any, printed for
 * dnsmasq, ISC dhcpd or Kea. Facts: anchors.md §B.2, vendors.md per vendor.
 *
 * First boot is always pointed at TFTP or plain HTTP: until a phone has
 * sipsec's CA it cannot check an HTTPS server signed by it, and some
 * (Cisco SPA, Aastra) trust only their built-in roots for HTTPS
 * provisioning (vendors.md §9.5).
 *
 * Each inventory phone with a MAC and a recorded IPv4 address also gets a
 * reservation (MAC -> that address): sipsec's TFTP server answers a phone's
 * own files only from its recorded address, so the phone must get it.
 */

export const DHCP_FORMATS = ['dnsmasq', 'isc', 'kea'] as const;
export type DhcpFormat = (typeof DHCP_FORMATS)[number];

export type DhcpCode = 66 | 67 | 150 | 160;

export interface DhcpOption {
  code: DhcpCode;
  /** The option's usual name (ISC/Kea spelling where one exists). */
  name: string;
  value: string;
  /** `ip`: a list of IPv4 addresses (150); `text`: a string. */
  type: 'text' | 'ip';
}

export interface DhcpPhone {
  name: string;
  mac: string;
  /** The recorded IPv4 address reserved for this MAC; null when the phone has none. */
  ip: string | null;
}

export interface DhcpVendorBlock {
  vendor: string;
  options: DhcpOption[];
  /** Phones of this vendor in the inventory (with a MAC): the options are scoped to them; `ip` is the address reserved for it. */
  phones: DhcpPhone[];
  /** Why these options, with the source. */
  why: string;
}

export interface DhcpResult {
  format: DhcpFormat;
  tftpServer: string;
  /** The URL phones that take a URL boot from (TFTP or HTTP, see above). */
  bootUrl: string;
  vendors: DhcpVendorBlock[];
  /** Options for every client of the subnet (vendors without phones in the inventory). */
  global: DhcpOption[];
  /** MAC -> recorded IPv4 address, for every phone printed that has one. */
  reservations: Array<{ phone: string; mac: string; ip: string }>;
  notes: string[];
  text: string;
}

interface Addresses {
  tftpServer: string;
  provisioningUrl: string;
}

interface VendorRule {
  why: string;
  /** Its options carry a URL (built from bootUrl), not just a TFTP host. */
  usesUrl: boolean;
  options: (a: ParsedAddresses) => DhcpOption[];
}

interface ParsedAddresses {
  tftpHost: string;
  tftpPort: number;
  bootUrl: URL;
  /** The provisioning URL was HTTPS and bootUrl is the TFTP server instead. */
  httpsReplaced: boolean;
}

const opt66 = (a: ParsedAddresses): DhcpOption => ({ code: 66, name: 'tftp-server-name', value: a.tftpHost, type: 'text' });

/** Which options each hardware vendor reads at first boot. */
const RULES: Record<string, VendorRule> = {
  aastra: {
    why: 'Aastra: option 66 = TFTP server (vendors.md §2.1, AAS-DHCP; 43/159/160 are documented for later firmware but unconfirmed for 3.2.2)',
    usesUrl: false,
    options: (a) => [opt66(a)],
  },
  'cisco-spa': {
    why: 'Cisco SPA: option 66 = TFTP server for the factory Profile_Rule /spa$PSN.cfg (vendors.md §3.1, SPA-RULE); 150 = Cisco TFTP server list, read by newer firmware (anchors.md §B.2)',
    usesUrl: false,
    options: (a) => [opt66(a), ...(isIP(a.tftpHost) === 4 ? [{ code: 150 as const, name: 'cisco-tftp-servers', value: a.tftpHost, type: 'ip' as const }] : [])],
  },
  grandstream: {
    why: 'Grandstream: option 66 = provisioning server, allowed to override the configured one by default (P145; vendors.md §4.1)',
    usesUrl: false,
    options: (a) => [opt66(a)],
  },
  polycom: {
    why: 'Polycom: option 160 = provisioning URL with scheme (anchors.md §B.2), 66 for phones set to read it',
    usesUrl: true,
    options: (a) => [{ code: 160, name: 'polycom-boot-server', value: a.bootUrl.href, type: 'text' }, opt66(a)],
  },
  snom: {
    why: 'Snom: options 66+67 = setting server URL, {mac} replaced by the phone (vendors.md §7, SNOM-DHCP); points straight at <MAC>.xml',
    usesUrl: true,
    options: (a) => [
      { code: 66, name: 'tftp-server-name', value: `${a.bootUrl.protocol}//${a.bootUrl.host}`, type: 'text' },
      { code: 67, name: 'bootfile-name', value: `${a.bootUrl.pathname.replace(/^\//, '')}{mac}.xml`, type: 'text' },
    ],
  },
  yealink: {
    why: 'Yealink: option 66 = provisioning server (priority: custom option, then 66, then 43; anchors.md §B.2)',
    usesUrl: false,
    options: (a) => [opt66(a)],
  },
};

export function dhcpVendorIds(): string[] {
  return Object.keys(RULES).sort();
}

function parseAddresses(a: Addresses, notes: string[]): ParsedAddresses {
  const s = a.tftpServer.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  const hostPort = /^([^:]+):(\d+)$/.exec(s);
  const tftpHost = bracketed ? bracketed[1]! : hostPort ? hostPort[1]! : s;
  const tftpPort = Number(bracketed?.[2] ?? hostPort?.[2] ?? 69);
  if (tftpPort !== 69) notes.push(`the TFTP server is configured on port ${tftpPort}: DHCP cannot tell phones a TFTP port, they use 69 (sipsec ca config --tftp-server HOST)`);
  if (isIP(tftpHost) === 6) notes.push('the TFTP server is an IPv6 address: these are DHCPv4 options; give an IPv4 address or a name with sipsec ca config --tftp-server');
  const prov = new URL(a.provisioningUrl);
  if (prov.protocol !== 'https:') return { tftpHost, tftpPort, bootUrl: prov, httpsReplaced: false };
  const bootUrl = new URL(`tftp://${tftpHost.includes(':') ? `[${tftpHost}]` : tftpHost}${tftpPort !== 69 ? `:${tftpPort}` : ''}/`);
  return { tftpHost, tftpPort, bootUrl, httpsReplaced: true };
}

/**
 * The address to reserve for a phone: its first recorded IPv4 address
 * (DHCPv4 hands out one address per MAC). Phones without one are named in
 * a note, since TFTP will not give them their files from a random address.
 */
function reservedIp(p: Phone, notes: string[]): string | null {
  const v4 = p.ips.filter((ip) => isIP(ip) === 4);
  if (v4.length === 0) {
    notes.push(`${p.name} has no recorded IPv4 address: no reservation (record the address it gets with sipsec phone edit ${p.name} --ip ADDR)`);
    return null;
  }
  if (v4.length > 1) notes.push(`${p.name} has ${v4.length} IPv4 addresses; DHCP reserves one per MAC: ${v4[0]}`);
  return v4[0]!;
}

/** Vendors to print: the one asked for, else those with phones, else all. */
function selectVendors(vendor: string | undefined, phones: Phone[]): string[] {
  if (vendor !== undefined) {
    const id = vendor.trim().toLowerCase();
    if (!Object.hasOwn(RULES, id)) {
      if (isVendorId(id)) throw new SipsecError('UNSUPPORTED', `${id} is not booted by DHCP`, `DHCP options exist for the hardware vendors: ${dhcpVendorIds().join(', ')}`);
      throw new SipsecError('UNKNOWN_VENDOR', `unknown vendor '${vendor}'`, `choose one of: ${dhcpVendorIds().join(', ')} (all: ${vendorIds().join(', ')})`);
    }
    return [id];
  }
  const inUse = dhcpVendorIds().filter((id) => phones.some((p) => p.vendor === id && p.mac));
  return inUse.length > 0 ? inUse : dhcpVendorIds();
}

/** The DHCP options for these addresses and phones, as data and as text in `format`. */
export function dhcpSnippets(a: Addresses, phones: Phone[], opts: { vendor?: string; format?: DhcpFormat } = {}): DhcpResult {
  const format = opts.format ?? 'dnsmasq';
  if (!(DHCP_FORMATS as readonly string[]).includes(format)) {
    throw new SipsecError('BAD_INPUT', `unknown DHCP format '${String(format)}'`, `use one of ${DHCP_FORMATS.join(', ')}`);
  }
  const notes: string[] = [];
  const parsed = parseAddresses(a, notes);
  const vendors: DhcpVendorBlock[] = selectVendors(opts.vendor, phones).map((id) => ({
    vendor: id,
    options: RULES[id]!.options(parsed),
    phones: phones.filter((p) => p.vendor === id && p.mac).map((p) => ({ name: p.name, mac: p.mac!, ip: reservedIp(p, notes) })),
    why: RULES[id]!.why,
  }));
  if (parsed.httpsReplaced && vendors.some((v) => RULES[v.vendor]!.usesUrl)) {
    notes.push(`the provisioning URL is HTTPS; URL options point at ${parsed.bootUrl.href} instead, because a phone cannot check sipsec's HTTPS server before it has sipsec's CA`);
  }
  if (vendors.some((v) => v.vendor === 'cisco-spa') && isIP(parsed.tftpHost) !== 4) {
    notes.push('option 150 left out: it carries IPv4 addresses and the TFTP server is a name (sipsec ca config --tftp-server <IPv4>)');
  }
  const global = mergeGlobal(vendors.filter((v) => v.phones.length === 0), notes);
  const reservations = vendors.flatMap((v) => v.phones.flatMap((p) => (p.ip ? [{ phone: p.name, mac: formatMac(p.mac, 'colon'), ip: p.ip }] : [])));
  const byIp = new Map<string, string>();
  for (const r of reservations) {
    const other = byIp.get(r.ip);
    if (other) notes.push(`${other} and ${r.phone} both have ${r.ip}: a DHCP server gives an address to one MAC only (sipsec phone edit ${r.phone} --ip ADDR)`);
    else byIp.set(r.ip, r.phone);
  }
  const result = { format, tftpServer: a.tftpServer, bootUrl: parsed.bootUrl.href, vendors, global, reservations, notes };
  return { ...result, text: FORMATTERS[format](result) };
}

/** Options for vendors without phones apply to the whole subnet; one value per code. */
function mergeGlobal(blocks: DhcpVendorBlock[], notes: string[]): DhcpOption[] {
  const byCode = new Map<DhcpCode, { option: DhcpOption; vendor: string }>();
  for (const b of blocks) {
    for (const o of b.options) {
      const prev = byCode.get(o.code);
      if (!prev) byCode.set(o.code, { option: o, vendor: b.vendor });
      else if (prev.option.value !== o.value) notes.push(`${b.vendor} wants option ${o.code} = ${o.value}, but ${prev.vendor} already set it subnet-wide; add ${b.vendor} phones to the inventory to get per-MAC entries, or run with --vendor ${b.vendor}`);
    }
  }
  return [...byCode.values()].map((x) => x.option).sort((x, y) => x.code - y.code);
}

export function dhcpForStore(store: CaStore, opts: { vendor?: string; format?: DhcpFormat } = {}): DhcpResult {
  return dhcpSnippets(addresses(store), store.index.phones, opts);
}

type Formatter = (r: Omit<DhcpResult, 'text'>) => string;

const quote = (s: string) => `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

function header(r: Omit<DhcpResult, 'text'>, comment: string): string[] {
  return [
    `${comment} sipsec: DHCP options that point SIP phones at sipsec (sipsec dhcp --format ${r.format}).`,
    `${comment} TFTP server ${r.tftpServer}; URL-based first boot ${r.bootUrl}.`,
    ...r.vendors.map((v) => `${comment} ${v.why}`),
  ];
}

function dnsmasq(r: Omit<DhcpResult, 'text'>): string {
  const line = (o: DhcpOption, tag?: string) => `dhcp-option=${tag ? `tag:${tag},` : ''}${o.code},${o.type === 'ip' ? o.value : quote(o.value)}`;
  const out = header(r, '#');
  if (r.global.length > 0) {
    out.push('', '# Every client of the subnet:');
    for (const o of r.global) out.push(line(o));
  }
  for (const v of r.vendors.filter((b) => b.phones.length > 0)) {
    const tag = `sipsec-${v.vendor}`;
    out.push('', `# ${v.vendor}: the inventory's phones, tagged by MAC`);
    // dnsmasq reads `#` as a comment only at the start of a line: the phone's name goes above its entry.
    // dhcp-host=<MAC>,set:<tag>[,<IPv4>]: tags the phone and reserves its recorded address (dnsmasq(8)).
    for (const p of v.phones) out.push(`# ${p.name}`, `dhcp-host=${formatMac(p.mac, 'colon')},set:${tag}${p.ip ? `,${p.ip}` : ''}`);
    for (const o of v.options) out.push(line(o, tag));
  }
  return out.join('\n') + '\n';
}

function isc(r: Omit<DhcpResult, 'text'>): string {
  const all = [...r.global, ...r.vendors.flatMap((v) => v.options)];
  const stmt = (o: DhcpOption) => `option ${o.name} ${o.type === 'ip' ? o.value : quote(o.value)};`;
  const out = header(r, '#');
  const defs: string[] = [];
  // 66 (tftp-server-name) and 67 (bootfile-name) are predefined in dhcpd; 150 and 160 are not.
  if (all.some((o) => o.code === 150)) defs.push('option cisco-tftp-servers code 150 = array of ip-address;');
  if (all.some((o) => o.code === 160)) defs.push('option polycom-boot-server code 160 = text;');
  if (defs.length > 0) out.push('', '# Option definitions (once, at the top level of dhcpd.conf):', ...defs);
  if (r.global.length > 0) out.push('', '# Every client of the subnet (global or subnet scope):', ...r.global.map(stmt));
  for (const v of r.vendors.filter((b) => b.phones.length > 0)) {
    out.push('', `# ${v.vendor}: the inventory's phones`);
    for (const p of v.phones) {
      out.push(
        `host sipsec-${p.name.replace(/[^A-Za-z0-9.-]/g, '-')} {`,
        `  hardware ethernet ${formatMac(p.mac, 'colon')};`,
        ...(p.ip ? [`  fixed-address ${p.ip};`] : []),
        ...v.options.map((o) => `  ${stmt(o)}`),
        '}',
      );
    }
  }
  return out.join('\n') + '\n';
}

/**
 * Kea: 66 and 67 by their standard names; 150 and 160 as raw hex, which
 * does not depend on how a given Kea version defines those codes.
 */
function kea(r: Omit<DhcpResult, 'text'>): string {
  const data = (o: DhcpOption) => {
    if (o.code === 66) return { name: 'tftp-server-name', data: o.value };
    if (o.code === 67) return { name: 'boot-file-name', data: o.value };
    const bytes = o.type === 'ip' ? Buffer.from(o.value.split('.').map(Number)) : Buffer.from(o.value, 'utf8');
    return { code: o.code, 'csv-format': false, data: bytes.toString('hex').toUpperCase(), comment: `${o.name}: ${o.value}` };
  };
  const dhcp4: Record<string, unknown> = {};
  if (r.global.length > 0) dhcp4['option-data'] = r.global.map(data);
  const reservations = r.vendors.flatMap((v) =>
    v.phones.map((p) => ({ 'hw-address': formatMac(p.mac, 'colon'), ...(p.ip ? { 'ip-address': p.ip } : {}), comment: `sipsec ${v.vendor} phone ${p.name}`, 'option-data': v.options.map(data) })),
  );
  if (reservations.length > 0) {
    // Global reservations; Kea uses them when "reservations-global" is true (or move them into the subnet).
    dhcp4['reservations-global'] = true;
    dhcp4.reservations = reservations;
  }
  return JSON.stringify({ Dhcp4: dhcp4 }, null, 2) + '\n';
}

const FORMATTERS: Record<DhcpFormat, Formatter> = { dnsmasq, isc, kea };
