import { Command } from 'commander';
import { SipsecError } from '../../core/errors.js';
import { parseDuration } from '../../provision/access.js';
import type { ServeOptions } from '../../serve/serve.js';
import { collect, homeOf, openStore, passphraseSource } from '../context.js';
import { homePaths } from '../../home/paths.js';
import { keyValues, note, out, printJson, table } from '../output.js';
import type { EchoSettings, RegistrarSettings } from '../../serve/services.js';
import { SUITE_NAMES, type SuiteName } from '../../srtp/suites.js';
import { DIGEST_ALGORITHMS, parseAlgorithm, type DigestAlgorithm } from '../../auth/digest.js';
import type { TlsMin } from '../../sip/transport/tls.js';

function port(value: string, flag: string): number | null {
  if (value === 'off') return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new SipsecError('BAD_INPUT', `invalid ${flag} '${value}'`, 'give a port number 0-65535 (0 = any free port) or off');
  return n;
}

function positiveInt(value: string, flag: string, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new SipsecError('BAD_INPUT', `invalid ${flag} '${value}'`, `give a whole number >= ${min}`);
  return n;
}

function duration(value: string, flag: string): number {
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) throw new SipsecError('BAD_INPUT', `invalid ${flag} '${value}'`, 'write it as 10m, 90s or 1h');
  return ms;
}

/** The echo extension's flags. */
function echoSettings(o: Record<string, string | string[] | boolean | undefined>): EchoSettings {
  const ext = String(o.echoExt);
  if (ext !== 'off' && !/^[A-Za-z0-9][A-Za-z0-9._+-]{0,31}$/.test(ext)) throw new SipsecError('BAD_INPUT', `invalid --echo-ext '${ext}'`, 'give an extension such as 200, or off');
  const m = /^(\d{4,5})-(\d{4,5})$/.exec(String(o.rtpPorts));
  if (!m) throw new SipsecError('BAD_INPUT', `invalid --rtp-ports '${String(o.rtpPorts)}'`, 'write it as 20000-29999');
  let acceptSuites: SuiteName[] | undefined;
  if (typeof o.echoSuites === 'string') {
    acceptSuites = o.echoSuites.split(',').map((x) => x.trim()) as SuiteName[];
    const bad = acceptSuites.find((x) => !(SUITE_NAMES as readonly string[]).includes(x));
    if (bad !== undefined) throw new SipsecError('BAD_INPUT', `unknown suite '${bad}' in --echo-suites`, `use a comma-separated list of ${SUITE_NAMES.join(', ')}`);
  }
  return {
    ext: ext === 'off' ? null : ext,
    rtpPorts: { min: Number(m[1]), max: Number(m[2]) },
    mediaAddress: typeof o.mediaAddress === 'string' ? o.mediaAddress : undefined,
    acceptSuites,
    maxCallMs: typeof o.maxCall === 'string' ? duration(o.maxCall, '--max-call') : undefined,
  };
}

