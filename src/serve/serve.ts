import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../core/atomic.js';
import { AllowList } from '../core/net.js';
import type { CaStore, PassphraseSource } from '../home/store.js';
import type { Phone } from '../home/schema.js';
import type { Route, RouteTable } from '../provision/routes.js';
import { LiveRoutes } from '../provision/live-routes.js';
import { decide, type AccessPolicyOptions } from '../provision/access.js';
import { startHttpProvisioning, type HttpProvisionServer } from '../provision/http.js';
import { createTftpServer, type TftpEvent, type TftpServer } from '../provision/tftp/index.js';
import { EventBus, EventLog, type EventBusOptions } from './events.js';
import { isFailureCode, type EventInput, type ServeEvent, type ServeEventOf } from '../events/index.js';
import { startControl } from './control.js';
import { chooseServerCert, type ServeTls } from './server-cert.js';
import { sharedSecurity, type SharedSecurity } from './security.js';
import { SipsecError } from '../core/errors.js';
import type { LockoutOptions } from '../auth/lockout.js';
import { acquireServeLock } from '../home/serve-lock.js';
import { pemBlocks } from '../pki/pem.js';
import { settleSupersedes, type Evidence } from '../home/supersede.js';
import { joinStore, type HeldRegistration, type Presence } from './instances.js';

/** The CRLs in crl.pem (one per trusted CA during a rotation), as node:tls wants them: one PEM each. */
export function crlList(text: string): string[] | undefined {
  const blocks = pemBlocks(text, 'X509 CRL');
  return blocks.length > 0 ? blocks : undefined;
}

/**
 * `sipsec serve`: TFTP and HTTPS (and plain HTTP on request) provisioning
 * from the route table, later the SIP/TLS registrar, all reporting into
 * one event stream. Services plug in through `ServeService`.
 */

export interface ServeOptions {
  store: CaStore;
  bind: string;
  /** null = off. */
  tftpPort: number | null;
  httpsPort: number | null;
  httpPort: number | null;
  sipPort: number | null;
  cert?: string | undefined;
  keyWindowMs: number;
  allow: string[];
  httpsClientCert: 'required' | 'optional';
  firmwareDir?: string | undefined;
  passphrase: PassphraseSource;
  /** Every event, for the console. */
  onEvent?: (ev: ServeEvent) => void;
  /** How often the CA home is checked for changes (phones added, certificates revoked). */
  reloadMs?: number;
  /** Authentication failures per address that lock it out of SIP and HTTPS alike; null = never. Default fail2ban's (10 in 10 min, 10 min). */
  lockout?: LockoutOptions | null;
  /** Deadline of the TLS handshake on the HTTPS port, from accept. Default 10 s (the registrar has its own setting). */
  handshakeTimeoutMs?: number;
  /** Connections in their TLS handshake at once on the HTTPS port. Default 256. */
  maxPendingHandshakes?: number;
  /** HTTPS connections from one address. Default 64. */
  maxConnPerIp?: number;
  /**
   * Open the CA key at start (a passphrase was given): serve then rewrites
   * the CRL itself when a renewal overlap ends.
   */
  unlockCa?: boolean;
  /** This instance's name in a shared (PostgreSQL) store; default host:pid. */
  instance?: string | undefined;
  /** Extra services (the registrar), started beside provisioning with the shared runtime. */
  services?: Array<(rt: ServeRuntime) => Promise<ServeService>>;
}

export interface ServeService {
  name: string;
  /** Ports and whatever `sipsec status` should show. */
  status(): Record<string, unknown>;
  /** The CA home changed (phones, certificates, CRL). */
  reload?(): Promise<void> | void;
  /** Requests the CLI sends to the running serve (`sipsec phone resync`): name -> handler of a JSON body. */
  actions?: Record<string, ServeAction>;
  close(): Promise<void>;
}

export type ServeAction = (body: unknown) => Promise<unknown>;

export interface ServeRuntime {
  store: CaStore;
  bus: EventBus;
  bind: string;
  tls: ServeTls;
  /** The current CRL (PEM), re-read on reload. */
  crl(): string;
  allow: AllowList;
  /** The lockout and security log shared by SIP and HTTPS authentication (absent: each service keeps its own). */
  security?: SharedSecurity;
}

