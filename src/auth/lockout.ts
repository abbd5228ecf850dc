/**
 * Brute-force defence: a fail2ban-like failure tracker inside the process,
 * and log lines the stock fail2ban `asterisk` filter already understands,
 * so an admin can also ban at the firewall.
 *
 * Defaults follow fail2ban's `[asterisk]` jail (jail.conf: maxretry 10,
 * findtime 10m, bantime 10m).
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface LockoutOptions {
  /** Failures within the window that trigger a block. Default 10. */
  maxFailures?: number;
  /** Sliding window for counting failures. Default 10 minutes. */
  windowMs?: number;
  /** How long a block lasts. Default 10 minutes. */
  blockMs?: number;
  /** Clock in ms. Default Date.now. */
  now?: () => number;
  /** Most addresses remembered (oldest forgotten first). Default 65 536. */
  maxTracked?: number;
}

export interface FailureRecord {
  /** The address is (now) blocked. */
  readonly blocked: boolean;
  /** Failures counted in the current window. */
  readonly failures: number;
  /** When the block ends (ms), if blocked. */
  readonly blockedUntil: number | undefined;
}

interface Entry {
  times: number[];
  blockedUntil: number;
}

/** Counts authentication failures per key (normally the source IP). */
export class FailureTracker {
  readonly maxFailures: number;
  readonly windowMs: number;
  readonly blockMs: number;
  readonly #now: () => number;
  readonly #maxTracked: number;
  readonly #entries = new Map<string, Entry>();

  constructor(opts: LockoutOptions = {}) {
    this.maxFailures = opts.maxFailures ?? 10;
    this.windowMs = opts.windowMs ?? 600_000;
    this.blockMs = opts.blockMs ?? 600_000;
    this.#now = opts.now ?? Date.now;
    this.#maxTracked = opts.maxTracked ?? 65_536;
  }

  /** Whether requests from `key` should be refused now (drop them, or 403). */
  isBlocked(key: string): boolean {
    const e = this.#entries.get(key);
    return e !== undefined && e.blockedUntil > this.#now();
  }

  blockedUntil(key: string): number | undefined {
    const e = this.#entries.get(key);
    return e && e.blockedUntil > this.#now() ? e.blockedUntil : undefined;
  }

  recordFailure(key: string): FailureRecord {
    const now = this.#now();
    let e = this.#entries.get(key);
    if (e) {
      // Re-insert so Map order stays least-recently-failed first.
      this.#entries.delete(key);
    } else {
      this.#evict(now);
      e = { times: [], blockedUntil: 0 };
    }
    this.#entries.set(key, e);
    if (e.blockedUntil > now) return { blocked: true, failures: e.times.length, blockedUntil: e.blockedUntil };
    const since = now - this.windowMs;
    e.times = e.times.filter((t) => t > since);
    e.times.push(now);
    if (e.times.length >= this.maxFailures) {
      e.blockedUntil = now + this.blockMs;
      const failures = e.times.length;
      e.times = [];
      return { blocked: true, failures, blockedUntil: e.blockedUntil };
    }
    return { blocked: false, failures: e.times.length, blockedUntil: undefined };
  }

  /** Forgets a key (an admin unban). Successes deliberately do not reset counts, as in fail2ban. */
  reset(key: string): void {
    this.#entries.delete(key);
  }

  get tracked(): number {
    return this.#entries.size;
  }

  #evict(now: number): void {
    for (const [key, e] of this.#entries) {
      const idle = e.blockedUntil <= now && (e.times.length === 0 || e.times[e.times.length - 1]! <= now - this.windowMs);
      if (!idle && this.#entries.size < this.#maxTracked) break;
      this.#entries.delete(key);
    }
  }
}

