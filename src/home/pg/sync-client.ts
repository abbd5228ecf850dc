import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { SipsecError } from '../../core/errors.js';
import type { Reply, Request, Step } from './worker.js';

export type { Step };
export type Row = Record<string, unknown>;

/** A request that has not come back in this long is a store that hangs, not one that is slow. */
const TIMEOUT_MS = 60_000;

/**
 * PostgreSQL, called synchronously. The store's reads and commits are
 * synchronous calls (better-sqlite3's model, which the rest of sipsec is
 * written against); here a worker thread holds the connection and the
 * caller blocks on an Atomics wait until the reply is posted back, then
 * takes it off the port without an event-loop turn.
 */
export class SyncPg {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private closed = false;
  private seq = 0;

  constructor(
    url: string,
    schema: string | undefined,
    private readonly label: string,
    private readonly timeoutMs = TIMEOUT_MS,
  ) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    // execArgv: none of the parent's (node -e CODE would run CODE again in the worker).
    this.worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: { url, schema, port: port2, flag: this.flag }, transferList: [port2], execArgv: [] });
    // The connection never keeps a finished command alive.
    this.worker.unref();
    this.port.unref();
  }

  private call(req: Request): Array<Row[]> {
    if (this.closed) throw new SipsecError('STORE_UNREACHABLE', `the store ${this.label} is closed`, 'open the CA home again');
    // Numbered: a reply that comes after its caller gave up (timed out) is recognised and dropped,
    // never taken as the answer to the next request.
    const id = ++this.seq;
    Atomics.store(this.flag, 0, 0);
    this.port.postMessage({ ...req, id });
    const deadline = Date.now() + this.timeoutMs;
    let msg: Reply | undefined;
    for (;;) {
      for (;;) {
        const m = receiveMessageOnPort(this.port);
        if (m === undefined) break;
        if ((m.message as Reply).id === id) {
          msg = m.message as Reply;
          break;
        }
      }
      if (msg) break;
      // The flag says a reply was posted since it was last cleared; the worker's notify for an earlier
      // reply can also wake this wait with nothing new there, so the port is always looked at again.
      if (Atomics.load(this.flag, 0) !== 0) {
        Atomics.store(this.flag, 0, 0);
        continue;
      }
      const left = deadline - Date.now();
      if (left <= 0 || Atomics.wait(this.flag, 0, 0, left) === 'timed-out') {
        throw new SipsecError('STORE_UNREACHABLE', `the store ${this.label} did not answer within ${this.timeoutMs / 1000} s`, 'check that PostgreSQL is running and reachable');
      }
    }
    if (!msg.ok) {
      // SQLSTATE class 08 (connection), 28 (authorization), 3D000 (no such database), 57P (shutdown): the store, not the data.
      const unreachable = msg.code === undefined || /^(08|28|3D|57P)/.test(msg.code);
      if (unreachable) throw new SipsecError('STORE_UNREACHABLE', `cannot use the store ${this.label}: ${msg.message}`, 'check that PostgreSQL is running, the address, the database name and the role (password in ~/.pgpass or PGPASSWORD)');
      throw new SipsecError('CA_CORRUPT', `the store ${this.label} refused a request: ${msg.message}${msg.code ? ` (SQLSTATE ${msg.code})` : ''}`, 'run sipsec doctor; restore from a backup if the store is damaged');
    }
    return msg.rows;
  }

  query(sql: string, params?: unknown[]): Row[] {
    return this.call({ op: 'query', sql, ...(params ? { params } : {}) })[0] ?? [];
  }

  /** Run statements in one transaction; each statement's rows, in order. */
  tx(steps: Step[]): Array<Row[]> {
    return this.call({ op: 'tx', steps });
  }

  close(): void {
    if (this.closed) return;
    try {
      this.call({ op: 'close' });
    } catch {
      // Closing a store that is gone is done.
    }
    this.closed = true;
    void this.worker.terminate();
  }
}
