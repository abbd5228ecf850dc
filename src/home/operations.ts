import { promises as fs } from 'node:fs';
import { createHash } from 'node:crypto';
import { SipsecError, errnoCode } from '../core/errors.js';
import { X509Certificate } from 'node:crypto';
import { CaStore, type InitParams, type PassphraseSource, type StoreOptions } from './store.js';
import { checkDns, checkIp, checkName, checkNameSyntax, isDnsName } from '../pki/names.js';
import { isIP } from 'node:net';
import type { CertEntry } from './schema.js';
import type { KeySpec } from '../pki/keys.js';
import { legacyPrivateKeyPem } from '../pki/keys.js';
import type { RevocationReason } from '../pki/crl.js';
import { buildPkcs12, type P12Profile } from '../pki/pkcs12.js';
import { supersedeIn } from './supersede.js';
import type { SubjectAltNames } from '../pki/profiles.js';

/**
 * The CA operations behind `sipsec ca|server|cert`: each takes plain
 * values, returns plain data, and leaves printing to the CLI.
 */

export async function initCa(home: string, p: InitParams, passphrase: string | undefined, opts: StoreOptions = {}) {
  const { store, replaced } = await CaStore.init(home, p, passphrase, opts);
  return { ...(await caInfo(store)), ...(replaced ? { replaced } : {}) };
}

export async function caInfo(store: CaStore) {
  const cert = await store.caCertificate();
  const entry = store.currentCa();
  const count = (kind: string) => new Set(store.index.certificates.filter((c) => c.kind === kind && c.status === 'valid').map((c) => c.name)).size;
  return {
    home: store.paths.root,
    subject: entry?.subject ?? cert.subject.replace(/\n/g, ', '),
    serial: cert.serialNumber.toLowerCase(),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
    fingerprint: createHash('sha256').update(cert.raw).digest('hex'),
    keyType: entry?.keyType ?? store.config.caKey,
    hash: store.config.hash,
    encrypted: store.config.encrypted,
    org: store.config.org,
    domain: store.config.domain,
    registrar: `${store.config.registrar.host}:${store.config.registrar.port}`,
    provisioningUrl: store.config.provisioningUrl,
    tftpServer: store.config.tftpServer,
    ntp: store.config.ntp,
    caCert: store.paths.caCert,
    crl: store.paths.crl,
    servers: count('server'),
    phones: store.index.phones.length,
    rotation: store.index.transition ? { oldCa: store.index.transition.oldCa, startedAt: store.index.transition.startedAt } : null,
    revoked: store.index.certificates.filter((c) => c.status === 'revoked').length,
  };
}

export interface ServerInput {
  name: string;
  dns: string[];
  ip: string[];
  key?: KeySpec;
  days?: number;
}

/**
 * Server certificate names (RFC 5922 §7.1, sip-srtp.md §3.3): CN = the
 * primary name; SAN = every DNS name, every IP, and `sip:<domain>` so a
 * client checking the SIP domain identity finds it.
 */
export function serverSans(input: ServerInput, domain: string): { cn: string; dns: string[]; ip: string[]; uri: string[] } {
  const name = input.name;
  const nameIsIp = isIP(name) !== 0;
  const nameIsHost = !nameIsIp && name.includes('.') && isDnsName(name);
  const dns = [...new Set([...(nameIsHost ? [name.toLowerCase()] : []), ...input.dns.map(checkDns)])];
  const ip = [...new Set([...(nameIsIp ? [name] : []), ...input.ip.map(checkIp)])];
  const cn = nameIsHost || nameIsIp ? name : (dns[0] ?? ip[0] ?? name);
  return { cn, dns, ip, uri: [`sip:${domain}`] };
}

export async function addServer(store: CaStore, input: ServerInput, passphrase: PassphraseSource): Promise<CertEntry> {
  if (isIP(input.name) === 0) checkName(input.name, 'server name');
  const sans = serverSans(input, store.config.domain);
  if (store.current(input.name)) {
    throw new SipsecError('DUPLICATE', `'${input.name}' already has a valid certificate`, `renew it with sipsec cert renew ${input.name}, or revoke it first`);
  }
  if (store.index.phones.some((p) => p.name.toLowerCase() === input.name.toLowerCase())) {
    throw new SipsecError('DUPLICATE', `'${input.name}' is a phone`, 'pick another name for the server');
  }
  const signer = await store.signer(passphrase);
  const [prepared] = await store.prepare(
    [{ name: input.name, kind: 'server', cn: sans.cn, sans: { dns: sans.dns, ip: sans.ip, uri: sans.uri }, keySpec: input.key ?? store.config.leafKey, days: input.days ?? store.config.leafDays }],
    signer,
  );
  try {
    await store.update((draft) => {
      if (draft.certificates.some((c) => c.name === input.name && c.status === 'valid')) {
        throw new SipsecError('DUPLICATE', `'${input.name}' already has a valid certificate`, 'another sipsec added it meanwhile');
      }
      draft.certificates.push(prepared!.entry);
    });
  } catch (e) {
    await store.discard([prepared!]);
    throw e;
  }
  return prepared!.entry;
}

