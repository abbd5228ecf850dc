import * as http from 'node:http';
import { promises as fs } from 'node:fs';
import { SipsecError, errnoCode } from '../core/errors.js';
import type { EventBus, ServeEvent } from './events.js';

/**
 * The running serve answers `sipsec status` and `sipsec verify` over a
 * unix socket in the CA home (the directory is 0700, so only the CA's
 * owner can ask). HTTP on the socket: GET /status, GET /events (JSON
 * lines: the recent history, then live events).
 */
export type StatusProvider = () => Promise<Record<string, unknown>> | Record<string, unknown>;

export async function startControl(socketPath: string, bus: EventBus, status: StatusProvider): Promise<{ close(): Promise<void> }> {
  // A socket file left by a crashed serve is removed; a live one is refused.
  try {
    await requestJson(socketPath, '/status', 500);
    throw new SipsecError('BIND_FAILED', `a sipsec serve is already running for this CA home (${socketPath})`, 'stop it first, or use another --home');
  } catch (e) {
    if (e instanceof SipsecError && e.code === 'BIND_FAILED') throw e;
    await fs.rm(socketPath, { force: true });
  }
  const server = http.createServer(async (req, res) => {
    if (req.url === '/status') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(await status()));
      return;
    }
    if (req.url?.startsWith('/events')) {
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      for (const ev of bus.history()) res.write(JSON.stringify(ev) + '\n');
      const off = bus.on((ev) => res.write(JSON.stringify(ev) + '\n'));
      req.on('close', off);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  await fs.chmod(socketPath, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        void fs.rm(socketPath, { force: true });
      }),
  };
}

export function requestJson(socketPath: string, path: string, timeoutMs = 5000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as Record<string, unknown>);
        } catch (e) {
          reject(e);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Ask a running serve for its status; a clear error when none runs. */
export async function fetchStatus(socketPath: string): Promise<Record<string, unknown>> {
  try {
    return await requestJson(socketPath, '/status');
  } catch (e) {
    const code = errnoCode(e);
    if (code === 'ENOENT' || code === 'ECONNREFUSED') {
      throw new SipsecError('NOT_RUNNING', 'no sipsec serve is running for this CA home', 'start it with sipsec serve (same --home)');
    }
    throw e;
  }
}

/** Follow a running serve's event stream (history first). Returns a stop function. */
export function followEvents(socketPath: string, onEvent: (ev: ServeEvent) => void, onEnd: (err?: Error) => void): () => void {
  const req = http.get({ socketPath, path: '/events' }, (res) => {
    let buf = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          onEvent(JSON.parse(line) as ServeEvent);
        } catch {
          // a torn line: ignore
        }
      }
    });
    res.on('end', () => onEnd());
  });
  req.on('error', (e) => {
    const code = errnoCode(e);
    onEnd(code === 'ENOENT' || code === 'ECONNREFUSED' ? new SipsecError('NOT_RUNNING', 'no sipsec serve is running for this CA home', 'start it with sipsec serve (same --home)') : e);
  });
  return () => req.destroy();
}
