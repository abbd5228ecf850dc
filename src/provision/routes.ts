import { SipsecError } from '../core/errors.js';
import type { CaStore } from '../home/store.js';
import type { Phone } from '../home/schema.js';
import { loadVendor } from '../vendors/registry.js';
import type { RenderedFile, Transport, VendorModule } from '../vendors/types.js';
import { phoneContext, sharedContext } from './context.js';

/**
 * The route table: exactly the files sipsec serves, by path, each with its
 * owner, content type and whether it holds a private key. Servers answer
 * from this table and nothing else (no directory serving; res_phoneprov's
 * model, anchors.md §B).
 */
export interface Route {
  path: string;
  phone: string | undefined;
  vendor: string;
  contentType: string;
  holdsKey: boolean;
  transports: Transport[];
  content: Buffer;
  /** Other paths the same file answers to. */
  aliases: string[];
}

export interface RouteTable {
  routes: Route[];
  /** Case-insensitive lookup (phones differ in MAC case), by path or alias. */
  lookup(path: string): Route | undefined;
  forPhone(name: string): Route[];
}

export function normalizeRoutePath(p: string): string {
  return p.replace(/^\/+/, '').toLowerCase();
}

export function makeTable(routes: Route[]): RouteTable {
  const map = new Map<string, Route>();
  for (const r of routes) {
    for (const p of [r.path, ...r.aliases]) {
      const key = normalizeRoutePath(p);
      const prev = map.get(key);
      if (prev && prev !== r && !prev.content.equals(r.content)) {
        throw new SipsecError('DUPLICATE', `two files want the path '${p}' (${prev.phone ?? prev.vendor} and ${r.phone ?? r.vendor})`, 'two phones share a MAC or a vendor file name; fix the inventory');
      }
      if (!prev) map.set(key, r);
    }
  }
  return {
    routes,
    lookup: (path) => map.get(normalizeRoutePath(path)),
    forPhone: (name) => routes.filter((r) => r.phone === name),
  };
}

/**
 * A served route for a rendered file. The content is read through, not
 * copied: a file whose content is made on first use (a PKCS#12, key
 * derivation and all) costs nothing until a phone asks for it.
 */
export function toRoute(f: RenderedFile, vendor: VendorModule, phone: string | undefined = f.phone): Route {
  const route = {
    path: f.path.replace(/^\/+/, ''),
    phone,
    vendor: vendor.descriptor.id,
    contentType: f.contentType,
    holdsKey: f.holdsKey,
    transports: f.transports ?? vendor.descriptor.transports,
    aliases: f.aliases ?? [],
  };
  return Object.defineProperty(route, 'content', { get: () => f.content, enumerable: true }) as Route;
}

/**
 * The phones that have something to fetch (a phone without a valid
 * certificate has none), by vendor: the order of the route table, vendors
 * sorted, each vendor's phones in inventory order.
 */
export function liveByVendor(store: CaStore, phones: Phone[]): Array<[vendor: string, phones: Phone[]]> {
  const byVendor = new Map<string, Phone[]>();
  for (const p of phones) {
    if (!store.current(p.name)) continue;
    const list = byVendor.get(p.vendor);
    if (list) list.push(p);
    else byVendor.set(p.vendor, [p]);
  }
  return [...byVendor.entries()].sort(([a], [b]) => a.localeCompare(b));
}

/** Render every phone's served files (and each vendor's shared files) in memory. */
export async function buildRoutes(store: CaStore, phones: Phone[] = store.index.phones): Promise<RouteTable> {
  const caPem = await store.caCertPem();
  const routes: Route[] = [];
  for (const [id, list] of liveByVendor(store, phones)) {
    const vendor = await loadVendor(id);
    if (vendor.renderShared) {
      for (const f of vendor.renderShared(await sharedContext(store, list))) if (!f.localOnly) routes.push(toRoute(f, vendor));
    }
    for (const phone of list) {
      const ctx = await phoneContext(store, phone, vendor, undefined, caPem);
      for (const f of vendor.renderPhone(ctx)) if (!f.localOnly) routes.push(toRoute(f, vendor, f.phone ?? phone.name));
    }
  }
  return makeTable(routes);
}