export function currentOrThrow(store: CaStore, name: string): CertEntry {
  if (isIP(name) === 0) checkNameSyntax(name, 'certificate name');
  const entry = store.current(name);
  if (!entry) {
    const any = store.history(name);
    if (any.length > 0) throw new SipsecError('NOT_FOUND', `'${name}' has no valid certificate (its last one is ${any[any.length - 1]!.status})`, `issue a new one with sipsec cert renew ${name}`);
    throw new SipsecError('NOT_FOUND', `no certificate named '${name}'`, 'see sipsec cert list');
  }
  return entry;
}

/** Revoke a name's current certificate and publish a fresh CRL. */
export async function revokeCert(store: CaStore, name: string, reason: RevocationReason, passphrase: PassphraseSource): Promise<CertEntry> {
  if (name === 'ca') throw new SipsecError('BAD_INPUT', 'the CA cannot revoke itself', 'to retire the CA, create a new one with sipsec ca init --force');
  const entry = currentOrThrow(store, name);
  const signer = await store.signer(passphrase);
  const revoked = await store.update((draft) => {
    // An older certificate still in its renewal overlap goes too: revoking a name ends all of it.
    for (const c of draft.certificates) if (c.name === name && c.status === 'valid' && c.supersededBy && c.serial !== entry.serial) CaStore.revokeIn(draft, c.serial, reason, store.clock());
    return CaStore.revokeIn(draft, entry.serial, reason, store.clock());
  });
  await store.writeCrl(signer);
  return revoked;
}

export interface RenewOptions {
  key?: KeySpec;
  days?: number;
  /**
   * New names for the certificate (renewCert only): `phone edit` re-issues
   * with the phone's new names and the same overlap (phoneSans gives them).
   */
  names?: { cn?: string; sans: SubjectAltNames };
  /** How long the old certificate stays valid at most (ms; default 14 days). */
  graceMs?: number;
  /** Revoke the old certificate at once (its key is compromised). */
  now?: boolean;
}

export interface Renewal {
  old: CertEntry;
  renewed: CertEntry;
}

/**
 * New key and certificate with the same names. The old certificate stays
 * valid for the overlap (supersede.ts) so a phone that has not fetched its
 * new files yet still registers; `now` revokes it at once (compromise).
 */
export async function renewCert(store: CaStore, name: string, passphrase: PassphraseSource, opts: RenewOptions = {}): Promise<Renewal> {
  const [r] = await renewMany(store, [name], passphrase, opts);
  return r!;
}

/** Renew several certificates in one batch (one signature pass, one index commit, one CRL). */
export async function renewMany(store: CaStore, names: string[], passphrase: PassphraseSource, opts: RenewOptions = {}, onDone?: (n: number) => void): Promise<Renewal[]> {
  if (opts.names && names.length !== 1) throw new SipsecError('BAD_INPUT', 'new names apply to one certificate at a time', 'renew each with its own names');
  const olds: CertEntry[] = [];
  for (const name of names) {
    if (name === 'ca') throw new SipsecError('BAD_INPUT', 'the CA is not renewed in place', 'rotate it with sipsec ca rotate: phones move to the new CA without an outage');
    if (isIP(name) === 0) checkNameSyntax(name, 'certificate name');
    const history = store.history(name).filter((c) => c.kind !== 'ca');
    const old = store.current(name) ?? history[history.length - 1];
    if (!old) throw new SipsecError('NOT_FOUND', `no certificate named '${name}'`, 'see sipsec cert list');
    if (old.kind === 'phone' && !store.index.phones.some((p) => p.name === name)) {
      throw new SipsecError('NOT_FOUND', `phone '${name}' was removed`, `add it again with sipsec phone add ${name} ...`);
    }
    olds.push(old);
  }
  if (olds.length === 0) return [];
  const signer = await store.signer(passphrase);
  const prepared = await store.prepare(
    olds.map((old) => ({ name: old.name, kind: old.kind === 'server' ? 'server' : 'phone', cn: (olds.length === 1 ? opts.names?.cn : undefined) ?? /CN=([^,]+)/.exec(old.subject)?.[1] ?? old.name, sans: (olds.length === 1 ? opts.names?.sans : undefined) ?? old.sans, keySpec: opts.key ?? old.keyType, days: opts.days ?? store.config.leafDays })),
    signer,
    onDone,
  );
  const at = store.clock();
  try {
    await store.update((draft) => {
      prepared.forEach((p, i) => {
        draft.certificates.push(p.entry);
        const old = olds[i]!;
        if (old.status !== 'valid') return;
        // An earlier overlap of the same name keeps its own end: the phone may still hold that certificate.
        supersedeIn(draft, old.serial, p.entry.serial, at, { ...(opts.graceMs !== undefined ? { graceMs: opts.graceMs } : {}), ...(opts.now ? { now: true } : {}) });
      });
    });
  } catch (e) {
    await store.discard(prepared);
    throw e;
  }
  // A fresh CRL either way: cheap, and it lists any overlap that ended here.
  await store.writeCrl(signer);
  return prepared.map((p, i) => ({ old: olds[i]!, renewed: store.bySerial(p.entry.serial) ?? p.entry }));
}

