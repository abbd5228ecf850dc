/**
 * The read-only TFTP server `sipsec serve` answers phones with at boot.
 *
 * The server port only takes requests. A read request passes the packet
 * parser, the file-name gate and the capacity caps, then asks `lookup`;
 * a file found gets a fresh socket (a new TID, RFC 1350 §4) and a
 * ReadTransfer. Refusals are answered from the server port, which every
 * client accepts as the first reply and which costs no socket, so junk
 * cannot make us open sockets.
 */
import dgram from 'node:dgram';
import type { RemoteInfo, Socket, SocketType } from 'node:dgram';
import net from 'node:net';
import { SipsecError, errnoCode, messageOf } from '../../core/errors.js';
import { TFTP_RESULT_CODES } from '../../events/index.js';
import { EventGate } from './event-gate.js';
import { checkFileName } from './filename.js';
import { toNetascii } from './netascii.js';
import { MAX_BLKSIZE, MIN_BLKSIZE, negotiate } from './options.js';
import { TftpErrorCode, Op, encodeError, encodeOack, parseRequest, printable } from './packet.js';
import type { TftpRequest } from './packet.js';
import { ReadTransfer } from './transfer.js';
import type { TransferEnd } from './transfer.js';
import type {
  TftpEvent,
  TftpLookup,
  TftpLookupResult,
  TftpResult,
  TftpServer,
  TftpServerOptions,
  TftpTransferEvent,
} from './types.js';

const DEFAULTS = {
  host: '0.0.0.0',
  port: 69,
  maxBlksize: 1468,
  maxWindowsize: 64,
  timeoutMs: 1000,
  retries: 5,
  maxTransfers: 512,
  maxPerIp: 64,
  maxEventsPerSecond: 200,
} as const;

/** See TftpServerOptions.maxWindowsize. */
const WINDOWSIZE_CEILING = 1024;

interface Settings {
  host: string;
  port: number;
  family: 4 | 6;
  lookup: TftpLookup;
  maxBlksize: number;
  maxWindowsize: number;
  timeoutMs: number;
  retries: number;
  maxTransfers: number;
  maxPerIp: number;
  maxEventsPerSecond: number;
  stripLeadingSlash: boolean;
}

/**
 * Starts the server; resolves once it is listening.
 * Throws SipsecError BAD_INPUT for bad options, BIND_FAILED when the port
 * cannot be bound (with the fix in the hint).
 */
export async function createTftpServer(opts: TftpServerOptions): Promise<TftpServer> {
  const settings = validate(opts);
  const server = new Server(settings, opts.onEvent);
  await server.listen();
  return server;
}

function validate(opts: TftpServerOptions): Settings {
  const host = opts.host ?? DEFAULTS.host;
  const family = net.isIP(host);
  if (family === 0) {
    throw new SipsecError('BAD_IP', `TFTP host '${host}' is not an IP address`, 'give an address such as 0.0.0.0, 192.168.1.10 or ::');
  }
  const int = (name: string, value: number | undefined, fallback: number, min: number, max: number): number => {
    const v = value ?? fallback;
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new SipsecError('BAD_INPUT', `TFTP ${name} must be an integer from ${min} to ${max}, got ${String(v)}`);
    }
    return v;
  };
  if (typeof opts.lookup !== 'function') throw new SipsecError('BAD_INPUT', 'TFTP server needs a lookup function');
  return {
    host,
    family: family === 6 ? 6 : 4,
    port: int('port', opts.port, DEFAULTS.port, 0, 65535),
    lookup: opts.lookup,
    maxBlksize: int('maxBlksize', opts.maxBlksize, DEFAULTS.maxBlksize, MIN_BLKSIZE, MAX_BLKSIZE),
    maxWindowsize: int('maxWindowsize', opts.maxWindowsize, DEFAULTS.maxWindowsize, 1, WINDOWSIZE_CEILING),
    timeoutMs: int('timeoutMs', opts.timeoutMs, DEFAULTS.timeoutMs, 1, 255_000),
    retries: int('retries', opts.retries, DEFAULTS.retries, 0, 100),
    maxTransfers: int('maxTransfers', opts.maxTransfers, DEFAULTS.maxTransfers, 1, 65536),
    maxPerIp: int('maxPerIp', opts.maxPerIp, DEFAULTS.maxPerIp, 1, 65536),
    maxEventsPerSecond: int('maxEventsPerSecond', opts.maxEventsPerSecond, DEFAULTS.maxEventsPerSecond, 1, 1_000_000),
    stripLeadingSlash: opts.stripLeadingSlash ?? false,
  };
}

