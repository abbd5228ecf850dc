import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { CaStore } from '../../src/home/store.js';
import { addBaresip, baresipPorts, cli, initHome, startBaresip, type RunningBaresip } from '../../test/helpers/registrar-home.js';
import { requirePeer } from '../../test/helpers/peers.js';
import { probeJson } from '../../test/helpers/verify.js';
import { ctrlTcp, freePort } from '../../test/vendors/peer-stubs.js';
import { startKamailio } from '../../test/helpers/kamailio.js';

/**
 * `npm run interop -- asterisk [--prefix DIR] [--keep]`: sipsec's Asterisk
 * export against a real Asterisk 20, outside `npm test` (CI cannot build
 * Asterisk in its time budget). For each driver (PJSIP, chan_sip) it starts
 * a private Asterisk (`asterisk -f -C DIR/asterisk.conf`, loopback only, its
 * own etc/run/log/spool dirs) from `sipsec pbx asterisk --out`, and drives
 * real baresip phones provisioned by sipsec: TLS + REGISTER, an SRTP call to
 * the echo extension with packets both ways (Asterisk's channel stats), a
 * phone-to-phone call through Asterisk, the revoked phone left out, TLS 1.3
 * (and 1.2; 1.1 refused), `sipsec probe` passing its call with media both
 * ways, and the Kamailio TLS edge in front (`pbx kamailio --upstream`).
 * Prints a summary table; exits 1 if any check failed.
 */

interface Check {
  driver: string;
  check: string;
  ok: boolean;
  evidence: string;
}

const BUILD_HINT = [
  'Asterisk 20 is not packaged in Debian 12: build it from public source (about 8-15 minutes on 2 cores), e.g.',
  '  AST_MIRROR=<git dir of asterisk/asterisk> PJ_MIRROR=<git dir of pjsip/pjproject> PREFIX=/opt/asterisk \\',
  '    bash ../shared/peers/asterisk-build.sh        # see ../shared/peers.md §10',
  'then: npm run interop -- asterisk --prefix /opt/asterisk',
].join('\n');

