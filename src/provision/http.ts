import * as http from 'node:http';
import * as https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { timingSafeEqual, createHash, randomBytes } from 'node:crypto';
import { SipsecError, errnoCode } from '../core/errors.js';
import { plainIp, remoteString } from '../core/net.js';
import { DigestAuthenticator, type SecurityEventName } from '../auth/authenticator.js';
import { formatSecurityEvent, type FailureTracker } from '../auth/lockout.js';
import { ConnectionGuard, refuseRenegotiation } from '../core/conn-guard.js';
import { SipHeaders } from '../sip/message/message.js';
import type { EventSink, ServeEventOf } from '../events/index.js';
import { handshakeFailureCode } from '../core/tls-failure.js';
import { decide, type AccessPolicyOptions } from './access.js';
import type { RouteTable } from './routes.js';

/**
 * HTTPS (and, only where a vendor needs it, plain HTTP) provisioning: GET
 * and HEAD of the route table's paths, nothing else. On HTTPS a phone
 * proves who it is with its sipsec client certificate, HTTP Digest
 * (server-checked nonces, RFC 7616) or Basic (only inside TLS); the user
 * name is the phone's name and the password its SIP secret.
 *
 * Because that password is the SIP secret, a wrong one counts in the same
 * lockout as a failed SIP REGISTER (per address, same settings) and goes
 * to the same security.log for fail2ban; a locked-out address gets 403.
 *
 * No enumeration of phone files (their names carry MAC addresses): over
 * HTTPS every path that is not a shared file is answered alike, whether
 * a file exists there or not and whoever it belongs to: 401 (or 403 when
 * client certificates are required) before authentication, 404 after it
 * for everything that is not the caller's own.
 */
export interface HttpProvisionOptions {
  kind: 'https' | 'http';
  host: string;
  port: number;
  /** Required for https. */
  tls?: { cert: string; key: string; ca: string; crl?: string | string[] | undefined };
  /** Path prefix of the provisioning URL (e.g. `/provision/`), stripped before lookup. */
  basePath: string;
  table: () => RouteTable;
  policy: AccessPolicyOptions;
  /** Phone name → SIP secret, for credentials. */
  secretOf: (phone: string) => string | undefined;
  /** Current (valid) client certificate serial → phone. */
  phoneOfSerial: (serialHex: string) => string | undefined;
  /** `required`: phone files over HTTPS need the phone's client certificate, credentials alone do not do. */
  clientCert: 'required' | 'optional';
  bus: EventSink;
  /** The lockout and security log SIP authentication also feeds; absent: no lockout, no log. */
  security?: { lockout: FailureTracker | undefined; log: { write(line: string): void } } | undefined;
  /** Deadline of the TLS handshake (plain HTTP: of the first request) from accept. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Connections in their handshake at once. Default 256. */
  maxPendingHandshakes?: number;
  /** Connections from one address. Default 64. */
  maxConnectionsPerIp?: number;
  now?: () => number;
}

export interface HttpProvisionServer {
  port: number;
  /** New server certificate, trusted CAs or CRLs (HTTPS only): applies to new handshakes. */
  updateTls(t: { cert: string; key: string; ca: string; crl?: string | string[] | undefined }): void;
  close(): Promise<void>;
}

const REALM = 'sipsec provisioning';
const FAILURE_WORDS: Record<SecurityEventName, string> = { InvalidAccountID: 'unknown user', InvalidPassword: 'wrong password', ChallengeResponseFailed: 'replayed digest response' };
const RENEGOTIATION = new Set(['ERR_TLS_RENEGOTIATION_DISABLED', 'ERR_TLS_SESSION_ATTACK']);
const MAX_PATH = 512;

