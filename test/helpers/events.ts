import { AssertionError } from 'node:assert';
import { validateEvent } from '../../src/events/index.js';
import { EventBus } from '../../src/serve/events.js';

/**
 * Every event serve writes is checked against the catalog (src/events) in
 * the tests: a misspelt field, a missing failure code or an event the
 * catalog does not know fails the test with the event and zod's issue.
 */
export interface Violation {
  event: unknown;
  error: string;
}

export class EventChecker {
  readonly violations: Violation[] = [];

  /** Check one event; a violation is recorded (the stream goes on, the test fails). */
  check(ev: unknown): boolean {
    const r = validateEvent(ev);
    if (!r.ok) this.violations.push({ event: ev, error: r.error });
    return r.ok;
  }

  error(): AssertionError {
    const lines = this.violations.slice(0, 5).map((v) => `  ${v.error}\n    event: ${JSON.stringify(v.event).slice(0, 1500)}`);
    return new AssertionError({ message: `${this.violations.length} event(s) break the catalog (src/events/catalog.ts):\n${lines.join('\n')}` });
  }

  /** Throws when any event broke the catalog. */
  assertClean(): void {
    if (this.violations.length > 0) throw this.error();
  }
}

/** An EventBus whose every event is checked. */
export function strictBus(): EventChecker & { bus: EventBus } {
  const checker = new EventChecker();
  const bus = new EventBus({ onInvalid: (ev, error) => checker.violations.push({ event: ev, error }) });
  return Object.assign(checker, { bus });
}
