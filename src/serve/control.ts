import * as http from 'node:http';
import { promises as fs } from 'node:fs';
import { ZodError } from 'zod';
import { SipsecError, errnoCode } from '../core/errors.js';
import type { EventBus, ServeEvent } from './events.js';

/** A request the CLI makes of the running serve: a JSON body in, a JSON answer out. */
export type ControlAction = (body: unknown) => Promise<unknown>;

/** Bodies are small JSON objects (a list of phone names at most). */
const MAX_ACTION_BODY = 1 << 20;

/**
 * The running serve answers `sipsec status` and `sipsec verify` over a
 * unix socket in the CA home (the directory is 0700, so only the CA's
 * owner can ask). HTTP on the socket: GET /status, GET /events (JSON
 * lines: the recent history, then live events).
 */
export type StatusProvider = () => Promise<Record<string, unknown>> | Record<string, unknown>;

export async function startControl(socketPath: string, bus: EventBus, status: StatusProvider, actions: ReadonlyMap<string, ControlAction> = new Map()): Promise<{ close(): Promise<void> }> {
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
      // A status that fails (a shared store gone) is an answer, never a crash of serve.
      let body: string;
      try {
        body = JSON.stringify(await status());
      } catch (e) {
        res.writeHead(500, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ error: `status failed: ${(e as Error).message}` }));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(body);
      return;
    }
    if (req.url?.startsWith('/events')) {
      res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      for (const ev of bus.history()) res.write(JSON.stringify(ev) + '\n');
      const off = bus.on((ev) => res.write(JSON.stringify(ev) + '\n'));
      req.on('close', off);
      return;
    }
    const action = req.method === 'POST' && req.url?.startsWith('/action/') ? actions.get(req.url.slice('/action/'.length)) : undefined;
    if (action) {
      await runAction(action, req, res);
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

async function runAction(action: ControlAction, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const reply = (status: number, body: unknown) => {
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  let text = '';
  req.setEncoding('utf8');
  try {
    for await (const chunk of req) {
      text += chunk as string;
      if (text.length > MAX_ACTION_BODY) return reply(413, { error: 'request too large' });
    }
    reply(200, await action(JSON.parse(text || '{}')));
  } catch (e) {
    const error = e instanceof SipsecError ? e.line() : `error: ${(e as Error).message}`;
    reply(e instanceof SipsecError || e instanceof SyntaxError || e instanceof ZodError ? 400 : 500, { error });
  }
}

/** POST a JSON body to a running serve's action; a clear error when none runs. */
export function postAction(socketPath: string, name: string, body: unknown, timeoutMs = 60_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath, path: `/action/${name}`, method: 'POST', timeout: timeoutMs, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          return reject(new SipsecError('INTERNAL', `serve answered ${res.statusCode} with no JSON`, 'check serve.log in the CA home'));
        }
        if (res.statusCode === 200) return resolve(parsed);
        if (res.statusCode === 404) return reject(new SipsecError('UNSUPPORTED', `the running serve does not offer ${name}`, 'restart serve with the registrar on (it is off with --no-sip)'));
        const msg = typeof parsed === 'object' && parsed !== null && 'error' in parsed ? String((parsed as { error: unknown }).error).replace(/^error: /, '') : `serve answered ${res.statusCode}`;
        reject(new SipsecError(res.statusCode === 400 ? 'BAD_INPUT' : 'INTERNAL', msg));
      });
    });
    req.on('timeout', () => req.destroy(new SipsecError('TIMEOUT', `serve did not answer ${name} in ${Math.round(timeoutMs / 1000)} s`)));
    req.on('error', (e) => {
      const code = errnoCode(e);
      reject(code === 'ENOENT' || code === 'ECONNREFUSED' ? new SipsecError('NOT_RUNNING', 'no sipsec serve is running for this CA home', 'start it with sipsec serve (same --home): phones are told to resync over the connections they opened to it') : e);
    });
    req.end(JSON.stringify(body));
  });
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
