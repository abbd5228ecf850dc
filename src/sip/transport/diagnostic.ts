/**
 * Diagnostic plain-SIP listeners (UDP and TCP, normally port 5060). They
 * exist only to explain a phone that did not take its TLS settings: every
 * request is answered `403` with `Warning: 399 <host> "use TLS on 5061"`
 * and reported as a `sip.reject` event naming the phone when it can be
 * guessed (From user, or the source address in the inventory). Nothing
 * is registered, authenticated or forwarded here: there is no plaintext
 * registration path, not even for tests.
 *
 * Abuse limits: UDP answers are at most one per second per address (no
 * reflection amplifier: a 403 is about the size of the request anyway),
 * events at most one per address per minute; a TCP connection is closed
 * after its first answer, and one that has not sent a whole first message
 * within the deadline (10 s by default, counted from accept, so trickling
 * bytes does not extend it) is closed too. TCP connections are capped per
 * address and, while they wait for that first message, in total.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { plainIp, remoteString } from '../../core/net.js';
import { ConnectionGuard } from '../../core/conn-guard.js';
import { StreamFramer } from './framer.js';
import type { SipRequest } from '../message/message.js';
import { parseDatagram, type ParseResult } from '../message/parser.js';
import { buildResponse, serialize } from '../message/serializer.js';
import { isSipUri, unescapeBinary } from '../message/uri.js';

/** Why the guard dropped a diagnostic TCP connection, as event codes. */
const DROP_CODES = { handshake_timeout: 'sip.first_message_timeout', too_many_handshakes: 'conn.too_many_handshakes', too_many_from_address: 'conn.too_many_per_address' } as const;
export type DiagnosticDropCode = (typeof DROP_CODES)[keyof typeof DROP_CODES];

export interface DiagnosticOptions {
  host: string;
  port: number;
  /** The TLS port to point phones at. */
  tlsPort: number;
  warnAgent: string;
  allows?: (ip: string) => boolean;
  /** A TCP connection must deliver a whole first message this long after accept. Default 10 s. */
  firstMessageTimeoutMs?: number;
  /** TCP connections from one address. Default 64. */
  maxConnectionsPerIp?: number;
  /** TCP connections waiting for their first message, all addresses together. Default 256. */
  maxPending?: number;
  /** Which phone this probably is (From user, source address). */
  guessPhone: (user: string | undefined, ip: string) => string | undefined;
  report: (ev: { remote: string; transport: 'udp' | 'tcp'; phone: string | undefined; what: string; why: string; status: number | 'dropped'; code?: DiagnosticDropCode }) => void;
  now?: () => number;
}

export interface DiagnosticListeners {
  udpPort: number | undefined;
  tcpPort: number | undefined;
  /** Why a listener could not start (port busy), if so. */
  problems: string[];
  close(): Promise<void>;
}

