import * as os from 'node:os';
import { SipsecError } from '../core/errors.js';
import { addServer } from '../home/operations.js';
import type { CaStore, PassphraseSource } from '../home/store.js';
import type { CertEntry } from '../home/schema.js';

export interface ServerTls {
  name: string;
  entry: CertEntry;
  cert: string;
  key: string;
  ca: string;
  /** Set when serve issued the certificate itself, to say so. */
  issued: boolean;
}

/** This host's names and non-internal addresses, plus loopback: what phones and tests may dial. */
export function hostIdentity(): { dns: string[]; ip: string[] } {
  const ip = new Set<string>(['127.0.0.1', '::1']);
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (!a.address.startsWith('fe80')) ip.add(a.address);
  }
  const host = os.hostname().toLowerCase();
  const dns = [...new Set(['localhost', ...(/^[a-z0-9.-]+$/.test(host) ? [host] : [])])];
  return { dns, ip: [...ip] };
}

/**
 * The certificate serve presents: `--cert NAME`, else the only server
 * certificate, else one issued now for this host's names and addresses.
 */
/** The certificate of a server name serve presents (the old-CA one during a rotation: CaStore.servedCert). */
export function presentedServerCert(store: CaStore, name: string): CertEntry | undefined {
  return store.servedCert(name);
}

export async function chooseServerCert(store: CaStore, name: string | undefined, passphrase: PassphraseSource): Promise<ServerTls> {
  const servers = [...new Set(store.index.certificates.filter((c) => c.kind === 'server' && c.status === 'valid').map((c) => c.name))].map((n) => presentedServerCert(store, n)!);
  let entry: CertEntry | undefined;
  let issued = false;
  if (name) {
    entry = presentedServerCert(store, name);
    if (!entry || entry.kind !== 'server') throw new SipsecError('NOT_FOUND', `no valid server certificate named '${name}'`, `issue it with sipsec server add ${name} --dns ... --ip ...`);
  } else if (servers.length === 1) {
    entry = servers[0];
  } else if (servers.length > 1) {
    throw new SipsecError('BAD_INPUT', `there are ${servers.length} server certificates`, `choose one with --cert NAME (${servers.map((s) => s.name).join(', ')})`);
  } else {
    const id = hostIdentity();
    const host = os.hostname().toLowerCase();
    const serverName = /^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(host) && host !== 'localhost' ? host : 'sipsec-serve';
    entry = await addServer(store, { name: serverName, dns: id.dns.filter((d) => d !== serverName), ip: id.ip }, passphrase);
    issued = true;
  }
  const e = entry!;
  if (new Date(e.notAfter).getTime() < store.clock().getTime()) {
    throw new SipsecError('BAD_INPUT', `server certificate '${e.name}' expired on ${e.notAfter.slice(0, 10)}`, `renew it with sipsec cert renew ${e.name}`);
  }
  return { name: e.name, entry: e, cert: await store.readCertPem(e.serial), key: await store.readKeyPem(e.serial), ca: await store.caCertPem(), issued };
}
