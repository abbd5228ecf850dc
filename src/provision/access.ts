import { plainIp, type AllowList } from '../core/net.js';
import type { FailureCode } from '../events/index.js';
import type { Route } from './routes.js';
import type { Transport } from '../vendors/types.js';

/**
 * Who may fetch which route over which protocol. Servers serve only what
 * they must to whom they must:
 * - everyone outside the CIDR allow-list is refused;
 * - a route is served only over the protocols its vendor fetches with;
 * - a phone's files go only to that phone: over HTTPS to the phone that
 *   authenticated (credentials or its client certificate); over TFTP and
 *   plain HTTP, where nothing authenticates, only to the phone's recorded
 *   IP addresses when it has any;
 * - files holding private keys travel in clear only inside the key window
 *   (`--key-window`, 0 = never) and every such fetch is flagged.
 */
export interface AccessRequest {
  protocol: Transport;
  remoteIp: string;
  /** The phone that proved who it is (HTTPS/HTTP credentials or client certificate). */
  phone?: string | undefined;
  now: number;
}

/** Why the policy refused a request (failure codes, src/events/codes.ts). */
export type AccessRefusal = Extract<
  FailureCode,
  'provision.not_allowed' | 'provision.wrong_protocol' | 'provision.auth_required' | 'provision.other_phone' | 'provision.wrong_address' | 'provision.key_cleartext_refused' | 'provision.key_window_closed'
>;

export type AccessDecision =
  | { ok: true; warning?: string }
  | { ok: false; code: AccessRefusal; reason: string; /** The client could succeed by authenticating. */ needsAuth?: boolean; /** Answer as if the file did not exist. */ hide?: boolean };

export interface AccessPolicyOptions {
  allow: AllowList;
  /** 0 = keys are never served over TFTP or plain HTTP. */
  keyWindowMs: number;
  /** When the key window of a phone opened (serve start, or when the phone appeared). */
  windowOpenedAt: (phone: string) => number;
  phoneIps: (phone: string) => string[];
}

export function decide(route: Route, req: AccessRequest, o: AccessPolicyOptions): AccessDecision {
  if (!o.allow.allows(req.remoteIp)) return { ok: false, code: 'provision.not_allowed', reason: `${plainIp(req.remoteIp)} is not in the allow-list` };
  if (!route.transports.includes(req.protocol)) return { ok: false, code: 'provision.wrong_protocol', reason: `${route.vendor} files are not served over ${req.protocol}`, hide: true };
  if (route.phone === undefined) return { ok: true };
  if (req.protocol === 'https') {
    if (req.phone === undefined) return { ok: false, code: 'provision.auth_required', reason: 'authentication required', needsAuth: true };
    if (req.phone !== route.phone) return { ok: false, code: 'provision.other_phone', reason: `${req.phone} asked for a file of ${route.phone}`, hide: true };
    return { ok: true };
  }
  const ips = o.phoneIps(route.phone).map(plainIp);
  if (req.phone !== route.phone && ips.length > 0 && !ips.includes(plainIp(req.remoteIp))) {
    return { ok: false, code: 'provision.wrong_address', reason: `only served to ${route.phone}'s address${ips.length > 1 ? 'es' : ''} ${ips.join(', ')}` };
  }
  if (!route.holdsKey) return { ok: true };
  if (o.keyWindowMs === 0) return { ok: false, code: 'provision.key_cleartext_refused', reason: 'private keys are never served over cleartext here (--key-window 0); use HTTPS' };
  const opened = o.windowOpenedAt(route.phone);
  if (req.now - opened > o.keyWindowMs) {
    return { ok: false, code: 'provision.key_window_closed', reason: `the key window closed ${Math.round((req.now - opened - o.keyWindowMs) / 60000)} min ago; restart serve or use HTTPS` };
  }
  return { ok: true, warning: `private key of ${route.phone} sent in clear over ${req.protocol}` };
}

/** `30m`, `2h`, `90s`, `0` → milliseconds. */
export function parseDuration(input: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(input.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? 's';
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.round(n * factor);
}
