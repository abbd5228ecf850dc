/**
 * Which server certificate a server presents, `sipsec serve` or a PBX
 * configured by `sipsec pbx`: `--cert NAME`, else the only valid server
 * certificate of the CA (during a CA rotation, its old-CA certificate,
 * which phones that have not fetched the new bundle still trust). One rule for both, so `--cert` means the same
 * everywhere. When there is none the caller decides: serve issues one for
 * this host, a PBX export refuses.
 */
import { SipsecError } from '../core/errors.js';
import type { CertEntry } from './schema.js';
import type { CaStore } from './store.js';

/** A chosen server certificate, as results and notes name it. */
export interface ServerCert {
  name: string;
  serial: string;
  notAfter: string;
}

/**
 * The named server certificate (NOT_FOUND unless it is a valid server
 * certificate), else the only one; undefined when the CA has none, and
 * BAD_INPUT when there are several to choose from.
 */
export function pickServerCert(store: CaStore, name: string | undefined): CertEntry | undefined {
  if (name !== undefined) {
    const entry = store.servedCert(name);
    if (!entry || entry.kind !== 'server') {
      throw new SipsecError('NOT_FOUND', `no valid server certificate named '${name}'`, `see sipsec cert list, or issue it with sipsec server add ${name} --ip ADDRESS`);
    }
    return entry;
  }
  const names = [...new Set(store.index.certificates.filter((c) => c.kind === 'server' && c.status === 'valid').map((c) => c.name))];
  if (names.length === 0) return undefined;
  if (names.length > 1) {
    throw new SipsecError('BAD_INPUT', `there are ${names.length} server certificates (${names.sort().join(', ')})`, 'choose the one to present with --cert NAME');
  }
  // During a CA rotation: the old-CA certificate, which every phone trusts (CaStore.servedCert).
  return store.servedCert(names[0]!);
}
