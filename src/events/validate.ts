import type { z } from 'zod';
import { isServeEventName, SERVE_EVENTS, type ServeEvent } from './catalog.js';

export type EventCheck = { ok: true; event: ServeEvent } | { ok: false; error: string; issues: z.core.$ZodIssue[] };

function describe(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(event)'}: ${i.message}${i.code === 'unrecognized_keys' ? ` (${i.keys.join(', ')})` : ''}`)
    .join('; ');
}

/** Check one event against the catalog: its name, its fields, its code. */
export function validateEvent(ev: unknown): EventCheck {
  if (typeof ev !== 'object' || ev === null) return { ok: false, error: 'not an object', issues: [] };
  const name = (ev as { event?: unknown }).event;
  if (!isServeEventName(name)) return { ok: false, error: `unknown event ${JSON.stringify(name)}: not in the catalog (src/events/catalog.ts)`, issues: [] };
  const r = SERVE_EVENTS[name].schema.safeParse(ev);
  if (r.success) return { ok: true, event: r.data as ServeEvent };
  return { ok: false, error: `${name}: ${describe(r.error.issues)}`, issues: r.error.issues };
}

/** One JSON line of serve's `--json` output or serve.log, checked; throws with the reason. */
export function parseEvent(line: string): ServeEvent {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch (e) {
    throw new Error(`not JSON: ${(e as Error).message}`);
  }
  const r = validateEvent(raw);
  if (!r.ok) throw new Error(`${r.error}\n  event: ${line.slice(0, 2000)}`);
  return r.event;
}
