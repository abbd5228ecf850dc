import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CaStore } from '../pki/store.js';
import { addServer, caInfo, initCa } from '../pki/ops.js';
import { addPhones, validatePhone, sipUser } from '../inventory/phones.js';
import { afterPhonesChanged } from '../provision/hooks.js';

export interface DemoOptions {
  home: string;
  /** The user named the home: use it even if it holds another CA (adding to it). */
  explicitHome: boolean;
  log: (line: string) => void;
}

const DEMO_ORG = 'sipsec demo';

async function chooseHome(o: DemoOptions): Promise<string> {
  if (o.explicitHome || !(await CaStore.exists(o.home))) return o.home;
  const store = await CaStore.open(o.home);
  if (store.config.org === DEMO_ORG) return o.home;
  // Never add demo phones to someone's real CA.
  return fs.mkdtemp(path.join(os.tmpdir(), 'sipsec-demo-'));
}

/** The built-in default: a CA, a registrar certificate and a phone on this machine. */
export async function runDemo(o: DemoOptions) {
  const home = await chooseHome(o);
  const noPass = async () => undefined;
  let store: CaStore;
  if (await CaStore.exists(home)) {
    store = await CaStore.open(home);
    o.log(`using the demo CA in ${path.resolve(home)}`);
  } else {
    await initCa(
      home,
      { org: DEMO_ORG, domain: 'sipsec.test', cn: 'sipsec demo CA', caKey: 'p256', hash: 'sha256', caDays: 3650, leafKey: 'rsa2048', leafDays: 825, registrar: { host: '127.0.0.1', port: 5061 }, provisioningUrl: 'https://127.0.0.1/', tftpServer: '127.0.0.1', force: false },
      undefined,
    );
    store = await CaStore.open(home);
    o.log(`created a demo CA in ${store.paths.root} (unencrypted key: demo only)`);
  }
  if (!store.current('registrar')) await addServer(store, { name: 'registrar', dns: ['localhost'], ip: ['127.0.0.1', '::1'] }, noPass);
  if (!store.index.phones.some((p) => p.name === 'demo-phone')) {
    const valid = await validatePhone({ name: 'demo-phone', vendor: 'baresip', ext: '100', srtp: 'mandatory' }, { key: store.config.leafKey, days: store.config.leafDays, now: store.clock() });
    await addPhones(store, [valid], noPass);
    await afterPhonesChanged(store, ['demo-phone']);
  }
  const info = await caInfo(store);
  const server = store.current('registrar')!;
  const phone = store.index.phones.find((p) => p.name === 'demo-phone')!;
  const phoneCert = store.current('demo-phone')!;
  o.log('');
  o.log(`CA        ${info.subject}  (${info.keyType}, valid until ${info.notAfter.slice(0, 10)})`);
  o.log(`registrar ${server.subject}  SAN ${[...server.sans.dns.map((d) => `DNS:${d}`), ...server.sans.ip.map((i) => `IP:${i}`), ...server.sans.uri.map((u) => `URI:${u}`)].join(', ')}`);
  o.log(`phone     ${phone.name} (${phone.vendor}) sip:${sipUser(phone)}@${store.config.domain}  certificate ${phoneCert.serial.slice(0, 16)}…`);
  o.log('');
  o.log(`inspect:  openssl x509 -in ${store.paths.cert(phoneCert.serial)} -noout -text`);
  o.log(`verify:   openssl verify -CAfile ${store.paths.caCert} -purpose sslclient ${store.paths.cert(phoneCert.serial)}`);
  return { home: store.paths.root, ca: info, server, phone: { name: phone.name, vendor: phone.vendor, aor: `sip:${sipUser(phone)}@${store.config.domain}`, certificate: phoneCert } };
}
