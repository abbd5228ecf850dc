import { z } from 'zod';
import type { SipServer } from '../sip/registrar/server.js';
import { sendNotify } from '../sip/registrar/notify.js';
import type { Binding } from '../sip/registrar/bindings.js';
import type { VendorDescriptor } from '../vendors/types.js';
import type { EventInput } from '../events/index.js';

/**
 * `sipsec phone resync`: tell registered phones to fetch their files
 * again, each with the NOTIFY event its vendor acts on, and report what
 * each answered. A phone that is not registered cannot be told (sipsec
 * reaches phones only over the flows they opened), which is reported too.
 */

export const ResyncRequestSchema = z.object({
  phones: z.array(z.string().min(1)).optional(),
  all: z.boolean().optional(),
  reboot: z.boolean().optional(),
  timeoutMs: z.number().int().positive().max(60_000).optional(),
});
export type ResyncRequest = z.infer<typeof ResyncRequestSchema>;

/** What happened for one phone. `status` is the SIP status, or a word when nothing was sent. */
export interface ResyncResult {
  phone: string;
  vendor: string;
  event: string | null;
  status: number | 'not-registered' | 'unknown-phone';
  reason: string;
  contacts: number;
  /** Set when --reboot was asked but the vendor has no reboot event (the plain resync was sent). */
  note: string | null;
}

/** The generic event for devices whose descriptor names none: most UAs answer it with 489 or 200. */
export const GENERIC_RESYNC_EVENT = 'check-sync';

export function resyncEventFor(d: VendorDescriptor | undefined, reboot: boolean): { event: string; note: string | null } {
  const spec = d?.resync;
  if (!spec) return { event: GENERIC_RESYNC_EVENT, note: `${d?.id ?? 'this vendor'} names no resync event: sent the generic ${GENERIC_RESYNC_EVENT}` };
  if (reboot && spec.rebootEvent) return { event: spec.rebootEvent, note: null };
  if (reboot) return { event: spec.event, note: `${spec.event} sent: ${d?.id} has no reboot event` };
  return { event: spec.event, note: null };
}

export interface ResyncDeps {
  server: SipServer;
  vendorOf: (vendorId: string) => VendorDescriptor | undefined;
  phoneNames: () => string[];
  emit: (ev: EventInput) => void;
}

export async function resyncPhones(deps: ResyncDeps, req: ResyncRequest): Promise<ResyncResult[]> {
  const names = req.all ? deps.phoneNames() : (req.phones ?? []);
  const from = `sip:${deps.server.identities.domain}`;
  // Every open binding a phone holds, whatever AOR it registered: after `phone edit --ext` it still holds its old
  // files (and AOR) until it resyncs, and the NOTIFY is what tells it to. One pass, however many phones.
  const held = new Map<string, Binding[]>();
  for (const b of deps.server.registrar.all()) {
    if (!b.source.flow.open) continue;
    const list = held.get(b.source.phone);
    if (list) list.push(b);
    else held.set(b.source.phone, [b]);
  }
  return Promise.all(
    names.map(async (name): Promise<ResyncResult> => {
      const phone = deps.server.identities.phone(name);
      if (!phone) return { phone: name, vendor: '', event: null, status: 'unknown-phone', reason: 'no such phone in the inventory', contacts: 0, note: null };
      const { event, note } = resyncEventFor(deps.vendorOf(phone.vendor), req.reboot ?? false);
      const bindings = held.get(name) ?? [];
      if (bindings.length === 0) {
        const r: ResyncResult = { phone: name, vendor: phone.vendor, event, status: 'not-registered', reason: 'not registered: it resyncs at its next boot or periodic check', contacts: 0, note };
        deps.emit({ event: 'phone.resync', phone: name, notifyEvent: event, status: 'not-registered', reason: r.reason, code: 'resync.not_registered' });
        return r;
      }
      const outcomes = await Promise.all(bindings.map((b) => sendNotify(deps.server, b, { event, from, ...(req.timeoutMs ? { timeoutMs: req.timeoutMs } : {}) })));
      for (const o of outcomes) {
        const code = failureOf(o.status);
        deps.emit({ event: 'phone.resync', phone: name, remote: o.remote, notifyEvent: event, contact: o.contact, status: o.status, reason: o.reason, ...(code ? { code } : {}) });
      }
      // The best answer speaks for the phone: one accepting contact is enough.
      const best = [...outcomes].sort((a, b) => rank(a.status) - rank(b.status))[0]!;
      return { phone: name, vendor: phone.vendor, event, status: best.status, reason: best.reason, contacts: outcomes.length, note };
    }),
  );
}

/** 408 and 503 are what sendNotify reports for no answer and a closed flow. */
function failureOf(status: number): 'resync.refused' | 'resync.no_answer' | 'resync.connection_closed' | undefined {
  if (status >= 200 && status < 300) return undefined;
  if (status === 408) return 'resync.no_answer';
  if (status === 503) return 'resync.connection_closed';
  return 'resync.refused';
}

function rank(status: number): number {
  return status >= 200 && status < 300 ? 0 : status;
}
