import { isIPv4, isIPv6 } from 'node:net';
import { SipsecError } from '../core/errors.js';

/**
 * Validation and normalisation of the names people type: certificate and
 * phone names, MAC addresses, IP addresses, DNS names. Each returns the
 * normalised value or throws a SipsecError with what to do.
 */

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/**
 * The shape of a name alone (no reserved words): for looking a name up, so
 * `phone show 'a b'` is bad input (exit 2), not a phone that is missing.
 */
export function checkNameSyntax(name: string, what = 'name'): string {
  if (!NAME_RE.test(name) || name.includes('..')) {
    throw new SipsecError('BAD_NAME', `invalid ${what} '${printable(name)}'`, 'use 1-63 letters, digits, dots, dashes or underscores, starting with a letter or digit');
  }
  return name;
}

/** Names become file names and CNs: letters, digits, `.`, `_`, `-`; at most 63. */
export function checkName(name: string, what = 'name'): string {
  checkNameSyntax(name, what);
  if (name.toLowerCase() === 'ca') {
    throw new SipsecError('BAD_NAME', `'${name}' is reserved for the CA itself`, 'pick another name');
  }
  return name;
}

/**
 * MACs are accepted as `00:08:5d:12:34:56`, `00-08-5D-12-34-56` or
 * `00085d123456` and stored as 12 lower-case hex digits; vendors render
 * their own case.
 */
export function normalizeMac(input: string): string {
  const s = input.trim();
  const sep = /^[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}$/;
  const bare = /^[0-9A-Fa-f]{12}$/;
  if (!sep.test(s) && !bare.test(s)) {
    throw new SipsecError('BAD_MAC', `invalid MAC address '${printable(input)}'`, 'write it as 00:08:5d:12:34:56, 00-08-5D-12-34-56 or 00085d123456');
  }
  const mac = s.replace(/[:-]/g, '').toLowerCase();
  if (mac === '000000000000') {
    throw new SipsecError('BAD_MAC', `MAC address '${printable(input)}' is all zeros, not a device address`, 'use the MAC printed on the phone');
  }
  // IEEE 802 §8.2: the I/G bit (least significant bit of the first octet) set means a group
  // (multicast or broadcast) address, which no phone has as its own.
  if ((Number.parseInt(mac.slice(0, 2), 16) & 1) === 1) {
    const kind = mac === 'ffffffffffff' ? 'the broadcast address' : 'a multicast (group) address';
    throw new SipsecError('BAD_MAC', `MAC address '${printable(input)}' is ${kind}, not a device address`, 'use the MAC printed on the phone; a device address has an even first octet');
  }
  return mac;
}

export function formatMac(mac: string, style: 'lower' | 'upper' | 'colon' | 'colon-upper' | 'dash-upper'): string {
  const pairs = mac.match(/../g) ?? [];
  switch (style) {
    case 'lower':
      return mac.toLowerCase();
    case 'upper':
      return mac.toUpperCase();
    case 'colon':
      return pairs.join(':').toLowerCase();
    case 'colon-upper':
      return pairs.join(':').toUpperCase();
    case 'dash-upper':
      return pairs.join('-').toUpperCase();
  }
}

/**
 * net.isIP, without running Node's IPv6 pattern on a string that holds no
 * ':' (no IPv6 literal does): its first use costs ~4 ms of every command
 * that checks a host name such as bench.test.
 */
export function ipFamily(s: string): 0 | 4 | 6 {
  if (s.includes(':')) return isIPv6(s) ? 6 : 0;
  return isIPv4(s) ? 4 : 0;
}

/** IPv4 or IPv6 literal; IPv6 is returned in the form the user typed (compared canonically elsewhere). */
export function checkIp(input: string): string {
  const s = input.trim().replace(/^\[(.*)\]$/, '$1');
  if (ipFamily(s) === 0) {
    throw new SipsecError('BAD_IP', `invalid IP address '${printable(input)}'`, 'give a literal IPv4 or IPv6 address such as 10.0.1.132');
  }
  return s;
}

const LABEL_RE = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * A host name for a dNSName SAN (RFC 1123 labels). Wildcards are refused:
 * RFC 5922 §7.2 forbids them for SIP domain certificates.
 */
export function checkDns(input: string): string {
  const s = input.trim().replace(/\.$/, '').toLowerCase();
  if (s.includes('*')) {
    throw new SipsecError('BAD_DNS', `wildcard name '${printable(input)}' refused`, 'RFC 5922 §7.2 forbids wildcards in SIP certificates: list each host name with --dns');
  }
  if (s.length === 0 || s.length > 253 || !s.split('.').every((l) => LABEL_RE.test(l)) || ipFamily(s) !== 0) {
    throw new SipsecError('BAD_DNS', `invalid DNS name '${printable(input)}'`, 'use a host name such as pbx.mycompany.com (IP addresses go in --ip)');
  }
  return s;
}

export function isDnsName(s: string): boolean {
  try {
    checkDns(s);
    return true;
  } catch {
    return false;
  }
}

/** `HOST[:PORT]`, with IPv6 in brackets, as used by --registrar. */
export function parseHostPort(input: string, defaultPort: number): { host: string; port: number } {
  const s = input.trim();
  const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s) ?? /^([^:]+)(?::(\d{1,5}))?$/.exec(s);
  const bad = () => new SipsecError('BAD_INPUT', `invalid HOST[:PORT] '${printable(input)}'`, 'write it as pbx.mycompany.com:5061 or [2001:db8::1]:5061');
  if (!m) {
    if (ipFamily(s) === 6) return { host: s, port: defaultPort };
    throw bad();
  }
  const host = m[1]!;
  if (ipFamily(host) === 0 && !isDnsName(host)) throw bad();
  const port = m[2] ? Number(m[2]) : defaultPort;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw bad();
  return { host: ipFamily(host) ? host : host.toLowerCase(), port };
}

/** Keep control characters out of error messages and logs. */
export function printable(s: string): string {
  const cut = s.length > 80 ? `${s.slice(0, 80)}…` : s;
  return cut.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