class Limiter {
  readonly #last = new Map<string, number>();
  constructor(
    readonly everyMs: number,
    readonly now: () => number,
  ) {}
  allow(key: string): boolean {
    const t = this.now();
    const last = this.#last.get(key);
    if (last !== undefined && t - last < this.everyMs) return false;
    if (this.#last.size > 10_000) this.#last.clear();
    this.#last.set(key, t);
    return true;
  }
}

function fromUser(req: SipRequest): string | undefined {
  const from = req.from();
  return from.ok && isSipUri(from.value.uri) && from.value.uri.user !== undefined ? unescapeBinary(from.value.uri.user) : undefined;
}

export async function startDiagnostics(o: DiagnosticOptions): Promise<DiagnosticListeners> {
  const now = o.now ?? Date.now;
  const answers = new Limiter(1000, now);
  const events = new Limiter(60_000, now);
  const why = `plain SIP is not served here: use TLS on port ${o.tlsPort}`;
  const warning = `399 ${o.warnAgent} "use TLS on ${o.tlsPort}"`;
  const problems: string[] = [];

  /** The 403 for a request, or undefined (responses, ACK, junk). */
  const handle = (r: ParseResult, ip: string, remote: string, transport: 'udp' | 'tcp'): Buffer | undefined => {
    const msg = r.ok ? r.message : r.partial;
    if (!msg || msg.kind !== 'request') {
      if (events.allow(`${transport}:${ip}`)) o.report({ remote, transport, phone: o.guessPhone(undefined, ip), what: 'non-SIP or response', why: r.ok ? 'response on the diagnostic port' : r.reason, status: 'dropped' });
      return undefined;
    }
    const user = fromUser(msg);
    const phone = o.guessPhone(user, ip);
    if (events.allow(`${transport}:${ip}`)) {
      o.report({ remote, transport, phone, what: `${msg.method.slice(0, 20)} ${msg.uri.slice(0, 80)}${user ? ` from ${user.slice(0, 40)}` : ''}`, why, status: msg.method === 'ACK' ? 'dropped' : 403 });
    }
    if (msg.method === 'ACK') return undefined;
    return serialize(buildResponse(msg, 403, undefined, { headers: [['Warning', warning]] }));
  };

  const udp = dgram.createSocket(o.host.includes(':') ? 'udp6' : 'udp4');
  udp.on('message', (data, rinfo) => {
    const ip = plainIp(rinfo.address);
    if (o.allows && !o.allows(ip)) return;
    try {
      const res = handle(parseDatagram(data), ip, remoteString(rinfo.address, rinfo.port), 'udp');
      if (res && answers.allow(ip)) udp.send(res, rinfo.port, rinfo.address);
    } catch {
      // never let a datagram take the server down
    }
  });
  udp.on('error', () => undefined);
  let udpPort: number | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(o.port, o.host, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    udpPort = udp.address().port;
  } catch (e) {
    problems.push(`UDP ${o.port}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    udp.close();
  }

  const sockets = new Set<net.Socket>();
  const guard = new ConnectionGuard({
    phase: 'first SIP message',
    ...(o.firstMessageTimeoutMs !== undefined ? { timeoutMs: o.firstMessageTimeoutMs } : {}),
    ...(o.maxPending !== undefined ? { maxPending: o.maxPending } : {}),
    maxPerIp: o.maxConnectionsPerIp ?? 64,
    now,
    onDrop: (d) => o.report({ remote: d.remote, transport: 'tcp', phone: o.guessPhone(undefined, d.ip), what: 'connection', why: d.reason, status: 'dropped', code: DROP_CODES[d.code] }),
  });
  const tcp = net.createServer((socket) => {
    const ip = plainIp(socket.remoteAddress ?? '?');
    if (o.allows && !o.allows(ip)) {
      socket.destroy();
      return;
    }
    if (!guard.admit(socket)) return;
    sockets.add(socket);
    // After the first message only the answer is left to flush: a peer that never reads must not hold the socket.
    socket.on('close', () => sockets.delete(socket));
    const framer = new StreamFramer();
    const remote = remoteString(socket.remoteAddress, socket.remotePort);
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const ev of framer.push(chunk)) {
          if (ev.type !== 'message') continue;
          guard.established(socket);
          const res = handle(ev.result, ip, remote, 'tcp');
          if (res) socket.write(res);
          socket.end();
          setTimeout(() => socket.destroy(), 2000).unref();
          return;
        }
        if (framer.closed) socket.end();
      } catch {
        socket.destroy();
      }
    });
  });
  tcp.on('error', () => undefined);
  let tcpPort: number | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      // Same port as UDP when the OS chose one (port 0).
      tcp.listen(udpPort !== undefined && o.port === 0 ? udpPort : o.port, o.host, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    const a = tcp.address();
    tcpPort = typeof a === 'object' && a ? a.port : undefined;
  } catch (e) {
    problems.push(`TCP ${o.port}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }

  return {
    udpPort,
    tcpPort,
    problems,
    close: async () => {
      if (udpPort !== undefined) udp.close();
      guard.close();
      for (const s of sockets) s.destroy();
      if (tcpPort !== undefined) await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
}
