import type { Route } from './routes.js';
import type { Transport } from '../vendors/types.js';

/**
 * One line of `provision routes`: a route without its content, only the
 * content's size. The `--json` listing prints these objects as they are
 * (README "JSON output": the field names, their order and values are a
 * contract), so the full build, the route cache and the listing all make
 * them here.
 */
export interface RouteRow {
  path: string;
  phone: string | null;
  vendor: string;
  contentType: string;
  holdsKey: boolean;
  transports: Transport[];
  bytes: number;
  aliases: string[];
}

/** The row of a route; reads its content once (a PKCS#12 is made here if it was not yet). */
export function routeRow(r: Route): RouteRow {
  return { path: r.path, phone: r.phone ?? null, vendor: r.vendor, contentType: r.contentType, holdsKey: r.holdsKey, transports: r.transports, bytes: r.content.length, aliases: r.aliases };
}
