import { createWriteStream, type WriteStream } from 'node:fs';
import { EventEmitter } from 'node:events';
import { validateEvent, type EventInput, type EventSink, type ServeEvent } from '../events/index.js';

export type { EventInput, ServeEvent } from '../events/index.js';

/**
 * The serve event stream: one plain object per thing that happened, with a
 * stable dotted `event` name (`provision.fetch`, `provision.denied`,
 * `tls.handshake`, `register.ok`, `call.end`, ...), typed by the catalog
 * in src/events. The console, the log file, `sipsec status` and
 * `sipsec verify` all read this one stream.
 */
export interface EventBusOptions {
  keep?: number;
  now?: () => Date;
  /**
   * Check every event against the catalog and report violations here
   * (tests set it: a misspelt field or a missing code fails them). Off in
   * production: the emitters are typed, and a check costs on every event.
   */
  onInvalid?: (ev: ServeEvent, error: string) => void;
}

export class EventBus implements EventSink {
  private readonly emitter = new EventEmitter();
  private readonly recent: ServeEvent[] = [];
  private readonly keep: number;
  private readonly now: () => Date;
  private readonly onInvalid: EventBusOptions['onInvalid'];

  constructor(opts: EventBusOptions = {}) {
    this.keep = opts.keep ?? 2000;
    this.now = opts.now ?? (() => new Date());
    this.onInvalid = opts.onInvalid;
    this.emitter.setMaxListeners(0);
  }

  emit(input: EventInput): ServeEvent {
    const ev = { ...input, time: input.time ?? this.now().toISOString() } as ServeEvent;
    if (this.onInvalid) {
      const r = validateEvent(ev);
      if (!r.ok) this.onInvalid(ev, r.error);
    }
    this.recent.push(ev);
    if (this.recent.length > this.keep) this.recent.splice(0, this.recent.length - this.keep);
    this.emitter.emit('event', ev);
    return ev;
  }

  /** Subscribe; returns the unsubscribe function. A listener that throws is detached, never the server. */
  on(listener: (ev: ServeEvent) => void): () => void {
    const safe = (ev: ServeEvent) => {
      try {
        listener(ev);
      } catch {
        this.emitter.off('event', safe);
      }
    };
    this.emitter.on('event', safe);
    return () => this.emitter.off('event', safe);
  }

  /** Events kept in memory, oldest first (for late subscribers such as `verify` attaching). */
  history(): ServeEvent[] {
    return [...this.recent];
  }
}

/** JSON lines appended to the log file in the CA home (0600: events name phones and addresses). */
export class EventLog {
  private readonly stream: WriteStream;

  constructor(file: string) {
    this.stream = createWriteStream(file, { flags: 'a', mode: 0o600 });
    this.stream.on('error', () => undefined);
  }

  write(ev: ServeEvent): void {
    this.stream.write(JSON.stringify(ev) + '\n');
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve));
  }
}

const TEXT_FIELDS = ['file', 'protocol', 'bytes', 'ms', 'result', 'reason', 'status'] as const;

/** One line a person reads at a glance: time, event, phone, remote, then the event's own fields. */
export function formatEventLine(ev: ServeEvent): string {
  const time = ev.time.slice(11, 23);
  const parts = [time, ev.event.padEnd(18), (ev.phone ?? '-').padEnd(12), (ev.remote ?? '').padEnd(21)];
  const extra: string[] = [];
  const fields: Readonly<Record<string, unknown>> = ev;
  for (const k of TEXT_FIELDS) if (fields[k] !== undefined) extra.push(`${k}=${String(fields[k])}`);
  for (const [k, v] of Object.entries(ev)) {
    if (['time', 'event', 'phone', 'remote', ...TEXT_FIELDS].includes(k) || v === undefined) continue;
    extra.push(`${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  }
  return `${parts.join(' ')} ${extra.join(' ')}`.trimEnd();
}
