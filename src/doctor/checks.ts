import type { CertEntry, Config, Phone } from '../home/schema.js';
import { ipFamily } from '../pki/names.js';
import type { Transport } from '../vendors/types.js';

/**
 * The deployment checks behind `sipsec doctor`: pure functions over what
 * the CA home says, each finding with a stable code, a severity and the
 * command that fixes it. Everything a phone would trip over before it
 * boots: names no server certificate carries ("common name did not
 * match"), no clock source, secrets over plain transports, expiry.
 */

export type Severity = 'error' | 'warning';

export interface Finding {
  severity: Severity;
  /** Stable, for scripts and monitoring: `registrar.name_unmatched`, `ntp.missing`, ... */
  code: string;
  /** What is wrong, in one line. */
  message: string;
  /** The command (or action) that fixes it. */
  fix: string;
  /** The phone, certificate or host the finding is about, if any. */
  subject: string | null;
}

export interface DoctorInput {
  config: Config;
  certificates: readonly CertEntry[];
  phones: readonly Phone[];
  /** The transports each vendor's per-phone files are served over. */
  vendorTransports: (vendor: string) => readonly Transport[];
  /** The CRL's nextUpdate, or null when there is no readable CRL. */
  crlNextUpdate: Date | null;
  now: Date;
  /** Certificates expiring within this many days are reported (30 by default). */
  expiryDays?: number;
  /** SQLite's own check of the index database ('ok', or what is wrong); absent when not run. */
  indexCheck?: string;
  /** False on a machine that shares a PostgreSQL store without holding the CA key (nothing there to encrypt). */
  caKeyHere?: boolean;
  /** `--out` trees and how many of their files a render would change, add (missing) and remove. */
  outTrees?: ReadonlyArray<{ dir: string; changed: number; missing: number; removed: number }>;
}

const DAY = 86_400_000;
/** Phones check the CRL against their clock; a week's margin leaves time to notice a stopped cron. */
const CRL_MARGIN_DAYS = 7;

export const FINDING_CODES = {
  'registrar.name_unmatched': 'no valid server certificate names the registrar host phones are pointed at',
  'provisioning.name_unmatched': 'no valid server certificate names the HTTPS provisioning host',
  'ntp.missing': 'phones are given no time server; certificate dates need a clock',
  'phone.secret_exposed': 'a phone without a recorded address has its SIP secret served over TFTP or plain HTTP to any address',
  'cert.expiring': 'a certificate expires soon',
  'cert.expired': 'a certificate has expired',
  'ca.expiring': 'the CA certificate expires soon',
  'ca.expired': 'the CA certificate has expired',
  'crl.next_update_near': 'the CRL must be refreshed soon',
  'crl.expired': 'the CRL is past its next update: strict peers refuse every certificate',
  'crl.missing': 'there is no readable CRL',
  'ca.key_unencrypted': 'the CA key is stored without a passphrase',
  'out.stale': 'a --out tree differs from what the store would render',
  'index.damaged': 'the index database fails SQLite\'s integrity check',
} as const satisfies Record<string, string>;

export type FindingCode = keyof typeof FINDING_CODES;

function finding(severity: Severity, code: FindingCode, message: string, fix: string, subject: string | null = null): Finding {
  return { severity, code, message, fix, subject };
}

/** Whether a valid, unexpired server certificate names `host` (RFC 5922 §7.2: no wildcards). */
export function serverCertNames(certs: readonly CertEntry[], host: string, now: Date): CertEntry | undefined {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return certs.find(
    (c) =>
      c.kind === 'server' &&
      c.status === 'valid' &&
      new Date(c.notAfter) > now &&
      (ipFamily(h) ? c.sans.ip.some((ip) => ip.toLowerCase() === h) : c.sans.dns.some((d) => d.toLowerCase() === h)),
  );
}

function hostOfUrl(url: string | undefined): { host: string; https: boolean } | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url);
    return { host: u.hostname.replace(/^\[|\]$/g, ''), https: u.protocol === 'https:' };
  } catch {
    return undefined;
  }
}

function serverAddHint(host: string): string {
  return ipFamily(host) ? `sipsec server add registrar --ip ${host}` : `sipsec server add ${host}`;
}

export function checkNames(i: DoctorInput): Finding[] {
  const out: Finding[] = [];
  const reg = i.config.registrar.host;
  if (!serverCertNames(i.certificates, reg, i.now)) {
    out.push(finding('error', 'registrar.name_unmatched', `no valid server certificate names the registrar ${reg}: phones will report "common name did not match (${reg})"`, `${serverAddHint(reg)} (or point phones elsewhere with sipsec ca config --registrar HOST:PORT)`, reg));
  }
  const prov = hostOfUrl(i.config.provisioningUrl);
  if (prov?.https && prov.host !== reg && !serverCertNames(i.certificates, prov.host, i.now)) {
    out.push(finding('error', 'provisioning.name_unmatched', `no valid server certificate names the provisioning host ${prov.host}: phones cannot check the HTTPS server they fetch their files from`, serverAddHint(prov.host), prov.host));
  }
  return out;
}

