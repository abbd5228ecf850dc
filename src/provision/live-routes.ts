import type { CaStore } from '../home/store.js';
import type { Phone } from '../home/schema.js';
import { SipsecError } from '../core/errors.js';
import { loadVendor } from '../vendors/registry.js';
import type { RenderedFile, VendorModule } from '../vendors/types.js';
import { phoneContext, phoneContextDry, phoneContextSync, sharedContext } from './context.js';
import { makeTable, toRoute, type Route, type RouteTable } from './routes.js';

/**
 * The route table a running serve answers from, kept per phone so a change
 * re-renders what it affects: the changed phones' files and their vendors'
 * shared files. Only what every file depends on (the CA config, the CA
 * certificates) rebuilds everything. One phone added to a fleet of
 * thousands costs one phone, not the fleet.
 *
 * A phone's routes are learnt from a render without its key material
 * (names, types and key-holding depend on the record alone); the content
 * is rendered when the phone first asks for a file, and kept. So serve
 * starts without reading and converting every phone's key, and holds in
 * memory the files of the phones that fetched.
 */
export class LiveRoutes {
  private readonly byPhone = new Map<string, Route[]>();
  private readonly byVendor = new Map<string, Route[]>();
  /** What every file depends on: a change here rebuilds all. */
  private globals = '';
  /** Each phone's record and current certificate serial, as last rendered. */
  private seen = new Map<string, { phone: Phone; serial: string | undefined }>();
  /** Phones whose files were rendered for real (first fetch), by path. */
  private readonly realized = new Map<string, Map<string, RenderedFile>>();
  private caPem = '';
  table: RouteTable = makeTable([]);

  constructor(
    private readonly store: CaStore,
    private readonly extra: readonly Route[] = [],
  ) {}

  /** Follow the store (already reloaded). Returns the names whose routes were rebuilt (every phone on a full build). */
  async update(): Promise<{ full: boolean; phones: string[] }> {
    const globals = JSON.stringify([this.store.config, this.store.currentCa()?.serial, this.store.oldCa()?.serial, this.store.index.transition ?? null]);
    const now = new Map(this.store.index.phones.map((p) => [p.name, { phone: p, serial: this.store.current(p.name)?.serial }]));
    if (globals !== this.globals) {
      this.globals = globals;
      this.byPhone.clear();
      this.byVendor.clear();
      this.realized.clear();
      await this.renderPhones([...now.values()].map((x) => x.phone));
      await this.renderShared(new Set(this.store.index.phones.map((p) => p.vendor)));
      this.seen = now;
      this.rebuildTable();
      return { full: true, phones: [...now.keys()] };
    }
    const changed: string[] = [];
    for (const [name, x] of now) {
      const before = this.seen.get(name);
      if (!before || before.serial !== x.serial || JSON.stringify(before.phone) !== JSON.stringify(x.phone)) changed.push(name);
    }
    for (const name of this.seen.keys()) if (!now.has(name)) changed.push(name);
    if (changed.length === 0) return { full: false, phones: [] };
    const vendors = new Set<string>();
    for (const name of changed) {
      const before = this.seen.get(name);
      if (before) vendors.add(before.phone.vendor);
      const after = now.get(name);
      if (after) vendors.add(after.phone.vendor);
      this.byPhone.delete(name);
      this.realized.delete(name);
    }
    await this.renderPhones(changed.flatMap((n) => (now.has(n) ? [now.get(n)!.phone] : [])));
    await this.renderShared(vendors);
    this.seen = now;
    this.rebuildTable();
    return { full: false, phones: changed };
  }

  /** A phone without a valid certificate has nothing to fetch: no routes. */
  private async renderPhones(phones: Phone[]): Promise<void> {
    const caPem = await this.store.caCertPem();
    this.caPem = caPem;
    for (const phone of phones) {
      if (!this.store.current(phone.name)) continue;
      const vendor = await loadVendor(phone.vendor);
      let files: RenderedFile[];
      let lazy = true;
      try {
        files = vendor.renderPhone(phoneContextDry(this.store, phone, vendor, caPem));
      } catch {
        // A vendor that reads its key material while naming its files: rendered for real now.
        files = vendor.renderPhone(await phoneContext(this.store, phone, vendor, undefined, caPem));
        lazy = false;
      }
      this.byPhone.set(
        phone.name,
        files.flatMap((f) => (f.localOnly ? [] : [lazy ? this.lazyRoute(f, vendor, phone) : toRoute(f, vendor, f.phone ?? phone.name)])),
      );
    }
  }

  /** A route whose content is the phone's real file, rendered on first use. */
  private lazyRoute(f: RenderedFile, vendor: VendorModule, phone: Phone): Route {
    // Only the path is kept for later: the placeholder content is dropped with `f`.
    const filePath = f.path;
    // Fields copied one by one: spreading `f` would read its content (a lazy PKCS#12 would be made).
    const meta = { path: f.path, contentType: f.contentType, holdsKey: f.holdsKey, ...(f.aliases ? { aliases: f.aliases } : {}), ...(f.transports ? { transports: f.transports } : {}) };
    const proxy = Object.defineProperty(meta, 'content', { get: () => this.realize(phone, vendor, filePath), enumerable: true }) as RenderedFile;
    return toRoute(proxy, vendor, f.phone ?? phone.name);
  }

  private realize(phone: Phone, vendor: VendorModule, filePath: string): Buffer {
    let files = this.realized.get(phone.name);
    if (!files) {
      files = new Map(vendor.renderPhone(phoneContextSync(this.store, phone, vendor, this.caPem)).map((f) => [f.path, f]));
      this.realized.set(phone.name, files);
    }
    const f = files.get(filePath);
    if (!f) throw new SipsecError('INTERNAL', `${phone.name}: ${filePath} was named without its key material but not with it (this is a bug in sipsec)`);
    return f.content;
  }

  /** Shared files depend on every live phone of their vendor. */
  private async renderShared(vendorIds: Set<string>): Promise<void> {
    for (const id of vendorIds) {
      this.byVendor.delete(id);
      const list = this.store.index.phones.filter((p) => p.vendor === id && this.store.current(p.name));
      if (list.length === 0) continue;
      const vendor = await loadVendor(id);
      if (!vendor.renderShared) continue;
      const ctx = await sharedContext(this.store, list);
      this.byVendor.set(
        id,
        vendor.renderShared(ctx).flatMap((f) => (f.localOnly ? [] : [toRoute(f, vendor)])),
      );
    }
  }

  /** Vendors in order, each vendor's shared files first, then its phones in inventory order (as buildRoutes). */
  private rebuildTable(): void {
    const routes: Route[] = [];
    const phonesOf = new Map<string, Phone[]>();
    for (const p of this.store.index.phones) {
      const list = phonesOf.get(p.vendor);
      if (list) list.push(p);
      else phonesOf.set(p.vendor, [p]);
    }
    for (const id of [...new Set([...this.byVendor.keys(), ...phonesOf.keys()])].sort()) {
      routes.push(...(this.byVendor.get(id) ?? []));
      for (const p of phonesOf.get(id) ?? []) routes.push(...(this.byPhone.get(p.name) ?? []));
    }
    this.table = makeTable([...routes, ...this.extra]);
  }
}