function findAsterisk(prefix: string | undefined): string | undefined {
  const candidates = prefix !== undefined ? [prefix] : [process.env.ASTERISK_PREFIX, '/opt/asterisk', '/usr/local', '/usr'].filter((d): d is string => !!d);
  for (const d of candidates) if (existsSync(path.join(d, 'sbin', 'asterisk'))) return path.resolve(d);
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** A private Asterisk: its own config, run, log, spool and lib dirs under `dir`; modules from the prefix. */
class PrivateAsterisk {
  child: ChildProcess | undefined;
  constructor(
    readonly prefix: string,
    readonly dir: string,
  ) {}

  get conf(): string {
    return path.join(this.dir, 'etc', 'asterisk.conf');
  }

  layout(driver: 'pjsip' | 'chan_sip', rtp: { start: number; end: number }): void {
    const d = (n: string) => path.join(this.dir, n);
    for (const n of ['etc', 'run', 'log', 'spool', 'lib']) mkdirSync(d(n), { recursive: true });
    writeFileSync(
      this.conf,
      [
        '[directories]',
        `astetcdir => ${d('etc')}`,
        `astmoddir => ${path.join(this.prefix, 'lib', 'asterisk', 'modules')}`,
        `astvarlibdir => ${d('lib')}`,
        `astdbdir => ${d('lib')}`,
        `astkeydir => ${d('lib')}`,
        `astdatadir => ${d('lib')}`,
        `astagidir => ${d('lib')}`,
        `astspooldir => ${d('spool')}`,
        `astrundir => ${d('run')}`,
        `astlogdir => ${d('log')}`,
        `astsbindir => ${path.join(this.prefix, 'sbin')}`,
        '[options]',
        'verbose = 3',
        '',
      ].join('\n'),
    );
    // One driver at a time: the other stays unloaded (chan_sip) or without transports (an empty pjsip.conf).
    writeFileSync(d('etc/modules.conf'), ['[modules]', 'autoload=yes', ...(driver === 'pjsip' ? ['noload => chan_sip.so'] : []), 'noload => res_pjsip_phoneprov.so', ''].join('\n'));
    writeFileSync(d('etc/logger.conf'), ['[general]', '[logfiles]', 'messages.log => notice,warning,error,verbose(3)', ''].join('\n'));
    writeFileSync(d('etc/rtp.conf'), ['[general]', `rtpstart=${rtp.start}`, `rtpend=${rtp.end}`, ''].join('\n'));
    writeFileSync(d('etc/extensions.conf'), ['[general]', 'static=yes', 'writeprotect=yes', '', '#include extensions_sipsec.conf', ''].join('\n'));
    if (driver === 'chan_sip') writeFileSync(d('etc/pjsip.conf'), '; no PJSIP transports: chan_sip serves the phones in this run\n');
  }

  log(): string {
    const f = path.join(this.dir, 'log', 'messages.log');
    return existsSync(f) ? readFileSync(f, 'utf8') : '';
  }

  rx(command: string): string {
    const r = spawnSync(path.join(this.prefix, 'sbin', 'asterisk'), ['-C', this.conf, '-rx', command], { encoding: 'utf8', timeout: 20_000 });
    return `${r.stdout ?? ''}${r.stderr ?? ''}`;
  }

  async start(port: number): Promise<void> {
    this.child = spawn(path.join(this.prefix, 'sbin', 'asterisk'), ['-f', '-C', this.conf], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    this.child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    for (let i = 0; i < 300; i++) {
      if (this.child.exitCode !== null) throw new Error(`asterisk exited (${this.child.exitCode}): ${err}\n${this.log().slice(-3000)}`);
      if (await listening(port)) {
        this.rx('core waitfullybooted');
        return;
      }
      await sleep(200);
    }
    throw new Error(`asterisk did not listen on 127.0.0.1:${port} within 60 s:\n${this.log().slice(-3000)}`);
  }

  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    this.rx('core stop now');
    const t = setTimeout(() => c.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(t);
  }
}

/** A TLS handshake at exactly one version, with a phone's certificate: the negotiated version or the error. */
async function tlsAt(port: number, version: tls.SecureVersion, cert: string, key: string, ca: string): Promise<string> {
  return new Promise((resolve) => {
    // SECLEVEL=0 on our side only, so a refusal of TLS 1.1 is the server's, not this client's.
    const s = tls.connect({ host: '127.0.0.1', port, cert, key, ca, minVersion: version, maxVersion: version, rejectUnauthorized: false, ciphers: 'DEFAULT@SECLEVEL=0' });
    const t = setTimeout(() => (s.destroy(), resolve('timeout')), 10_000);
    s.once('secureConnect', () => {
      clearTimeout(t);
      const v = s.getProtocol() ?? '?';
      s.destroy();
      resolve(v);
    });
    s.once('error', (e) => {
      clearTimeout(t);
      resolve(`refused: ${e.message.replace(/^.*routines:/, '').slice(0, 80)}`);
    });
  });
}

/** Packets in and out per channel from `pjsip|sip show channelstats` (Asterisk's own RTP counters). */
function channelStats(ast: PrivateAsterisk, driver: 'pjsip' | 'chan_sip'): Array<{ rx: number; tx: number; line: string }> {
  const text = ast.rx(driver === 'pjsip' ? 'pjsip show channelstats' : 'sip show channelstats');
  const out: Array<{ rx: number; tx: number; line: string }> = [];
  for (const line of text.split('\n')) {
    if (driver === 'pjsip') {
      // " BridgeId ChannelId ........ UpTime.. Codec.   Count    Lost Pct  Jitter   Count    Lost Pct  Jitter RTT...."
      // (receive, then transmit; BridgeId is blank for the echo, which is in no bridge; counts may carry a K/M suffix)
      const m = /\d\d:\d\d:\d\d\s+\S+\s+(\d+)\S*\s+\d+\S*\s+\d+\s+[\d.]+\s+(\d+)\s/.exec(line);
      if (m) out.push({ rx: Number(m[1]), tx: Number(m[2]), line: line.trim() });
    } else {
      // "Peer             Call ID      Duration Recv: Pack  Lost       (     %) Jitter Send: Pack  Lost       (     %) Jitter"
      const m = /^\s*\S+\s+\S+\s+\d\d:\d\d:\d\d\s+(\d+)\s+\d+\s+\(\s*[\d.]+%\)\s+[\d.]+\s+(\d+)\s+/.exec(line);
      if (m) out.push({ rx: Number(m[1]), tx: Number(m[2]), line: line.trim() });
    }
  }
  return out;
}

async function ctrl(port: number, command: string, params = ''): Promise<void> {
  const r = await ctrlTcp(port, command, params);
  if (!r.ok) throw new Error(`baresip ${command} ${params}: ${JSON.stringify(r)}`);
}

interface DriverRun {
  driver: 'pjsip' | 'chan_sip';
  prefix: string;
  home: string;
  work: string;
  sipPort: number;
  baresip: string;
  kamailio: string;
  phones: Record<string, { dir: string; ctrl: number }>;
}

/** A phone's certificate and key, the revoked one too (its last certificate). */
async function pairOf(home: string, name: string): Promise<{ cert: string; key: string; ca: string }> {
  const store = await CaStore.open(home);
  const entry = store.current(name) ?? store.history(name).at(-1)!;
  return { cert: await store.readCertPem(entry.serial), key: await store.readKeyPem(entry.serial), ca: await store.caCertPem() };
}

/**
 * The Kamailio TLS edge (`sipsec pbx kamailio --upstream`) in front of this
 * Asterisk: a baresip phone registers and calls the echo through it, and the
 * revoked phone's handshake, which Asterisk itself completes, is refused.
 */
async function edgeChecks(o: DriverRun, ast: PrivateAsterisk, add: (check: string, ok: boolean, evidence: string) => void): Promise<void> {
  const edgePort = await freePort();
  const out = path.join(o.work, `edge-${o.driver}`);
  cli(o.home, ['pbx', 'kamailio', '--out', out, '--cert', 'registrar', '--listen', `127.0.0.1:${edgePort}`, '--upstream', `127.0.0.1:${o.sipPort}`]);
  const kam = await startKamailio(o.kamailio, path.join(out, 'kamailio.cfg'), path.join(out, 'run'), edgePort);
  let phone: RunningBaresip | undefined;
  try {
    const rev = await pairOf(o.home, 'telefono3');
    const direct = await tlsAt(o.sipPort, 'TLSv1.2', rev.cert, rev.key, rev.ca);
    const viaEdge = await tlsAt(edgePort, 'TLSv1.2', rev.cert, rev.key, rev.ca);
    add('edge: revoked phone refused', direct === 'TLSv1.2' && /revoked/.test(viaEdge), `Asterisk itself: ${direct === 'TLSv1.2' ? 'handshake accepted' : direct}; the edge: ${viaEdge}`);
    // telefono1's ready directory, pointed at the edge instead of Asterisk.
    const dir = path.join(out, 'telefono1');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'config'), readFileSync(path.join(o.phones['telefono1']!.dir, 'config'), 'utf8'));
    writeFileSync(path.join(dir, 'accounts'), readFileSync(path.join(o.phones['telefono1']!.dir, 'accounts'), 'utf8').replace(`sip:127.0.0.1:${o.sipPort};transport=tls`, `sip:127.0.0.1:${edgePort};transport=tls`));
    phone = await startBaresip(o.baresip, dir);
    const reg = await phone.waitFor((t) => /101@pbx\.test: \{0\/TLS\/v4\} 200 OK/.test(t), 30_000, '200 OK through the edge').then(() => true, () => false);
    await ctrl(o.phones['telefono1']!.ctrl, 'dial', 'sip:200@pbx.test');
    await phone.waitFor((t) => /SRTP is Enabled/.test(t), 20_000, 'SRTP through the edge').catch(() => undefined);
    await sleep(4000);
    const stats = channelStats(ast, o.driver)[0];
    await ctrl(o.phones['telefono1']!.ctrl, 'hangup');
    add('edge: REGISTER + SRTP echo via Kamailio', reg && !!stats && stats.rx > 50 && stats.tx > 50, `${reg ? '200 OK through the edge' : 'no 200 OK'}; ${stats ? `Asterisk rx ${stats.rx} / tx ${stats.tx} packets` : 'no call'}`);
  } finally {
    await phone?.stop();
    await kam.stop();
  }
}