export function checkClock(i: DoctorInput): Finding[] {
  if (i.config.ntp) return [];
  return [finding('warning', 'ntp.missing', 'phones are given no NTP server: a phone that boots with a wrong clock refuses valid certificates (not yet valid / expired)', 'sipsec ca config --ntp HOST')];
}

export function checkExposedSecrets(i: DoctorInput): Finding[] {
  const out: Finding[] = [];
  for (const p of i.phones) {
    if (p.ips.length > 0) continue;
    const plain = i.vendorTransports(p.vendor).filter((t) => t === 'tftp' || t === 'http');
    if (plain.length === 0) continue;
    out.push(finding('warning', 'phone.secret_exposed', `${p.name} has no recorded address: its files, SIP password included, are served over ${plain.join('/').toUpperCase()} to any address that asks`, `sipsec phone edit ${p.name} --ip ADDRESS`, p.name));
  }
  return out;
}

export function checkExpiry(i: DoctorInput): Finding[] {
  const out: Finding[] = [];
  const soon = new Date(i.now.getTime() + (i.expiryDays ?? 30) * DAY);
  const current = new Map<string, CertEntry>();
  // Only each name's newest valid certificate matters: an older one is being superseded.
  for (const c of i.certificates) if (c.status === 'valid') current.set(`${c.kind}\0${c.name}`, c);
  for (const c of current.values()) {
    const end = new Date(c.notAfter);
    if (end > soon) continue;
    const expired = end <= i.now;
    const when = expired ? `expired on ${c.notAfter.slice(0, 10)}` : `expires on ${c.notAfter.slice(0, 10)} (in ${Math.ceil((end.getTime() - i.now.getTime()) / DAY)} days)`;
    if (c.kind === 'ca') {
      out.push(finding(expired ? 'error' : 'warning', expired ? 'ca.expired' : 'ca.expiring', `the CA certificate ${when}`, 'sipsec ca rotate', 'ca'));
      continue;
    }
    const fix = c.kind === 'phone' ? `sipsec cert renew ${c.name} (or all at once: sipsec cert renew --expiring ${i.expiryDays ?? 30}d)` : `sipsec cert renew ${c.name}`;
    out.push(finding(expired ? 'error' : 'warning', expired ? 'cert.expired' : 'cert.expiring', `the ${c.kind} certificate of ${c.name} (serial ${c.serial}) ${when}`, fix, c.name));
  }
  return out;
}

export function checkCrl(i: DoctorInput): Finding[] {
  if (!i.crlNextUpdate) return [finding('error', 'crl.missing', 'there is no readable CRL in the CA home: the registrar and Kamailio cannot check revocation', 'sipsec ca crl')];
  const left = i.crlNextUpdate.getTime() - i.now.getTime();
  if (left <= 0) return [finding('error', 'crl.expired', `the CRL's next update (${i.crlNextUpdate.toISOString().slice(0, 16)}Z) has passed: peers that check it refuse every certificate`, 'sipsec ca crl (and schedule it: a daily cron job)')];
  if (left < CRL_MARGIN_DAYS * DAY) return [finding('warning', 'crl.next_update_near', `the CRL's next update is on ${i.crlNextUpdate.toISOString().slice(0, 10)} (in ${Math.ceil(left / DAY)} days)`, 'sipsec ca crl (and schedule it: a daily cron job)')];
  return [];
}

export function checkCaKey(i: DoctorInput): Finding[] {
  if (i.config.encrypted || i.caKeyHere === false) return [];
  return [finding('warning', 'ca.key_unencrypted', 'the CA key is stored without a passphrase: anyone who reads the CA home can issue certificates every phone trusts', 'sipsec ca passphrase --passphrase-file FILE')];
}

export function checkOutTrees(i: DoctorInput): Finding[] {
  return (i.outTrees ?? [])
    .filter((t) => t.changed + t.missing + t.removed > 0)
    .map((t) => finding('warning', 'out.stale', `the provisioning tree ${t.dir} is out of date (${t.changed} changed, ${t.missing} missing, ${t.removed} to remove)`, `sipsec provision render --out ${t.dir}`, t.dir));
}

export function checkIndex(i: DoctorInput): Finding[] {
  if (i.indexCheck === undefined || i.indexCheck === 'ok') return [];
  return [finding('error', 'index.damaged', `the index database fails SQLite's integrity check: ${i.indexCheck.slice(0, 200)}`, 'stop serve and restore the CA home from a backup: sipsec ca restore FILE --force')];
}

/** Every check, errors first. */
export function diagnose(i: DoctorInput): Finding[] {
  const all = [...checkNames(i), ...checkClock(i), ...checkExposedSecrets(i), ...checkExpiry(i), ...checkCrl(i), ...checkCaKey(i), ...checkOutTrees(i), ...checkIndex(i)];
  return [...all.filter((f) => f.severity === 'error'), ...all.filter((f) => f.severity === 'warning')];
}

/** 0 clean, 1 warnings only, 2 any error (documented: cron and monitoring read it). */
export function doctorExitCode(findings: readonly Finding[]): 0 | 1 | 2 {
  if (findings.some((f) => f.severity === 'error')) return 2;
  return findings.length > 0 ? 1 : 0;
}
