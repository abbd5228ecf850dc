import { promises as fs } from 'node:fs';
import type { CaStore } from '../home/store.js';
import { errnoCode } from '../core/errors.js';
import { loadAllVendors } from '../vendors/registry.js';
import { diagnose, type DoctorInput, type Finding } from './checks.js';

/**
 * `sipsec doctor`: gathers what the checks need from the CA home (the
 * config, the certificate index, the inventory, the vendors' transports,
 * the CRL on disk) and runs them. Read-only: doctor never changes the home.
 */

export interface DoctorOptions {
  expiryDays?: number;
  outTrees?: DoctorInput['outTrees'];
  /** `--out` trees to compare with what the store would render (a dry-run render: nothing is written). */
  outDirs?: readonly string[];
}

/** How far each `--out` tree is from what `provision render --out DIR` would write now. */
export async function outTreeStates(store: CaStore, dirs: readonly string[]): Promise<NonNullable<DoctorInput['outTrees']>> {
  const { renderTree } = await import('../provision/render.js');
  const states = [];
  for (const dir of dirs) {
    const r = await renderTree(store, dir, { dryRun: true });
    const missing = r.missing?.length ?? 0;
    states.push({ dir, stale: r.written.length - missing + r.removed.length, missing });
  }
  return states;
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

export async function doctorInput(store: CaStore, o: DoctorOptions = {}): Promise<DoctorInput> {
  const transports = new Map((await loadAllVendors()).map((v) => [v.descriptor.id, v.descriptor.transports]));
  return {
    config: store.config,
    certificates: store.index.certificates,
    phones: store.index.phones,
    vendorTransports: (id) => transports.get(id) ?? [],
    crlNextUpdate: await crlNextUpdate(store.paths.crl),
    now: store.clock(),
    ...(o.expiryDays !== undefined ? { expiryDays: o.expiryDays } : {}),
    ...(o.outTrees ? { outTrees: o.outTrees } : {}),
  };
}

export async function runDoctor(store: CaStore, o: DoctorOptions = {}): Promise<Finding[]> {
  const outTrees = [...(o.outTrees ?? []), ...(o.outDirs?.length ? await outTreeStates(store, o.outDirs) : [])];
  return diagnose(await doctorInput(store, { ...o, outTrees }));
}
