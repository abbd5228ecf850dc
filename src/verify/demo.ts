import { promises as fs } from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { CaStore, homeEntries } from '../home/store.js';
import { addServer, caInfo, initCa } from '../home/operations.js';
import { addPhones, validatePhone, sipUser } from '../inventory/phones.js';
import { rerenderPhones } from '../provision/hooks.js';
import { buildRoutes } from '../provision/routes.js';
import { startServe } from '../serve/serve.js';
import { registrarServices } from '../serve/services.js';
import { probe, type ProbeReport } from './probe.js';
import { verify, type VerifyReport } from './verify.js';
import { renderHtml } from './html.js';
import type { EventBus } from '../serve/events.js';

/**
 * `sipsec demo`, the main job on a built-in default: a CA and a demo phone,
 * `serve` on free local ports, the phone's files fetched over HTTPS with
 * its client certificate, `probe` as that phone (TLS, register, call the
 * echo, a tone over SRTP), and the `verify` report. No hardware, no root.
 */
export interface DemoOptions {
  home: string;
  /** The user named the home: use it even if it holds another CA (adding to it). */
  explicitHome: boolean;
  log: (line: string) => void;
  /** Tone duration. */
  durationMs?: number;
}

export interface DemoResult {
  home: string;
  ok: boolean;
  probe: ProbeReport;
  verify: VerifyReport;
  html: string;
}

const DEMO_ORG = 'sipsec demo';

async function chooseHome(o: DemoOptions): Promise<string> {
  if (o.explicitHome) return o.home;
  if (!(await CaStore.exists(o.home))) {
    if ((await homeEntries(o.home)).length === 0) return o.home;
  } else {
    const store = await CaStore.open(o.home);
    if (store.config.org === DEMO_ORG) return o.home;
  }
  // Never add demo phones to someone's real CA, nor write a CA among another tool's files.
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'sipsec-demo-'));
  o.log(`${o.home} holds another CA or other files: the demo runs in ${tmp}`);
  return tmp;
}

async function prepare(home: string, log: (l: string) => void): Promise<CaStore> {
  const noPass = async () => undefined;
  if (!(await CaStore.exists(home))) {
    await initCa(
      home,
      { org: DEMO_ORG, domain: 'sipsec.test', cn: 'sipsec demo CA', caKey: 'p256', hash: 'sha256', caDays: 3650, leafKey: 'rsa2048', leafDays: 825, registrar: { host: '127.0.0.1', port: 5061 }, provisioningUrl: 'https://127.0.0.1/', tftpServer: '127.0.0.1', force: false },
      undefined,
    );
    log(`created a demo CA in ${path.resolve(home)} (its key is not encrypted: demo only)`);
  } else {
    log(`using the demo CA in ${path.resolve(home)}`);
  }
  const store = await CaStore.open(home);
  if (!store.current('registrar')) await addServer(store, { name: 'registrar', dns: ['localhost'], ip: ['127.0.0.1', '::1'] }, noPass);
  if (!store.index.phones.some((p) => p.name === 'demo-phone')) {
    const valid = await validatePhone({ name: 'demo-phone', vendor: 'baresip', ext: '100', srtp: 'mandatory' }, { key: store.config.leafKey, days: store.config.leafDays, now: store.clock() });
    await addPhones(store, [valid], noPass);
    await rerenderPhones(store, ['demo-phone']);
  }
  return store;
}

/** Fetch each of the phone's routes over HTTPS with its client certificate, as the phone would. */
async function fetchFiles(store: CaStore, phone: string, port: number): Promise<number> {
  const entry = store.current(phone)!;
  const [cert, key, ca] = await Promise.all([store.readCertPem(entry.serial), store.readKeyPem(entry.serial), store.caCertPem()]);
  const routes = (await buildRoutes(store)).forPhone(phone);
  let ok = 0;
  for (const r of routes) {
    const status = await new Promise<number>((resolve) => {
      const req = https.get({ host: '127.0.0.1', port, path: `/${r.path}`, cert, key, ca, servername: 'localhost' }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
    });
    if (status === 200) ok++;
  }
  return ok;
}

export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const home = await chooseHome(o);
  const store = await prepare(home, o.log);
  const phone = store.index.phones.find((p) => p.name === 'demo-phone')!;
  const info = await caInfo(store);
  o.log(`CA        ${info.subject} (${info.keyType}, valid until ${info.notAfter.slice(0, 10)})`);
  const server = store.current('registrar')!;
  o.log(`registrar ${server.subject}, SAN ${[...server.sans.dns.map((d) => `DNS:${d}`), ...server.sans.ip.map((i) => `IP:${i}`), ...server.sans.uri.map((u) => `URI:${u}`)].join(', ')}`);
  o.log(`phone     ${phone.name} (${phone.vendor}) sip:${sipUser(phone)}@${store.config.domain}, certificate ${store.current(phone.name)!.serial.slice(0, 16)}…`);

  const running = await startServe({
    store,
    bind: '127.0.0.1',
    tftpPort: 0,
    httpsPort: 0,
    httpPort: null,
    sipPort: 0,
    cert: 'registrar',
    keyWindowMs: 0,
    allow: [],
    httpsClientCert: 'optional',
    passphrase: async () => undefined,
    services: registrarServices(0, { diagnosticPort: null, lockout: null }, { ext: '200', rtpPorts: { min: 40000, max: 40999 } }),
  });
  o.log(`serve     tftp :${running.ports.tftp}, https :${running.ports.https}, sips :${running.ports.sip} on 127.0.0.1`);
  try {
    const fetched = await fetchFiles(store, phone.name, running.ports.https!);
    o.log(`fetched   ${fetched} provisioning file(s) over HTTPS with the phone's client certificate`);
    const p = await probe({ store, target: `sips:127.0.0.1:${running.ports.sip}`, as: phone.name, call: '200', durationMs: o.durationMs ?? 3000, onStep: (s) => o.log(`probe     ${s.step.padEnd(10)} ${s.result}  ${s.detail}`) });
    // Let the echo's call.end reach the stream, then judge.
    await new Promise((r) => setTimeout(r, 300));
    const final = await verifyNow(store, running.bus);
    const html = path.join(store.paths.root, 'demo-report.html');
    await fs.writeFile(html, renderHtml(final));
    o.log('');
    o.log(`verify    ${phone.name}: ${final.ok ? 'works end to end' : 'needs attention'}`);
    for (const s of final.phones[0]!.steps) o.log(`          ${s.step.padEnd(13)} ${s.state.padEnd(8)} ${s.summary}${s.hint ? `\n          ${''.padEnd(13)} hint: ${s.hint}` : ''}`);
    o.log(`report    ${html}`);
    return { home: store.paths.root, ok: p.ok && final.ok, probe: p, verify: final, html };
  } finally {
    await running.stop();
  }
}

/** Judge now from what the in-process stream holds. */
function verifyNow(store: CaStore, bus: EventBus): Promise<VerifyReport> {
  return verify({
    store,
    phones: ['demo-phone'],
    timeoutMs: 10_000,
    echoExt: '200',
    untilDone: false,
    source: (onEvent, onEnd) => {
      for (const ev of bus.history()) onEvent(ev);
      setImmediate(() => onEnd());
      return () => undefined;
    },
  });
}
