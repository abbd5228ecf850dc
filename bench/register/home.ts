/**
 * The registrar benchmarks' common ground (register, hold): a CA home with
 * N phones built through the library, and `sipsec serve` started on it as
 * a child process with only the SIP/TLS registrar listening.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { addServer, initCa } from '../../src/home/operations.js';
import { CaStore } from '../../src/home/store.js';
import { addPhones, validatePhone } from '../../src/inventory/phones.js';
import { stopChild, waitPort } from '../lib/proc.js';
import type { PhoneCreds } from './loadgen.js';

export const DOMAIN = 'pbx.test';
const noPassphrase = async (): Promise<string | undefined> => undefined;
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export interface BenchHome {
  home: string;
  store: CaStore;
  /** Every phone's SIP user, certificate and key, in the order they were added. */
  phones: PhoneCreds[];
  /** The CA certificate (PEM) the load generator trusts. */
  ca: string;
}

/**
 * A P-256 CA (phone keys P-256 too: what a large deployment uses, and the
 * cheapest handshake) with a server certificate for localhost/127.0.0.1
 * and `count` baresip phones, extensions 1000 up, issued in one bulk add.
 */
export async function buildHome(dir: string, count: number, registrarPort: number, onProgress?: (done: number, total: number) => void): Promise<BenchHome> {
  const home = path.join(dir, 'ca');
  await initCa(home, { org: 'bench', domain: DOMAIN, cn: 'bench CA', caKey: 'p256', hash: 'sha256', caDays: 30, leafKey: 'p256', leafDays: 30, registrar: { host: '127.0.0.1', port: registrarPort }, provisioningUrl: 'https://localhost/', tftpServer: '127.0.0.1', force: false }, undefined);
  const store = await CaStore.open(home);
  await addServer(store, { name: 'registrar', dns: ['localhost'], ip: ['127.0.0.1'] }, noPassphrase);
  const valid = [];
  const now = new Date();
  for (let i = 0; i < count; i++) valid.push(await validatePhone({ name: `phone${i}`, vendor: 'baresip', ext: String(1000 + i) }, { key: 'p256', days: 30, now }));
  await addPhones(store, valid, noPassphrase, onProgress ? { onProgress } : {});
  const phones = await Promise.all(
    store.index.phones.map(async (p) => {
      const e = store.current(p.name)!;
      return { user: p.ext ?? p.name, cert: await store.readCertPem(e.serial), key: await store.readKeyPem(e.serial) };
    }),
  );
  return { home, store, phones, ca: await store.caCertPem() };
}

/**
 * `sipsec serve` on 127.0.0.1 with the registrar alone (TFTP, HTTPS and
 * the diagnostic port off), phones authenticated by their certificate
 * (`--auth cert`, as Kamailio's generated config does), in its own
 * process group so it can be stopped whole. Resolves once the port answers.
 */
export async function startServe(home: string, sipPort: number, extraArgs: readonly string[] = []): Promise<ChildProcess> {
  const args = [path.join(repo, 'bin', 'sipsec'), '--home', home, 'serve', '--json', '--bind', '127.0.0.1', '--tftp-port', 'off', '--https-port', 'off', '--sip-port', String(sipPort), '--diagnostic-port', 'off', '--auth', 'cert', ...extraArgs];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  try {
    await waitPort(sipPort, 60_000);
  } catch (e) {
    await stopChild(child);
    throw new Error(`${(e as Error).message}; sipsec serve said: ${err}`);
  }
  return child;
}
