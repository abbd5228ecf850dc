/**
 * sipsec's TFTP server over an in-memory route table, with the events it
 * reports collected for assertions.
 */
import { createTftpServer } from '../../../src/provision/tftp/index.js';
import type { TftpEvent, TftpLookupResult, TftpServer, TftpServerOptions, TftpTransferEvent } from '../../../src/provision/tftp/index.js';

export interface TestServer {
  server: TftpServer;
  port: number;
  events: TftpEvent[];
  /** Names lookup was asked for, in order. */
  lookups: string[];
  /** Resolves with the first event (already seen or future) that matches. */
  waitFor(pred: (ev: TftpEvent) => boolean): Promise<TftpEvent>;
  /** The next `tftp.transfer` event for `file`. */
  transferOf(file: string): Promise<TftpTransferEvent>;
  close(): Promise<void>;
}

export async function startSipsec(
  files: ReadonlyMap<string, Buffer>,
  opts: Partial<Omit<TftpServerOptions, 'lookup' | 'onEvent'>> & {
    lookup?: TftpServerOptions['lookup'];
    meta?: (name: string) => Record<string, unknown> | undefined;
  } = {},
): Promise<TestServer> {
  const events: TftpEvent[] = [];
  const lookups: string[] = [];
  const waiters: Array<{ pred: (ev: TftpEvent) => boolean; resolve: (ev: TftpEvent) => void }> = [];
  const { meta, lookup, ...rest } = opts;
  const defaultLookup = (name: string): TftpLookupResult => {
    lookups.push(name);
    const data = files.get(name);
    const m = meta?.(name);
    if (!data) return { ok: false, code: 1, message: `no route for ${name}`, ...(m ? { meta: m } : {}) };
    return { ok: true, data, ...(m ? { meta: m } : {}) };
  };
  const server = await createTftpServer({
    host: '127.0.0.1',
    port: 0,
    // Long, so a loaded machine's event-loop stall never looks like a loss;
    // tests about timeouts set their own.
    timeoutMs: 2000,
    ...rest,
    lookup: lookup ?? defaultLookup,
    onEvent: (ev) => {
      events.push(ev);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i].pred(ev)) {
          waiters[i].resolve(ev);
          waiters.splice(i, 1);
        }
      }
    },
  });
  const waitFor = (pred: (ev: TftpEvent) => boolean): Promise<TftpEvent> => {
    const hit = events.find(pred);
    if (hit) return Promise.resolve(hit);
    return new Promise((resolve) => waiters.push({ pred, resolve }));
  };
  return {
    server,
    port: server.address().port,
    events,
    lookups,
    waitFor,
    transferOf: async (file) => (await waitFor((ev) => ev.event === 'tftp.transfer' && ev.file === file)) as TftpTransferEvent,
    close: () => server.close(),
  };
}