function safeEqual(a: string, b: string): boolean {
  // Hash first: equal lengths for timingSafeEqual, and no length leak.
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** Decode and check a request path; undefined when it must be refused. */
export function cleanPath(rawUrl: string, basePath: string): { path: string } | { error: string } {
  if (rawUrl.length > MAX_PATH) return { error: 'path too long' };
  const q = rawUrl.indexOf('?');
  const raw = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
  let decoded: string;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    return { error: 'bad percent-encoding' };
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return { error: 'NUL or backslash in path' };
  if (!decoded.startsWith('/')) return { error: 'not an origin-form path' };
  if (decoded.split('/').some((seg) => seg === '..' || seg === '.')) return { error: 'dot segments in path' };
  const base = basePath.endsWith('/') ? basePath : `${basePath}/`;
  if (!decoded.startsWith(base)) return { error: `outside ${base}` };
  return { path: decoded.slice(base.length) };
}

type DeniedCode = ServeEventOf<'provision.denied'>['code'];

export async function startHttpProvisioning(o: HttpProvisionOptions): Promise<HttpProvisionServer> {
  const now = o.now ?? Date.now;
  const digest = new DigestAuthenticator({ realm: REALM, algorithms: ['SHA-256', 'MD5'] });
  const guard = new ConnectionGuard({
    phase: o.kind === 'https' ? 'TLS handshake' : 'first request',
    ...(o.handshakeTimeoutMs !== undefined ? { timeoutMs: o.handshakeTimeoutMs } : {}),
    ...(o.maxPendingHandshakes !== undefined ? { maxPending: o.maxPendingHandshakes } : {}),
    maxPerIp: o.maxConnectionsPerIp ?? 64,
    now,
    onDrop: (d) => {
      if (d.code === 'handshake_timeout' && o.kind === 'https') o.bus.emit({ event: 'tls.handshake', protocol: 'https', remote: d.remote, ok: false, error: d.reason, code: 'tls.handshake_timeout', reason: d.reason });
      else o.bus.emit({ event: 'provision.denied', protocol: o.kind, remote: d.remote, status: 'dropped', reason: d.reason, code: d.code === 'handshake_timeout' ? 'http.first_request_timeout' : d.code === 'too_many_handshakes' ? 'conn.too_many_handshakes' : 'conn.too_many_per_address' });
    },
  });
  const lockout = o.security?.lockout;
  /** One failed password: security.log line, lockout count, and the block when it is reached. */
  const authFailed = (req: http.IncomingMessage, remote: string, event: SecurityEventName, account: string, nonce: string | undefined): void => {
    const sock = req.socket;
    const line = formatSecurityEvent({
      event,
      accountId: account,
      // fail2ban's filter wants a non-empty SessionID; HTTP has no Call-ID.
      sessionId: `http-${randomBytes(6).toString('hex')}`,
      transport: o.kind === 'https' ? 'TLS' : 'TCP',
      service: 'HTTPS',
      local: { address: plainIp(sock.localAddress ?? '0.0.0.0'), port: sock.localPort ?? 0 },
      remote: { address: plainIp(sock.remoteAddress ?? '0.0.0.0'), port: sock.remotePort ?? 0 },
      ...(nonce !== undefined ? { receivedChallenge: nonce } : {}),
    });
    o.security?.log.write(line);
    o.bus.emit({ event: 'security', remote, protocol: o.kind, securityEvent: event, account: account.slice(0, 64), line, code: 'http.auth_failed', reason: FAILURE_WORDS[event] });
    if (!lockout) return;
    const ip = plainIp(sock.remoteAddress ?? '');
    const r = lockout.recordFailure(ip);
    if (r.blocked && r.blockedUntil !== undefined && r.failures >= lockout.maxFailures) {
      o.bus.emit({ event: 'security.block', remote, protocol: o.kind, failures: r.failures, until: new Date(r.blockedUntil).toISOString(), code: 'http.auth_locked_out', reason: `${r.failures} authentication failures within ${Math.round(lockout.windowMs / 1000)} s` });
    }
  };

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    guard.established(req.socket);
    const started = performance.now();
    const remoteIp = plainIp(req.socket.remoteAddress ?? '');
    const remote = remoteString(req.socket.remoteAddress, req.socket.remotePort);
    const protocol = o.kind;
    const deny = (status: number, code: DeniedCode, reason: string, file?: string, phone?: string, headers: Record<string, string | string[]> = {}) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
      res.end(req.method === 'HEAD' ? undefined : `${status} ${http.STATUS_CODES[status] ?? ''}\n`);
      o.bus.emit({ event: 'provision.denied', phone, remote, protocol, file, status, reason, ms: Math.round(performance.now() - started), code });
    };
    if (lockout?.isBlocked(remoteIp)) {
      const until = lockout.blockedUntil(remoteIp) ?? now();
      return deny(403, 'http.auth_locked_out', `too many authentication failures from ${remoteIp}: refused until ${new Date(until).toISOString()}`);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return deny(405, 'provision.method_not_allowed', `method ${String(req.method).slice(0, 16)} not allowed`, undefined, undefined, { Allow: 'GET, HEAD' });
    const cleaned = cleanPath(req.url ?? '', new URL(`http://x${o.basePath.startsWith('/') ? o.basePath : `/${o.basePath}`}`).pathname);
    if ('error' in cleaned) return deny(400, 'provision.bad_path', cleaned.error);
    if (!o.policy.allow.allows(remoteIp)) return deny(403, 'provision.not_allowed', `${remoteIp} is not in the allow-list`, cleaned.path);
    const route = o.table().lookup(cleaned.path);

    // Who is asking: a client certificate sipsec issued to a phone, or credentials.
    let phone: string | undefined;
    let via: 'certificate' | 'digest' | 'basic' | undefined;
    if (o.kind === 'https') {
      const sock = req.socket as TLSSocket;
      if (sock.authorized) {
        const serial = sock.getPeerCertificate()?.serialNumber;
        const p = serial ? o.phoneOfSerial(serial.toLowerCase()) : undefined;
        if (p) {
          phone = p;
          via = 'certificate';
        }
      }
    }
    const authz = req.headers.authorization;
    let failed = false;
    let stale: Array<[string, string]> | undefined;
    if (!phone && authz && !(o.kind === 'https' && o.clientCert === 'required')) {
      if (/^basic /i.test(authz) && o.kind === 'https') {
        const decoded = Buffer.from(authz.slice(6).trim(), 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        const user = colon > 0 ? decoded.slice(0, colon) : '';
        const pass = decoded.slice(colon + 1);
        const secret = o.secretOf(user);
        // Compare against something even for unknown users: no enumeration by timing.
        if (colon > 0 && safeEqual(pass, secret ?? '\0unknown') && secret !== undefined) {
          phone = user;
          via = 'basic';
        } else {
          failed = true;
          authFailed(req, remote, secret === undefined ? 'InvalidAccountID' : 'InvalidPassword', user, undefined);
        }
      } else if (/^digest /i.test(authz)) {
        const headers = new SipHeaders([['Authorization', authz]]);
        const result = digest.verify({ method: req.method ?? 'GET', uri: req.url ?? '', headers, body: Buffer.alloc(0) }, (user) => o.secretOf(user), remoteIp);
        if (result.outcome === 'authenticated') {
          phone = result.username;
          via = 'digest';
        } else if (result.outcome === 'challenge' && result.failure) {
          failed = true;
          authFailed(req, remote, result.failure.event, result.failure.username, result.failure.nonce);
        } else if (result.outcome === 'challenge') {
          // The password was right but the nonce stale: a fresh challenge, no failure (RFC 7616 §3.3).
          stale = result.headers.map(([k, v]) => [k, v]);
        }
      }
    }
    if (failed && lockout?.isBlocked(remoteIp)) return deny(403, 'http.auth_locked_out', `too many authentication failures from ${remoteIp}: refused from now on`, route?.path, route?.phone);

    const challenge = (reason: string, code: DeniedCode) => {
      if (o.kind === 'https' && o.clientCert === 'required') return deny(403, 'provision.cert_required', 'a phone client certificate is required here', route?.path, route?.phone);
      const challenges = (stale ?? digest.challenge(false, remoteIp)).map(([, v]) => v);
      if (o.kind === 'https') challenges.push(`Basic realm="${REALM}", charset="UTF-8"`);
      return deny(401, code, reason, route?.path, route?.phone, { 'WWW-Authenticate': challenges });
    };
    // A shared file over a protocol that serves it: anyone (inside the allow-list).
    const shared = route !== undefined && route.phone === undefined && route.transports.includes(protocol);
    if (o.kind === 'https' && !shared) {
      // Every other path alike, so file names (MACs) cannot be enumerated.
      if (failed) return challenge('wrong credentials', 'provision.wrong_credentials');
      if (!phone) return challenge(route ? 'authentication required' : 'authentication required (no such file either)', 'provision.auth_required');
      if (!route || route.phone !== phone || !route.transports.includes(protocol)) return deny(404, route ? 'provision.other_phone' : 'provision.not_found', route ? `${phone} asked for a file of ${route.phone ?? 'nobody'}` : 'no such route', cleaned.path, route?.phone);
    }
    if (!route) return deny(404, 'provision.not_found', 'no such route', cleaned.path);
    const decision = decide(route, { protocol, remoteIp, phone, now: now() }, o.policy);
    if (!decision.ok) {
      if (decision.needsAuth) return challenge(authz ? 'wrong credentials' : decision.reason, authz ? 'provision.wrong_credentials' : decision.code);
      return deny(decision.hide ? 404 : 403, decision.code, decision.reason, route.path, route.phone);
    }
    res.writeHead(200, { 'Content-Type': route.contentType, 'Content-Length': String(route.content.length), 'Cache-Control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : route.content);
    o.bus.emit({
      event: 'provision.fetch',
      phone: route.phone ?? phone,
      remote,
      protocol,
      file: route.path,
      bytes: req.method === 'HEAD' ? 0 : route.content.length,
      ms: Math.round(performance.now() - started),
      result: 'ok',
      ...(via ? { auth: via } : {}),
      ...(route.holdsKey ? { holdsKey: true } : {}),
      ...(decision.warning ? { warning: decision.warning } : {}),
    });
  };
  const common = { maxHeaderSize: 8192, requestTimeout: 15_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 };
  const server =
    o.kind === 'https'
      ? https.createServer(
          {
            ...common,
            cert: o.tls!.cert,
            key: o.tls!.key,
            ca: o.tls!.ca,
            ...(o.tls!.crl ? { crl: o.tls!.crl } : {}),
            // Ask for the phone's certificate but decide in the handler, so a
            // phone without one can still authenticate with credentials and
            // a refusal is an HTTP answer the operator sees, not a reset.
            requestCert: true,
            rejectUnauthorized: false,
            minVersion: 'TLSv1.2',
            // A backstop only: the connection guard's absolute deadline comes first (node's is an idle timer).
            handshakeTimeout: (o.handshakeTimeoutMs ?? 10_000) + 5000,
          },
          handler,
        )
      : http.createServer(common, handler);
  server.on('connection', (raw: Socket) => guard.admit(raw));
  server.on('clientError', (err, duplex) => {
    const socket = duplex as Socket;
    if (RENEGOTIATION.has(errnoCode(err) ?? '')) return socket.destroy();
    o.bus.emit({ event: 'provision.denied', protocol: o.kind, remote: remoteString(socket.remoteAddress, socket.remotePort), status: 400, reason: `malformed request: ${(err as Error).message.slice(0, 80)}`, code: 'provision.malformed_request' });
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  if (o.kind === 'https') {
    server.on('tlsClientError', (err, socket) => {
      const known = socket.remoteAddress !== undefined;
      const remote = remoteString(socket.remoteAddress, socket.remotePort);
      // With this listener attached node leaves the socket open: close it here.
      socket.destroy();
      if (!known && errnoCode(err) === 'ECONNRESET' && guard.claimExpired()) return;
      o.bus.emit({ event: 'tls.handshake', protocol: 'https', remote, ok: false, error: err.message.slice(0, 160), code: errnoCode(err) === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'tls.handshake_timeout' : handshakeFailureCode(err) });
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      guard.established(socket);
      const remote = remoteString(socket.remoteAddress, socket.remotePort);
      refuseRenegotiation(socket, (reason) => o.bus.emit({ event: 'tls.handshake', protocol: 'https', remote, ok: false, error: reason, code: 'tls.renegotiation_refused', reason }));
    });
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => {
      const code = errnoCode(e);
      const flag = o.kind === 'https' ? '--https-port' : '--http-port';
      if (code === 'EACCES') reject(new SipsecError('BIND_FAILED', `cannot bind ${o.kind} port ${o.port}: permission denied`, `use ${flag} above 1023, setcap cap_net_bind_service=+ep $(readlink -f $(which node)), or run as root`));
      else if (code === 'EADDRINUSE') reject(new SipsecError('BIND_FAILED', `${o.kind} port ${o.port} is already in use`, `stop the other server or choose ${flag}`));
      else reject(e);
    });
    server.listen(o.port, o.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    updateTls: (t) => {
      if (server instanceof https.Server) server.setSecureContext({ cert: t.cert, key: t.key, ca: t.ca, ...(t.crl && t.crl.length > 0 ? { crl: t.crl } : {}) });
    },
    close: () =>
      new Promise<void>((resolve) => {
        guard.close();
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
