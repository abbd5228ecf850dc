import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { plainIp, remoteString } from './net.js';

/**
 * What a stream listener lets a connection hold before it has proved
 * anything (a completed TLS handshake, or a first SIP message on plain
 * TCP). Without this, a peer that opens connections and never finishes
 * its handshake keeps its slots and file descriptors forever: node's own
 * `handshakeTimeout` is an idle timer (a peer trickling one byte every
 * few seconds resets it) and, once a `tlsClientError` listener exists,
 * node leaves the socket open for that listener to close.
 *
 * So every accepted socket gets an absolute deadline from the moment it is
 * accepted, counts against its address's slots until it closes, and
 * against a cap on connections still in their opening phase, whatever
 * their address (many addresses must not exhaust descriptors either).
 */
export type GuardDropCode = 'handshake_timeout' | 'too_many_handshakes' | 'too_many_from_address';

export interface GuardDrop {
  code: GuardDropCode;
  ip: string;
  remote: string;
  reason: string;
}

export interface ConnectionGuardOptions {
  /** The opening phase in words, for reasons: `TLS handshake`, `first SIP message`. */
  phase: string;
  /** Deadline of the opening phase from accept. Default 10 s. */
  timeoutMs?: number;
  /** Connections in their opening phase at once, all addresses together. Default 256. */
  maxPending?: number;
  /** Open connections from one address (any phase); undefined = no cap here. */
  maxPerIp?: number | undefined;
  /** The flag an operator raises, named in the reason. */
  perIpFlag?: string;
  /** Called for every drop; reports are rate-limited by the caller's choice (see `reportable`). */
  onDrop: (d: GuardDrop) => void;
  now?: () => number;
}

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_PENDING = 256;

function key(address: string | undefined, port: number | undefined): string {
  return `${plainIp(address ?? '?')}|${port ?? 0}`;
}

export class ConnectionGuard {
  readonly timeoutMs: number;
  readonly maxPending: number;
  readonly #o: ConnectionGuardOptions;
  readonly #pending = new Map<string, { socket: Socket; timer: NodeJS.Timeout }>();
  readonly #perIp = new Map<string, number>();
  readonly #reportedAt = new Map<string, number>();
  /** Connections closed at their deadline whose follow-up error (if any) was not claimed yet. */
  #unclaimed = 0;
  readonly #now: () => number;

  constructor(o: ConnectionGuardOptions) {
    this.#o = o;
    this.timeoutMs = o.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.maxPending = o.maxPending ?? DEFAULT_MAX_PENDING;
    this.#now = o.now ?? Date.now;
  }

  /** Connections still in their opening phase. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Open connections from an address. */
  fromAddress(ip: string): number {
    return this.#perIp.get(plainIp(ip)) ?? 0;
  }

  /** A socket was accepted: false when it was refused (and destroyed). */
  admit(socket: Socket): boolean {
    socket.on('error', () => undefined);
    const ip = plainIp(socket.remoteAddress ?? '?');
    const remote = remoteString(socket.remoteAddress, socket.remotePort);
    const cap = this.#o.maxPerIp;
    const n = (this.#perIp.get(ip) ?? 0) + 1;
    if (cap !== undefined && n > cap) {
      socket.destroy();
      this.#drop({ code: 'too_many_from_address', ip, remote, reason: `more than ${cap} connections from ${ip}${this.#o.perIpFlag ? ` (${this.#o.perIpFlag})` : ''}` });
      return false;
    }
    if (this.#pending.size >= this.maxPending) {
      socket.destroy();
      this.#drop({ code: 'too_many_handshakes', ip, remote, reason: `${this.maxPending} connections already waiting for their ${this.#o.phase}` });
      return false;
    }
    this.#perIp.set(ip, n);
    const k = key(socket.remoteAddress, socket.remotePort);
    const timer = setTimeout(() => {
      if (this.#pending.get(k)?.socket !== socket) return;
      this.#pending.delete(k);
      this.#unclaimed = Math.min(this.#unclaimed + 1, this.maxPending);
      socket.destroy();
      this.#drop({ code: 'handshake_timeout', ip, remote, reason: `no ${this.#o.phase} within ${Math.round(this.timeoutMs / 100) / 10} s: connection closed` });
    }, this.timeoutMs);
    timer.unref();
    this.#pending.set(k, { socket, timer });
    // remoteAddress is gone once the handle closes: ip and k are captured above.
    socket.once('close', () => {
      const p = this.#pending.get(k);
      if (p?.socket === socket) {
        clearTimeout(p.timer);
        this.#pending.delete(k);
      }
      const left = (this.#perIp.get(ip) ?? 1) - 1;
      if (left <= 0) this.#perIp.delete(ip);
      else this.#perIp.set(ip, left);
    });
    return true;
  }

  /**
   * The opening phase completed. Takes the socket that completed it (for
   * TLS, the TLSSocket over the accepted one: same remote address and port).
   */
  established(socket: { remoteAddress?: string | undefined; remotePort?: number | undefined }): void {
    const k = key(socket.remoteAddress, socket.remotePort);
    const p = this.#pending.get(k);
    if (!p) return;
    clearTimeout(p.timer);
    this.#pending.delete(k);
  }

  /**
   * A TLS server reports the connection the guard closed once more, as a
   * reset of a socket whose address is already gone (node links the two
   * sockets only privately). Claims one such report: true when it is ours.
   */
  claimExpired(): boolean {
    if (this.#unclaimed === 0) return false;
    this.#unclaimed--;
    return true;
  }

  /** Destroys every connection still in its opening phase (server stopping). */
  close(): void {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.socket.destroy();
    }
    this.#pending.clear();
  }

  /** One report per address and code per 10 s: a flood must not flood the event stream. */
  #drop(d: GuardDrop): void {
    const now = this.#now();
    const rk = `${d.code}|${d.ip}`;
    if (now - (this.#reportedAt.get(rk) ?? -Infinity) < 10_000) return;
    if (this.#reportedAt.size > 10_000) this.#reportedAt.clear();
    this.#reportedAt.set(rk, now);
    this.#o.onDrop(d);
  }
}

/**
 * Client-initiated TLS 1.2 renegotiation is refused: each one costs the
 * server a full handshake (a CPU amplifier, CVE-2011-1473) and it can
 * swap the identity under an open flow. node emits the refusal as a
 * socket error and leaves closing to us; any other error ends the
 * connection just the same.
 */
export function refuseRenegotiation(socket: TLSSocket, report: (reason: string) => void): void {
  socket.disableRenegotiation();
  socket.on('error', (err: Error & { code?: string }) => {
    if (err.code === 'ERR_TLS_RENEGOTIATION_DISABLED' || err.code === 'ERR_TLS_SESSION_ATTACK') report('client-initiated TLS renegotiation refused: connection closed');
    socket.destroy();
  });
}
