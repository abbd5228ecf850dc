import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../core/atomic.js';
import { AllowList } from '../core/net.js';
import type { CaStore, PassphraseSource } from '../home/store.js';
import type { Phone } from '../home/schema.js';
import { inUse } from '../home/supersede.js';
import { buildRoutes, makeTable, type Route, type RouteTable } from '../provision/routes.js';
import { decide, type AccessPolicyOptions } from '../provision/access.js';
import { startHttpProvisioning, type HttpProvisionServer } from '../provision/http.js';
import { createTftpServer, type TftpEvent, type TftpServer } from '../provision/tftp/index.js';
import { EventBus, EventLog, type EventInput, type ServeEvent } from './events.js';
import { startControl } from './control.js';
import { chooseServerCert, type ServerTls } from './server-cert.js';

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
  /** Extra services (the registrar), started after provisioning with the shared runtime. */
  services?: Array<(rt: ServeRuntime) => Promise<ServeService>>;
}

export interface ServeService {
  name: string;
  /** Ports and whatever `sipsec status` should show. */
  status(): Record<string, unknown>;
  /** The CA home changed (phones, certificates, CRL). */
  reload?(): Promise<void> | void;
  close(): Promise<void>;
}

export interface ServeRuntime {
  store: CaStore;
  bus: EventBus;
  bind: string;
  tls: ServerTls;
  /** The current CRL (PEM), re-read on reload. */
  crl(): string;
  allow: AllowList;
}

export interface RunningServe {
  ports: { tftp?: number; https?: number; http?: number; sip?: number };
  serverCert: ServerTls;
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

function tftpToServeEvent(ev: TftpEvent): EventInput {
  if (ev.event === 'tftp.bad-packet') return { event: 'provision.denied', protocol: 'tftp', remote: ev.remote, reason: ev.reason, bytes: ev.length };
  if (ev.event === 'tftp.suppressed') return { event: 'provision.suppressed', protocol: 'tftp', count: ev.count, by: ev.by };
  const phone = typeof ev.meta?.phone === 'string' ? ev.meta.phone : undefined;
  const base = { phone, remote: ev.remote, protocol: 'tftp', file: ev.file, bytes: ev.bytes, ms: ev.ms, blksize: ev.blksize, windowsize: ev.windowsize, retransmits: ev.retransmits };
  if (ev.result === 'ok' || ev.result === 'timeout' || ev.result === 'aborted' || ev.result === 'error') {
    return { event: 'provision.fetch', ...base, result: ev.result, ...(ev.reason ? { reason: ev.reason } : {}), ...(ev.meta?.holdsKey ? { holdsKey: true } : {}), ...(typeof ev.meta?.warning === 'string' ? { warning: ev.meta.warning } : {}) };
  }
  return { event: 'provision.denied', ...base, result: ev.result, reason: ev.reason ?? ev.result };
}

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
  const store = o.store;
  const bus = new EventBus();
  const log = new EventLog(store.paths.serveLog);
  const offLog = bus.on((ev) => log.write(ev));
  const offConsole = o.onEvent ? bus.on(o.onEvent) : () => undefined;
  const started = Date.now();
  const allow = new AllowList(o.allow);
  const tls = await chooseServerCert(store, o.cert, o.passphrase);
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
  const rebuild = async (): Promise<RouteTable> => {
    const t = await buildRoutes(store);
    return makeTable([...t.routes, ...firmware]);
  };
  let table = await rebuild();
  let crl = await fs.readFile(store.paths.crl, 'utf8').catch(() => '');

