import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { SipsecError } from '../core/errors.js';
import { writeFileAtomic } from '../core/atomic.js';
import { generateKey, privateKeyPem, type KeySpec } from '../pki/keys.js';
import { issueCertificate, signerFromCert } from '../pki/certificate.js';
import { toPem } from '../pki/pem.js';
import { CaStore, entryFor, sameSerial, type PassphraseSource } from './store.js';
import type { CertEntry } from './schema.js';
import { readServeLog, supersedeIn, DEFAULT_GRACE_MS } from './supersede.js';

/**
 * CA rotation without an outage (the day the CA nears its end, or its key
 * must change):
 *
 * 1. `ca rotate` makes a new CA beside the old one. Every phone and server
 *    gets a new certificate under it at once; each old certificate stays
 *    valid for the renewal overlap (phones: until they fetch their new
 *    files or present the new certificate, or --grace; servers: until
 *    `ca retire-old`, since serve keeps presenting its old-CA certificate
 *    to phones that do not trust the new CA yet). Every file that carries
 *    the CA carries both (ca.crt is the two-CA bundle), and the registrar
 *    and HTTPS trust both. Each CA signs its own CRL; crl.pem holds both.
 * 2. Phones resync at their own pace: new bundle, new certificate.
 * 3. `ca retire-old` ends it once no phone uses the old CA: the remaining
 *    old-CA certificates are revoked, the bundle and trust hold the new CA
 *    only, and serve presents its new-CA server certificate.
 *
 * The old CA key stays in private/ca-<serial>.key, encrypted as it was
 * (one passphrase per CA home: the new key is encrypted with the same one).
 */

const DAY = 86_400_000;
const BACKDATE = 3_600_000;

export interface RotateParams {
  key: KeySpec;
  days: number;
  cn?: string | undefined;
  /** Overlap for the phones' old certificates (default 14 days). */
  graceMs?: number | undefined;
}

export interface RotateResult {
  oldCa: CertEntry;
  newCa: CertEntry;
  renewed: Array<{ name: string; kind: string; oldSerial: string; newSerial: string }>;
}

function caCn(base: string, now: Date, oldCn: string | undefined): string {
  // A distinct subject: OpenSSL finds issuers and CRLs by name, so two CAs must not share one.
  const plain = base.replace(/ \d{4}-\d{2}-\d{2}(T[\d-]+)?$/, '');
  let cn = `${plain} ${now.toISOString().slice(0, 10)}`;
  if (oldCn !== undefined && cn === oldCn) cn = `${plain} ${now.toISOString().slice(0, 16).replace(':', '-')}`;
  return cn;
}