/**
 * The error `sipsec serve` prints when the TFTP port cannot be bound.
 * Exported for tests: EACCES cannot be provoked when running as root.
 */
export function bindFailure(err: unknown, host: string, port: number): SipsecError {
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  switch (errnoCode(err)) {
    case 'EACCES':
    case 'EPERM':
      return new SipsecError(
        'BIND_FAILED',
        `cannot listen for TFTP on UDP ${where}: permission denied (ports below 1024 need privileges)`,
        'use --tftp-port with a port above 1023, or allow node to bind low ports: setcap cap_net_bind_service=+ep $(readlink -f $(which node)), or run as root',
      );
    case 'EADDRINUSE':
      return new SipsecError(
        'BIND_FAILED',
        `cannot listen for TFTP on UDP ${where}: the port is already in use (another TFTP server such as tftpd-hpa or dnsmasq, or another sipsec serve?)`,
        'stop the other server (e.g. systemctl disable --now tftpd-hpa) or use --tftp-port',
      );
    case 'EADDRNOTAVAIL':
      return new SipsecError(
        'BIND_FAILED',
        `cannot listen for TFTP on UDP ${where}: ${host} is not an address of this machine`,
        'use an address of this machine, or 0.0.0.0 for all of them',
      );
    default:
      return new SipsecError('BIND_FAILED', `cannot listen for TFTP on UDP ${where}: ${messageOf(err)}`);
  }
}

/**
 * dgram resolves every send's address through dns.lookup, which for an IP
 * literal still costs a process.nextTick per packet. All our addresses are
 * literals of the socket's own family (validated host, or rinfo.address),
 * so answer synchronously without even re-parsing them.
 */
type LookupCallback = (err: Error | null, address: string, family: number) => void;
const literalLookup4 = (address: string, _family: unknown, cb: LookupCallback): void => cb(null, address, 4);
const literalLookup6 = (address: string, _family: unknown, cb: LookupCallback): void => cb(null, address, 6);

function newSocket(family: 4 | 6): Socket {
  const type: SocketType = family === 6 ? 'udp6' : 'udp4';
  return dgram.createSocket({ type, lookup: family === 6 ? literalLookup6 : literalLookup4 });
}

