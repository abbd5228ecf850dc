import * as os from 'node:os';
import { SipsecError } from '../core/errors.js';
import { addServer } from '../home/operations.js';
import type { CaStore, PassphraseSource } from '../home/store.js';
import type { CertEntry } from '../home/schema.js';
import { pickServerCert } from '../home/server-cert.js';

/** The certificate serve presents, with its key and the CA certificate (PEM). */
export interface ServeTls {
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
 * certificate (home/server-cert.ts, the rule `sipsec pbx` shares), else
 * one issued now for this host's names and addresses.
 */
export async function chooseServerCert(store: CaStore, name: string | undefined, passphrase: PassphraseSource): Promise<ServeTls> {
  let entry = pickServerCert(store, name);
  let issued = false;
  if (!entry) {
    const id = hostIdentity();
    const host = os.hostname().toLowerCase();
    const serverName = /^[a-z0-9-]+(\.[a-z0-9-]+)*$/.test(host) && host !== 'localhost' ? host : 'sipsec-serve';
    entry = await addServer(store, { name: serverName, dns: id.dns.filter((d) => d !== serverName), ip: id.ip }, passphrase);
    issued = true;
  }
  if (new Date(entry.notAfter).getTime() < store.clock().getTime()) {
    throw new SipsecError('BAD_INPUT', `server certificate '${entry.name}' expired on ${entry.notAfter.slice(0, 10)}`, `renew it with sipsec cert renew ${entry.name}`);
  }
  return { name: entry.name, entry, cert: await store.readCertPem(entry.serial), key: await store.readKeyPem(entry.serial), ca: await store.caCertPem(), issued };
}