export async function rotateCa(store: CaStore, p: RotateParams, passphrase: PassphraseSource, onDone?: (n: number) => void): Promise<RotateResult> {
  if (store.index.transition) {
    throw new SipsecError('BUSY', `a CA rotation is already in progress (since ${store.index.transition.startedAt.slice(0, 10)})`, 'finish it with sipsec ca retire-old (see sipsec ca status), then rotate again');
  }
  const oldCa = store.currentCa();
  if (!oldCa) throw new SipsecError('CA_CORRUPT', 'the index names no CA', 'restore the CA home from a backup (sipsec ca restore FILE)');
  // Unlocks (and so checks) the current key before anything is written.
  const oldSigner = await store.signer(passphrase);
  const pass = store.config.encrypted ? await passphrase() : undefined;
  const now = store.clock();
  const oldCn = /CN=([^,]+)/.exec(oldCa.subject)?.[1];
  const cn = p.cn ?? caCn(oldCn ?? store.config.cn, now, oldCn);
  if (cn === oldCn) throw new SipsecError('BAD_INPUT', `--cn '${cn}' is the old CA's name`, 'give the new CA a different name');
  const key = await generateKey(p.key);
  const cert = await issueCertificate({ profile: 'ca', cn, org: store.config.org, sans: { dns: [], ip: [], uri: [] }, subjectKey: key, notBefore: new Date(now.getTime() - BACKDATE), notAfter: new Date(now.getTime() + p.days * DAY) }, undefined);
  const newEntry = entryFor('ca', 'ca', cert, { dns: [], ip: [], uri: [] }, p.key);
  const paths = store.paths;
  const keyPem = privateKeyPem(key, pass);
  // Nothing below is in effect until the index commits: a crash leaves the old CA in charge.
  await writeFileAtomic(path.join(paths.privateDir, `ca-${newEntry.serial}.key`), keyPem, { mode: 0o600 });
  await writeFileAtomic(paths.cert(newEntry.serial), toPem('CERTIFICATE', cert.der), { mode: 0o644 });
  const oldKeyFile = path.join(paths.privateDir, `ca-${oldCa.serial}.key`);
  if ((await store.caKeyFile(oldCa.serial)) !== oldKeyFile) {
    await writeFileAtomic(oldKeyFile, await fs.readFile(paths.caKey), { mode: 0o600 });
  }
  const signer = signerFromCert(cert.der, key, store.config.hash);
  const olds = [...new Set(store.index.certificates.filter((c) => c.kind !== 'ca' && c.status === 'valid').map((c) => c.name))]
    .map((n) => store.current(n)!)
    .filter((c) => c.kind === 'server' || store.index.phones.some((ph) => ph.name === c.name));
  const prepared = await store.prepare(
    olds.map((o) => ({ name: o.name, kind: o.kind === 'server' ? 'server' : 'phone', cn: /CN=([^,]+)/.exec(o.subject)?.[1] ?? o.name, sans: o.sans, keySpec: o.keyType, days: store.config.leafDays })),
    signer,
    onDone,
  );
  try {
    await store.update(async (draft) => {
      if (draft.transition) throw new SipsecError('BUSY', 'another sipsec started a CA rotation meanwhile', 'see sipsec ca status');
      for (const c of draft.certificates) if (c.kind !== 'ca' && !c.issuer) c.issuer = oldCa.serial;
      draft.certificates.push(newEntry);
      prepared.forEach((pr, i) => {
        draft.certificates.push(pr.entry);
        const old = olds[i]!;
        // An older overlap of the same name keeps its own end (the phone may still hold that certificate).
        supersedeIn(draft, old.serial, pr.entry.serial, now, old.kind === 'server' ? { untilRetire: true } : { graceMs: p.graceMs ?? DEFAULT_GRACE_MS });
      });
      draft.transition = { oldCa: oldCa.serial, startedAt: now.toISOString(), crlNumber: draft.crlNumber };
      await store.writeCrlFor(draft, signer, oldSigner);
    });
  } catch (e) {
    await store.discard(prepared);
    throw e;
  }
  await writeFileAtomic(paths.caKey, keyPem, { mode: 0o600 });
  store.resetCa();
  await store.writeTrustFile();
  return { oldCa, newCa: newEntry, renewed: prepared.map((pr, i) => ({ name: pr.entry.name, kind: pr.entry.kind, oldSerial: olds[i]!.serial, newSerial: pr.entry.serial })) };
}

export type CaRole = 'current' | 'old' | 'unknown';

export interface PhoneCaStatus {
  name: string;
  vendor: string;
  certSerial: string | null;
  certCa: CaRole | null;
  /** Its previous certificate, still valid in its overlap. */
  oldCertSerial: string | null;
  oldCertCa: CaRole | null;
  lastTls: { time: string; certSerial: string; ca: CaRole; current: boolean | null } | null;
  usesOldCa: boolean;
}

export interface CaStatus {
  schema: 1;
  current: { serial: string; subject: string; notAfter: string; fingerprint: string };
  old: { serial: string; subject: string; notAfter: string; fingerprint: string } | null;
  rotationStartedAt: string | null;
  phones: PhoneCaStatus[];
  /** Phones whose current certificate, pending old certificate or last TLS connection is under the old CA. */
  usingOldCa: string[];
}

function caSummary(e: CertEntry) {
  return { serial: e.serial, subject: e.subject, notAfter: e.notAfter, fingerprint: e.fingerprint };
}

