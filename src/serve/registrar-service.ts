/**
 * The registrar as a `sipsec serve` service: the TLS listener on the SIP
 * port (5061), the optional diagnostic plain-SIP listeners (5060), the
 * SipServer core, the events, the security log, and what `sipsec status`
 * shows. Follows the CA home: a phone added, a certificate revoked or
 * renewed takes effect without a restart (new CRL for new handshakes;
 * connections of a certificate that is no longer valid are closed).
 */
import * as path from 'node:path';
import type { ServeRuntime, ServeService } from './serve.js';
import type { DigestAlgorithm } from '../auth/digest.js';
import type { Flow } from '../sip/transport/flow.js';
import { Identities, type ClientCertMode } from './identity.js';
import type { LocalEndpoint } from '../sip/registrar/local-endpoint.js';
import type { LockoutOptions } from '../auth/lockout.js';
import type { RegistrarOptions } from '../sip/registrar/bindings.js';
import { SipServer, type AuthMode } from '../sip/registrar/server.js';
import { startDiagnostics, type DiagnosticListeners } from '../sip/transport/diagnostic.js';
import { TlsTransport, type HandshakeReport, type TlsMin } from '../sip/transport/tls.js';
import type { EventInput } from '../events/index.js';
import { loadAllVendors } from '../vendors/registry.js';
import { ResyncRequestSchema, resyncPhones } from './resync.js';
import { securityLog } from './security.js';
import { errnoCode, SipsecError } from '../core/errors.js';
import { crlList } from './serve.js';

export interface RegistrarServiceOptions {
  /** SIP over TLS port (0: any free port). */
  port: number;
  /** Default `vendor`: required for phones whose vendor can present a certificate. */
  clientCert?: ClientCertMode;
  tlsMin?: TlsMin;
  ciphers?: string | undefined;
  /** Plain UDP/TCP diagnostic port; null = off. Default null here (the CLI decides). */
  diagnosticPort?: number | null;
  maxConnPerIp?: number;
  auth?: AuthMode;
  digestAlgorithms?: readonly DigestAlgorithm[];
  /** null = no lockout. */
  lockout?: LockoutOptions | null;
  registrar?: RegistrarOptions;
  /** Local extensions (the SRTP echo joins here). */
  endpoints?: readonly LocalEndpoint[];
  idleTimeoutMs?: number;
  /** Deadline of the TLS handshake (and of the diagnostic port's first message) from accept. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Connections in their handshake at once, per listener. Default 256. */
  maxPendingHandshakes?: number;
  midMessageTimeoutMs?: number;
}

export interface RegistrarService extends ServeService {
  readonly port: number;
  readonly server: SipServer;
}

/** The SIP port's bind error in words, with what to do. */
function listenFailure(e: unknown, port: number): SipsecError {
  const code = errnoCode(e);
  if (code === 'EADDRINUSE') return new SipsecError('BIND_FAILED', `SIP/TLS port ${port} is already in use`, 'stop the other server or choose --sip-port');
  if (code === 'EACCES') return new SipsecError('BIND_FAILED', `cannot bind SIP/TLS port ${port}: permission denied`, 'use --sip-port above 1023, setcap cap_net_bind_service=+ep $(readlink -f $(which node)), or run as root');
  return new SipsecError('BIND_FAILED', `cannot bind SIP/TLS port ${port}: ${(e as Error).message}`);
}

/** A transport's handshake report as a catalog event (a failure always has its code). */
function handshakeEvent(r: HandshakeReport): EventInput {
  const { ok, error, code, ...rest } = r;
  if (ok) return { event: 'tls.handshake', protocol: 'sip', ...rest, ok: true };
  return { event: 'tls.handshake', protocol: 'sip', ...rest, ok: false, error: error ?? 'handshake failed', code: code ?? 'tls.handshake_failed' };
}

