import { isIP } from 'node:net';
import type { X509Certificate } from 'node:crypto';
import { ipBytes } from '../pki/certificate.js';

/**
 * What a careful phone checks about the server's name (RFC 5922 §7, with
 * RFC 2818 for IP addresses): an IP must be an iPAddress SAN; a host name
 * must be a `sip:` URI SAN (domain identity, §7.1) or, failing any, a
 * dNSName SAN; the CN counts only when the certificate has no SAN at all;
 * never wildcards (§7.2). Node's default check accepts wildcards and ignores
 * URI SANs, hence this one.
 */
export interface ServerNames {
  cn: string | undefined;
  dns: string[];
  ip: string[];
  sipUris: string[];
}

export interface IdentityVerdict {
  ok: boolean;
  /** Which name matched, or why none did, in the words phones use. */
  detail: string;
  names: ServerNames;
}

export function serverNames(cert: X509Certificate): ServerNames {
  const san = cert.subjectAltName ?? '';
  const parts = san.split(/,\s*/).filter(Boolean);
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return {
    cn,
    dns: parts.filter((p) => p.startsWith('DNS:')).map((p) => p.slice(4).toLowerCase()),
    ip: parts.filter((p) => p.startsWith('IP Address:')).map((p) => p.slice(11)),
    sipUris: parts.filter((p) => p.startsWith('URI:sip:')).map((p) => p.slice(8)),
  };
}

function sameIp(a: string, b: string): boolean {
  try {
    return isIP(a) !== 0 && isIP(b) !== 0 && ipBytes(a).equals(ipBytes(b));
  } catch {
    return false;
  }
}

export function describeNames(n: ServerNames): string {
  const list = [...n.dns.map((d) => `DNS:${d}`), ...n.ip.map((i) => `IP:${i}`), ...n.sipUris.map((u) => `URI:sip:${u}`)];
  return `CN=${n.cn ?? '(none)'}${list.length ? `, SAN ${list.join(', ')}` : ', no SAN'}`;
}

export function checkServerName(cert: X509Certificate, dialled: string): IdentityVerdict {
  const names = serverNames(cert);
  const host = dialled.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  const hasSan = names.dns.length + names.ip.length + names.sipUris.length > 0;
  if (isIP(host)) {
    if (names.ip.some((ip) => sameIp(ip, host))) return { ok: true, detail: `IP SAN ${host}`, names };
    const hint = names.cn === host ? ' (it is only the CN, which clients ignore for addresses once a SAN exists)' : '';
    return { ok: false, detail: `Certificate common name did not match (${host}): ${host} is not an IP SAN of ${describeNames(names)}${hint}`, names };
  }
  const uriHosts = names.sipUris.filter((u) => !u.includes('@')).map((u) => u.split(/[;:?]/)[0]!.toLowerCase());
  if (uriHosts.includes(host)) return { ok: true, detail: `SIP domain identity URI:sip:${host} (RFC 5922 §7.1)`, names };
  if (names.dns.includes(host)) return { ok: true, detail: `DNS SAN ${host}`, names };
  if (names.dns.some((d) => d.startsWith('*.'))) {
    return { ok: false, detail: `only a wildcard could match ${host}; RFC 5922 §7.2 forbids wildcards for SIP: ${describeNames(names)}`, names };
  }
  if (!hasSan && names.cn?.toLowerCase() === host) return { ok: true, detail: `CN ${host} (the certificate has no SAN)`, names };
  return { ok: false, detail: `Certificate common name did not match (${host}): ${describeNames(names)}`, names };
}
