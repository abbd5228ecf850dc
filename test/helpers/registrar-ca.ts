import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { X509Certificate } from 'node:crypto';
import { addServer, initCa } from '../../src/pki/ops.js';
import { CaStore } from '../../src/pki/store.js';
import { addPhones, validatePhone, type PhoneInput } from '../../src/inventory/phones.js';
import { AllowList } from '../../src/core/net.js';
import { EventBus, type ServeEvent } from '../../src/serve/events.js';
import type { ServeRuntime } from '../../src/serve/serve.js';
import { startRegistrar, type RegistrarService, type RegistrarServiceOptions } from '../../src/sip/registrar-service.js';
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

const noPassphrase = async (): Promise<string | undefined> => undefined;

export async function registrarCa(phones: PhoneInput[], opts: { domain?: string; registrarPort?: number } = {}): Promise<RegistrarCa> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sipsec-reg-'));
  const home = path.join(dir, 'ca');
  const domain = opts.domain ?? 'pbx.test';
  await initCa(
    home,
    {
      org: 'sipsec test',
      domain,
      cn: 'sipsec test CA',
      caKey: 'p256',
      hash: 'sha256',
      caDays: 30,
      leafKey: 'p256',
      leafDays: 30,
      registrar: { host: '127.0.0.1', port: opts.registrarPort ?? 5061 },
      provisioningUrl: `https://${domain}/provision/`,
      tftpServer: '127.0.0.1',
      force: false,
    },
    undefined,
  );
  const store = await CaStore.open(home);
  await addServer(store, { name: 'registrar', dns: ['localhost'], ip: ['127.0.0.1'] }, noPassphrase);
  const valid = [];
  for (const p of phones) valid.push(await validatePhone(p, { key: store.config.leafKey, days: store.config.leafDays, now: store.clock() }));
  if (valid.length) await addPhones(store, valid, noPassphrase);
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
  events: ServeEvent[];
  port: number;
  runtime: ServeRuntime;
  waitFor(pred: (e: ServeEvent) => boolean, ms?: number): Promise<ServeEvent>;
  reloadCa(): Promise<void>;
  close(): Promise<void>;
}

/** The registrar service in this process, with the runtime `serve` would give it. */
export async function startInProcess(ca: RegistrarCa, o: Partial<RegistrarServiceOptions> = {}): Promise<InProcessRegistrar> {
  const bus = new EventBus();
  const events: ServeEvent[] = [];
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
        const timer = setTimeout(() => {
          off();
          reject(new Error(`no matching event within ${ms} ms; saw ${events.map((e) => e.event).join(', ')}`));
        }, ms);
        const off = bus.on((e) => {
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
    close: () => service.close(),
  };
}

/** The serial of a PEM certificate, lower-case hex without leading zeros. */
export function serialOf(pem: string): string {
  return new X509Certificate(pem).serialNumber.toLowerCase().replace(/^0+/, '');
}
