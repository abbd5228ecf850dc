/**
 * A token bucket for refusal events: a boot storm's successful fetches are
 * always reported, but a flood of junk requests must not turn into a flood
 * of log lines. What it holds back is summed per kind and reported once a
 * second as one `tftp.suppressed` event.
 */
import type { TftpEvent } from './types.js';

export class EventGate {
  private tokens: number;
  private last = performance.now();
  private held = 0;
  private readonly by: Record<string, number> = Object.create(null) as Record<string, number>;
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly perSecond: number,
    private readonly emit: (ev: TftpEvent) => void,
  ) {
    this.tokens = perSecond;
  }

  /** Reports `ev` now, or counts it under `kind` for the next summary. */
  offer(ev: TftpEvent, kind: string): void {
    const now = performance.now();
    this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.emit(ev);
      return;
    }
    this.held++;
    this.by[kind] = (this.by[kind] ?? 0) + 1;
    if (!this.flushTimer) {
      this.flushTimer = setTimeout(this.flush, 1000);
      this.flushTimer.unref();
    }
  }

  readonly flush = (): void => {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.held === 0) return;
    const by = { ...this.by };
    for (const k of Object.keys(this.by)) delete this.by[k];
    const count = this.held;
    this.held = 0;
    this.emit({ event: 'tftp.suppressed', count, by });
  };
}