export interface RunningServe {
  ports: { tftp?: number; https?: number; http?: number; sip?: number };
  serverCert: ServeTls;
  bus: EventBus;
  status(): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

async function firmwareRoutes(dir: string): Promise<Route[]> {
  const routes: Route[] = [];
  for (const name of await fs.readdir(dir)) {
    const file = path.join(dir, name);
    const st = await fs.lstat(file);
    // Regular files directly in the folder only: no directory serving, no symlinks followed.
    if (!st.isFile()) continue;
    routes.push({ path: name, phone: undefined, vendor: 'firmware', contentType: 'application/octet-stream', holdsKey: false, transports: ['tftp', 'http', 'https'], content: await fs.readFile(file), aliases: [] });
  }
  return routes;
}

type DeniedCode = ServeEventOf<'provision.denied'>['code'];
type FetchCode = NonNullable<ServeEventOf<'provision.fetch'>['code']>;

/** The access policy's code for a refused TFTP lookup (passed through the transfer's meta). */
function policyCode(meta: Record<string, unknown> | undefined): DeniedCode | undefined {
  const c = meta?.code;
  return isFailureCode(c) && c.startsWith('provision.') ? (c as DeniedCode) : undefined;
}

function tftpToServeEvent(ev: TftpEvent): EventInput {
  if (ev.event === 'tftp.bad-packet') return { event: 'provision.denied', protocol: 'tftp', remote: ev.remote, reason: ev.reason, bytes: ev.length, code: ev.code };
  if (ev.event === 'tftp.suppressed') return { event: 'provision.suppressed', protocol: 'tftp', count: ev.count, by: ev.by };
  const phone = typeof ev.meta?.phone === 'string' ? ev.meta.phone : undefined;
  const base = { phone, remote: ev.remote, protocol: 'tftp', file: ev.file, bytes: ev.bytes, ms: ev.ms, blksize: ev.blksize, windowsize: ev.windowsize, retransmits: ev.retransmits } as const;
  if (ev.result === 'ok' || ev.result === 'timeout' || ev.result === 'aborted' || ev.result === 'error') {
    const code = ev.result === 'ok' ? undefined : (ev.code as FetchCode | undefined) ?? 'tftp.error';
    return { event: 'provision.fetch', ...base, result: ev.result, ...(ev.reason ? { reason: ev.reason } : {}), ...(ev.meta?.holdsKey ? { holdsKey: true } : {}), ...(typeof ev.meta?.warning === 'string' ? { warning: ev.meta.warning } : {}), ...(code ? { code } : {}) };
  }
  const code = policyCode(ev.meta) ?? (ev.code as DeniedCode | undefined) ?? 'tftp.denied';
  return { event: 'provision.denied', ...base, result: ev.result, reason: ev.reason ?? ev.result, code };
}

/**
 * The tests run the CLI with SIPSEC_STRICT_EVENTS=1 (test/helpers/cli.ts):
 * an event that breaks the catalog (src/events) is said on stderr and the
 * command ends with exit code 70, so a serve or demo test cannot pass with it.
 */
function strictEvents(): EventBusOptions {
  if (process.env.SIPSEC_STRICT_EVENTS !== '1') return {};
  return {
    onInvalid: (_ev, error) => {
      process.exitCode = 70;
      process.stderr.write(`sipsec: an event breaks the catalog (src/events): ${error}\n`);
    },
  };
}

/**
 * Start serving. Before anything binds: a CA home this user cannot write,
 * or one another serve already runs on (serve.pid), stops here with one
 * line, so a refused serve never holds a port.
 */
/**
 * What changed in the inventory between two reloads (phone add/edit/remove
 * or import by another sipsec process): field names only, never values,
 * so a rotated secret is reported without being logged.
 */
export function phoneChanges(before: Map<string, Phone>, after: Phone[]): Array<{ phone: string; change: 'added' | 'edited' | 'removed'; fields: string[] }> {
  const out: Array<{ phone: string; change: 'added' | 'edited' | 'removed'; fields: string[] }> = [];
  const seen = new Set<string>();
  for (const p of after) {
    seen.add(p.name);
    const old = before.get(p.name);
    if (!old) {
      out.push({ phone: p.name, change: 'added', fields: [] });
      continue;
    }
    const keys = [...new Set([...Object.keys(old), ...Object.keys(p)])] as Array<keyof Phone>;
    const fields = keys.filter((k) => JSON.stringify(old[k]) !== JSON.stringify(p[k]));
    if (fields.length > 0) out.push({ phone: p.name, change: 'edited', fields });
  }
  for (const name of before.keys()) if (!seen.has(name)) out.push({ phone: name, change: 'removed', fields: [] });
  return out;
}

export async function startServe(o: ServeOptions): Promise<RunningServe> {
  await o.store.assertWritable();
  const lock = await acquireServeLock(o.store.paths);
  let running: RunningServe;
  try {
    running = await startServeLocked(o);
  } catch (e) {
    await lock.release();
    throw e;
  }
  return {
    ...running,
    stop: async () => {
      await running.stop();
      await lock.release();
    },
  };
}

async function startServeLocked(o: ServeOptions): Promise<RunningServe> {
  const store = o.store;
  const bus = new EventBus(strictEvents());
  const log = new EventLog(store.paths.serveLog);
  const offLog = bus.on((ev) => log.write(ev));
  const offConsole = o.onEvent ? bus.on(o.onEvent) : () => undefined;
  const started = Date.now();
  const allow = new AllowList(o.allow);
  if (o.unlockCa) await store.signer(o.passphrase);
  let tls = await chooseServerCert(store, o.cert, o.passphrase);
  if (tls.issued) bus.emit({ event: 'serve.certificate', name: tls.name, serial: tls.entry.serial, sans: tls.entry.sans, issued: true, note: `no server certificate chosen: issued '${tls.name}' for this host` });

  // Key windows: from serve start, or from when a phone (or its new certificate) appeared.
  const windowOpened = new Map<string, { serial: string; at: number }>();
  const noteWindows = () => {
    for (const p of store.index.phones) {
      const serial = store.current(p.name)?.serial ?? '';
      const prev = windowOpened.get(p.name);
      if (!prev || prev.serial !== serial) windowOpened.set(p.name, { serial, at: prev ? Date.now() : started });
    }
  };
  noteWindows();
  const policy: AccessPolicyOptions = {
    allow,
    keyWindowMs: o.keyWindowMs,
    windowOpenedAt: (phone) => windowOpened.get(phone)?.at ?? started,
    phoneIps: (phone) => store.index.phones.find((p) => p.name === phone)?.ips ?? [],
  };
  const firmware = o.firmwareDir ? await firmwareRoutes(o.firmwareDir) : [];
  // Kept per phone: a change re-renders the phones it touches, not the fleet.
  const live = new LiveRoutes(store, firmware);
  await live.update();
  let table: RouteTable = live.table;
  let crl = await fs.readFile(store.paths.crl, 'utf8').catch(() => '');
  const security = sharedSecurity(path.join(store.paths.root, 'security.log'), o.lockout);

  const closers: Array<() => Promise<void>> = [];
  let httpsServer: HttpProvisionServer | undefined;
  const ports: RunningServe['ports'] = {};
  const services: ServeService[] = [];
  const stopAll = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  // Every listener is started at once and all of them must come up: a
  // serve missing one port is closed whole, naming every port that failed,
  // rather than leaving the others accepting while it shuts down.
  const failures: string[] = [];
  const attempt = async (start: () => Promise<void>): Promise<void> => {
    try {
      await start();
    } catch (e) {
      failures.push(e instanceof SipsecError ? e.message : (e as Error).message);
    }
  };
  const httpCommon = {
    host: o.bind,
    basePath: new URL(store.config.provisioningUrl ?? 'https://x/').pathname,
    table: () => table,
    policy,
    secretOf: (phone: string) => store.index.phones.find((p) => p.name === phone)?.secret,
    phoneOfSerial: (serial: string) => {
      const e = store.bySerial(serial);
      // The current certificate, or the previous one during its renewal overlap.
      return e && e.kind === 'phone' && store.roleOf(e.serial) !== undefined ? e.name : undefined;
    },
    clientCert: o.httpsClientCert,
    bus,
    security,
    ...(o.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: o.handshakeTimeoutMs } : {}),
    ...(o.maxPendingHandshakes !== undefined ? { maxPendingHandshakes: o.maxPendingHandshakes } : {}),
    ...(o.maxConnPerIp !== undefined ? { maxConnectionsPerIp: o.maxConnPerIp } : {}),
  };
  const runtime: ServeRuntime = { store, bus, bind: o.bind, tls, crl: () => crl, allow, security };
  const starts: Array<Promise<void>> = [];
  if (o.tftpPort !== null) {
    const tftpPort = o.tftpPort;
    starts.push(
      attempt(async () => {
        const tftp: TftpServer = await createTftpServer({
          host: o.bind,
          port: tftpPort,
          lookup: (name, remote) => {
            const route = table.lookup(name);
            if (!route) return { ok: false, code: 1, message: 'File not found', meta: { code: 'provision.not_found' } };
            const d = decide(route, { protocol: 'tftp', remoteIp: remote.address, now: Date.now() }, policy);
            const meta = { phone: route.phone, route: route.path, holdsKey: route.holdsKey, ...(d.ok && d.warning ? { warning: d.warning } : {}) };
            if (!d.ok) return d.hide ? { ok: false, code: 1, message: 'File not found', meta: { ...meta, reason: d.reason, code: d.code } } : { ok: false, code: 2, message: d.reason.slice(0, 100), meta: { ...meta, code: d.code } };
            return { ok: true, data: route.content, meta };
          },
          onEvent: (ev) => bus.emit(tftpToServeEvent(ev)),
          // Cisco SPA's factory Profile_Rule asks for /spa$PSN.cfg (vendors.md §3.1).
          stripLeadingSlash: true,
        });
        ports.tftp = tftp.address().port;
        closers.push(() => tftp.close());
      }),
    );
  }
  if (o.httpsPort !== null) {
    const httpsPort = o.httpsPort;
    starts.push(
      attempt(async () => {
        const srv: HttpProvisionServer = await startHttpProvisioning({ ...httpCommon, kind: 'https', port: httpsPort, tls: { cert: tls.cert, key: tls.key, ca: tls.ca, crl: crlList(crl) } });
        httpsServer = srv;
        ports.https = srv.port;
        closers.push(() => srv.close());
      }),
    );
  }
  if (o.httpPort !== null) {
    const httpPort = o.httpPort;
    starts.push(
      attempt(async () => {
        const srv = await startHttpProvisioning({ ...httpCommon, kind: 'http', port: httpPort });
        ports.http = srv.port;
        closers.push(() => srv.close());
      }),
    );
  }
  for (const start of o.services ?? []) {
    starts.push(
      attempt(async () => {
        const s = await start(runtime);
        services.push(s);
        closers.push(() => s.close());
        const p = s.status().port;
        if (s.name === 'registrar' && typeof p === 'number') ports.sip = p;
      }),
    );
  }
  await Promise.all(starts);
  if (failures.length > 0) {
    await Promise.all(closers.map((c) => c().catch(() => undefined)));
    await security.log.close();
    offLog();
    offConsole();
    await log.close();
    throw new SipsecError('BIND_FAILED', `serve did not start: ${failures.join('; ')}`, 'free those ports or choose others (--tftp-port, --https-port, --http-port, --sip-port; off turns one off); nothing was left listening');
  }

