/**
 * SIP over TLS, server side (RFC 3261 §18, §26.2; RFC 5626 keep-alives):
 * the listener phones register on, normally port 5061.
 *
 * Per connection: a handshake timeout, the client certificate check, a
 * StreamFramer (framing, limits, CRLF ping/pong), an idle timeout, and a
 * cap on connections per source address. Parsed messages go to the core
 * together with their Flow; the transport never interprets SIP.
 *
 * Client certificates. The certificate is always asked for
 * (requestCert). How a bad one is refused depends on `requireCert`:
 *
 * - requireCert (`--client-cert required`): OpenSSL itself refuses a
 *   handshake without a certificate, so the phone gets a TLS alert
 *   (certificate_required, 116, in TLS 1.3; handshake_failure, 40, in
 *   TLS 1.2). A certificate that does not verify (other CA, revoked,
 *   expired) is closed by node right after the handshake; node's server
 *   verify callback always accepts, so OpenSSL sends no alert there
 *   (known gap). The event still says why (`authorizationError`).
 * - otherwise (per-phone default, `optional`): the handshake completes, the
 *   verification result is kept on the flow, and the core answers the
 *   first request with 403 and a Warning saying why, then closes. This is
 *   what lets a phone that cannot present a certificate (Cisco SPA, Snom)
 *   share the port with phones that must.
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { plainIp, remoteString } from '../../core/net.js';
import { ConnectionGuard, refuseRenegotiation, type GuardDrop } from '../../core/conn-guard.js';
import { PONG, StreamFramer } from './framer.js';
import type { ParseResult } from '../message/parser.js';
import { serialize, responseFor } from '../message/serializer.js';
import type { Flow, FlowIdentityVia, TlsPeer } from './flow.js';
import type { SipLimits } from '../message/limits.js';
import type { CertFailureCode, TlsFailureCode } from '../../events/index.js';
import { certFailureCode, handshakeFailureCode } from '../../core/tls-failure.js';

export interface TlsCredentials {
  cert: string;
  key: string;
  ca: string;
  /** PEM CRLs, one per trusted CA: revoked phone certificates fail verification (CERT_REVOKED). */
  crl?: string | string[] | undefined;
}

export type TlsMin = '1.0' | '1.1' | '1.2' | '1.3';

export interface HandshakeReport {
  remote: string;
  ok: boolean;
  version?: string | undefined;
  cipher?: string | undefined;
  certSerial?: string | undefined;
  certSubject?: string | undefined;
  /** Why the handshake or the certificate failed. */
  error?: string | undefined;
  /** With a code sipsec decided itself (timeout, renegotiation): the same in words. */
  reason?: string | undefined;
  /** The TLS alert involved: what sipsec sent, or what the peer sent. */
  alert?: string | undefined;
  /** `error` as a failure code. */
  code?: TlsFailureCode | undefined;
  phone?: string | undefined;
  /** Whether the certificate is the phone's current one (false: an older one in its renewal overlap). */
  current?: boolean | undefined;
}

/** The owner's verdict on a peer certificate. */
export interface CertVerdict {
  serial: string | undefined;
  subject: string | undefined;
  error: string | undefined;
  /** `error` as a failure code. */
  code?: CertFailureCode | undefined;
  phone: string | undefined;
  /** Accepted as the phone's current certificate (true) or an older one still in its renewal overlap (false). */
  current?: boolean | undefined;
}

/** What the transport asks its owner about a verified-or-not peer certificate. */
export type CertificateJudge = (cert: tls.PeerCertificate | undefined, authorizationError: string | undefined) => CertVerdict;