/** test/pbx/golden in the source tree (this runs from dist/bench/interop). */
function goldenDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'test', 'pbx', 'golden'))) return path.join(dir, 'test', 'pbx', 'golden');
    dir = path.dirname(dir);
  }
  throw new Error('test/pbx/golden not found above the compiled runner');
}

/**
 * The golden files themselves (test/pbx/golden/asterisk-<driver>), loaded by
 * the real Asterisk: only their install dir, listen ports and key files are
 * this machine's; the endpoints and the echo must be there and nothing may
 * be warned about.
 */
async function goldenCheck(o: DriverRun, noise: RegExp, add: (check: string, ok: boolean, evidence: string) => void): Promise<void> {
  const dir = path.join(o.work, `golden-${o.driver}`);
  rmSync(dir, { recursive: true, force: true });
  const ast = new PrivateAsterisk(o.prefix, dir);
  const rtpBase = 31_000 + (process.pid % 500) * 40;
  ast.layout(o.driver, { start: rtpBase, end: rtpBase + 39 });
  const etc = path.join(dir, 'etc');
  // Key files named as the golden configs name them (keys/pbx.test.*), from this run's CA.
  cli(o.home, ['pbx', 'asterisk', '--out', path.join(dir, 'export'), '--cert', 'registrar']);
  mkdirSync(path.join(etc, 'keys'), { recursive: true });
  for (const [from, to] of [['registrar.crt', 'pbx.test.crt'], ['registrar.key', 'pbx.test.key'], ['ca.crt', 'ca.crt']]) writeFileSync(path.join(etc, 'keys', to), readFileSync(path.join(dir, 'export', 'keys', from!)), { mode: 0o600 });
  const [port, udp] = [await freePort(), await freePort()];
  const main = o.driver === 'pjsip' ? 'pjsip.conf' : 'sip.conf';
  const golden = path.join(goldenDir(), `asterisk-${o.driver}`);
  writeFileSync(path.join(etc, main), readFileSync(path.join(golden, main), 'utf8').replaceAll('/etc/asterisk/sipsec', etc).replace('0.0.0.0:5061', `127.0.0.1:${port}`).replace('127.0.0.1:5060', `127.0.0.1:${udp}`));
  writeFileSync(path.join(etc, 'extensions_sipsec.conf'), readFileSync(path.join(golden, 'extensions_sipsec.conf')));
  try {
    await ast.start(port);
    const peers = ast.rx(o.driver === 'pjsip' ? 'pjsip show endpoints' : 'sip show peers');
    const found = ['101', '102', 'softphone3', '104'].filter((e) => new RegExp(`(^|\\s)${e}(/|\\s)`, 'm').test(peers));
    const echo = /Echo\(\)/.test(ast.rx('dialplan show 200@sipsec-phones'));
    const warnings = ast
      .log()
      .split('\n')
      .filter((l) => /WARNING|ERROR/.test(l) && !noise.test(l));
    add('golden files load', found.join(',') === '101,102,softphone3' && echo && warnings.length === 0, `test/pbx/golden/asterisk-${o.driver}: endpoints ${found.join(', ')}; echo on 200: ${echo ? 'yes' : 'no'}; ${warnings.length === 0 ? 'no warnings' : warnings.slice(0, 2).join(' | ')}`);
  } catch (err) {
    add('golden files load', false, err instanceof Error ? err.message.split('\n')[0]! : String(err));
  } finally {
    await ast.stop();
  }
}

