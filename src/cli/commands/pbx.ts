import * as path from 'node:path';
import { Command, Option } from 'commander';
import { SipsecError } from '../../core/errors.js';
import { parseHostPort } from '../../pki/names.js';
import type { PbxFile } from '../../pbx/server-tls.js';
import { openStore } from '../context.js';
import { note, out, printJson } from '../output.js';

/**
 * `sipsec pbx asterisk|kamailio`: the PBX side for the phones in the
 * inventory. The library builds the files (src/pbx); this prints the main
 * one or writes them all with --out. SIP secrets go into the written (or
 * printed) config only, never into status lines.
 */

interface CommonOpts {
  cert?: string;
  out?: string;
  installDir?: string;
  json?: boolean;
}

function installDirOf(o: CommonOpts): string | undefined {
  if (o.installDir !== undefined && o.out === undefined) {
    throw new SipsecError('BAD_INPUT', '--install-dir needs --out', 'write the files with --out DIR; --install-dir says where they will be copied to');
  }
  if (o.out === undefined) return undefined;
  const dir = o.installDir ?? path.resolve(o.out);
  if (!path.isAbsolute(dir)) throw new SipsecError('BAD_INPUT', `--install-dir must be an absolute path, not '${dir}'`, 'for example /etc/asterisk/sipsec');
  return dir;
}

function parsePort(input: string, what: string): number {
  const n = /^\d{1,5}$/.test(input) ? Number(input) : Number.NaN;
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new SipsecError('BAD_INPUT', `invalid ${what} port '${input}'`, 'give a port number from 1 to 65535');
  return n;
}

function fileSummary(files: PbxFile[], written: string[] | undefined) {
  return files.map((f, i) => ({ file: written?.[i] ?? f.name, mode: `0${f.mode.toString(8)}`, description: f.description }));
}

async function finish(o: CommonOpts, files: PbxFile[], printed: string, summary: Record<string, unknown>, notes: string[]): Promise<void> {
  const written = o.out !== undefined ? await (await import('../../pbx/server-tls.js')).writePbxFiles(o.out, files) : undefined;
  if (o.json) {
    printJson({ ...summary, files: fileSummary(files, written), notes });
    return;
  }
  if (written === undefined) {
    out(printed);
  } else {
    for (const f of fileSummary(files, written)) note(`wrote ${f.file} (${f.mode}): ${f.description}`);
  }
  for (const n of notes) note(`note: ${n}`);
}

