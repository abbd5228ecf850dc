import type { CaStore } from '../home/store.js';
import type { Phone } from '../home/schema.js';
import { loadVendor } from '../vendors/registry.js';
import type { VendorModule } from '../vendors/types.js';
import { phoneContext, sharedContext } from './context.js';
import { globalStamp, phoneStamp, readRouteCache } from './route-cache.js';
import { routeRow, type RouteRow } from './route-row.js';
import { buildRoutes, liveByVendor, normalizeRoutePath, toRoute } from './routes.js';

export interface RouteListing {
  rows: RouteRow[];
  /** The phones rendered here (not listed from the cache): 'all' when the full build was used. */
  rendered: string[] | 'all';
}

/**
 * `provision routes`: the rows of the route table, exactly as a full build
 * (buildRoutes) gives them, without rendering every phone: a phone the CA
 * home's tree rendered from what it is now is listed from the route cache
 * (src/provision/route-cache.ts); the others, and every vendor-wide file,
 * are rendered here. Vendor-wide files are few but depend on all the
 * vendor's phones, so they are always rendered.
 */
export async function listRoutes(store: CaStore): Promise<RouteListing> {
  const caPem = await store.caCertPem();
  const globals = globalStamp(store, caPem);
  const cache = await readRouteCache(store.paths.routeCache);
  const rows: RouteRow[] = [];
  const rendered: string[] = [];
  for (const [id, list] of liveByVendor(store, store.index.phones)) {
    const vendor = await loadVendor(id);
    if (vendor.renderShared) {
      for (const f of vendor.renderShared(await sharedContext(store, list))) if (!f.localOnly) rows.push(routeRow(toRoute(f, vendor)));
    }
    for (const phone of list) {
      const hit = cache.get(phone.name);
      if (hit && hit.stamp === phoneStamp(globals, phone, store.current(phone.name)!.serial)) rows.push(...hit.rows);
      else {
        rows.push(...(await renderedRows(store, phone, vendor, caPem)));
        rendered.push(phone.name);
      }
    }
  }
  // Two routes wanting one path: the full build decides (it compares contents, and refuses two different files).
  if (sharesAPath(rows)) return { rows: (await buildRoutes(store)).routes.map(routeRow), rendered: 'all' };
  return { rows, rendered };
}

async function renderedRows(store: CaStore, phone: Phone, vendor: VendorModule, caPem: string): Promise<RouteRow[]> {
  const ctx = await phoneContext(store, phone, vendor, undefined, caPem);
  return vendor.renderPhone(ctx).flatMap((f) => (f.localOnly ? [] : [routeRow(toRoute(f, vendor, f.phone ?? phone.name))]));
}

function sharesAPath(rows: RouteRow[]): boolean {
  const owner = new Map<string, RouteRow>();
  for (const r of rows) {
    for (const p of [r.path, ...r.aliases]) {
      const key = normalizeRoutePath(p);
      const prev = owner.get(key);
      if (prev && prev !== r) return true;
      owner.set(key, r);
    }
  }
  return false;
}
