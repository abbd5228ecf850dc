import { rmSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import type { CaStore } from '../../src/home/store.js';
import type { PhoneInput } from '../../src/inventory/phones.js';
import { addTestPhones, addTestServer, tempCa } from './ca-home.js';
import { AllowList } from '../../src/core/net.js';
import { EventBus } from '../../src/serve/events.js';
import type { AnyServeEvent } from '../../src/events/index.js';
import { strictBus } from './events.js';
import type { ServeRuntime } from '../../src/serve/serve.js';
import { startRegistrar, type RegistrarService, type RegistrarServiceOptions } from '../../src/serve/registrar-service.js';
import { promises as fs } from 'node:fs';

/**
 * A throw-away CA home for the registrar tests, built through the library
 * with P-256 keys (fast), a server certificate for `localhost` and
 * 127.0.0.1, and phones; plus an in-process registrar on a random port.
 */
export interface RegistrarCa {
  dir: string;
  home: string;
  store: CaStore;
  domain: string;
  caPem: string;
  cleanup(): void;
  /** The phone's current certificate and key (PEM). */
  pair(name: string): Promise<{ cert: string; key: string; serial: string }>;
  secret(name: string): string;
}

export async function registrarCa(phones: PhoneInput[], opts: { domain?: string; registrarPort?: number } = {}): Promise<RegistrarCa> {
  const domain = opts.domain ?? 'pbx.test';
  const { dir, home, store } = await tempCa({ registrar: { host: '127.0.0.1', port: opts.registrarPort ?? 5061 }, domain, leafKey: 'p256', prefix: 'sipsec-reg-' });
  await addTestServer(store, 'registrar', ['127.0.0.1'], ['localhost']);
  if (phones.length) await addTestPhones(store, phones);
  return {
    dir,
    home,
    store,
    domain,
    caPem: await store.caCertPem(),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
    pair: async (name) => {
      const e = store.current(name);
      if (!e) throw new Error(`no certificate for ${name}`);
      return { cert: await store.readCertPem(e.serial), key: await store.readKeyPem(e.serial), serial: e.serial };
    },
    secret: (name) => {
      const p = store.index.phones.find((x) => x.name === name);
      if (!p) throw new Error(`no phone ${name}`);
      return p.secret;
    },
  };
}

/** Another CA home (same phone names), whose certificates sipsec's CA never issued. */
export async function foreignCa(phones: PhoneInput[]): Promise<RegistrarCa> {
  return registrarCa(phones, { domain: 'pbx.test' });
}

export interface InProcessRegistrar {
  service: RegistrarService;
  bus: EventBus;
  events: AnyServeEvent[];
  port: number;
  runtime: ServeRuntime;
  waitFor(pred: (e: AnyServeEvent) => boolean, ms?: number): Promise<AnyServeEvent>;
  reloadCa(): Promise<void>;
  close(): Promise<void>;
}

/** The registrar service in this process, with the runtime `serve` would give it. */
export async function startInProcess(ca: RegistrarCa, o: Partial<RegistrarServiceOptions> = {}): Promise<InProcessRegistrar> {
  // Every event is checked against the catalog: a violation fails waitFor and close.
  const strict = strictBus();
  const bus = strict.bus;
  const events: AnyServeEvent[] = [];
  bus.on((e) => events.push(e));
  const server = ca.store.current('registrar')!;
  let crl = await fs.readFile(ca.store.paths.crl, 'utf8');
  const runtime: ServeRuntime = {
    store: ca.store,
    bus,
    bind: '127.0.0.1',
    tls: { name: 'registrar', entry: server, cert: await ca.store.readCertPem(server.serial), key: await ca.store.readKeyPem(server.serial), ca: ca.caPem, issued: false },
    crl: () => crl,
    allow: new AllowList([]),
  };
  const service = await startRegistrar(runtime, { port: 0, diagnosticPort: null, ...o });
  return {
    service,
    bus,
    events,
    port: service.port,
    runtime,
    waitFor: (pred, ms = 10_000) =>
      new Promise((resolve, reject) => {
        const hit = events.find(pred);
        if (hit) return resolve(hit);
        if (strict.violations.length > 0) return reject(strict.error());
        const timer = setTimeout(() => {
          off();
          reject(new Error(`no matching event within ${ms} ms; saw ${events.map((e) => e.event).join(', ')}`));
        }, ms);
        const off = bus.on((e) => {
          if (strict.violations.length > 0) {
            clearTimeout(timer);
            off();
            reject(strict.error());
            return;
          }
          if (!pred(e)) return;
          clearTimeout(timer);
          off();
          resolve(e);
        });
      }),
    reloadCa: async () => {
      await ca.store.reload();
      crl = await fs.readFile(ca.store.paths.crl, 'utf8');
      await service.reload?.();
    },
    close: async () => {
      await service.close();
      strict.assertClean();
    },
  };
}

/** The serial of a PEM certificate, lower-case hex without leading zeros. */
export function serialOf(pem: string): string {
  return new X509Certificate(pem).serialNumber.toLowerCase().replace(/^0+/, '');
}