// Start-up warnings of a minimal private Asterisk that are not about the export: config files it has
// none of, chan_sip's deprecation banner, the aborted handshake of our own port probe.
const NOISE = /Unable to load config|Can't find indications|ccss\.conf|key directory|lib\/keys|music on hold|declined to load|non-required modules|deprecated|chan_pjsip is recommended|wiki\.asterisk|Internal SSL error|Unable to set up ssl connection|provisioning profiles/;

async function runDriver(o: DriverRun): Promise<Check[]> {
  const name = o.driver === 'pjsip' ? 'PJSIP' : 'chan_sip';
  const checks: Check[] = [];
  const add = (check: string, ok: boolean, evidence: string) => {
    checks.push({ driver: name, check, ok, evidence });
    console.error(`[${name}] ${ok ? 'PASS' : 'FAIL'} ${check}: ${evidence}`);
  };
  const dir = path.join(o.work, o.driver);
  rmSync(dir, { recursive: true, force: true });
  const ast = new PrivateAsterisk(o.prefix, dir);
  const rtpBase = 30_000 + (process.pid % 500) * 40;
  ast.layout(o.driver, { start: rtpBase, end: rtpBase + 39 });
  const exported = cli(o.home, ['pbx', 'asterisk', o.driver === 'pjsip' ? '--pjsip' : '--chan-sip', '--out', path.join(dir, 'etc'), '--bind', `127.0.0.1:${o.sipPort}`, '--cert', 'registrar', '--json']);
  const summary = JSON.parse(exported) as { endpoints: string[]; leftOut: Array<{ name: string; reason: string }> };
  const running: RunningBaresip[] = [];
  await goldenCheck(o, NOISE, add);
  try {
    await ast.start(o.sipPort);
    const noise = NOISE;
    const ours = ast
      .log()
      .split('\n')
      .filter((l) => /WARNING|ERROR/.test(l) && !noise.test(l));
    add('configs load unchanged', ours.length === 0, ours.length === 0 ? `${summary.endpoints.length} endpoints (${summary.endpoints.join(', ')}); no warning or error about them (none about nat either)` : ours.slice(0, 3).join(' | '));

    // TLS + REGISTER: two baresip phones provisioned by sipsec.
    for (const p of ['telefono1', 'telefono2']) running.push(await startBaresip(o.baresip, o.phones[p]!.dir));
    const regs = await Promise.all(
      running.map((r, i) =>
        r
          .waitFor((s) => /10[12]@pbx\.test: \{0\/TLS\/v4\} 200 OK/.test(s), 30_000, 'baresip 200 OK')
          .then((s) => /10[12]@pbx\.test: \{0\/TLS\/v4\} 200 OK[^\n]*/.exec(s)![0])
          .catch(() => `telefono${i + 1}: no 200 OK`),
      ),
    );
    const contacts = ast.rx(o.driver === 'pjsip' ? 'pjsip show contacts' : 'sip show peers');
    const regOk = regs.every((r) => r.includes('200 OK')) && /\b101\b/.test(contacts) && /\b102\b/.test(contacts);
    add('TLS + REGISTER (baresip x2)', regOk, regs.join('; '));

    // The revoked phone: not exported, so Asterisk does not know it.
    const left = summary.leftOut.map((l) => l.name);
    const rev = await startBaresip(o.baresip, o.phones['telefono3']!.dir);
    running.push(rev);
    // Asterisk's own word on the revoked phone's REGISTER (it completes the TLS handshake: no CRL check).
    const refusal = /(Registration from '<sip:103@pbx\.test>' failed[^\n]*|Request 'REGISTER' from '<sip:103@pbx\.test>' failed[^\n]*No matching endpoint found)/;
    for (let i = 0; i < 75 && !refusal.test(ast.log()); i++) await sleep(200);
    const said = refusal.exec(ast.log())?.[1]?.replace(/ for '[^']*'( \(callid: [^)]*\))?/, '') ?? 'no refusal logged';
    const registered103 = /103@pbx\.test: \{0\/TLS\/v4\} 200 OK/.test(rev.output.text());
    await rev.stop();
    const contactsAfter = ast.rx(o.driver === 'pjsip' ? 'pjsip show contacts' : 'sip show peers');
    add('revoked phone left out', left.includes('telefono3') && !summary.endpoints.includes('103') && !registered103 && !/\b103\b/.test(contactsAfter) && said !== 'no refusal logged', `export: leftOut=${left.join(',')}; Asterisk: ${said}`);

    // SRTP echo call: baresip telefono1 dials the echo extension; Asterisk's RTP counters both ways.
    await ctrl(o.phones['telefono1']!.ctrl, 'dial', 'sip:200@pbx.test');
    await running[0]!.waitFor((s) => /SRTP is Enabled \(cryptosuite=AES_CM_128_HMAC_SHA1_80\)/.test(s), 20_000, 'SRTP on the echo call').catch(() => undefined);
    await sleep(4000);
    const echoStats = channelStats(ast, o.driver);
    await ctrl(o.phones['telefono1']!.ctrl, 'hangup');
    const e = echoStats[0];
    const srtp = /SRTP is Enabled \(cryptosuite=(\w+)\)/.exec(running[0]!.output.text())?.[1];
    add('SRTP echo call (200)', !!e && e.rx > 50 && e.tx > 50 && srtp !== undefined, e ? `${srtp ?? 'no SRTP'}; Asterisk rx ${e.rx} / tx ${e.tx} packets` : `no channel stats: ${ast.rx('core show channels').split('\n').slice(0, 3).join(' ')}`);
    await sleep(1000);

    // Phone to phone through Asterisk: telefono1 calls 102 (auto answer), both legs SRTP.
    const before = running[1]!.output.text().length;
    await ctrl(o.phones['telefono1']!.ctrl, 'dial', 'sip:102@pbx.test');
    await running[1]!.waitFor((s) => s.slice(before).includes('SRTP is Enabled'), 20_000, 'SRTP at telefono2').catch(() => undefined);
    await sleep(4000);
    const p2p = channelStats(ast, o.driver);
    await ctrl(o.phones['telefono1']!.ctrl, 'hangup');
    const legs = p2p.filter((l) => l.rx > 50 && l.tx > 50);
    add('phone-to-phone call (101 -> 102)', legs.length >= 2 && running[1]!.output.text().slice(before).includes('SRTP is Enabled'), `${p2p.length} legs: ${p2p.map((l) => `rx ${l.rx}/tx ${l.tx}`).join(', ')}`);
    await sleep(1000);

    // TLS versions, with telefono4's certificate.
    const store = await CaStore.open(o.home);
    const entry = store.current('telefono4')!;
    const [cert, key, ca] = [await store.readCertPem(entry.serial), await store.readKeyPem(entry.serial), await store.caCertPem()];
    const v13 = await tlsAt(o.sipPort, 'TLSv1.3', cert, key, ca);
    const v12 = await tlsAt(o.sipPort, 'TLSv1.2', cert, key, ca);
    const v11 = await tlsAt(o.sipPort, 'TLSv1.1', cert, key, ca);
    add('TLS 1.3 (1.2 too, 1.1 refused)', v13 === 'TLSv1.3' && v12 === 'TLSv1.2' && v11.startsWith('refused'), `1.3: ${v13}; 1.2: ${v12}; 1.1: ${v11}`);

    // sipsec probe as telefono4: TLS, REGISTER, a call to the echo, the tone over SRTP both ways.
    const pr = await probeJson(o.home, [`sips:127.0.0.1:${o.sipPort}`, '--as', 'telefono4', '--duration', '3s']);
    const media = pr.report.steps.find((s) => s.step === 'media');
    const d = media?.data as { sent?: number; received?: number } | undefined;
    add('sipsec probe (call + media both ways)', pr.code === '0' && pr.report.ok, `${pr.report.steps.map((s) => `${s.step}:${s.result}`).join(' ')}; ${d ? `${d.received}/${d.sent} SRTP packets back` : (media?.detail ?? '')}; ${pr.report.steps.find((s) => s.step === 'tls')?.detail.split(',')[0] ?? ''}`);
    if (!pr.report.ok) console.error(JSON.stringify(pr.report.steps, null, 2));

    for (const r of running.splice(0)) await r.stop();
    await edgeChecks(o, ast, add);
  } catch (err) {
    add('run', false, err instanceof Error ? err.message.split('\n')[0]! : String(err));
  } finally {
    for (const r of running) await r.stop().catch(() => undefined);
    await ast.stop();
  }
  return checks;
}

