import { Command } from 'commander';
import { hostname } from 'node:os';
import { spawnSync } from 'node:child_process';
import { SipsecError } from '../../core/errors.js';
import { passphraseSource } from '../context.js';
import { note, printJson } from '../output.js';

function fqdn(): string {
  const r = spawnSync('hostname', ['-f'], { encoding: 'utf8' });
  const name = r.status === 0 ? r.stdout.trim() : '';
  return name || hostname();
}

export function register(program: Command): void {
  program
    .command('ast-tls-cert')
    .description("Asterisk's ast_tls_cert with the same options and file names, issuing correct v3 certificates")
    .option('-m <mode>', 'server or client', 'server')
    .option('-C <cn>', 'common name: the FQDN or IP address peers use (default: hostname -f for server, "asterisk" for client)')
    .option('-O <org>', 'organisation', 'Asterisk')
    .option('-d <dir>', 'output directory', '.')
    .option('-c <ca.crt>', 'existing CA certificate (default: create ca.crt/ca.key in DIR)')
    .option('-k <ca.key>', 'existing CA key (with -c)')
    .option('-o <name>', 'output base name', 'asterisk')
    .option('-b <bits>', 'RSA key size', '2048')
    .option('-v <days>', 'validity in days', '365')
    .option('-e', 'do not encrypt a newly created CA key')
    .option('-f <config>', 'an openssl config (accepted for compatibility; sipsec builds the certificate itself)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Writes <dir>/<name>.key, <name>.crt and <name>.pem (key + certificate), and ca.crt / ca.key
when no CA is given. The CA passphrase comes from SIPSEC_CA_PASSPHRASE or a prompt.

Examples (the Asterisk secure-calling tutorial):
  sipsec ast-tls-cert -C pbx.mycompany.com -O "My Super Company" -d /etc/asterisk/keys
  sipsec ast-tls-cert -m client -c /etc/asterisk/keys/ca.crt -k /etc/asterisk/keys/ca.key \\
      -C phone1.mycompany.com -O "My Super Company" -d /etc/asterisk/keys -o malcolm`,
    )
    .action(async (o: { m: string; C?: string; O: string; d: string; c?: string; k?: string; o: string; b: string; v: string; e?: boolean; f?: string; json?: boolean }) => {
      if (o.m !== 'server' && o.m !== 'client') throw new SipsecError('BAD_INPUT', `invalid -m '${o.m}'`, 'use -m server or -m client');
      for (const [flag, value] of [['-b', o.b], ['-v', o.v]] as const) {
        if (!/^\d{1,6}$/.test(value)) throw new SipsecError('BAD_INPUT', `invalid ${flag} '${value}'`, flag === '-b' ? 'give the RSA key size: 2048, 3072 or 4096' : 'give the validity in days');
      }
      if (o.f) note(`note: -f ${o.f} is ignored; sipsec writes the extensions itself`);
      const { astTlsCert } = await import('../../pki/ast-tls-cert.js');
      const result = await astTlsCert({
        mode: o.m,
        cn: o.C ?? (o.m === 'server' ? fqdn() : 'asterisk'),
        org: o.O,
        dir: o.d,
        ...(o.c ? { caCert: o.c } : {}),
        ...(o.k ? { caKey: o.k } : {}),
        name: o.o,
        bits: Number(o.b),
        days: Number(o.v),
        noCaPassphrase: o.e === true,
        passphrase: passphraseSource(undefined, { confirm: true }),
      });
      if (o.json) return printJson(result);
      for (const f of result.files) note(`wrote ${f}`);
    });
}