export function register(program: Command): void {
  const pbx = program.command('pbx').description('PBX configuration for the phones: Asterisk (PJSIP or chan_sip) and Kamailio, over TLS with the sipsec certificates');

  pbx
    .command('asterisk')
    .description('Asterisk config for every phone: a TLS transport with a sipsec server certificate, endpoints with SDES-SRTP, auths, aors, and a dialplan')
    .option('--pjsip', 'PJSIP (pjsip.conf; the default)')
    .option('--chan-sip', 'chan_sip (sip.conf; Asterisk 20 and older)')
    .option('--cert <name>', 'server certificate Asterisk presents (default: the only one)')
    .option('--out <dir>', 'write pjsip.conf or sip.conf, extensions_sipsec.conf and keys/ (certificate, key 0600, CA) into DIR')
    .option('--install-dir <path>', 'where DIR will be copied to (the configs name the key files there), e.g. /etc/asterisk/sipsec')
    .option('--bind <addr:port>', 'TLS listen address (default 0.0.0.0:<registrar port>)')
    .option('--legacy-tls [port]', 'old phones: PJSIP adds a TLS 1.0 transport on PORT (default 5062) for vendors limited to TLS 1.0/1.1; chan_sip re-enables TLS 1.0/1.1')
    .addOption(new Option('--client-certs <mode>', 'require a sipsec client certificate (PJSIP; default: require when every phone\'s vendor can present one)').choices(['require', 'off']))
    .option('--context <name>', 'dialplan context of the phones', 'sipsec-phones')
    .option('--echo-ext <ext>', 'the echo extension (Answer, Echo) sipsec probe calls, as serve has; or off', '200')
    .option('--json', 'print a summary as JSON (file names, endpoints, phones left out, notes; never the secrets)')
    .addHelpText(
      'after',
      `
The config holds the phones' SIP secrets: without --out it goes to stdout (redirect it to a
file only Asterisk can read); with --out the file is written 0600. Without --out, the TLS files
are referenced in place in the CA home, which the asterisk user usually cannot read: use --out.

Asterisk checks no CRL: phones without a current valid certificate (revoked, expired) are left
out, so re-export after sipsec cert revoke and reload Asterisk (core reload), or put the
Kamailio TLS edge in front: sipsec pbx kamailio --upstream HOST:PORT.

Examples:
  sipsec pbx asterisk --out /tmp/ast --install-dir /etc/asterisk/sipsec
  sudo cp -r /tmp/ast /etc/asterisk/sipsec && sudo chown -R asterisk: /etc/asterisk/sipsec
  sipsec pbx asterisk --chan-sip --cert pbx.mycompany.com > sip.conf
  sipsec pbx asterisk --legacy-tls 5062 --out /tmp/ast
  sipsec pbx asterisk --echo-ext 9200 --out /tmp/ast && sipsec probe sips:pbx.mycompany.com --as telefono1 --call 9200`,
    )
    .action(async (o: CommonOpts & { pjsip?: boolean; chanSip?: boolean; bind?: string; legacyTls?: string | boolean; clientCerts?: 'require' | 'off'; context: string; echoExt: string }, cmd: Command) => {
      if (o.pjsip && o.chanSip) throw new SipsecError('BAD_INPUT', '--pjsip and --chan-sip contradict each other', 'choose one channel driver');
      const installDir = installDirOf(o);
      const { asteriskConfig } = await import('../../pbx/asterisk.js');
      const store = await openStore(cmd);
      const legacyTlsPort = o.legacyTls === undefined || o.legacyTls === false ? undefined : o.legacyTls === true ? 5062 : parsePort(o.legacyTls, '--legacy-tls');
      const cfg = await asteriskConfig(store, {
        driver: o.chanSip ? 'chan_sip' : 'pjsip',
        ...(o.cert !== undefined ? { cert: o.cert } : {}),
        ...(installDir !== undefined ? { installDir } : {}),
        ...(o.bind !== undefined ? { bind: parseHostPort(o.bind, store.config.registrar.port) } : {}),
        ...(legacyTlsPort !== undefined ? { legacyTlsPort } : {}),
        ...(o.clientCerts !== undefined ? { clientCerts: o.clientCerts } : {}),
        context: o.context,
        echoExt: o.echoExt,
      });
      const main = cfg.files.find((f) => f.name === cfg.main)!;
      const notes = o.out === undefined ? [...cfg.notes, `--out DIR also writes extensions_sipsec.conf (context ${o.context}) and copies of the TLS files`] : cfg.notes;
      await finish(o, cfg.files, main.content, { driver: cfg.driver, server: cfg.server, endpoints: cfg.endpoints, echoExt: cfg.echoExt ?? null, leftOut: cfg.leftOut }, notes);
    });

  pbx
    .command('kamailio')
    .description('Kamailio tls.cfg for the sipsec certificates and, with --out, a minimal registrar (kamailio.cfg, no database)')
    .option('--cert <name>', 'server certificate Kamailio presents (default: the only one)')
    .option('--out <dir>', 'write kamailio.cfg, tls.cfg and keys/ (certificate, key 0600, CA, CRL) into DIR')
    .option('--install-dir <path>', 'where DIR will be copied to (the configs name their files there), e.g. /etc/kamailio/sipsec')
    .option('--listen <addr:port>', 'TLS listen address (default: the registrar address if it is an IP, else 0.0.0.0, on its port)')
    .option('--legacy-tls', 'also accept TLS 1.0 and 1.1 (old phones)')
    .option('--no-crl', 'leave the CRL out (revoked phone certificates are then accepted)')
    .option('--upstream <host[:port]>', 'a TLS edge in front of this PBX (e.g. Asterisk): check the phones\' certificates and the CRL, relay to HOST:PORT (default port 5061) over TLS with the edge\'s own certificate')
    .option('--json', 'print a summary as JSON')
    .addHelpText(
      'after',
      `
Without --out, prints tls.cfg with the certificate, key, CA and CRL of the CA home in place.
With --out, the registrar in kamailio.cfg accepts only phones presenting a sipsec certificate,
each registering only the AOR its certificate names (no passwords, no database).
With --upstream HOST[:PORT], kamailio.cfg is a TLS edge instead: it checks the phones'
certificates and the CRL (what Asterisk cannot) and relays everything to the PBX over TLS,
presenting its own certificate; the PBX keeps the registrations and the SIP secrets.

Examples:
  sipsec pbx kamailio > /etc/kamailio/tls.cfg
  sipsec pbx kamailio --out /tmp/kam && kamailio -c -f /tmp/kam/kamailio.cfg
  kamailio -DD -E -f /tmp/kam/kamailio.cfg          # run it in the foreground
  sipsec pbx kamailio --out /tmp/edge --listen 10.0.1.133:5061 --upstream 127.0.0.1:5071`,
    )
    .action(async (o: CommonOpts & { listen?: string; legacyTls?: boolean; crl?: boolean; upstream?: string }, cmd: Command) => {
      const installDir = installDirOf(o);
      const { kamailioConfig } = await import('../../pbx/kamailio.js');
      const store = await openStore(cmd);
      const cfg = await kamailioConfig(store, {
        ...(o.cert !== undefined ? { cert: o.cert } : {}),
        ...(installDir !== undefined ? { installDir } : {}),
        ...(o.listen !== undefined ? { listen: parseHostPort(o.listen, store.config.registrar.port) } : {}),
        legacyTls: o.legacyTls === true,
        noCrl: o.crl === false,
        ...(o.upstream !== undefined ? { upstream: parseHostPort(o.upstream, 5061) } : {}),
      });
      await finish(o, cfg.files, cfg.tlsCfg, { server: cfg.server, listen: cfg.listen, ...(cfg.upstream !== undefined ? { upstream: cfg.upstream } : {}) }, cfg.notes);
    });
}