/** Every valid phone and server certificate (the current one of its name) that ends before `now + withinMs`. */
export function expiringCerts(store: CaStore, withinMs: number): CertEntry[] {
  const limit = store.clock().getTime() + withinMs;
  const names = new Set<string>();
  const out: CertEntry[] = [];
  for (const c of store.index.certificates) {
    if (c.kind === 'ca' || names.has(c.name)) continue;
    const cur = store.current(c.name);
    if (!cur) continue;
    names.add(c.name);
    if (cur.kind === 'phone' && !store.index.phones.some((p) => p.name === cur.name)) continue;
    if (Date.parse(cur.notAfter) <= limit) out.push(cur);
  }
  return out;
}

export type ExportFormat = 'pem' | 'der' | 'p12';

export interface ExportRequest {
  name: string;
  format: ExportFormat;
  withKey: boolean;
  p12: P12Profile;
  password?: string;
  /** Key encoding inside a PEM export: PKCS#8 (default) or traditional. */
  legacyKey?: boolean;
}

export interface ExportResult {
  name: string;
  serial: string;
  format: ExportFormat;
  data: Buffer;
  holdsKey: boolean;
}

export async function exportCert(store: CaStore, req: ExportRequest): Promise<ExportResult> {
  if (req.name === 'ca') {
    if (req.format === 'p12') throw new SipsecError('BAD_INPUT', 'the CA certificate is exported as pem or der', 'use --format pem or --format der; the CA key never leaves the CA home');
    if (req.withKey) throw new SipsecError('BAD_INPUT', 'sipsec never exports the CA key', `the CA key stays in ${store.paths.caKey}; export the CA certificate without --with-key`);
    const pem = await store.caCertPem();
    const cert = await store.caCertificate();
    return { name: 'ca', serial: cert.serialNumber.toLowerCase(), format: req.format, holdsKey: false, data: req.format === 'pem' ? Buffer.from(pem) : cert.raw };
  }
  const entry = currentOrThrow(store, req.name);
  const certPem = await store.readCertPem(entry.serial);
  const cert = new X509Certificate(certPem);
  switch (req.format) {
    case 'pem': {
      if (!req.withKey) return { name: req.name, serial: entry.serial, format: 'pem', holdsKey: false, data: Buffer.from(certPem) };
      const key = await store.readKey(entry.serial);
      const keyPem = req.legacyKey ? legacyPrivateKeyPem(key) : await store.readKeyPem(entry.serial);
      return { name: req.name, serial: entry.serial, format: 'pem', holdsKey: true, data: Buffer.from(keyPem + certPem) };
    }
    case 'der':
      if (req.withKey) throw new SipsecError('BAD_INPUT', 'DER holds one object: the certificate', 'for certificate + key use --format pem --with-key or --format p12');
      return { name: req.name, serial: entry.serial, format: 'der', holdsKey: false, data: cert.raw };
    case 'p12': {
      if (req.password === undefined) throw new SipsecError('BAD_INPUT', 'a PKCS#12 export needs a password', 'give it with --password-file F (the file holds the password on its first line)');
      const key = await store.readKey(entry.serial);
      const ca = await store.caCertificate();
      const data = buildPkcs12({ key, certs: [cert.raw, ca.raw], password: req.password, friendlyName: req.name, profile: req.p12 });
      return { name: req.name, serial: entry.serial, format: 'p12', holdsKey: true, data };
    }
  }
}

/** Read the first line of a password/passphrase file, with a clear error. */
export async function readSecretFile(file: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    // A file the user named that does not exist is a bad argument (exit 2); one the system refuses is not.
    if (errnoCode(e) === 'ENOENT') throw new SipsecError('BAD_INPUT', `no such ${what} file: ${file}`, 'check the path');
    throw new SipsecError('UNREADABLE', `cannot read the ${what} file ${file}`, 'check its permissions');
  }
  const line = text.split(/\r?\n/)[0] ?? '';
  if (line.length === 0) throw new SipsecError('BAD_INPUT', `the ${what} file ${file} is empty`, `put the ${what} on its first line`);
  return line;
}