/** The registrar flags of `sipsec serve` (see src/sip/registrar-service.ts for what each does). */
function registrarSettings(o: Record<string, string | string[] | boolean | undefined>): RegistrarSettings {
  const clientCert = o.clientCert === undefined ? 'vendor' : String(o.clientCert);
  if (clientCert !== 'required' && clientCert !== 'optional' && clientCert !== 'vendor') {
    throw new SipsecError('BAD_INPUT', `invalid --client-cert '${clientCert}'`, 'use required or optional (default: required for phones whose vendor can present one)');
  }
  const tlsMin = String(o.tlsMin);
  if (!['1.0', '1.1', '1.2', '1.3'].includes(tlsMin)) throw new SipsecError('BAD_INPUT', `invalid --tls-min '${tlsMin}'`, 'use 1.0, 1.1, 1.2 or 1.3');
  const auth = String(o.auth);
  if (auth !== 'both' && auth !== 'cert') throw new SipsecError('BAD_INPUT', `invalid --auth '${auth}'`, 'use both (client certificate and digest) or cert (a verified certificate is enough)');
  const algorithms: DigestAlgorithm[] = [];
  for (const a of String(o.digestAlgorithms).split(',')) {
    const alg = parseAlgorithm(a.trim());
    if (!alg || a.trim() === '' || alg.endsWith('-sess')) throw new SipsecError('BAD_INPUT', `invalid --digest-algorithms entry '${a.trim()}'`, `use a comma-separated list of ${DIGEST_ALGORITHMS.filter((x) => !x.endsWith('-sess')).join(', ')}`);
    if (!algorithms.includes(alg)) algorithms.push(alg);
  }
  const failures = positiveInt(String(o.lockoutFailures), '--lockout-failures', 0);
  const minExpires = positiveInt(String(o.minExpires), '--min-expires');
  const maxExpires = positiveInt(String(o.maxExpires), '--max-expires');
  if (maxExpires < minExpires) throw new SipsecError('BAD_INPUT', '--max-expires is below --min-expires', 'raise --max-expires');
  return {
    clientCert,
    tlsMin: tlsMin as TlsMin,
    ciphers: typeof o.ciphers === 'string' ? o.ciphers : undefined,
    diagnosticPort: port(String(o.diagnosticPort), '--diagnostic-port'),
    maxConnPerIp: positiveInt(String(o.maxConnPerIp), '--max-conn-per-ip'),
    handshakeTimeoutMs: duration(String(o.handshakeTimeout), '--handshake-timeout'),
    maxPendingHandshakes: positiveInt(String(o.maxHandshakes), '--max-handshakes'),
    auth,
    digestAlgorithms: algorithms,
    lockout: failures === 0 ? null : { maxFailures: failures, windowMs: duration(String(o.lockoutWindow), '--lockout-window'), blockMs: duration(String(o.lockoutTime), '--lockout-time') },
    registrar: { minExpires, maxExpires, defaultExpires: Math.min(Math.max(3600, minExpires), maxExpires) },
  };
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('serve phones: TFTP + HTTPS provisioning from the route table, and the SIP/TLS registrar with the SRTP echo')
    .option('--bind <addr>', 'address to listen on', '0.0.0.0')
    .option('--tftp-port <port>', 'TFTP port, or off', '69')
    .option('--https-port <port>', 'HTTPS provisioning port, or off', '443')
    .option('--http-port <port>', 'plain HTTP provisioning port (off unless given: only for vendors that cannot trust a private CA)')
    .option('--sip-port <port>', 'SIP over TLS port, or off', '5061')
    .option('--cert <name>', 'server certificate to present (default: the only one, or one issued now for this host)')
    .option('--key-window <duration>', 'how long after start private keys may go out over TFTP/plain HTTP (0 = never)', '30m')
    .option('--allow <cidr>', 'only answer these networks (repeatable; default: everyone)', collect, [])
    .option('--https-client-cert <mode>', 'required: phone files over HTTPS need the phone\'s client certificate; optional: credentials do too', 'optional')
    .option('--firmware <dir>', 'also serve the regular files directly in DIR (firmware images)')
    .option('--passphrase-file <file>', 'the CA key passphrase: serve issues its certificate if there is none, and rewrites the CRL itself when a renewal overlap ends (also from SIPSEC_CA_PASSPHRASE)')
    .option('--client-cert <mode>', 'SIP/TLS: required (every phone presents its certificate; the TLS handshake refuses one without) or optional (digest alone is enough); default: required for phones whose vendor can present one')
    .option('--auth <mode>', 'SIP REGISTER authentication: both (client certificate where there is one, and digest) or cert (a verified phone certificate alone is enough)', 'both')
    .option('--tls-min <version>', 'oldest TLS version accepted on the SIP port: 1.0, 1.1, 1.2 or 1.3 (2011-era firmware may speak only 1.0)', '1.2')
    .option('--ciphers <list>', 'OpenSSL cipher list for the SIP port (default: node\'s; with --tls-min below 1.2, DEFAULT:@SECLEVEL=0)')
    .option('--diagnostic-port <port>', 'plain UDP+TCP port that only answers 403 "use TLS" and reports the phone, or off (skipped with a notice when busy)', '5060')
    .option('--max-conn-per-ip <n>', 'connections allowed from one address, per port (SIP/TLS, HTTPS, diagnostic TCP)', '64')
    .option('--handshake-timeout <duration>', 'a connection that has not completed its TLS handshake (diagnostic TCP: sent its first message) this long after connecting is closed', '10s')
    .option('--max-handshakes <n>', 'connections still in their handshake at once, per port, all addresses together', '256')
    .option('--digest-algorithms <list>', 'digest algorithms offered, most preferred first, one challenge each (RFC 8760); MD5 alone by default because some clients (baresip 1.0) refuse a 401 offering any algorithm they lack', 'MD5')
    .option('--lockout-failures <n>', 'authentication failures from one address that lock it out (0 = never)', '10')
    .option('--lockout-window <duration>', 'window in which those failures count', '10m')
    .option('--lockout-time <duration>', 'how long a locked-out address is refused', '10m')
    .option('--min-expires <seconds>', 'shortest registration accepted (423 Interval Too Brief below it)', '60')
    .option('--max-expires <seconds>', 'longer registrations are shortened to this', '7200')
    .option('--echo-ext <ext>', 'the SRTP echo extension phones call to prove encrypted audio both ways, or off', '200')
    .option('--rtp-ports <range>', 'UDP ports for echo media (RTP on even, RTCP on odd)', '20000-29999')
    .option('--media-address <addr>', 'address in the echo\'s SDP (default: sipsec\'s address on the caller\'s connection)')
    .option('--echo-suites <list>', 'only accept these SRTP suites (comma-separated), e.g. to reproduce a PBX that knows only _80')
    .option('--max-call <duration>', 'the echo hangs up after this long', '15m')
    .option('--instance <name>', 'with a shared PostgreSQL store (--store): this serve\'s name in sipsec status of every instance (default: host:pid)')
    .option('--json', 'print events as JSON lines instead of text')
    .addHelpText(
      'after',
      `
Events (one line each; --json for JSON lines; always appended to serve.log in the CA home):
  provision.fetch, provision.denied, tls.handshake, register.ok, register.fail, register.end, sip.reject,
  sip.listen, security, security.block, call.proxy, call.start, call.reject, call.end, phone.resync, ...
Every failure event carries a stable machine-readable code beside its human reason
(e.g. "code":"register.wrong_password"): the README's Events section lists every event and code.
Authentication failures (SIP and HTTPS: the HTTP password is the SIP secret) are also appended to
security.log in the CA home, in Asterisk's security event format: fail2ban's stock asterisk filter
reads it (logpath = <home>/security.log). Both count in one lockout per address (--lockout-*).

Examples:
  sipsec serve
  sipsec serve --tftp-port 6969 --https-port 8443 --bind 10.0.1.133 --allow 10.0.1.0/24
  sipsec serve --http-port 8080 --key-window 0      # Cisco SPA over plain HTTP, never a key in clear
  sipsec serve --tls-min 1.0                     # 2011-era firmware
  sipsec serve --digest-algorithms SHA-256,SHA-512-256,MD5   # a fleet whose phones all read RFC 8760
  sipsec serve --client-cert required --diagnostic-port off
  sipsec serve --home /var/lib/sipsec --store postgres://sipsec@db/sipsec --instance site-b   # a second site sharing the inventory

Ports below 1024 need root, or: setcap cap_net_bind_service=+ep $(readlink -f $(which node))`,
    )
    .action(async (o: Record<string, string | string[] | boolean | undefined>, cmd: Command) => {
      const store = await openStore(cmd);
      const keyWindowMs = parseDuration(String(o.keyWindow));
      if (keyWindowMs === undefined) throw new SipsecError('BAD_INPUT', `invalid --key-window '${String(o.keyWindow)}'`, 'write it as 30m, 2h, 90s or 0');
      const clientCert = String(o.httpsClientCert);
      if (clientCert !== 'required' && clientCert !== 'optional') throw new SipsecError('BAD_INPUT', `invalid --https-client-cert '${clientCert}'`, 'use required or optional');
      const json = o.json === true;
      const sipPort = port(String(o.sipPort), '--sip-port');
      const registrar = registrarSettings(o);
      if (typeof o.instance === 'string' && !/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(o.instance)) throw new SipsecError('BAD_INPUT', `invalid --instance ${JSON.stringify(o.instance)}`, 'use letters, digits and . _ : - (at most 64), e.g. site-b');
      // The serving stack (SIP, SRTP, TFTP, HTTPS) loads only for this command: other commands start faster.
      const [{ startServe }, { formatEventLine }, { registrarServices }] = await Promise.all([import('../../serve/serve.js'), import('../../serve/events.js'), import('../../serve/services.js')]);
      const opts: ServeOptions = {
        store,
        bind: String(o.bind),
        tftpPort: port(String(o.tftpPort), '--tftp-port'),
        httpsPort: port(String(o.httpsPort), '--https-port'),
        httpPort: typeof o.httpPort === 'string' ? port(o.httpPort, '--http-port') : null,
        sipPort,
        cert: typeof o.cert === 'string' ? o.cert : undefined,
        keyWindowMs,
        allow: o.allow as string[],
        httpsClientCert: clientCert,
        firmwareDir: typeof o.firmware === 'string' ? o.firmware : undefined,
        passphrase: passphraseSource(typeof o.passphraseFile === 'string' ? o.passphraseFile : undefined),
        // A passphrase given up front unlocks the CA key at start, so ending a renewal overlap rewrites the CRL.
        unlockCa: typeof o.passphraseFile === 'string' || !!process.env.SIPSEC_CA_PASSPHRASE,
        instance: typeof o.instance === 'string' ? o.instance : undefined,
        onEvent: (ev) => process.stdout.write(json ? JSON.stringify(ev) + '\n' : formatEventLine(ev) + '\n'),
        services: registrarServices(sipPort, registrar, echoSettings(o)),
        // One lockout for SIP and HTTPS: the HTTP password is the SIP secret.
        lockout: registrar.lockout ?? null,
        ...(registrar.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: registrar.handshakeTimeoutMs } : {}),
        ...(registrar.maxPendingHandshakes !== undefined ? { maxPendingHandshakes: registrar.maxPendingHandshakes } : {}),
        ...(registrar.maxConnPerIp !== undefined ? { maxConnPerIp: registrar.maxConnPerIp } : {}),
      };
      const running = await startServe(opts);
      if (!json) {
        const p = running.ports;
        note(`sipsec serve: ${[p.tftp !== undefined ? `tftp ${opts.bind}:${p.tftp}` : '', p.https !== undefined ? `https ${opts.bind}:${p.https}` : '', p.http !== undefined ? `http ${opts.bind}:${p.http}` : '', p.sip !== undefined ? `sips ${opts.bind}:${p.sip}` : ''].filter(Boolean).join(', ')} (certificate ${running.serverCert.name}); Ctrl-C stops`);
      }
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          void running.stop().then(resolve);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });

  program
    .command('status')
    .description('ask the running serve what it is doing: ports, registrations, calls')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  sipsec status\n  sipsec status --json | jq \'.registrations[] | {phone, tlsVersion, cipher}\'')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      // Only the running serve is asked: no store is opened (a shared store that is down must not hide serve's answer).
      const { fetchStatus } = await import('../../serve/control.js');
      const s = await fetchStatus(`${homePaths(homeOf(cmd)).root}/serve.sock`);
      if (o.json) return printJson(s);
      const ports = (s.ports ?? {}) as Record<string, number>;
      out(keyValues([['Serving since', String(s.started)], ['Ports', Object.entries(ports).map(([k, v]) => `${k} ${v}`).join(', ')], ['Certificate', (s.serverCert as { name?: string })?.name], ['Phones', Number(s.phones)], ['Routes', Number(s.routes)]]));
      const regs = (Array.isArray(s.registrations) ? s.registrations : []) as Array<Record<string, unknown>>;
      // A shared store: the other instances' registrations too, each with the instance that holds it.
      const elsewhere = (Array.isArray(s.registrationsElsewhere) ? s.registrationsElsewhere : []) as Array<Record<string, unknown>>;
      const shared = typeof s.instance === 'string';
      if (shared) out(keyValues([['Instance', String(s.instance)], ['Store', String(s.store)], ['Instances', ((s.instances ?? []) as Array<{ id: string }>).map((i) => i.id).join(', ')]]));
      if (typeof s.storeError === 'string') note(`warning: ${s.storeError}`);
      const rows = [
        ...regs.map((r) => ({ phone: String(r.phone), aor: String(r.aor), instance: String(r.instance ?? ''), remote: String(r.remote), tls: `${String(r.tlsVersion)} ${String(r.cipher)}`, expires: `${String(r.expires)} s` })),
        ...elsewhere.map((r) => ({ phone: String(r.phone ?? '-'), aor: String(r.aor), instance: String(r.instance), remote: String(r.remote), tls: '-', expires: `${String(r.expires)} s` })),
      ];
      out(
        rows.length
          ? '\n' +
              table(rows, [
                ['phone', 'PHONE'],
                ['aor', 'AOR'],
                ...(shared ? ([['instance', 'INSTANCE']] as Array<[keyof (typeof rows)[number], string]>) : []),
                ['remote', 'REMOTE'],
                ['tls', 'TLS'],
                ['expires', 'EXPIRES'],
              ])
          : '\nno registrations\n',
      );
      const echo = (s.registrar as { echo?: { calls?: Array<Record<string, unknown>> } } | undefined)?.echo;
      const calls = echo?.calls ?? [];
      if (calls.length > 0) {
        out(
          '\n' +
            table(
              calls.map((c) => ({ phone: String(c.phone), suite: String(c.suite ?? 'plain RTP'), io: `${String(c.packetsIn)} / ${String(c.packetsOut)}`, bad: `${String(c.authFailures)} / ${String(c.replays)}`, oneWay: c.oneWayAudio ? 'yes' : 'no' })),
              [
                ['phone', 'ECHO CALL'],
                ['suite', 'SUITE'],
                ['io', 'PACKETS IN / OUT'],
                ['bad', 'AUTH FAIL / REPLAYS'],
                ['oneWay', 'ONE-WAY'],
              ],
            ),
        );
      }
    });
}
