import { isVendorId, loadAllVendors } from './registry.js';
import type { VendorModule } from './types.js';

/**
 * Names a phone may not have because its files would collide with a
 * vendor-wide file or folder of the provisioning tree: a phone's ready
 * directory is `<out>/<name>/` (baresip, linphone), so a phone named
 * `aastra.cfg` or `baresip` breaks the next render. Derived from each
 * vendor's descriptor (its boot files, placeholders turned into patterns)
 * and from the vendor-wide files it renders, never from a hand-kept list,
 * so a new vendor's files are reserved by adding the vendor.
 */

export interface ReservedName {
  pattern: RegExp;
  /** What the name would collide with, for the error message. */
  what: string;
  /** 0: a literal name, 1: a file named after a MAC, 2: a name with a model placeholder (most general). */
  rank: number;
}

const HEX12 = '[0-9a-f]{12}';
/** Placeholders in `bootFiles` that vary per device model or firmware, not per phone. */
const MODEL_PLACEHOLDERS = /<(model|PSN|XX)>/g;
/** Placeholders that make a path the phone's own (its name, its SIP user, its domain). */
const PHONE_PLACEHOLDERS = /<(name|user|domain)>/;

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** One boot file's first path segment as a pattern, or undefined when it is the phone's own. */
export function segmentPattern(bootFile: string): { pattern: RegExp; folder: boolean; segment: string; rank: number } | undefined {
  const [segment, ...rest] = bootFile.replace(/^\/+/, '').split('/');
  if (!segment || PHONE_PLACEHOLDERS.test(segment)) return undefined;
  const folder = rest.length > 0;
  // A file named after a MAC (<MAC>.cfg, <MAC>-ca.pem, <mac>.boot...): every name made of a MAC and a suffix.
  if (/^<(MAC|mac)>/.test(segment)) return { pattern: new RegExp(`^${HEX12}([.-].*)?$`, 'i'), folder, segment, rank: 1 };
  const parts = segment.split(/(<[A-Za-z]+>)/).map((part) => {
    if (/^<(MAC|mac)>$/.test(part)) return HEX12;
    if (MODEL_PLACEHOLDERS.test(part)) {
      MODEL_PLACEHOLDERS.lastIndex = 0;
      return '[0-9a-z]+';
    }
    return escape(part);
  });
  const rank = /<(model|PSN|XX)>/.test(segment) ? 2 : /<(MAC|mac)>/.test(segment) ? 1 : 0;
  return { pattern: new RegExp(`^${parts.join('')}$`, 'i'), folder, segment, rank };
}

/** The first segments of the files a vendor renders for all its phones (one sample phone, default options). */
function sharedSegments(vendor: VendorModule): string[] {
  if (!vendor.renderShared) return [];
  const options = vendor.optionsSchema.safeParse({});
  const sample = {
    name: 'sample',
    vendor: vendor.descriptor.id,
    ips: [],
    dns: [],
    secret: 'not-a-secret',
    srtp: 'mandatory' as const,
    line: 1,
    options: {},
    createdAt: new Date(0).toISOString(),
    ...(vendor.descriptor.macRequired ? { mac: '00085d000001' } : {}),
  };
  const files = vendor.renderShared({
    domain: 'sample.invalid',
    org: 'sample',
    registrar: { host: 'sample.invalid', port: 5061 },
    provisioningUrl: 'https://sample.invalid/',
    tftpServer: 'sample.invalid',
    ntp: undefined,
    caPem: '',
    phones: options.success ? [sample] : [],
  });
  return files.filter((f) => !f.localOnly).map((f) => f.path.replace(/^\/+/, '').split('/')[0]!);
}

/** The first path segments a vendor reserves, placeholders kept: its boot files' (not the phone's own) and its vendor-wide files'. */
export function reservedSegments(vendor: VendorModule): string[] {
  const boot = vendor.descriptor.bootFiles.flatMap((b) => segmentPattern(b)?.segment ?? []);
  return [...boot, ...sharedSegments(vendor)];
}

function reservedFor(vendor: VendorModule): ReservedName[] {
  const who = vendor.descriptor.name.replace(/ \(.*$/, '');
  const out: ReservedName[] = [];
  for (const boot of vendor.descriptor.bootFiles) {
    const p = segmentPattern(boot);
    if (!p) continue;
    const kind = p.folder ? 'folder' : p.rank === 1 ? 'per-MAC file name' : 'vendor-wide file';
    out.push({ pattern: p.pattern, rank: p.rank, what: `the ${who} ${kind} '${p.segment}${p.folder ? '/' : ''}'` });
  }
  for (const segment of sharedSegments(vendor)) {
    out.push({ pattern: new RegExp(`^${escape(segment)}$`, 'i'), rank: 0, what: `the ${who} vendor-wide file '${segment}'` });
  }
  return out;
}

/**
 * Whether a name can be reserved at all, told without loading a vendor
 * module: every reserved name holds a '.', a MAC (12 hex digits), or is a
 * folder named after its vendor's id. Deriving the list loads and renders
 * all 12 vendors (~50 ms of every `phone add`/`edit`); most names pass
 * here. test/vendors/reserved.test.ts holds every vendor's reserved names
 * to this, so a vendor that breaks it fails CI instead of slipping through.
 */
export function mayBeReserved(name: string): boolean {
  return name.includes('.') || /[0-9a-f]{12}/i.test(name) || isVendorId(name.toLowerCase());
}

let cache: Promise<ReservedName[]> | undefined;

export function reservedNames(): Promise<ReservedName[]> {
  // Most specific first, so the message names the exact file ('spa525G.cfg') before a pattern ('<model>.cfg').
  cache ??= loadAllVendors().then((vendors) => {
    const seen = new Set<string>();
    return vendors
      .flatMap(reservedFor)
      .filter((r) => !seen.has(r.pattern.source) && seen.add(r.pattern.source) !== undefined)
      .sort((a, b) => a.rank - b.rank);
  });
  return cache;
}

/** What a phone name would collide with in the provisioning tree, or undefined when it is free. */
export async function nameClash(name: string): Promise<string | undefined> {
  if (!mayBeReserved(name)) return undefined;
  for (const r of await reservedNames()) if (r.pattern.test(name)) return r.what;
  return undefined;
}
