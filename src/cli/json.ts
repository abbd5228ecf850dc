import type { CertEntry, Config, Phone } from '../home/schema.js';
import { formatMac } from '../pki/names.js';

/**
 * The `--json` shapes shared by several commands (README "JSON output"):
 * every optional field present, null when absent, and MACs in one form,
 * the lower-case colon form `00:08:5d:12:34:56` (vendor files keep their
 * vendor's case; the store keeps 12 bare hex digits).
 */

export function macJson(mac: string | undefined): string | null {
  return mac === undefined ? null : formatMac(mac, 'colon');
}

export function certJson(e: CertEntry) {
  return {
    serial: e.serial,
    name: e.name,
    kind: e.kind,
    subject: e.subject,
    sans: e.sans,
    keyType: e.keyType,
    notBefore: e.notBefore,
    notAfter: e.notAfter,
    fingerprint: e.fingerprint,
    status: e.status as string,
    revokedAt: e.revokedAt ?? null,
    reason: e.reason ?? null,
    issuer: e.issuer ?? null,
    supersededBy: e.supersededBy ?? null,
    graceUntil: e.graceUntil ?? null,
  };
}

/** A phone without its secret unless asked for: `secret` is then left out (withheld, not absent). */
export function phoneJson(p: Phone, showSecret: boolean) {
  return {
    name: p.name,
    vendor: p.vendor,
    mac: macJson(p.mac),
    ips: p.ips,
    dns: p.dns,
    ext: p.ext ?? null,
    ...(showSecret ? { secret: p.secret } : {}),
    displayName: p.displayName ?? null,
    srtp: p.srtp,
    line: p.line,
    options: p.options,
    createdAt: p.createdAt,
  };
}

export function configJson(c: Config) {
  return {
    version: c.version,
    org: c.org,
    domain: c.domain,
    cn: c.cn,
    caKey: c.caKey,
    hash: c.hash,
    leafKey: c.leafKey,
    leafDays: c.leafDays,
    registrar: c.registrar,
    provisioningUrl: c.provisioningUrl ?? null,
    tftpServer: c.tftpServer ?? null,
    ntp: c.ntp ?? null,
    encrypted: c.encrypted,
    createdAt: c.createdAt,
  };
}

/** verify's and probe's steps carry a hint (and verify a failure mode) only on a FAIL: null otherwise. */
export function verifyJson<R extends { phones: Array<{ steps: Array<{ hint?: string | undefined; failure?: unknown }> }> }>(r: R) {
  return { ...r, phones: r.phones.map((p) => ({ ...p, steps: p.steps.map((s) => ({ ...s, hint: s.hint ?? null, failure: s.failure ?? null })) })) };
}

export function probeJson<R extends { steps: Array<{ hint?: string | undefined; data?: unknown }> }>(r: R) {
  return { ...r, steps: r.steps.map((s) => ({ ...s, hint: s.hint ?? null, data: s.data ?? null })) };
}
