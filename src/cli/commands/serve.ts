import { Command } from 'commander';
import { SipsecError } from '../../core/errors.js';
import { parseDuration } from '../../provision/access.js';
import { startServe, type ServeOptions } from '../../serve/serve.js';
import { formatEventLine } from '../../serve/events.js';
import { fetchStatus } from '../../serve/control.js';
import { collect, openStore, passphraseSource } from '../context.js';
import { keyValues, note, out, printJson, table } from '../output.js';
import { registrarServices } from '../../serve/services.js';

function port(value: string, flag: string): number | null {
  if (value === 'off') return null;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new SipsecError('BAD_INPUT', `invalid ${flag} '${value}'`, 'give a port number 0-65535 (0 = any free port) or off');
  return n;
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
    .option('--passphrase-file <file>', 'the CA key passphrase (only needed when serve must issue its certificate)')
    .option('--json', 'print events as JSON lines instead of text')
    .addHelpText(
      'after',
      `
Events (one line each; --json for JSON lines; always appended to serve.log in the CA home):
  provision.fetch, provision.denied, tls.handshake, register.ok, register.fail, sip.reject, call.start, call.end

Examples:
  sipsec serve
  sipsec serve --tftp-port 6969 --https-port 8443 --bind 10.0.1.133 --allow 10.0.1.0/24
  sipsec serve --http-port 8080 --key-window 0      # Cisco SPA over plain HTTP, never a key in clear

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
        onEvent: (ev) => process.stdout.write(json ? JSON.stringify(ev) + '\n' : formatEventLine(ev) + '\n'),
        services: registrarServices(sipPort),
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
      const store = await openStore(cmd);
      const s = await fetchStatus(`${store.paths.root}/serve.sock`);
      if (o.json) return printJson(s);
      const ports = (s.ports ?? {}) as Record<string, number>;
      out(keyValues([['Serving since', String(s.started)], ['Ports', Object.entries(ports).map(([k, v]) => `${k} ${v}`).join(', ')], ['Certificate', (s.serverCert as { name?: string })?.name], ['Phones', Number(s.phones)], ['Routes', Number(s.routes)]]));
      const regs = (Array.isArray(s.registrations) ? s.registrations : []) as Array<Record<string, unknown>>;
      out(
        regs.length
          ? '\n' + table(regs.map((r) => ({ phone: String(r.phone), aor: String(r.aor), remote: String(r.remote), tls: `${String(r.tlsVersion)} ${String(r.cipher)}`, expires: String(r.expires) })), [
              ['phone', 'PHONE'],
              ['aor', 'AOR'],
              ['remote', 'REMOTE'],
              ['tls', 'TLS'],
              ['expires', 'EXPIRES'],
            ])
          : '\nno registrations\n',
      );
    });
}
