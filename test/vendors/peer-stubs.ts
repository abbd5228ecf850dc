import { type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as tls from 'node:tls';

/**
 * Helpers for the real-peer tests: OS-assigned ports, a TLS stub that
 * records the first SIP request a client sends (and the certificate it
 * presented) and answers every request with a fixed status, a ctrl_tcp
 * client for baresip, and
 * bounded waits. Every wait has a deadline and fails with what it waited
 * for; nothing here measures time.
 */

/** A free TCP port on 127.0.0.1, chosen by the OS (bind 0, read, close). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolve with `p`, or reject once `ms` have passed, naming what was awaited. */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up waiting for ${what} after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

export interface SeenRequest {
  requestLine: string;
  headers: string;
  /** The client certificate's subject CN, if one was presented. */
  peerCn: string | undefined;
  /** Whether the client certificate chains to the CA the stub trusts. */
  authorized: boolean;
  authError: string | undefined;
}

export interface TlsStub {
  port: number;
  /** The first complete SIP request (start line + headers) any client sent. */
  firstRequest: Promise<SeenRequest>;
  close(): Promise<void>;
}

/**
 * The response the stub sends: the request's Via, From, To (with a tag),
 * Call-ID and CSeq echoed (RFC 3261 §8.2.6.2), and for a REGISTER its
 * Contact with the Expires asked for. Enough for a client to consider the
 * transaction done; this is not a registrar.
 */
function answer(head: string, status: string): string {
  const lines = head.split('\r\n').slice(1);
  const pick = (names: string[]) => lines.filter((l) => names.some((n) => l.toLowerCase().startsWith(`${n}:`)));
  const to = pick(['to', 't']).map((l) => (/;tag=/i.test(l) ? l : `${l};tag=stub1`));
  const isRegister = /^REGISTER /.test(head);
  const expires = /^expires:\s*(\d+)/im.exec(head)?.[1] ?? '600';
  const contact = isRegister && status.startsWith('200') ? pick(['contact', 'm']).map((l) => (/expires=/i.test(l) ? l : `${l};expires=${expires}`)) : [];
  return ['SIP/2.0 ' + status, ...pick(['via', 'v']), ...pick(['from', 'f']), ...to, ...pick(['call-id', 'i']), ...pick(['cseq']), ...contact, 'Content-Length: 0', '', ''].join('\r\n');
}

/**
 * A TLS server on 127.0.0.1 (port from the OS) asking for a client
 * certificate, answering every request with `status` (default 200 OK) and
 * recording the first one.
 */
export async function startTlsStub(creds: { cert: string; key: string; ca: string }, status = '200 OK'): Promise<TlsStub> {
  let resolveFirst: (r: SeenRequest) => void = () => undefined;
  const firstRequest = new Promise<SeenRequest>((resolve) => {
    resolveFirst = resolve;
  });
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert: creds.cert, key: creds.key, ca: creds.ca, requestCert: true, rejectUnauthorized: false }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = '';
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (;;) {
        // Keep-alive CRLFs between messages (RFC 5626 §4.4.1) are skipped.
        buf = buf.replace(/^(\r\n)+/, '');
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.slice(0, end);
        const length = Number(/^(?:content-length|l):\s*(\d+)/im.exec(head)?.[1] ?? '0');
        if (buf.length < end + 4 + length) return;
        buf = buf.slice(end + 4 + length);
        const cert = socket.getPeerCertificate();
        const cn = cert && typeof cert.subject === 'object' && cert.subject !== null ? cert.subject.CN : undefined;
        const authError = socket.authorizationError === null || socket.authorizationError === undefined ? undefined : String(socket.authorizationError);
        resolveFirst({
          requestLine: head.split('\r\n')[0] ?? '',
          headers: head,
          peerCn: typeof cn === 'string' ? cn : undefined,
          authorized: socket.authorized,
          authError,
        });
        if (/^[A-Z]+ /.test(head) && !head.startsWith('ACK ')) socket.write(answer(head, status));
      }
    });
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return {
    port,
    firstRequest,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Wait for a child to exit (bounded); kill it (SIGKILL) if it does not. Returns the exit code or signal. */
export async function exitOf(child: ChildProcess, ms: number): Promise<string> {
  if (child.exitCode !== null || child.signalCode !== null) return String(child.exitCode ?? child.signalCode);
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(String(code ?? signal))));
  try {
    return await within(exited, ms, `pid ${child.pid} to exit`);
  } catch {
    child.kill('SIGKILL');
    return within(exited, 5000, `pid ${child.pid} to die after SIGKILL`);
  }
}

/** Stop a child we started: SIGTERM, then SIGKILL if it lingers. Safe to call twice. */
export async function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await exitOf(child, 5000);
}

/** Collect a child's stdout and stderr as text. */
export function collectOutput(child: ChildProcess): { text(): string } {
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  return { text: () => out };
}

/** Resolve when `pred` holds for the collected output (checked on every chunk), bounded. */
export async function outputMatches(child: ChildProcess, collected: { text(): string }, pred: (s: string) => boolean, ms: number, what: string): Promise<string> {
  const p = new Promise<string>((resolve, reject) => {
    const check = () => {
      if (pred(collected.text())) resolve(collected.text());
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', () => (pred(collected.text()) ? resolve(collected.text()) : reject(new Error(`process exited before ${what}:\n${collected.text()}`))));
    check();
  });
  return within(p, ms, what);
}

export interface CtrlResponse {
  response?: boolean;
  ok?: boolean;
  data?: string;
  token?: string;
  event?: boolean;
  type?: string;
}

/**
 * One baresip ctrl_tcp command: netstring-framed JSON
 * (`<len>:{"command":..,"params":..,"token":..},`, peers.md §4), resolved
 * with the response carrying our token (events in between are skipped).
 */
export async function ctrlTcp(port: number, command: string, params = '', ms = 10_000): Promise<CtrlResponse> {
  const token = `t${Math.floor(Math.random() * 1e9)}`;
  const socket = net.connect(port, '127.0.0.1');
  const p = new Promise<CtrlResponse>((resolve, reject) => {
    let buf = '';
    socket.once('error', reject);
    socket.once('connect', () => {
      const json = JSON.stringify({ command, params, token });
      socket.write(`${Buffer.byteLength(json)}:${json},`);
    });
    socket.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      for (;;) {
        const colon = buf.indexOf(':');
        if (colon < 0) return;
        const len = Number(buf.slice(0, colon));
        if (!Number.isInteger(len) || buf.length < colon + 1 + len + 1) return;
        const body = buf.slice(colon + 1, colon + 1 + len);
        buf = buf.slice(colon + 1 + len + 1);
        const msg = JSON.parse(body) as CtrlResponse;
        if (msg.response === true && msg.token === token) resolve(msg);
      }
    });
    socket.once('close', () => reject(new Error(`ctrl_tcp closed before answering ${command}`)));
  });
  try {
    return await within(p, ms, `baresip's answer to ${command}`);
  } finally {
    socket.destroy();
  }
}
