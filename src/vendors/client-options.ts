import { isIP } from 'node:net';
import { z } from 'zod';
import { intOption } from './options.js';

/**
 * Option types shared by the softphone and test-client modules (ports,
 * port ranges, addresses). Like options.ts, every schema accepts both the
 * string a person types and the value it stores after parsing, and stores
 * primitives only (the inventory keeps string | number | boolean).
 */

export const portOption = intOption(1, 65535);

/** `min-max` (e.g. `20000-20099`): an RTP port range, normalised to that form. */
export const portRangeOption = z.string().transform((v, ctx) => {
  const m = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(v);
  const lo = m ? Number(m[1]) : Number.NaN;
  const hi = m ? Number(m[2]) : Number.NaN;
  if (!m || lo < 1 || hi > 65535 || lo > hi) {
    ctx.addIssue({ code: 'custom', message: `expected a port range such as 20000-20099, got '${v.slice(0, 40)}'` });
    return z.NEVER;
  }
  // RTP + RTCP need an even/odd pair; fewer than two ports cannot carry one call.
  if (hi - lo < 1) {
    ctx.addIssue({ code: 'custom', message: `the port range ${lo}-${hi} holds fewer than two ports` });
    return z.NEVER;
  }
  return `${lo}-${hi}`;
});

/** An IPv4 or IPv6 address (no brackets). */
export const ipOption = z.string().transform((v, ctx) => {
  const s = v.trim();
  if (isIP(s) === 0) {
    ctx.addIssue({ code: 'custom', message: `expected an IP address, got '${v.slice(0, 40)}'` });
    return z.NEVER;
  }
  return s;
});

/** `address:port` to listen on (`[v6]:port` for IPv6), normalised. */
export const listenOption = z.string().transform((v, ctx) => {
  const m = /^\s*(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})\s*$/.exec(v);
  const host = m ? (m[1] ?? m[2] ?? '') : '';
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || isIP(host) === 0 || port < 1 || port > 65535) {
    ctx.addIssue({ code: 'custom', message: `expected address:port such as 127.0.0.1:5070 or [::1]:5070, got '${v.slice(0, 40)}'` });
    return z.NEVER;
  }
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
});

/** An absolute path on the machine the client runs on, without whitespace or control characters. */
export const absolutePathOption = z
  .string()
  .regex(/^\/[^\s\u0000-\u001f]*$/, 'expected an absolute path without spaces, such as /usr/lib/baresip/modules');

/** A file name or path on the user's computer (for configs that name files the user saves). */
export const userPathOption = z
  .string()
  .min(1)
  .max(400)
  .regex(/^[^<>&"\u0000-\u001f]+$/, 'a path without quotes, <, >, & or control characters');