  /**
   * A renewed server certificate, or the end of a CA rotation (the new
   * CA's certificate is presented from `ca retire-old` on; trusted CAs and
   * CRLs change): new handshakes get it without a restart.
   */
  let lastCa = store.currentCa()?.serial;
  const followServerCert = async () => {
    const ca = store.currentCa()?.serial;
    if (ca !== lastCa) {
      store.resetCa();
      lastCa = ca;
    }
    let next: ServeTls;
    try {
      next = await chooseServerCert(store, o.cert ?? tls.name, async () => undefined);
    } catch (e) {
      bus.emit({ event: 'serve.error', code: 'serve.server_cert', reason: `keeping server certificate ${tls.entry.serial}: ${(e as Error).message}` });
      return;
    }
    if (next.entry.serial === tls.entry.serial && next.ca === tls.ca) return;
    const changed = next.entry.serial !== tls.entry.serial;
    tls = next;
    runtime.tls = next;
    if (changed) bus.emit({ event: 'serve.certificate', name: next.name, serial: next.entry.serial, sans: next.entry.sans, issued: false, note: 'presenting a new server certificate' });
  };

  /**
   * Renewal overlaps end as serve sees the phone move on (its new
   * certificate in a handshake, its new key fetched) or at the end of the
   * grace period: the old certificate is revoked as superseded and the CRL
   * rewritten, which the reload below then applies.
   */
  const evidence: Evidence[] = [];
  let settling = false;
  const settle = async () => {
    if (settling) return;
    settling = true;
    try {
      while (true) {
        const events = evidence.splice(0);
        const { settled, crlWritten } = await settleSupersedes(store, events, { keyFiles: (phone) => table.forPhone(phone).some((r) => r.holdsKey) });
        for (const x of settled) {
          bus.emit({ event: 'cert.superseded', phone: store.index.phones.some((p) => p.name === x.name) ? x.name : undefined, name: x.name, serial: x.serial, supersededBy: x.supersededBy, why: x.why, crl: crlWritten });
        }
        if (settled.length > 0 && !crlWritten) {
          bus.emit({ event: 'serve.notice', note: 'the CA key is encrypted and serve has no passphrase: the CRL will list the superseded certificate(s) at the next sipsec ca crl (the registrar already refuses them)' });
        }
        if (evidence.length === 0) break;
      }
    } catch (e) {
      bus.emit({ event: 'serve.error', code: 'serve.supersede_failed', reason: `ending a renewal overlap failed: ${(e as Error).message}` });
    } finally {
      settling = false;
    }
  };
  const offEvidence = bus.on((ev) => {
    if (ev.event !== 'tls.handshake' && ev.event !== 'provision.fetch') return;
    const pending = store.overlapCerts();
    if (pending.length === 0) return;
    const relevant =
      ev.event === 'tls.handshake'
        ? ev.ok === true && typeof ev.certSerial === 'string' && pending.some((p) => p.name === store.bySerial(String(ev.certSerial))?.name)
        : ev.result === 'ok' && pending.some((p) => p.name === ev.phone);
    if (!relevant) return;
    evidence.push(ev);
    void settle();
  });
  closers.push(async () => offEvidence());
  const graceDue = () => store.overlapCerts().some((p) => p.graceUntil !== undefined && Date.parse(p.graceUntil) <= store.clock().getTime());


