import { SipsecError } from '../core/errors.js';
import type { CaStore } from '../pki/store.js';
import type { ServeEvent } from '../serve/events.js';
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
  const announce = () => {
    for (const v of verdicts) {
      for (const s of v.steps) {
        const key = `${v.phone}/${s.step}`;
        const sig = `${s.state}|${s.summary}`;
        if (last.get(key) !== sig) {
          last.set(key, sig);
          if (s.state !== 'NOT SEEN' || last.size > facts.length * 4) o.onStep?.(v.phone, s);
        }
      }
    }
  };
  announce();
  return new Promise<VerifyReport>((resolve, reject) => {
    let done = false;
    const finish = (err?: Error) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stop();
      if (err) reject(err);
      else resolve(report());
    };
    const timer = setTimeout(() => finish(), o.timeoutMs);
    const stop = o.source(
      (ev) => {
        events.push(ev);
        verdicts = facts.map((f) => evaluatePhone(f, events));
        announce();
        if ((o.untilDone ?? true) && verdicts.every((v) => v.ok)) finish();
      },
      (err) => finish(err),
    );
  });
}