  const closers: Array<() => Promise<void>> = [];
  const ports: RunningServe['ports'] = {};
  const services: ServeService[] = [];
  const stopAll = async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  };
  try {
    if (o.tftpPort !== null) {
      const tftp: TftpServer = await createTftpServer({
        host: o.bind,
        port: o.tftpPort,
        lookup: (name, remote) => {
          const route = table.lookup(name);
          if (!route) return { ok: false, code: 1, message: 'File not found' };
          const d = decide(route, { protocol: 'tftp', remoteIp: remote.address, now: Date.now() }, policy);
          const meta = { phone: route.phone, route: route.path, holdsKey: route.holdsKey, ...(d.ok && d.warning ? { warning: d.warning } : {}) };
          if (!d.ok) return d.hide ? { ok: false, code: 1, message: 'File not found', meta: { ...meta, reason: d.reason } } : { ok: false, code: 2, message: d.reason.slice(0, 100), meta };
          return { ok: true, data: route.content, meta };
        },
        onEvent: (ev) => bus.emit(tftpToServeEvent(ev)),
        // Cisco SPA's factory Profile_Rule asks for /spa$PSN.cfg (vendors.md §3.1).
        stripLeadingSlash: true,
      });
      ports.tftp = tftp.address().port;
      closers.push(() => tftp.close());
    }
    const httpCommon = {
      host: o.bind,
      basePath: new URL(store.config.provisioningUrl ?? 'https://x/').pathname,
      table: () => table,
      policy,
      secretOf: (phone: string) => store.index.phones.find((p) => p.name === phone)?.secret,
      phoneOfSerial: (serial: string) => {
        const e = store.bySerial(serial);
        return e && e.kind === 'phone' && inUse(store, e, store.clock()) ? e.name : undefined;
      },
      clientCert: o.httpsClientCert,
      bus,
    };
    if (o.httpsPort !== null) {
      const srv: HttpProvisionServer = await startHttpProvisioning({ ...httpCommon, kind: 'https', port: o.httpsPort, tls: { cert: tls.cert, key: tls.key, ca: tls.ca, ...(crl ? { crl } : {}) } });
      ports.https = srv.port;
      closers.push(() => srv.close());
    }
    if (o.httpPort !== null) {
      const srv = await startHttpProvisioning({ ...httpCommon, kind: 'http', port: o.httpPort });
      ports.http = srv.port;
      closers.push(() => srv.close());
    }
    const runtime: ServeRuntime = { store, bus, bind: o.bind, tls, crl: () => crl, allow };
    for (const start of o.services ?? []) {
      const s = await start(runtime);
      services.push(s);
      closers.push(() => s.close());
      const p = s.status().port;
      if (s.name === 'registrar' && typeof p === 'number') ports.sip = p;
    }
  } catch (e) {
    await stopAll();
    offLog();
    offConsole();
    await log.close();
    throw e;
  }

  // Follow the CA home: phones added or removed, certificates renewed or revoked.
  let lastStamp = '';
  const stamp = async () => {
    const [a, b] = await Promise.all([fs.stat(store.paths.index).catch(() => undefined), fs.stat(store.paths.crl).catch(() => undefined)]);
    return `${a?.mtimeMs ?? 0}/${a?.size ?? 0}/${b?.mtimeMs ?? 0}`;
  };
  lastStamp = await stamp();
  let reloading = false;
  const timer = setInterval(() => {
    if (reloading) return;
    reloading = true;
    void (async () => {
      try {
        const now = await stamp();
        if (now === lastStamp) return;
        lastStamp = now;
        const before = new Map(store.index.phones.map((p) => [p.name, p]));
        await store.reload();
        for (const change of phoneChanges(before, store.index.phones)) bus.emit({ event: 'phone.changed', ...change });
        noteWindows();
        table = await rebuild();
        crl = await fs.readFile(store.paths.crl, 'utf8').catch(() => crl);
        for (const s of services) await s.reload?.();
        bus.emit({ event: 'serve.reload', phones: store.index.phones.length, routes: table.routes.length });
      } catch (e) {
        bus.emit({ event: 'serve.error', reason: `reload failed: ${(e as Error).message}` });
      } finally {
        reloading = false;
      }
    })();
  }, o.reloadMs ?? 1000);
  timer.unref();

  const statusOf = async () => ({
    pid: process.pid,
    home: store.paths.root,
    started: new Date(started).toISOString(),
    bind: o.bind,
    ports,
    serverCert: { name: tls.name, serial: tls.entry.serial },
    keyWindowMs: o.keyWindowMs,
    routes: table.routes.length,
    phones: store.index.phones.length,
    ...Object.fromEntries(services.map((s) => [s.name, s.status()])),
    registrations: services.flatMap((s) => {
      const r = s.status().registrations;
      return Array.isArray(r) ? r : [];
    }),
  });
  const control = await startControl(path.join(store.paths.root, 'serve.sock'), bus, statusOf);
  await writeFileAtomic(store.paths.serveState, JSON.stringify({ pid: process.pid, started: new Date(started).toISOString(), bind: o.bind, ports, socket: path.join(store.paths.root, 'serve.sock') }, null, 2) + '\n', { mode: 0o600 });
  bus.emit({ event: 'serve.start', bind: o.bind, ports, serverCert: tls.name, keyWindowMs: o.keyWindowMs, routes: table.routes.length });

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
      await fs.rm(store.paths.serveState, { force: true });
      offLog();
      offConsole();
      await log.close();
    },
  };
}