export interface SecurityEvent {
  /** Asterisk event names the fail2ban filter matches. */
  event: 'InvalidAccountID' | 'InvalidPassword' | 'ChallengeResponseFailed' | 'FailedACL';
  /** The username tried. */
  accountId: string;
  /** Session identifier: the Call-ID. */
  sessionId: string;
  transport: 'UDP' | 'TCP' | 'TLS' | 'WS' | 'WSS';
  /** Asterisk's Service field. Default `SIP`; HTTPS provisioning writes `HTTPS` (the password tried is the same SIP secret). */
  service?: 'SIP' | 'HTTPS';
  local: { address: string; port: number };
  remote: { address: string; port: number };
  /** Our nonce, the nonce the client answered, and its response (EventVersion 2 fields). */
  challenge?: string;
  receivedChallenge?: string;
  receivedHash?: string;
  /** Default: now. */
  time?: Date;
  /** Default: process.pid. */
  pid?: number;
}

/**
 * Values come from the network: without this a username like
 * `x",RemoteAddress="IPV4/UDP/192.0.2.1/5060` would make fail2ban ban an
 * innocent address. Quotes, backslashes, commas (the field separator),
 * controls and non-ASCII become %XX.
 */
function clean(v: string, max = 128): string {
  let out = '';
  for (const byte of Buffer.from(v.slice(0, max), 'utf8')) {
    const plain = byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c && byte !== 0x25 && byte !== 0x2c;
    out += plain ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** `IPV4/TLS/192.0.2.1/5061`; an IPv4-mapped IPv6 address is written as IPv4 so the ban hits it. */
function address(transport: string, a: { address: string; port: number }): string {
  let ip = a.address;
  if (ip.toLowerCase().startsWith('::ffff:') && isIPv4(ip.slice(7))) ip = ip.slice(7);
  const family = isIPv6(ip) ? 'IPV6' : 'IPV4';
  return `${family}/${transport}/${clean(ip, 64)}/${Math.trunc(a.port)}`;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

function localOffset(d: Date): string {
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? '+' : '-';
  const abs = Math.abs(off);
  return `${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`;
}

/**
 * One log line in the format of Asterisk's res_security_log, e.g.
 *
 *   [2025-01-02 03:04:05] SECURITY[1234] sipsec: SecurityEvent="InvalidPassword",EventTV="2025-01-02T03:04:05.678+0000",Severity="Error",Service="SIP",EventVersion="2",AccountID="alice",SessionID="a84b4c76e66710",LocalAddress="IPV4/TLS/192.0.2.1/5061",RemoteAddress="IPV4/TLS/198.51.100.7/50123",Challenge="...",ReceivedChallenge="...",ReceivedHash="..."
 *
 * which fail2ban's stock `filter.d/asterisk.conf` matches (its
 * SecurityEvent failregex takes the host from RemoteAddress). Times are
 * local, as Asterisk writes them and fail2ban reads them.
 */
export function formatSecurityEvent(e: SecurityEvent): string {
  const d = e.time ?? new Date();
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const tv = `${date}T${time}.${pad(d.getMilliseconds(), 3)}${localOffset(d)}`;
  const v2 = e.challenge !== undefined || e.receivedChallenge !== undefined || e.receivedHash !== undefined;
  let line =
    `[${date} ${time}] SECURITY[${e.pid ?? process.pid}] sipsec: ` +
    `SecurityEvent="${e.event}",EventTV="${tv}",Severity="Error",Service="${e.service ?? 'SIP'}",EventVersion="${v2 ? 2 : 1}",` +
    `AccountID="${clean(e.accountId)}",SessionID="${clean(e.sessionId)}",` +
    `LocalAddress="${address(e.transport, e.local)}",RemoteAddress="${address(e.transport, e.remote)}"`;
  if (e.challenge !== undefined) line += `,Challenge="${clean(e.challenge)}"`;
  if (e.receivedChallenge !== undefined) line += `,ReceivedChallenge="${clean(e.receivedChallenge)}"`;
  if (e.receivedHash !== undefined) line += `,ReceivedHash="${clean(e.receivedHash)}"`;
  return line;
}