export interface TlsTransportOptions {
  host: string;
  port: number;
  credentials: TlsCredentials;
  /** Refuse handshakes without a client certificate at the TLS level. */
  requireCert: boolean;
  minVersion: TlsMin;
  /** OpenSSL cipher list; undefined = node's default (plus SECLEVEL=0 when minVersion < 1.2). */
  ciphers?: string | undefined;
  /**
   * A connection must complete its TLS handshake this long after it was
   * accepted, or it is closed (an absolute deadline, not an idle timer).
   * Default 10 s.
   */
  handshakeTimeoutMs?: number;
  /** Connections in the handshake at once, all addresses together. Default 256. */
  maxPendingHandshakes?: number;
  /** A connection with nothing bound to it closes after this long without traffic. Default 120 s. */
  idleTimeoutMs?: number;
  /** A message that started but never completed (RFC 4475 clerr) closes its connection after this. Default 32 s (64*T1). */
  midMessageTimeoutMs?: number;
  /** Default 64. */
  maxConnectionsPerIp?: number;
  limits?: Partial<SipLimits>;
  /** Addresses allowed to connect at all. */
  allows?: (ip: string) => boolean;
  judge: CertificateJudge;
  onHandshake: (r: HandshakeReport) => void;
  onMessage: (result: ParseResult, flow: Flow) => void;
  /** A connection refused before TLS (allow-list, or sipsec's connection guard: per-address cap, handshakes in flight). */
  onRefused: (remote: string, why: string, code: 'sip.not_allowed' | 'conn.too_many_per_address' | 'conn.too_many_handshakes') => void;
  /** A flow exists (handshake done); called before any of its messages. */
  onFlowOpened?: (flow: Flow) => void;
  now?: () => number;
}

const TLS_VERSIONS: Record<TlsMin, tls.SecureVersion> = { '1.0': 'TLSv1', '1.1': 'TLSv1.1', '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' };

/** OpenSSL verify codes (node's authorizationError) in words an operator understands. */
const CERT_ERRORS: Record<string, string> = {
  CERT_REVOKED: 'the certificate is revoked (listed in the CA\'s CRL)',
  CERT_HAS_EXPIRED: 'the certificate has expired',
  CERT_NOT_YET_VALID: 'the certificate is not valid yet (is the phone\'s clock set?)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the certificate is self-signed, not issued by this CA',
  SELF_SIGNED_CERT_IN_CHAIN: 'the certificate chains to another CA',
  UNABLE_TO_GET_ISSUER_CERT: 'the certificate was not issued by this CA',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'the certificate was not issued by this CA',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the certificate was not issued by this CA',
  CERT_SIGNATURE_FAILURE: 'the certificate signature does not verify against this CA',
  INVALID_PURPOSE: 'the certificate is not for TLS client use (extendedKeyUsage lacks clientAuth)',
  UNABLE_TO_GET_CRL: 'no CRL of this CA is loaded',
  CRL_HAS_EXPIRED: 'the CA\'s CRL has expired: publish a fresh one (sipsec ca crl)',
};

export function describeCertError(code: string): string {
  return `${CERT_ERRORS[code] ?? 'the certificate does not verify'} (${code})`;
}

/**
 * The alert behind a handshake failure, from OpenSSL's message: alerts the
 * peer sent appear as `... alert <name> ... SSL alert number N`; those
 * sipsec sends are implied by the error.
 */
