import * as http from 'node:http';
import * as https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { timingSafeEqual, createHash } from 'node:crypto';
import { SipsecError, errnoCode } from '../core/errors.js';
import { plainIp, remoteString } from '../core/net.js';
import { DigestAuthenticator } from '../auth/authenticator.js';
import { SipHeaders } from '../sip/message/message.js';
import type { EventBus } from '../serve/events.js';
import { decide, type AccessPolicyOptions } from './access.js';
import type { RouteTable } from './routes.js';

/**
 * HTTPS (and, only where a vendor needs it, plain HTTP) provisioning: GET
 * and HEAD of the route table's paths, nothing else. On HTTPS a phone
 * proves who it is with its sipsec client certificate, HTTP Digest
 * (server-checked nonces, RFC 7616) or Basic (only inside TLS); the user
 * name is the phone's name and the password its SIP secret.
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
  bus: EventBus;
  now?: () => number;
}

export interface HttpProvisionServer {
  port: number;
  /** New server certificate, trusted CAs or CRLs (HTTPS only): applies to new handshakes. */
  updateTls(t: { cert: string; key: string; ca: string; crl?: string | string[] | undefined }): void;
  close(): Promise<void>;
}

const REALM = 'sipsec provisioning';
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

export async function startHttpProvisioning(o: HttpProvisionOptions): Promise<HttpProvisionServer> {
  const now = o.now ?? Date.now;
  const digest = new DigestAuthenticator({ realm: REALM, algorithms: ['SHA-256', 'MD5'] });
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const started = performance.now();
    const remoteIp = plainIp(req.socket.remoteAddress ?? '');
    const remote = remoteString(req.socket.remoteAddress, req.socket.remotePort);
    const protocol = o.kind;
    const deny = (status: number, reason: string, file?: string, phone?: string, headers: Record<string, string | string[]> = {}) => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store', ...headers });
      res.end(req.method === 'HEAD' ? undefined : `${status} ${http.STATUS_CODES[status] ?? ''}\n`);
      o.bus.emit({ event: 'provision.denied', phone, remote, protocol, file, status, reason, ms: Math.round(performance.now() - started) });
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return deny(405, `method ${String(req.method).slice(0, 16)} not allowed`, undefined, undefined, { Allow: 'GET, HEAD' });
    const cleaned = cleanPath(req.url ?? '', new URL(`http://x${o.basePath.startsWith('/') ? o.basePath : `/${o.basePath}`}`).pathname);
    if ('error' in cleaned) return deny(400, cleaned.error);
    const route = o.table().lookup(cleaned.path);
    if (!route) return deny(404, 'no such route', cleaned.path);

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
    if (!phone && authz && route.phone !== undefined && !(o.kind === 'https' && o.clientCert === 'required')) {
      if (/^basic /i.test(authz) && o.kind === 'https') {
        const decoded = Buffer.from(authz.slice(6).trim(), 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        const user = decoded.slice(0, colon);
        const pass = decoded.slice(colon + 1);
        const secret = o.secretOf(user);
        // Compare against something even for unknown users: no enumeration by timing.
        if (colon > 0 && safeEqual(pass, secret ?? '\0unknown') && secret !== undefined) {
          phone = user;
          via = 'basic';
        }
      } else if (/^digest /i.test(authz)) {
        const headers = new SipHeaders([['Authorization', authz]]);
        const result = digest.verify({ method: req.method ?? 'GET', uri: req.url ?? '', headers, body: Buffer.alloc(0) }, (user) => o.secretOf(user), remoteIp);
        if (result.outcome === 'authenticated') {
          phone = result.username;
          via = 'digest';
        }
      }
    }
    const decision = decide(route, { protocol, remoteIp, phone, now: now() }, o.policy);
    if (!decision.ok) {
      if (decision.needsAuth) {
        if (o.kind === 'https' && o.clientCert === 'required') return deny(403, 'this phone must present its client certificate', route.path, route.phone);
        const challenges = digest.challenge(false, remoteIp).map(([, v]) => v);
        if (o.kind === 'https') challenges.push(`Basic realm="${REALM}", charset="UTF-8"`);
        return deny(401, authz ? 'wrong credentials' : decision.reason, route.path, route.phone, { 'WWW-Authenticate': challenges });
      }
      return deny(decision.hide ? 404 : 403, decision.reason, route.path, route.phone);
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
          },
          handler,
        )
      : http.createServer(common, handler);
  server.on('clientError', (err, duplex) => {
    const socket = duplex as Socket;
    o.bus.emit({ event: 'provision.denied', protocol: o.kind, remote: remoteString(socket.remoteAddress, socket.remotePort), status: 400, reason: `malformed request: ${(err as Error).message.slice(0, 80)}` });
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    else socket.destroy();
  });
  if (o.kind === 'https') {
    server.on('tlsClientError', (err, socket) => {
      o.bus.emit({ event: 'tls.handshake', protocol: 'https', remote: remoteString(socket.remoteAddress, socket.remotePort), ok: false, error: err.message.slice(0, 160) });
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
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