export async function run(args: string[]): Promise<void> {
  let prefix: string | undefined;
  let keep = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--prefix' && args[i + 1]) prefix = args[++i];
    else if (args[i] === '--keep') keep = true;
    else {
      console.error(`unknown argument '${args[i]}'\nusage: npm run interop -- asterisk [--prefix DIR] [--keep]`);
      process.exit(2);
    }
  }
  const found = findAsterisk(prefix);
  if (!found) {
    console.error(`no Asterisk found${prefix !== undefined ? ` under ${prefix} (no ${prefix}/sbin/asterisk)` : ' (--prefix DIR, $ASTERISK_PREFIX, /opt/asterisk, /usr/local, /usr)'}.\n${BUILD_HINT}`);
    process.exit(1);
  }
  const baresip = requirePeer('baresip');
  const kamailio = requirePeer('kamailio');
  const version = spawnSync(path.join(found, 'sbin', 'asterisk'), ['-V'], { encoding: 'utf8' }).stdout.trim();
  const work = path.join(os.tmpdir(), `sipsec-interop-asterisk-${process.pid}`);
  const home = path.join(work, 'home');
  mkdirSync(work, { recursive: true });
  const sipPort = await freePort();
  initHome(home, sipPort);
  const phones: Record<string, { dir: string; ctrl: number }> = {};
  for (const [n, ext] of [['telefono1', '101'], ['telefono2', '102'], ['telefono3', '103'], ['telefono4', '104']] as const) {
    const p = await baresipPorts();
    phones[n] = { dir: addBaresip(home, n, ext, p), ctrl: p.ctrl };
  }
  // A revoked phone's files leave the tree: it keeps running from the copy it fetched before.
  phones['telefono3']!.dir = cpDirSync(path.join(home, 'provision', 'baresip', 'telefono3'), path.join(work, 'held-telefono3'));
  cli(home, ['cert', 'revoke', 'telefono3']);
  console.error(`${version} from ${found}; sipsec CA home ${home}; Asterisk on 127.0.0.1:${sipPort}`);
  const checks: Check[] = [];
  for (const driver of ['pjsip', 'chan_sip'] as const) {
    checks.push(...(await runDriver({ driver, prefix: found, home, work, sipPort, baresip, kamailio, phones })));
    // The port must be free again for the next driver.
    for (let i = 0; i < 50 && (await listening(sipPort)); i++) await sleep(200);
  }
  const w = Math.max(...checks.map((c) => c.check.length));
  console.log(`\n${version} (${found}), sipsec export, baresip 1.0 phones; all on 127.0.0.1\n`);
  console.log(`| driver   | ${'check'.padEnd(w)} | result | evidence |`);
  console.log(`|----------|${'-'.repeat(w + 2)}|--------|----------|`);
  for (const c of checks) console.log(`| ${c.driver.padEnd(8)} | ${c.check.padEnd(w)} | ${c.ok ? 'PASS  ' : 'FAIL  '} | ${c.evidence} |`);
  const failed = checks.filter((c) => !c.ok).length;
  console.log(`\n${checks.length - failed}/${checks.length} checks passed`);
  if (!keep) rmSync(work, { recursive: true, force: true });
  else console.error(`kept ${work}`);
  process.exit(failed === 0 ? 0 : 1);
}

function cpDirSync(from: string, to: string): string {
  cpSync(from, to, { recursive: true });
  return to;
}
