/**
 * The registrar as a `sipsec serve` service: the TLS listener on the SIP
 * port (5061), the optional diagnostic plain-SIP listeners (5060), the
 * SipServer core, the events, the security log, and what `sipsec status`
 * shows. Follows the CA home: a phone added, a certificate revoked or
 * renewed takes effect without a restart (new CRL for new handshakes;
 * connections of a certificate that is no longer valid are closed).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import type { ServeRuntime, ServeService } from './serve.js';
import type { DigestAlgorithm } from '../auth/digest.js';
import type { Flow } from '../sip/transport/flow.js';
import { Identities, type ClientCertMode } from './identity.js';
import { inUse } from '../home/supersede.js';
import type { LocalEndpoint } from '../sip/registrar/local-endpoint.js';
import type { LockoutOptions } from '../auth/lockout.js';
import type { RegistrarOptions } from '../sip/registrar/bindings.js';
import { SipServer, type AuthMode } from '../sip/registrar/server.js';
import { startDiagnostics, type DiagnosticListeners } from '../sip/transport/diagnostic.js';
import { TlsTransport, type TlsMin } from '../sip/transport/tls.js';

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
  handshakeTimeoutMs?: number;
  midMessageTimeoutMs?: number;
}

export interface RegistrarService extends ServeService {
  readonly port: number;
  readonly server: SipServer;
}

/**
 * The security log fail2ban reads: Asterisk security-event lines
 * (lockout.ts), 0640 in the CA home. Written synchronously: lines are
 * rare (failures only, and the lockout bounds them), must be in order,
 * and must be on disk when fail2ban looks.
 */
function securityLog(file: string): { write(line: string): void; close(): Promise<void> } {
  let fd: number | undefined;
  return {
    write(line) {
      try {
        fd ??= openSync(file, 'a', 0o640);
        writeSync(fd, line + '\n');
      } catch {
        // a full disk must not stop the registrar; the event stream still has the line
      }
    },
    close: async () => {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

export async function startRegistrar(rt: ServeRuntime, o: RegistrarServiceOptions): Promise<RegistrarService> {
  const store = rt.store;
  const clientCert = o.clientCert ?? 'vendor';
  const identities = new Identities(store, clientCert);
  await identities.init();
  const log = securityLog(path.join(store.paths.root, 'security.log'));
  const warnAgent = store.config.registrar.host.includes(':') ? `[${store.config.registrar.host}]` : store.config.registrar.host;
  const server = new SipServer({
    identities,
    warnAgent,
    emit: (ev) => rt.bus.emit(ev),
    securityLog: (line) => log.write(line),
    ...(o.auth ? { auth: o.auth } : {}),
    ...(o.digestAlgorithms ? { digestAlgorithms: o.digestAlgorithms } : {}),
    ...(o.lockout !== undefined ? { lockout: o.lockout } : {}),
    ...(o.registrar ? { registrar: o.registrar } : {}),
    ...(o.endpoints ? { endpoints: o.endpoints } : {}),
  });
  const credentials = () => ({ cert: rt.tls.cert, key: rt.tls.key, ca: rt.tls.ca, crl: rt.crl() || undefined });
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
    ...(o.midMessageTimeoutMs !== undefined ? { midMessageTimeoutMs: o.midMessageTimeoutMs } : {}),
    allows: (ip) => rt.allow.allows(ip),
    judge: (cert, authError) => identities.judge(cert, authError),
    onHandshake: (r) => rt.bus.emit({ event: 'tls.handshake', protocol: 'sip', ...r }),
    onFlowOpened: (flow) => server.flowOpened(flow),
    onMessage: (result, flow) => server.handle(result, flow),
    onRefused: (remote, why) => rt.bus.emit({ event: 'sip.reject', remote, transport: 'tls', what: 'connection', why, status: 'dropped' }),
  });
  const port = await transport.listen();
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
      guessPhone: (user, ip) => (user !== undefined ? identities.byUser(user)?.name : undefined) ?? store.index.phones.find((p) => p.ips.includes(ip))?.name,
      report: (ev) => rt.bus.emit({ event: 'sip.reject', ...ev }),
    });
    if (diag.problems.length > 0) {
      rt.bus.emit({ event: 'serve.notice', note: `diagnostic plain-SIP listener not started (${diag.problems.join('; ')}): phones that ignore their TLS settings will not be reported` });
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
      const valid = entry && inUse(store, entry, store.clock()) && identities.phone(entry.name) !== undefined;
      if (valid) continue;
      const why = entry?.status === 'revoked' ? `certificate ${serial} of ${entry.name} was revoked` : `certificate ${serial} is no longer a phone's current certificate`;
      rt.bus.emit({ event: 'sip.reject', remote: flow.remote, phone: flow.phone, transport: 'tls', what: 'connection', why: `${why}: connection closed`, status: 'dropped' });
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
      bindings: server.registrar.size,
      calls: server.calls,
      endpoints: server.endpoints().map((e) => ({ ext: e.ext, description: e.description ?? '' })),
      registrations: server.registrations(),
    }),
    reload: () => {
      identities.reload();
      transport.updateCredentials(credentials());
      recheck();
    },
    close: async () => {
      server.close();
      await transport.close();
      await diag?.close();
      await log.close();
    },
  };
}