  // Follow the CA home: phones added or removed, certificates renewed or revoked.
  let lastStamp = '';
  const stamp = async () => {
    // The database's change counter (one indexed read), and the files beside it: the CRL, and config.json
    // (`ca config` changes what every phone's files say: registrar, URLs, NTP).
    const [b, c] = await Promise.all([store.paths.crl, store.paths.config].map((f) => fs.stat(f).catch(() => undefined)));
    return `${store.latestChange()}/${b?.mtimeMs ?? 0}/${c?.mtimeMs ?? 0}/${c?.size ?? 0}`;
  };
  lastStamp = await stamp();
  let storeDown = false;
  // A store that is down is said once, not every poll or heartbeat; serve goes on from what it has.
  const storeTrouble = (detail: string) => {
    if (storeDown) return;
    storeDown = true;
    bus.emit({ event: 'serve.error', reason: `the shared store ${store.database.file} is unreachable (${detail}): serve goes on with the phones and certificates it has, and catches up when the store answers`, code: 'serve.store_failed' });
  };
  /** Apply what changed in the CA home since the last look; failures are events, serve keeps its state. */
  const follow = async () => {
    try {
      const now = await stamp();
      if (storeDown) {
        storeDown = false;
        bus.emit({ event: 'serve.notice', note: 'the shared store answers again: serve is following it' });
      }
      if (now === lastStamp) return;
      lastStamp = now;
      const before = store.index.phones;
      const changed = await store.reload();
      const names = changed === 'all' ? undefined : new Set(changed.phones);
      for (const change of phoneChanges(new Map(before.filter((p) => !names || names.has(p.name)).map((p) => [p.name, p])), names ? [...names].flatMap((n) => store.phone(n) ?? []) : store.index.phones)) bus.emit({ event: 'phone.changed', ...change });
      noteWindows();
      await live.update();
      table = live.table;
      crl = await fs.readFile(store.paths.crl, 'utf8').catch(() => crl);
      await followServerCert();
      httpsServer?.updateTls({ cert: tls.cert, key: tls.key, ca: tls.ca, crl: crlList(crl) });
      for (const s of services) await s.reload?.();
      bus.emit({ event: 'serve.reload', phones: store.index.phones.length, routes: table.routes.length, crlNumber: store.index.crlNumber, trustedCas: [store.currentCa()?.serial, store.oldCa()?.serial].filter((x) => x !== undefined) });
    } catch (e) {
      if (e instanceof SipsecError && e.code === 'STORE_UNREACHABLE') return storeTrouble(e.message.replace(/^cannot use the store [^:]+:\/\/[^ ]+( \(schema [^)]*\))?: /, ''));
      bus.emit({ event: 'serve.error', reason: `reload failed: ${(e as Error).message}`, code: 'serve.reload_failed' });
    }
  };
  // One reload at a time, in order: the timer's and the one a control request asks for.
  let queue: Promise<void> = Promise.resolve();
  const serially = (fn: () => Promise<void>): Promise<void> => (queue = queue.then(fn, fn));
  let reloading = false;
  const timer = setInterval(() => {
    if (reloading) return;
    reloading = true;
    void serially(async () => {
      if (graceDue()) await settle();
      await follow();
    }).finally(() => {
      reloading = false;
    });
  }, o.reloadMs ?? 250);
  timer.unref();

  // A shared store: say who we are and what we hold; hear the others' commits at once.
  const sharedStore = store.sharedStore;
  let presence: Presence | undefined;
  const heldRegistrations = () =>
    services.flatMap((s) => {
      const r = s.status().registrations;
      return Array.isArray(r) ? (r as HeldRegistration[]) : [];
    });
  if (sharedStore) {
    const p = await joinStore({
      store: sharedStore,
      id: o.instance,
      info: { bind: o.bind, ports },
      registrations: heldRegistrations,
      onChange: () => {
        if (reloading) return;
        reloading = true;
        void serially(follow).finally(() => {
          reloading = false;
        });
      },
      onError: storeTrouble,
    });
    presence = p;
    closers.push(() => p.close());
  }

  const statusOf = async () => ({
    pid: process.pid,
    ...(presence && sharedStore ? { instance: presence.id, store: sharedStore.file } : {}),
    home: store.paths.root,
    started: new Date(started).toISOString(),
    bind: o.bind,
    ports,
    serverCert: { name: tls.name, serial: tls.entry.serial },
    keyWindowMs: o.keyWindowMs,
    routes: table.routes.length,
    phones: store.index.phones.length,
    ...Object.fromEntries(services.map((s) => [s.name, s.status()])),
    registrations: heldRegistrations().map((r) => (presence ? { ...r, instance: presence.id } : r)),
    ...(presence
      ? await Promise.all([presence.instances(), presence.elsewhere()]).then(
          ([instances, registrationsElsewhere]) => ({ instances, registrationsElsewhere }),
          (e: unknown) => ({ storeError: `the shared store did not answer: ${(e as Error).message}` }),
        )
      : {}),
  });
  const actions = new Map<string, ServeAction>();
  // A request from the CLI right after a change (`phone edit --resync`) acts on the home as it is now:
  // the NOTIFY goes out only once serve answers with the new files, a phone that refetches at once gets them.
  for (const s of services) {
    for (const [name, fn] of Object.entries(s.actions ?? {})) {
      actions.set(name, async (body) => {
        await serially(follow);
        return fn(body);
      });
    }
  }
  const control = await startControl(path.join(store.paths.root, 'serve.sock'), bus, statusOf, actions);
  await writeFileAtomic(store.paths.serveState, JSON.stringify({ pid: process.pid, started: new Date(started).toISOString(), bind: o.bind, ports, socket: path.join(store.paths.root, 'serve.sock') }, null, 2) + '\n', { mode: 0o600 });
  bus.emit({ event: 'serve.start', bind: o.bind, ports, serverCert: tls.name, keyWindowMs: o.keyWindowMs, routes: table.routes.length, ...(presence && sharedStore ? { instance: presence.id, store: sharedStore.file } : {}) });

  let stopped = false;
  return {
    ports,
    serverCert: tls,
    bus,
    status: statusOf,
    stop: async () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      bus.emit({ event: 'serve.stop' });
      await control.close();
      await stopAll();
      await security.log.close();
      await fs.rm(store.paths.serveState, { force: true });
      offLog();
      offConsole();
      await log.close();
    },
  };
}
