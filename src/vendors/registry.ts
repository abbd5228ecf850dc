import { SipsecError } from '../core/errors.js';
import type { VendorModule } from './types.js';

/**
 * Every vendor sipsec provisions: one line each. A vendor is one module in
 * this folder plus one folder in templates/; nothing else changes to add one.
 */
const VENDORS: Record<string, () => Promise<{ default: VendorModule }>> = {
  aastra: () => import('./aastra.js'),
  'cisco-spa': () => import('./cisco-spa.js'),
  grandstream: () => import('./grandstream.js'),
  polycom: () => import('./polycom.js'),
  snom: () => import('./snom.js'),
  yealink: () => import('./yealink.js'),
  bria: () => import('./bria.js'),
  acrobits: () => import('./acrobits.js'),
  zoiper: () => import('./zoiper.js'),
  blink: () => import('./blink.js'),
  baresip: () => import('./baresip.js'),
  linphone: () => import('./linphone.js'),
};

export function vendorIds(): string[] {
  return Object.keys(VENDORS).sort();
}

export function isVendorId(id: string): boolean {
  return Object.hasOwn(VENDORS, id);
}

export async function loadVendor(id: string): Promise<VendorModule> {
  const load = VENDORS[id];
  if (!load) {
    throw new SipsecError('UNKNOWN_VENDOR', `unknown vendor '${id}'`, `choose one of: ${vendorIds().join(', ')}`);
  }
  return (await load()).default;
}

export async function loadAllVendors(): Promise<VendorModule[]> {
  return Promise.all(vendorIds().map((id) => loadVendor(id)));
}