/** Per phone: which CA its current certificate and its last TLS connection (serve.log) used. */
export async function caStatus(store: CaStore): Promise<CaStatus> {
  const cur = store.currentCa();
  if (!cur) throw new SipsecError('CA_CORRUPT', 'the index names no CA', 'restore the CA home from a backup (sipsec ca restore FILE)');
  const old = store.oldCa();
  const roleOfCa = (serial: string | undefined): CaRole => (sameSerial(serial, cur.serial) ? 'current' : old && sameSerial(serial, old.serial) ? 'old' : 'unknown');
  const lastTls = new Map<string, { time: string; certSerial: string; current: boolean | null }>();
  for (const ev of await readServeLog(store.paths.serveLog, new Date(0), ['tls.handshake'])) {
    const e = ev as { phone?: unknown; certSerial?: unknown; ok?: unknown; time?: unknown; current?: unknown };
    if (e.ok !== true || typeof e.phone !== 'string' || typeof e.certSerial !== 'string') continue;
    lastTls.set(e.phone, { time: typeof e.time === 'string' ? e.time : '', certSerial: e.certSerial, current: typeof e.current === 'boolean' ? e.current : null });
  }
  const phones: PhoneCaStatus[] = store.index.phones.map((ph) => {
    const c = store.current(ph.name);
    const overlaps = store.index.certificates.filter((x) => x.name === ph.name && x.status === 'valid' && x.supersededBy);
    const overlap = overlaps.at(-1);
    const tls = lastTls.get(ph.name);
    const tlsEntry = tls ? store.bySerial(tls.certSerial) : undefined;
    const lt = tls ? { ...tls, ca: tlsEntry ? roleOfCa(store.issuerOf(tlsEntry)) : ('unknown' as CaRole) } : null;
    const certCa = c ? roleOfCa(store.issuerOf(c)) : null;
    return {
      name: ph.name,
      vendor: ph.vendor,
      certSerial: c?.serial ?? null,
      certCa,
      oldCertSerial: overlap?.serial ?? null,
      oldCertCa: overlap ? roleOfCa(store.issuerOf(overlap)) : null,
      lastTls: lt,
      // Until it fetched its new files or presented its new certificate, its old-CA certificate is what it has.
      usesOldCa: old !== undefined && (certCa === 'old' || lt?.ca === 'old' || overlaps.some((x) => roleOfCa(store.issuerOf(x)) === 'old')),
    };
  });
  return {
    schema: 1,
    current: caSummary(cur),
    old: old ? caSummary(old) : null,
    rotationStartedAt: store.index.transition?.startedAt ?? null,
    phones,
    usingOldCa: phones.filter((x) => x.usesOldCa).map((x) => x.name),
  };
}

export interface RetireResult {
  retired: CertEntry;
  revoked: Array<{ name: string; serial: string }>;
  forced: string[];
}

/** End the rotation: refused while phones still use the old CA, unless forced. */
export async function retireOldCa(store: CaStore, passphrase: PassphraseSource, o: { force?: boolean } = {}): Promise<RetireResult> {
  const t = store.index.transition;
  const old = store.oldCa();
  if (!t || !old) throw new SipsecError('NOT_FOUND', 'no CA rotation is in progress', 'start one with sipsec ca rotate');
  const status = await caStatus(store);
  if (status.usingOldCa.length > 0 && !o.force) {
    const list = status.usingOldCa.slice(0, 10).join(', ') + (status.usingOldCa.length > 10 ? `, and ${status.usingOldCa.length - 10} more` : '');
    throw new SipsecError('BUSY', `${status.usingOldCa.length} phone(s) still use the old CA: ${list}`, 'let them resync (sipsec ca status shows each one), or end the transition anyway with --force: they are refused until they fetch their new files');
  }
  const signer = await store.signer(passphrase);
  const now = store.clock();
  const revoked = await store.update((draft) => {
    const out: Array<{ name: string; serial: string }> = [];
    for (const c of draft.certificates) {
      if (c.kind === 'ca' || c.status !== 'valid' || !sameSerial(c.issuer, old.serial)) continue;
      CaStore.revokeIn(draft, c.serial, c.supersededBy ? 'superseded' : 'cessationOfOperation', now);
      out.push({ name: c.name, serial: c.serial });
    }
    CaStore.revokeIn(draft, old.serial, 'superseded', now);
    delete draft.transition;
    return out;
  });
  store.resetCa();
  await store.writeTrustFile();
  await store.writeCrl(signer);
  return { retired: store.bySerial(old.serial) ?? old, revoked, forced: o.force ? status.usingOldCa : [] };
}
