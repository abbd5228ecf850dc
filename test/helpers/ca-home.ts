import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initCa, addServer } from '../../src/home/operations.js';
import type { KeySpec } from '../../src/pki/keys.js';
import { CaStore } from '../../src/home/store.js';
import { addPhones, validatePhone, type PhoneInput } from '../../src/inventory/phones.js';

/**
 * A real, throw-away CA home built through the library (src/pki/ops.ts,
 * src/inventory/phones.ts), for tests that hand rendered certificates to
 * real programs (baresip, linphonec, kamailio).
 */

export interface TestCa {
  dir: string;
  home: string;
  store: CaStore;
  cleanup(): void;
}

const noPassphrase = async (): Promise<string | undefined> => undefined;

export async function tempCa(opts: { registrar: { host: string; port: number }; domain?: string; leafKey?: KeySpec; caKey?: KeySpec; prefix?: string }): Promise<TestCa> {
  const dir = mkdtempSync(path.join(os.tmpdir(), opts.prefix ?? 'sipsec-ca-'));
  const home = path.join(dir, 'ca');
  const domain = opts.domain ?? 'pbx.test';
  await initCa(
    home,
    {
      org: 'sipsec test',
      domain,
      cn: 'sipsec test CA',
      // P-256 CA: quick to make; leaves are RSA-2048 (what phones get by default) unless asked.
      caKey: opts.caKey ?? 'p256',
      hash: 'sha256',
      caDays: 30,
      leafKey: opts.leafKey ?? 'rsa2048',
      leafDays: 30,
      registrar: opts.registrar,
      provisioningUrl: `https://${domain}/provision/`,
      tftpServer: opts.registrar.host,
      force: false,
    },
    undefined,
  );
  const store = await CaStore.open(home);
  return { dir, home, store, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function addTestServer(store: CaStore, name: string, ip: string[], dns: string[] = []): Promise<void> {
  await addServer(store, { name, dns, ip }, noPassphrase);
}

export async function addTestPhones(store: CaStore, inputs: PhoneInput[]): Promise<void> {
  const valid = [];
  for (const input of inputs) valid.push(await validatePhone(input, { key: store.config.leafKey, days: store.config.leafDays, now: store.clock() }));
  await addPhones(store, valid, noPassphrase);
}

export { noPassphrase };
