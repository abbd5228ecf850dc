import * as tls from 'node:tls';
import { randomBytes, X509Certificate } from 'node:crypto';
import { SipsecError } from '../core/errors.js';
import { buildResponse, createRequest, serialize, type SipRequest, type SipResponse } from '../sip/message/index.js';
import { formatCredentials, parseChallenge, type DigestChallenge } from '../auth/index.js';
import { StreamFramer, PING } from '../sip/transport/index.js';

/**
 * A small SIP user agent over one TLS connection (RFC 3261 §8.1 UAC,
 * §17.1 over a reliable transport: no retransmissions), for `probe`:
 * sends requests, matches responses by Via branch and CSeq, answers the
 * server's in-dialog BYE and OPTIONS with 200, and answers digest
 * challenges once.
 */
export interface TlsInfo {
  authorized: boolean;
  authorizationError: string | undefined;
  version: string | undefined;
  cipher: string | undefined;
  peer: X509Certificate | undefined;
}

export interface ConnectOptions {
  host: string;
  port: number;
  servername?: string;
  cert: string;
  key: string;
  ca: string;
  minVersion?: tls.SecureVersion;
  timeoutMs?: number;
}

interface Pending {
  method: string;
  resolve: (r: SipResponse) => void;
  reject: (e: Error) => void;
  onProvisional?: ((r: SipResponse) => void) | undefined;
  timer: NodeJS.Timeout;
}

export const rand = (n = 8): string => randomBytes(n).toString('hex');

export class SipClient {
  private readonly framer = new StreamFramer({ role: 'client' });
  private readonly pending = new Map<string, Pending>();
  private closedError: Error | undefined;
  /** What the server sent us (BYE from the echo, OPTIONS keep-alives). */
  readonly received: SipRequest[] = [];
  onRequest: ((req: SipRequest) => void) | undefined;

  private constructor(
    private readonly socket: tls.TLSSocket,
    readonly tlsInfo: TlsInfo,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.fail(new Error('the server closed the TLS connection')));
    socket.on('error', (e) => this.fail(e));
  }

  static connect(o: ConnectOptions): Promise<SipClient> {
    return new Promise((resolve, reject) => {
      // The chain and name are checked by the caller (RFC 5922 rules), so the handshake itself accepts anything and reports.
      const socket = tls.connect({ host: o.host, port: o.port, servername: o.servername, cert: o.cert, key: o.key, ca: o.ca, rejectUnauthorized: false, minVersion: o.minVersion ?? 'TLSv1.2', checkServerIdentity: () => undefined });
      const timer = setTimeout(() => socket.destroy(new Error(`no TLS handshake with ${o.host}:${o.port} within ${o.timeoutMs ?? 10_000} ms`)), o.timeoutMs ?? 10_000);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        const raw = socket.getPeerX509Certificate();
        const cipher = socket.getCipher();
        resolve(
          new SipClient(socket, {
            authorized: socket.authorized,
            authorizationError: socket.authorizationError ? String(socket.authorizationError) : undefined,
            version: socket.getProtocol() ?? undefined,
            cipher: cipher?.standardName ?? cipher?.name,
            peer: raw,
          }),
        );
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  get local(): { address: string; port: number } {
    return { address: this.socket.localAddress ?? '127.0.0.1', port: this.socket.localPort ?? 0 };
  }

  private fail(e: Error): void {
    this.closedError ??= e;
    for (const [, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
  }

  private onData(chunk: Buffer): void {
    for (const ev of this.framer.push(chunk)) {
      if (ev.type !== 'message') continue;
      const r = ev.result;
      if (!r.ok) continue;
      const msg = r.message;
      if (msg.kind === 'response') {
        const via = msg.topVia();
        const cseq = msg.cseq();
        const key = via.ok && cseq.ok ? `${via.value.branch}/${cseq.value.method}` : '';
        const p = this.pending.get(key);
        if (!p) continue;
        if (msg.status < 200) {
          p.onProvisional?.(msg);
          continue;
        }
        clearTimeout(p.timer);
        this.pending.delete(key);
        p.resolve(msg);
      } else {
        this.received.push(msg);
        this.onRequest?.(msg);
        if (msg.method !== 'ACK') this.socket.write(serialize(buildResponse(msg, 200, 'OK')));
      }
    }
  }

  /** Send a request built from `headers` (Via added here) and wait for its final response. */
  send(method: string, uri: string, headers: Array<[string, string]>, body?: string, opts: { timeoutMs?: number; onProvisional?: (r: SipResponse) => void; branch?: string } = {}): Promise<SipResponse> {
    if (this.closedError) return Promise.reject(this.closedError);
    const branch = opts.branch ?? `z9hG4bK${rand()}`;
    const { address, port } = this.local;
    const host = address.includes(':') ? `[${address}]` : address;
    const req = createRequest(method, uri, [['Via', `SIP/2.0/TLS ${host}:${port};branch=${branch};rport;alias`], ...headers], body);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(`${branch}/${method}`);
        reject(new SipsecError('TIMEOUT', `no final response to ${method} within ${opts.timeoutMs ?? 10_000} ms`, 'is the server a SIP registrar on this port?'));
      }, opts.timeoutMs ?? 10_000);
      // ACK gets no response: resolve right after writing.
      if (method === 'ACK') {
        clearTimeout(timer);
        this.socket.write(serialize(req), (e) => (e ? reject(e) : resolve(undefined as unknown as SipResponse)));
        return;
      }
      this.pending.set(`${branch}/${method}`, { method, resolve, reject, onProvisional: opts.onProvisional, timer });
      this.socket.write(serialize(req));
    });
  }

  /** Keep-alive (RFC 5626 §3.5.1): a double CRLF; the server answers one CRLF. */
  ping(): void {
    this.socket.write(PING);
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }
}

/** Credentials answering the first challenge we support in a 401/407 (preference as the server ordered them). */
export function answerChallenge(res: SipResponse, method: string, uri: string, user: string, password: string, nc: number): { header: string; value: string; challenge: DigestChallenge } | undefined {
  const name = res.status === 407 ? 'Proxy-Authenticate' : 'WWW-Authenticate';
  for (const v of res.headers.all(name)) {
    const c = parseChallenge(v);
    if (!c.ok) continue;
    const ch = c.value;
    const qop = ch.qop.includes('auth') ? 'auth' : undefined;
    const value = formatCredentials({
      algorithm: ch.algorithm,
      username: user,
      realm: ch.realm,
      password,
      method,
      uri,
      nonce: ch.nonce,
      ...(qop ? { qop, nc: nc.toString(16).padStart(8, '0'), cnonce: rand(8) } : {}),
      ...(ch.opaque !== undefined ? { opaque: ch.opaque } : {}),
    });
    return { header: res.status === 407 ? 'Proxy-Authorization' : 'Authorization', value, challenge: ch };
  }
  return undefined;
}