export async function startRegistrar(rt: ServeRuntime, o: RegistrarServiceOptions): Promise<RegistrarService> {
  const store = rt.store;
  const clientCert = o.clientCert ?? 'vendor';
  const identities = new Identities(store, clientCert);
  await identities.init();
  // Inside serve, the lockout and log HTTPS provisioning also feeds; alone (tests), its own.
  const shared = rt.security;
  const log = shared?.log ?? securityLog(path.join(store.paths.root, 'security.log'));
  const warnAgent = store.config.registrar.host.includes(':') ? `[${store.config.registrar.host}]` : store.config.registrar.host;
  const server = new SipServer({
    identities,
    warnAgent,
    emit: (ev) => rt.bus.emit(ev),
    securityLog: (line) => log.write(line),
    ...(o.auth ? { auth: o.auth } : {}),
    ...(o.digestAlgorithms ? { digestAlgorithms: o.digestAlgorithms } : {}),
    ...(shared ? { lockoutTracker: shared.lockout ?? null } : o.lockout !== undefined ? { lockout: o.lockout } : {}),
    ...(o.registrar ? { registrar: o.registrar } : {}),
    ...(o.endpoints ? { endpoints: o.endpoints } : {}),
  });
  const credentials = () => ({ cert: rt.tls.cert, key: rt.tls.key, ca: rt.tls.ca, crl: crlList(rt.crl()) });
  const transport = new TlsTransport({
    host: rt.bind,
    port: o.port,
    credentials: credentials(),
    requireCert: clientCert === 'required',
    minVersion: o.tlsMin ?? '1.2',
    ciphers: o.ciphers,
    maxConnectionsPerIp: o.maxConnPerIp ?? 64,
    ...(o.idleTimeoutMs !== undefined ? { idleTimeoutMs: o.idleTimeoutMs } : {}),
    ...(o.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: o.handshakeTimeoutMs } : {}),
    ...(o.maxPendingHandshakes !== undefined ? { maxPendingHandshakes: o.maxPendingHandshakes } : {}),
    ...(o.midMessageTimeoutMs !== undefined ? { midMessageTimeoutMs: o.midMessageTimeoutMs } : {}),
    allows: (ip) => rt.allow.allows(ip),
    judge: (cert, authError) => identities.judge(cert, authError),
    onHandshake: (r) => rt.bus.emit(handshakeEvent(r)),
    onFlowOpened: (flow) => server.flowOpened(flow),
    onMessage: (result, flow) => server.handle(result, flow),
    onRefused: (remote, why, code) => rt.bus.emit({ event: 'sip.reject', remote, transport: 'tls', what: 'connection', why, status: 'dropped', code }),
  });
  let port: number;
  try {
    port = await transport.listen();
  } catch (e) {
    server.close();
    await transport.close();
    if (!shared) await log.close();
    throw listenFailure(e, o.port);
  }
  server.port = port;
  for (const h of [rt.bind, store.config.registrar.host, ...rt.tls.entry.sans.dns, ...rt.tls.entry.sans.ip]) {
    if (h !== '0.0.0.0' && h !== '::') server.addOwnHost(h);
  }

  let diag: DiagnosticListeners | undefined;
  if (o.diagnosticPort !== null && o.diagnosticPort !== undefined) {
    diag = await startDiagnostics({
      host: rt.bind,
      port: o.diagnosticPort,
      tlsPort: port,
      warnAgent,
      allows: (ip) => rt.allow.allows(ip),
      ...(o.handshakeTimeoutMs !== undefined ? { firstMessageTimeoutMs: o.handshakeTimeoutMs } : {}),
      ...(o.maxConnPerIp !== undefined ? { maxConnectionsPerIp: o.maxConnPerIp } : {}),
      guessPhone: (user, ip) => (user !== undefined ? identities.byUser(user)?.name : undefined) ?? store.index.phones.find((p) => p.ips.includes(ip))?.name,
      report: (ev) => rt.bus.emit({ event: 'sip.reject', ...ev, code: ev.code ?? (ev.transport === 'udp' ? 'sip.udp_not_tls' : 'sip.tcp_not_tls') }),
    });
    if (diag.problems.length > 0) {
      rt.bus.emit({ event: 'serve.notice', note: `diagnostic plain-SIP listener not started (${diag.problems.join('; ')}): phones that ignore their TLS settings will not be reported`, code: 'sip.diagnostic_unavailable' });
    }
  }
  rt.bus.emit({
    event: 'sip.listen',
    port,
    clientCert,
    tlsMin: o.tlsMin ?? '1.2',
    auth: server.auth,
    diagnosticUdpPort: diag?.udpPort,
    diagnosticTcpPort: diag?.tcpPort,
    endpoints: server.endpoints().map((e) => e.ext),
  });

  /** Connections whose certificate stopped being valid (revoked, renewed, phone removed) are closed. */
  const recheck = () => {
    for (const flow of [...transport.flows()] as Flow[]) {
      const serial = flow.tls?.certPhone ? flow.tls.certSerial : undefined;
      if (!serial) continue;
      const entry = store.bySerial(serial);
      const valid = entry && store.roleOf(entry.serial) !== undefined && identities.phone(entry.name) !== undefined;
      if (valid) continue;
      const why = entry?.status === 'revoked' ? `certificate ${serial} of ${entry.name} was revoked` : `certificate ${serial} is no longer a phone's current certificate`;
      const code = !entry ? 'tls.cert_not_in_index' : entry.status === 'revoked' ? 'tls.cert_revoked' : identities.phone(entry.name) === undefined ? 'tls.cert_phone_removed' : 'tls.cert_superseded';
      rt.bus.emit({ event: 'sip.reject', remote: flow.remote, phone: flow.phone, transport: 'tls', what: 'connection', why: `${why}: connection closed`, status: 'dropped', code });
      flow.close(why);
    }
  };

  return {
    name: 'registrar',
    port,
    server,
    status: () => ({
      port,
      diagnosticPorts: diag ? { udp: diag.udpPort ?? null, tcp: diag.tcpPort ?? null } : null,
      clientCert,
      tlsMin: o.tlsMin ?? '1.2',
      auth: server.auth,
      connections: transport.connections,
      handshaking: transport.handshaking,
      bindings: server.registrar.size,
      calls: server.calls,
      endpoints: server.endpoints().map((e) => ({ ext: e.ext, description: e.description ?? '' })),
      registrations: server.registrations(),
    }),
    actions: {
      resync: async (body) => {
        const req = ResyncRequestSchema.parse(body);
        const vendors = new Map((await loadAllVendors()).map((v) => [v.descriptor.id, v.descriptor]));
        return {
          schema: 1,
          results: await resyncPhones(
            { server, vendorOf: (id) => vendors.get(id), phoneNames: () => store.index.phones.map((p) => p.name), emit: (ev) => rt.bus.emit(ev) },
            req,
          ),
        };
      },
    },
    reload: () => {
      identities.reload();
      transport.updateCredentials(credentials());
      recheck();
    },
    close: async () => {
      server.close();
      await transport.close();
      await diag?.close();
      if (!shared) await log.close();
    },
  };
}