function alertOf(err: Error & { code?: string }): string | undefined {
  const msg = err.message;
  const n = /alert number (\d+)/.exec(msg)?.[1];
  const name = /(?:sslv3|tlsv1|tlsv13) alert ([a-z ]+?)(?::|$)/.exec(msg)?.[1];
  if (n) return `received ${name ?? 'alert'} (${n})`;
  if (err.code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return 'sent certificate_required (116, TLS 1.3) / handshake_failure (40, TLS 1.2)';
  if (/unsupported protocol|wrong version number|no protocols available/i.test(msg)) return 'sent protocol_version (70)';
  if (/no shared cipher|no suitable signature/i.test(msg)) return 'sent handshake_failure (40)';
  if (/http request|wrong version number/i.test(msg)) return undefined;
  return undefined;
}

function handshakeError(err: Error & { code?: string }): string {
  if (err.code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return 'no client certificate presented (--client-cert required)';
  if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'TLS handshake timed out';
  if (err.code === 'ECONNRESET') return 'the peer closed the connection during the handshake';
  const line = err.message.split('\n')[0] ?? '';
  // OpenSSL's `<hex>:error:<code>:SSL routines:<func>:<reason>:<file>:<line>` → the reason.
  const m = /SSL routines:[^:]*:([^:]+)/.exec(line);
  return (m?.[1] ?? line).slice(0, 160);
}

class TlsFlow implements Flow {
  readonly id = randomBytes(8).toString('hex');
  readonly transport = 'tls' as const;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly remote: string;
  readonly localAddress: string;
  readonly localPort: number;
  phone: string | undefined;
  identifiedBy: FlowIdentityVia | undefined;
  /** Bindings keep the connection open at least until this time (ms). */
  holdUntil = 0;
  lastRx: number;
  midSince = 0;
  readonly framer: StreamFramer;
  #closed = false;
  #listeners: Array<(reason: string) => void> = [];

  constructor(
    readonly socket: tls.TLSSocket,
    readonly tls: TlsPeer,
    limits: Partial<SipLimits> | undefined,
    now: number,
  ) {
    this.remoteAddress = plainIp(socket.remoteAddress ?? '?');
    this.remotePort = socket.remotePort ?? 0;
    this.remote = remoteString(socket.remoteAddress, socket.remotePort);
    this.localAddress = plainIp(socket.localAddress ?? '127.0.0.1');
    this.localPort = socket.localPort ?? 0;
    this.framer = new StreamFramer(limits ? { limits } : {});
    this.lastRx = now;
    if (tls.certPhone) {
      this.phone = tls.certPhone;
      this.identifiedBy = 'certificate';
    }
  }

  get open(): boolean {
    return !this.#closed && !this.socket.destroyed;
  }

  send(data: Buffer): boolean {
    if (!this.open) return false;
    this.socket.write(data);
    return true;
  }

  close(reason: string): void {
    if (this.#closed) return;
    this.socket.end();
    // A peer that never reads must not hold the socket: destroy soon after.
    setTimeout(() => this.socket.destroy(), 2000).unref();
    this.closed(reason);
  }

  closed(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    const ls = this.#listeners;
    this.#listeners = [];
    for (const l of ls) {
      try {
        l(reason);
      } catch {
        // a listener's failure must not keep the others from running
      }
    }
  }

  onClose(listener: (reason: string) => void): void {
    if (this.#closed) listener('closed');
    else this.#listeners.push(listener);
  }

  hold(untilMs: number): void {
    if (untilMs > this.holdUntil) this.holdUntil = untilMs;
  }
}

export class TlsTransport {
  readonly #o: TlsTransportOptions;
  readonly #server: tls.Server;
  readonly #guard: ConnectionGuard;
  readonly #flows = new Set<TlsFlow>();
  readonly #refusedAt = new Map<string, number>();
  readonly #sweep: NodeJS.Timeout;
  readonly #now: () => number;
  #port = 0;

  constructor(o: TlsTransportOptions) {
    this.#o = o;
    this.#now = o.now ?? Date.now;
    this.#guard = new ConnectionGuard({
      phase: 'TLS handshake',
      ...(o.handshakeTimeoutMs !== undefined ? { timeoutMs: o.handshakeTimeoutMs } : {}),
      ...(o.maxPendingHandshakes !== undefined ? { maxPending: o.maxPendingHandshakes } : {}),
      maxPerIp: o.maxConnectionsPerIp ?? 64,
      perIpFlag: '--max-conn-per-ip',
      onDrop: (d) => this.#onGuardDrop(d),
      now: this.#now,
    });
    this.#server = tls.createServer(this.#contextOptions(o.credentials));
    this.#server.on('connection', (raw: net.Socket) => this.#onConnection(raw));
    this.#server.on('secureConnection', (socket: tls.TLSSocket) => this.#onSecure(socket));
    this.#server.on('tlsClientError', (err: Error & { code?: string }, socket: tls.TLSSocket) => this.#onTlsError(err, socket));
    this.#server.on('error', () => undefined);
    this.#sweep = setInterval(() => this.#sweepIdle(), 1000);
    this.#sweep.unref();
  }

  #contextOptions(c: TlsCredentials): tls.TlsOptions {
    const min = TLS_VERSIONS[this.#o.minVersion];
    const legacy = this.#o.minVersion === '1.0' || this.#o.minVersion === '1.1';
    // OpenSSL 3 refuses TLS 1.0/1.1 at its default security level 1 (SHA-1
    // signatures): level 0 is what makes `--tls-min 1.0` real for 2011-era firmware.
    const ciphers = this.#o.ciphers ?? (legacy ? 'DEFAULT:@SECLEVEL=0' : undefined);
    return {
      cert: c.cert,
      key: c.key,
      ca: c.ca,
      ...(c.crl ? { crl: c.crl } : {}),
      requestCert: true,
      rejectUnauthorized: this.#o.requireCert,
      minVersion: min,
      ...(ciphers ? { ciphers } : {}),
      // node's own timer is an idle timer: the connection guard's absolute
      // deadline is the one that counts; this only backs it up.
      handshakeTimeout: (this.#o.handshakeTimeoutMs ?? 10_000) + 5000,
      // Phones keep one connection for hours; TLS session tickets save the
      // full handshake when they reconnect.
      sessionTimeout: 3600,
    };
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#o.port, this.#o.host, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    const addr = this.#server.address();
    this.#port = typeof addr === 'object' && addr ? addr.port : this.#o.port;
    return this.#port;
  }

  get port(): number {
    return this.#port;
  }

  get connections(): number {
    return this.#flows.size;
  }

  /** New CA/CRL material (a certificate was revoked): applies to new handshakes. */
  updateCredentials(c: TlsCredentials): void {
    this.#server.setSecureContext(this.#contextOptions(c));
  }

  flows(): Iterable<Flow> {
    return this.#flows;
  }

  /** Connections still in their TLS handshake. */
  get handshaking(): number {
    return this.#guard.pending;
  }

  async close(): Promise<void> {
    clearInterval(this.#sweep);
    this.#guard.close();
    for (const f of this.#flows) {
      f.socket.destroy();
      f.closed('server stopping');
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #onConnection(raw: net.Socket): void {
    const ip = plainIp(raw.remoteAddress ?? '?');
    const remote = remoteString(raw.remoteAddress, raw.remotePort);
    if (this.#o.allows && !this.#o.allows(ip)) {
      raw.destroy();
      this.#refused(ip, remote, 'address not in --allow', 'sip.not_allowed');
      return;
    }
    this.#guard.admit(raw);
  }

  #onGuardDrop(d: GuardDrop): void {
    if (d.code === 'handshake_timeout') {
      this.#o.onHandshake({ remote: d.remote, ok: false, error: d.reason, code: 'tls.handshake_timeout', reason: d.reason });
      return;
    }
    this.#o.onRefused(d.remote, d.reason, d.code === 'too_many_handshakes' ? 'conn.too_many_handshakes' : 'conn.too_many_per_address');
  }

  /** One report per address per 10 s: a flood must not flood the event stream. */
  #refused(ip: string, remote: string, why: string, code: 'sip.not_allowed'): void {
    const now = this.#now();
    const last = this.#refusedAt.get(ip) ?? 0;
    if (now - last < 10_000) return;
    if (this.#refusedAt.size > 10_000) this.#refusedAt.clear();
    this.#refusedAt.set(ip, now);
    this.#o.onRefused(remote, why, code);
  }

  #onTlsError(err: Error & { code?: string }, socket: tls.TLSSocket): void {
    const known = socket.remoteAddress !== undefined;
    const remote = remoteString(socket.remoteAddress, socket.remotePort);
    // With this listener attached node leaves the socket open: close it here.
    socket.destroy();
    // The guard already reported the handshake it ended at its deadline.
    if (!known && err.code === 'ECONNRESET' && this.#guard.claimExpired()) return;
    const authError = socket.authorizationError === null || socket.authorizationError === undefined ? undefined : String(socket.authorizationError);
    if (authError) {
      // requireCert: node closed the connection right after the handshake because the certificate did not verify.
      this.#o.onHandshake({ remote, ok: false, error: `client certificate refused: ${describeCertError(authError)}`, alert: 'none: closed right after the handshake', code: certFailureCode(authError) });
      return;
    }
    this.#o.onHandshake({ remote, ok: false, error: handshakeError(err), alert: alertOf(err), code: err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'tls.handshake_timeout' : handshakeFailureCode(err) });
  }

  #onSecure(socket: tls.TLSSocket): void {
    this.#guard.established(socket);
    const remote = remoteString(socket.remoteAddress, socket.remotePort);
    refuseRenegotiation(socket, (error) => this.#o.onHandshake({ remote, ok: false, error, code: 'tls.renegotiation_refused', reason: error }));
    let peer: TlsPeer;
    try {
      const raw = socket.getPeerCertificate();
      // An empty object means no certificate was sent.
      const cert = raw && typeof raw === 'object' && 'serialNumber' in raw && raw.serialNumber ? raw : undefined;
      const authError = cert && !socket.authorized ? String(socket.authorizationError ?? 'UNKNOWN') : undefined;
      const judged = this.#o.judge(cert, authError);
      const cipher = socket.getCipher();
      peer = {
        version: socket.getProtocol() ?? 'unknown',
        cipher: cipher?.standardName ?? cipher?.name ?? 'unknown',
        certSerial: judged.serial,
        certSubject: judged.subject,
        certError: judged.error,
        certErrorCode: judged.error === undefined ? undefined : (judged.code ?? 'tls.cert_invalid'),
        certPhone: judged.phone,
        certCurrent: judged.current,
      };
    } catch (e) {
      socket.destroy();
      this.#o.onHandshake({ remote, ok: false, error: `internal: ${(e as Error).message}`, code: 'tls.internal' });
      return;
    }
    const flow = new TlsFlow(socket, peer, this.#o.limits, this.#now());
    this.#flows.add(flow);
    this.#o.onFlowOpened?.(flow);
    this.#o.onHandshake({
      remote,
      ok: peer.certError === undefined,
      version: peer.version,
      cipher: peer.cipher,
      certSerial: peer.certSerial,
      certSubject: peer.certSubject,
      phone: peer.certPhone,
      ...(peer.certSerial !== undefined && peer.certCurrent !== undefined ? { current: peer.certCurrent } : {}),
      ...(peer.certError ? { error: `client certificate not accepted: ${peer.certError}`, alert: 'none: the first request is answered 403, then the connection closes', code: peer.certErrorCode } : {}),
    });
    if (peer.certError) {
      // Nothing but one refusal is read from an unverified peer.
      setTimeout(() => flow.close('client certificate not accepted'), 5000).unref();
    }
    socket.on('data', (chunk: Buffer) => this.#onData(flow, chunk));
    socket.on('close', () => {
      this.#flows.delete(flow);
      flow.closed('connection closed');
    });
  }

  #onData(flow: TlsFlow, chunk: Buffer): void {
    const now = this.#now();
    flow.lastRx = now;
    let events;
    try {
      events = flow.framer.push(chunk);
    } catch {
      flow.close('framing error');
      return;
    }
    // Batch every answer to this chunk into one TLS record (pipelined REGISTERs).
    flow.socket.cork();
    try {
      for (const ev of events) {
        if (ev.type === 'ping') {
          flow.send(PONG);
          continue;
        }
        if (ev.type !== 'message') continue;
        const r = ev.result;
        if (!r.ok) {
          // Parse failures are answered here, statelessly (RFC 3261 §8.2 before any transaction exists).
          if (r.partial?.kind === 'request') {
            const res = responseFor(r.partial, r.reaction);
            if (res) flow.send(serialize(res));
          }
          this.#o.onMessage(r, flow);
          if (r.close) {
            flow.close(`unrecoverable framing: ${r.reason}`);
            return;
          }
          continue;
        }
        this.#o.onMessage(r, flow);
        if (!flow.open) return;
      }
    } finally {
      flow.socket.uncork();
    }
    flow.midSince = flow.framer.midMessage ? flow.midSince || now : 0;
  }

  #sweepIdle(): void {
    const now = this.#now();
    const idle = this.#o.idleTimeoutMs ?? 120_000;
    const mid = this.#o.midMessageTimeoutMs ?? 32_000;
    for (const f of this.#flows) {
      if (f.midSince && now - f.midSince > mid) {
        f.close('incomplete message timed out');
        continue;
      }
      if (now - f.lastRx > idle && now > f.holdUntil) f.close('idle');
    }
  }
}
