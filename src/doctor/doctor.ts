import { existsSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { CaStore } from '../home/store.js';
import { errnoCode } from '../core/errors.js';
import { loadAllVendors, loadVendor } from '../vendors/registry.js';
import type { Phone } from '../home/schema.js';
import { diagnose, type DoctorInput, type Finding } from './checks.js';

/**
 * `sipsec doctor`: gathers what the checks need from the CA home (the
 * config, the certificate index, the inventory, the vendors' transports,
 * the CRL on disk) and runs them. Read-only: doctor never changes the home.
 */

export interface DoctorOptions {
  expiryDays?: number;
  outTrees?: DoctorInput['outTrees'];
}

/** The CRL's nextUpdate as written in crl.pem (null when it is missing or unreadable). */
export async function crlNextUpdate(file: string): Promise<Date | null> {
  let pem: string;
  try {
    pem = await fs.readFile(file, 'utf8');
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return null;
    throw e;
  }
  try {
    const { x509 } = await import('../pki/x509.js');
    return new x509.X509Crl(pem).nextUpdate ?? null;
  } catch {
    return null;
  }
}

/** Every `--out` tree rendered from this home (and any named), checked against the store without writing. */
export type OutTree = { dir: string; changed: number; missing: number; removed: number };

export async function outTrees(store: CaStore, extra: readonly string[] = []): Promise<OutTree[]> {
  const { recordedOuts } = await import('../provision/outs.js');
  const { checkTree } = await import('../provision/render.js');
  const dirs = [...new Set([...(await recordedOuts(store)), ...extra.map((d) => path.resolve(d))])];
  const out: OutTree[] = [];
  for (const dir of dirs) out.push({ dir, ...(await checkTree(store, dir)) });
  return out;
}

export async function doctorInput(store: CaStore, o: DoctorOptions & { phones?: Phone[]; readCrl?: boolean } = {}): Promise<DoctorInput> {
  const phones = o.phones ?? store.index.phones;
  // Only the vendors asked about (one, right after `phone add`): every module costs start-up time.
  const vendors = o.phones ? await Promise.all([...new Set(phones.map((p) => p.vendor))].map((id) => loadVendor(id))) : await loadAllVendors();
  const transports = new Map(vendors.map((v) => [v.descriptor.id, v.descriptor.transports]));
  return {
    config: store.config,
    // Right after a change only the names that change touches are checked: the CA, the servers, those phones.
    certificates: o.phones ? [...store.certsOfKind('ca'), ...store.certsOfKind('server'), ...o.phones.flatMap((p) => store.history(p.name))] : store.index.certificates,
    phones,
    vendorTransports: (id) => transports.get(id) ?? [],
    // Reading the CRL loads an X.509 library: skipped by the checks a change prints at once, which need no CRL.
    crlNextUpdate: o.readCrl === false ? null : await crlNextUpdate(store.paths.crl),
    now: store.clock(),
    ...(o.expiryDays !== undefined ? { expiryDays: o.expiryDays } : {}),
    ...(o.outTrees ? { outTrees: o.outTrees } : {}),
  };
}

export async function runDoctor(store: CaStore, o: DoctorOptions & { out?: readonly string[] } = {}): Promise<Finding[]> {
  return diagnose({ ...(await doctorInput(store, { ...o, outTrees: o.outTrees ?? (await outTrees(store, o.out)) })), indexCheck: store.database.quickCheck(), caKeyHere: store.sharedStore ? existsSync(await store.caKeyFile(store.currentCa()?.serial ?? '')) : true });
}
