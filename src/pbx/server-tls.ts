import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { SipsecError } from '../core/errors.js';
import { ensureDir, writeFileAtomic } from '../core/atomic.js';
import type { CaStore } from '../home/store.js';
import type { CertEntry, Phone } from '../home/schema.js';
import { loadVendor } from '../vendors/registry.js';

/**
 * The server side of the PBX configs: which sipsec server certificate a
 * PBX presents, and where its files are. Two ways, chosen by the caller:
 * - in place: configs point into the CA home (certs/<serial>.crt,
 *   private/<serial>.key, ca.crt, crl.pem). Nothing is copied, revocations
 *   reach the PBX through the CA's own crl.pem, but the PBX must run as a
 *   user that can read the CA home's private/ directory;
 * - exported (`--out DIR`): copies in DIR/keys/ (the key 0600), and configs
 *   point at them (or at `--install-dir`, where the person will copy DIR).
 *   This is what a PBX running as its own user (asterisk, kamailio) needs.
 */

/** A file a PBX config generator produces. */
export interface PbxFile {
  /** Path relative to the output directory. */
  name: string;
  content: string;
  /** 0600 for keys and files holding SIP secrets, 0644 otherwise. */
  mode: number;
  /** Holds SIP secrets or a private key: never printed in logs. */
  secret: boolean;
  description: string;
}

export interface TlsPaths {
  cert: string;
  key: string;
  ca: string;
  crl: string;
}

export interface ServerTls {
  name: string;
  serial: string;
  notAfter: string;
  /** How the configs refer to the files. */
  paths: TlsPaths;
  /** Exported copies to write (empty when referenced in place). */
  files: PbxFile[];
  inPlace: boolean;
}

export interface ServerTlsOptions {
  /** Server certificate name; default: the only valid server certificate. */
  cert?: string;
  /** Export copies under keys/ and refer to them as installDir/keys/...; undefined: refer in place. */
  exportTo?: { installDir: string };
  /** Export the CRL too (Kamailio checks it; Asterisk has no CRL setting for SIP/TLS). */
  withCrl?: boolean;
}

/** The server certificate a PBX presents: the one named, or the only one there is. */
export function pickServerCert(store: CaStore, name: string | undefined): CertEntry {
  if (name !== undefined) {
    const entry = store.servedCert(name);
    if (!entry || entry.kind !== 'server') {
      throw new SipsecError('NOT_FOUND', `no valid server certificate named '${name}'`, 'see sipsec cert list, or issue one with sipsec server add NAME --ip ADDRESS');
    }
    return entry;
  }
  const names = [...new Set(store.index.certificates.filter((c) => c.kind === 'server' && c.status === 'valid').map((c) => c.name))];
  if (names.length === 0) {
    const host = store.config.registrar.host;
    throw new SipsecError('NOT_FOUND', 'the CA has no server certificate for the PBX to present', `issue one first: sipsec server add ${host} --ip <address>`);
  }
  if (names.length > 1) {
    throw new SipsecError('BAD_INPUT', `there are ${names.length} server certificates (${names.sort().join(', ')})`, 'choose the one this PBX presents with --cert NAME');
  }
  // During a CA rotation: the old-CA certificate, which every phone trusts (CaStore.servedCert).
  return store.servedCert(names[0]!)!;
}

export async function serverTls(store: CaStore, opts: ServerTlsOptions): Promise<ServerTls> {
  const entry = pickServerCert(store, opts.cert);
  const base = { name: entry.name, serial: entry.serial, notAfter: entry.notAfter };
  if (opts.exportTo === undefined) {
    return {
      ...base,
      inPlace: true,
      files: [],
      paths: { cert: store.paths.cert(entry.serial), key: store.paths.key(entry.serial), ca: store.paths.caCert, crl: store.paths.crl },
    };
  }
  const keys = path.join(opts.exportTo.installDir, 'keys');
  const [cert, key, ca] = await Promise.all([store.readCertPem(entry.serial), store.readKeyPem(entry.serial), store.caCertPem()]);
  const files: PbxFile[] = [
    // The chain is the leaf alone: sipsec issues server certificates straight from its root.
    { name: `keys/${entry.name}.crt`, content: cert, mode: 0o644, secret: false, description: `server certificate ${entry.name} (serial ${entry.serial})` },
    { name: `keys/${entry.name}.key`, content: key, mode: 0o600, secret: true, description: `private key of ${entry.name} (PKCS#8, unencrypted)` },
    { name: 'keys/ca.crt', content: ca, mode: 0o644, secret: false, description: 'the sipsec CA certificate (trusted for phone certificates)' },
  ];
  if (opts.withCrl) {
    files.push({ name: 'keys/crl.pem', content: await fs.readFile(store.paths.crl, 'utf8'), mode: 0o644, secret: false, description: 'the sipsec CRL (revoked phones)' });
  }
  return {
    ...base,
    inPlace: false,
    files,
    paths: {
      cert: path.join(keys, `${entry.name}.crt`),
      key: path.join(keys, `${entry.name}.key`),
      ca: path.join(keys, 'ca.crt'),
      crl: path.join(keys, 'crl.pem'),
    },
  };
}

/** Write generated files under `out` (directories 0700 for keys/, 0755 otherwise). */
export async function writePbxFiles(out: string, files: PbxFile[]): Promise<string[]> {
  const root = path.resolve(out);
  await ensureDir(root, 0o755);
  const written: string[] = [];
  for (const f of files) {
    const full = path.resolve(root, f.name);
    if (!full.startsWith(root + path.sep)) throw new SipsecError('INTERNAL', `refusing to write outside ${root}: ${f.name}`);
    await ensureDir(path.dirname(full), f.name.startsWith('keys/') ? 0o700 : 0o755);
    await writeFileAtomic(full, f.content, { mode: f.mode });
    written.push(full);
  }
  return written;
}

/** A line for the notes about where the configs expect the key, and who must read it. */
export function keyNote(tls: ServerTls, user: string): string {
  if (tls.inPlace) {
    return `the configs point into the CA home (${tls.paths.key}): ${user} must be able to read it; to give ${user} its own copy use --out DIR`;
  }
  const keys = path.dirname(tls.paths.key);
  return `${user} must own the key files (keys/ is 0700, the key 0600) where the configs expect them: chown -R ${user}: ${keys}`;
}

/** Phones whose vendor cannot present a client certificate (vendor facts; an unknown vendor counts as unable). */
export async function phonesWithoutClientCert(phones: Phone[]): Promise<Phone[]> {
  const able = new Map<string, boolean>();
  for (const id of new Set(phones.map((p) => p.vendor))) {
    try {
      able.set(id, (await loadVendor(id)).descriptor.tls.clientCert);
    } catch {
      able.set(id, false);
    }
  }
  return phones.filter((p) => able.get(p.vendor) !== true);
}