function isPromiseLike(v: unknown): v is PromiseLike<TftpLookupResult> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function remoteString(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** One request from arrival to end: waiting on lookup, then transferring. */
interface Slot {
  key: string;
  ip: string;
  port: number;
  /** A copy of the RRQ, to recognise the client's retransmissions of it. */
  request: Buffer;
  t0: number;
  file: string;
  mode: string;
  requested: Record<string, string>;
  transfer: ReadTransfer | undefined;
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  meta: Record<string, unknown> | undefined;
  released: boolean;
}

class Server implements TftpServer {
  private readonly main: Socket;
  private readonly gate: EventGate;
  private readonly slots = new Set<Slot>();
  private readonly byKey = new Map<string, Slot>();
  private readonly perIp = new Map<string, number>();
  private closed = false;
  private mainOpen = false;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly s: Settings,
    private readonly onEvent: ((ev: TftpEvent) => void) | undefined,
  ) {
    this.main = newSocket(s.family);
    this.gate = new EventGate(s.maxEventsPerSecond, this.emit);
  }

  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        this.closed = true;
        this.closing = Promise.resolve();
        try {
          this.main.close();
        } catch {
          // a socket that never bound may already count as closed
        }
        reject(bindFailure(err, this.s.host, this.s.port));
      };
      this.main.once('error', onError);
      this.main.bind({ port: this.s.port, address: this.s.host }, () => {
        this.main.off('error', onError);
        this.mainOpen = true;
        // After binding, socket errors are per-datagram and not fatal.
        this.main.on('error', () => undefined);
        this.main.on('message', this.onRequest);
        resolve();
      });
    });
  }

  address(): { address: string; family: string; port: number } {
    return this.main.address();
  }

  get activeTransfers(): number {
    return this.slots.size;
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    for (const slot of [...this.slots]) {
      if (slot.transfer) {
        slot.transfer.abort('server shutting down');
      } else {
        this.replyTo(slot.ip, slot.port, TftpErrorCode.NOT_DEFINED, 'server shutting down');
        this.finish(slot, 'error', 'server closed while looking up the file', 0, undefined, 0);
      }
    }
    this.closing = new Promise<void>((resolve) => {
      this.mainOpen = false;
      this.main.close(() => {
        this.gate.flush();
        resolve();
      });
    });
    return this.closing;
  }

  private readonly emit = (ev: TftpEvent): void => {
    if (!this.onEvent) return;
    try {
      this.onEvent(ev);
    } catch {
      // An operator's event sink must not take the server down.
    }
  };

  private readonly onRequest = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (this.closed || rinfo.port === 0) return;
    if (msg.length < 2) {
      this.badPacket(rinfo, msg, 'datagram shorter than an opcode');
      return;
    }
    const op = msg.readUInt16BE(0);
    switch (op) {
      case Op.RRQ:
        this.onRead(msg, rinfo);
        return;
      case Op.WRQ:
        this.onWrite(msg, rinfo);
        return;
      case Op.ERROR:
        // Never answer an ERROR (RFC 1350 §7), so two hosts cannot ping-pong.
        this.badPacket(rinfo, msg, 'ERROR packet on the server port');
        return;
      default: {
        const reason = op >= Op.DATA && op <= Op.OACK
          ? `opcode ${op} on the server port, which only takes read requests`
          : `unknown opcode ${op}`;
        this.reply(rinfo, TftpErrorCode.ILLEGAL_OPERATION, `illegal operation: ${reason}`);
        this.badPacket(rinfo, msg, reason);
      }
    }
  };

  private onWrite(msg: Buffer, rinfo: RemoteInfo): void {
    const t0 = performance.now();
    const parsed = parseRequest(msg);
    const reason = 'write requests are refused: this server is read-only';
    this.reply(rinfo, TftpErrorCode.ACCESS_VIOLATION, reason);
    const file = parsed.ok ? printable(parsed.request.name) : parsed.name ? printable(parsed.name) : '';
    const mode = parsed.ok ? parsed.request.mode : '';
    this.refusal({ op: 'write', file, mode, rinfo, t0, result: 'denied', reason });
  }

  private onRead(msg: Buffer, rinfo: RemoteInfo): void {
    const t0 = performance.now();
    const key = remoteString(rinfo.address, rinfo.port);
    // RFC 1350 clients resend the RRQ until the first reply arrives. A copy
    // from the same TID while its transfer runs is that, not a new request:
    // the transfer's own retransmissions answer it.
    const existing = this.byKey.get(key);
    if (existing && existing.request.equals(msg)) return;

    const parsed = parseRequest(msg);
    if (!parsed.ok) {
      const file = parsed.name ? printable(parsed.name) : '';
      this.reply(rinfo, TftpErrorCode.ILLEGAL_OPERATION, `illegal operation: ${parsed.reason}`);
      this.refusal({ op: 'read', file, mode: '', rinfo, t0, result: 'malformed', reason: parsed.reason });
      return;
    }
    const req = parsed.request;
    const file = printable(req.name);
    if (req.mode !== 'octet' && req.mode !== 'netascii') {
      // RFC 1350 §5 "mail" is for writes only, and obsolete.
      const reason = `unsupported transfer mode '${printable(Buffer.from(req.mode, 'latin1'), 16)}' (use octet or netascii)`;
      this.reply(rinfo, TftpErrorCode.ILLEGAL_OPERATION, reason);
      this.refusal({ op: 'read', file, mode: req.mode, rinfo, t0, result: 'malformed', reason });
      return;
    }
    const name = checkFileName(req.name, { stripLeadingSlash: this.s.stripLeadingSlash });
    if (!name.ok) {
      this.reply(rinfo, name.code, name.reason);
      this.refusal({ op: 'read', file, mode: req.mode, rinfo, t0, result: 'denied', reason: name.reason });
      return;
    }
    const fromIp = this.perIp.get(rinfo.address) ?? 0;
    if (this.slots.size >= this.s.maxTransfers || fromIp >= this.s.maxPerIp) {
      // Dropped without a reply: an ERROR would end the phone's boot attempt,
      // silence makes it resend the RRQ on its own timer, when a slot may be free.
      const reason = this.slots.size >= this.s.maxTransfers
        ? `server busy: ${this.s.maxTransfers} transfers in progress`
        : `server busy: ${this.s.maxPerIp} transfers in progress from ${rinfo.address}`;
      this.refusal({ op: 'read', file, mode: req.mode, rinfo, t0, result: 'busy', reason });
      return;
    }

    const slot: Slot = {
      key,
      ip: rinfo.address,
      port: rinfo.port,
      request: Buffer.from(msg),
      t0,
      file,
      mode: req.mode,
      requested: {},
      transfer: undefined,
      blksize: 512,
      windowsize: 1,
      timeoutMs: this.s.timeoutMs,
      meta: undefined,
      released: false,
    };
    this.slots.add(slot);
    this.byKey.set(key, slot);
    this.perIp.set(rinfo.address, fromIp + 1);
    this.lookupAndStart(slot, req, name.name);
  }

  private lookupAndStart(slot: Slot, req: TftpRequest, name: string): void {
    let answer: Promise<TftpLookupResult> | TftpLookupResult;
    try {
      answer = this.s.lookup(name, { address: slot.ip, port: slot.port });
    } catch (e) {
      this.lookupFailed(slot, e);
      return;
    }
    if (isPromiseLike(answer)) {
      Promise.resolve(answer).then(
        (r) => this.afterLookup(slot, req, r),
        (e: unknown) => this.lookupFailed(slot, e),
      );
    } else {
      this.afterLookup(slot, req, answer);
    }
  }

  private lookupFailed(slot: Slot, e: unknown): void {
    if (slot.released) return;
    this.replyTo(slot.ip, slot.port, TftpErrorCode.NOT_DEFINED, 'internal server error');
    this.finish(slot, 'error', `lookup failed: ${messageOf(e)}`, 0, undefined, 0);
  }

  private afterLookup(slot: Slot, req: TftpRequest, r: TftpLookupResult): void {
    if (slot.released) return; // the server closed meanwhile
    if (r === null || typeof r !== 'object') {
      this.lookupFailed(slot, new Error('lookup returned no result'));
      return;
    }
    slot.meta = r.meta;
    if (!r.ok) {
      const code = Number.isInteger(r.code) && r.code >= 0 && r.code <= 8 ? r.code : TftpErrorCode.NOT_DEFINED;
      const message = typeof r.message === 'string' && r.message ? r.message : 'refused';
      this.replyTo(slot.ip, slot.port, code, message);
      this.finish(slot, code === TftpErrorCode.FILE_NOT_FOUND ? 'not-found' : 'denied', message, 0, undefined, 0);
      return;
    }
    if (!Buffer.isBuffer(r.data)) {
      this.lookupFailed(slot, new Error('lookup returned ok without a Buffer'));
      return;
    }
    const data = slot.mode === 'netascii' ? toNetascii(r.data) : r.data;
    const neg = negotiate(req.options, data.length, this.s);
    slot.requested = neg.requested;
    slot.blksize = neg.blksize;
    slot.windowsize = neg.windowsize;
    slot.timeoutMs = neg.timeoutMs ?? this.s.timeoutMs;

    let sock: Socket;
    try {
      sock = newSocket(this.s.family);
    } catch (e) {
      this.replyTo(slot.ip, slot.port, TftpErrorCode.NOT_DEFINED, 'server out of resources');
      this.finish(slot, 'error', `cannot open a transfer socket: ${messageOf(e)}`, 0, data.length, 0);
      return;
    }
    const onBindError = (e: Error): void => {
      try {
        sock.close();
      } catch {
        // not bound, nothing to close
      }
      this.replyTo(slot.ip, slot.port, TftpErrorCode.NOT_DEFINED, 'server out of resources');
      this.finish(slot, 'error', `cannot bind a transfer socket: ${e.message}`, 0, data.length, 0);
    };
    sock.once('error', onBindError);
    // Port 0: the kernel picks the new TID (RFC 1350 §4 wants it random-ish).
    sock.bind({ port: 0, address: this.s.host }, () => {
      sock.off('error', onBindError);
      if (slot.released) {
        sock.close();
        return;
      }
      const transfer = new ReadTransfer({
        socket: sock,
        address: slot.ip,
        port: slot.port,
        data,
        blksize: neg.blksize,
        windowsize: neg.windowsize,
        timeoutMs: slot.timeoutMs,
        backoff: neg.timeoutMs === undefined,
        retries: this.s.retries,
        oack: neg.oack.length > 0 ? encodeOack(neg.oack) : null,
        onEnd: (t, result, reason) => this.transferEnded(slot, t, result, reason),
      });
      slot.transfer = transfer;
      transfer.start();
    });
  }

  private transferEnded(slot: Slot, t: ReadTransfer, result: TransferEnd, reason: string | undefined): void {
    this.finish(slot, result, reason, t.bytesAcked, t.size, t.retransmits);
  }

  /** Releases the slot and reports the request's outcome. */
  private finish(slot: Slot, result: TftpResult, reason: string | undefined, bytes: number, size: number | undefined, retransmits: number): void {
    if (slot.released) return;
    slot.released = true;
    this.slots.delete(slot);
    if (this.byKey.get(slot.key) === slot) this.byKey.delete(slot.key);
    const n = (this.perIp.get(slot.ip) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(slot.ip);
    else this.perIp.set(slot.ip, n);

    const ev: TftpTransferEvent = {
      event: 'tftp.transfer',
      op: 'read',
      file: slot.file,
      remote: slot.key,
      result,
      mode: slot.mode,
      bytes,
      ms: Math.round((performance.now() - slot.t0) * 1000) / 1000,
      blksize: slot.blksize,
      windowsize: slot.windowsize,
      timeoutMs: slot.timeoutMs,
      retransmits,
      requested: slot.requested,
    };
    if (reason !== undefined) ev.reason = reason;
    if (result !== 'ok') ev.code = TFTP_RESULT_CODES[result];
    if (size !== undefined) ev.size = size;
    if (slot.meta !== undefined) ev.meta = slot.meta;
    if (result === 'ok') this.emit(ev);
    else this.gate.offer(ev, result);
  }

  /** An event for a request refused before lookup. */
  private refusal(r: { op: 'read' | 'write'; file: string; mode: string; rinfo: RemoteInfo; t0: number; result: TftpResult; reason: string }): void {
    const ev: TftpTransferEvent = {
      event: 'tftp.transfer',
      op: r.op,
      file: r.file,
      remote: remoteString(r.rinfo.address, r.rinfo.port),
      result: r.result,
      reason: r.reason,
      ...(r.result !== 'ok' ? { code: TFTP_RESULT_CODES[r.result] } : {}),
      mode: r.mode,
      bytes: 0,
      ms: Math.round((performance.now() - r.t0) * 1000) / 1000,
      blksize: 512,
      windowsize: 1,
      timeoutMs: this.s.timeoutMs,
      retransmits: 0,
      requested: {},
    };
    this.gate.offer(ev, r.result);
  }

  private badPacket(rinfo: RemoteInfo, msg: Buffer, reason: string): void {
    this.gate.offer(
      { event: 'tftp.bad-packet', remote: remoteString(rinfo.address, rinfo.port), reason, length: msg.length, code: 'tftp.bad_packet' },
      'bad-packet',
    );
  }

  private reply(rinfo: RemoteInfo, code: number, message: string): void {
    this.replyTo(rinfo.address, rinfo.port, code, message);
  }

  private replyTo(address: string, port: number, code: number, message: string): void {
    if (!this.mainOpen) return;
    this.main.send(encodeError(code, message), port, address);
  }
}
