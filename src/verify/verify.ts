import { SipsecError } from '../core/errors.js';
import type { CaStore } from '../home/store.js';
import type { ServeEvent } from '../events/index.js';
import { buildRoutes } from '../provision/routes.js';
import { loadVendor } from '../vendors/registry.js';
import { findPhone } from '../inventory/phones.js';
import { evaluatePhone, type PhoneFacts, type PhoneVerdict, type StepVerdict } from './evaluate.js';

/**
 * `sipsec verify`: follow serve's event stream until each phone has
 * completed every step (or the time is up), telling the operator as steps
 * change. The event source is the running serve (over its control socket)
 * or a serve in this process (`demo`).
 */
export type EventSource = (onEvent: (ev: ServeEvent) => void, onEnd: (err?: Error) => void) => () => void;

export interface VerifyOptions {
  store: CaStore;
  phones: string[] | 'all';
  timeoutMs: number;
  source: EventSource;
  echoExt: string;
  onStep?: (phone: string, step: StepVerdict) => void;
  /** Stop as soon as every phone passes (default true). */
  untilDone?: boolean;
  /** Stop watching now and report what was seen (the operator pressed Ctrl-C). */
  signal?: AbortSignal;
}

export interface VerifyReport {
  generated: string;
  home: string;
  ok: boolean;
  phones: PhoneVerdict[];
}

export async function phoneFacts(store: CaStore, names: string[] | 'all', echoExt: string): Promise<PhoneFacts[]> {
  const phones = names === 'all' ? store.index.phones : names.map((n) => findPhone(store, n));
  if (phones.length === 0) throw new SipsecError('NOT_FOUND', 'there are no phones to verify', 'add one with sipsec phone add NAME --vendor V');
  const table = await buildRoutes(store);
  return Promise.all(
    phones.map(async (p) => {
      const current = store.current(p.name)?.serial;
      const vendor = await loadVendor(p.vendor).catch(() => undefined);
      return {
        phone: p,
        vendor: vendor?.descriptor,
        expectedRoutes: table.forPhone(p.name).map((r) => r.path),
        currentSerial: current,
        oldSerials: store.history(p.name).map((c) => c.serial).filter((s) => s !== current),
        echoExt,
      };
    }),
  );
}

export async function verify(o: VerifyOptions): Promise<VerifyReport> {
  const facts = await phoneFacts(o.store, o.phones, o.echoExt);
  const events: ServeEvent[] = [];
  const last = new Map<string, string>();
  let verdicts = facts.map((f) => evaluatePhone(f, events));
  const report = (): VerifyReport => ({ generated: new Date().toISOString(), home: o.store.paths.root, ok: verdicts.every((v) => v.ok), phones: verdicts });
  // The starting NOT SEEN of every step is not news; any later change is (a call in progress, a PASS, a FAIL).
  const announce = (initial: boolean) => {
    for (const v of verdicts) {
      for (const s of v.steps) {
        const key = `${v.phone}/${s.step}`;
        const sig = `${s.state}|${s.summary}`;
        if (last.get(key) !== sig) {
          last.set(key, sig);
          if (!initial || s.state !== 'NOT SEEN') o.onStep?.(v.phone, s);
        }
      }
    }
  };
  announce(true);
  return new Promise<VerifyReport>((resolve, reject) => {
    let done = false;
    // Assigned once the source is attached; a source may deliver (and finish) before that.
    let stop: (() => void) | undefined;
    // Judging is over every event so far, for every phone: a burst (serve's history on attach,
    // up to 2000 events) is judged once, not once per event.
    let pending = false;
    const judge = () => {
      pending = false;
      verdicts = facts.map((f) => evaluatePhone(f, events));
    };
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      stop?.();
      if (pending) judge();
      if (err) reject(err);
      else resolve(report());
    };
    const timer = setTimeout(() => finish(), o.timeoutMs);
    const onAbort = () => finish();
    if (o.signal?.aborted) return finish();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    stop = o.source(
      (ev) => {
        if (done) return;
        events.push(ev);
        if (pending) return;
        pending = true;
        setImmediate(() => {
          if (done || !pending) return;
          judge();
          announce(false);
          if ((o.untilDone ?? true) && verdicts.every((v) => v.ok)) finish();
        });
      },
      (err) => finish(err),
    );
    if (done) stop();
  });
}
