import { Command, Option } from 'commander';
import { KEY_SPECS, type KeySpec } from '../../pki/keys.js';
import { parseDays } from '../../inventory/phones.js';
import { collect, openStore, passphraseSource } from '../context.js';
import { keyValues, note, out, printJson } from '../output.js';
import { certJson } from '../json.js';

export function register(program: Command): void {
  const server = program.command('server').description('server certificates (registrar, PBX, provisioning server)');
  server
    .command('add <name>')
    .description('issue a server certificate: CN = the primary name, SAN = every DNS name, every IP and sip:<domain>')
    .option('--dns <name>', 'a DNS name the server is reached by (repeatable)', collect, [])
    .option('--ip <address>', 'an IP address the server is reached by (repeatable)', collect, [])
    .addOption(new Option('--key <type>', 'key type (default: the CA\'s leaf key type)').choices(KEY_SPECS))
    .option('--days <n>', 'validity in days (default: the CA\'s leaf validity)')
    .option('--passphrase-file <file>', 'the CA key passphrase')
    .option('--json', 'print the certificate entry as JSON')
    .addHelpText(
      'after',
      `
Examples:
  sipsec server add pbx.mycompany.com --ip 10.0.1.133
  sipsec server add pbx --dns pbx.mycompany.com --dns localhost --ip 10.0.1.133 --ip 127.0.0.1

Phones that dial the server by IP need that IP in the certificate, or they fail with
"Certificate common name did not match (10.0.1.133)".`,
    )
    .action(async (name: string, o: { dns: string[]; ip: string[]; key?: KeySpec; days?: string; passphraseFile?: string; json?: boolean }, cmd: Command) => {
      const { addServer } = await import('../../home/operations.js');
      const store = await openStore(cmd);
      const entry = await addServer(store, { name, dns: o.dns, ip: o.ip, ...(o.key ? { key: o.key } : {}), ...(o.days ? { days: parseDays(o.days, 825) } : {}) }, passphraseSource(o.passphraseFile));
      if (o.json) return printJson(certJson(entry));
      note(`issued server certificate '${name}'`);
      out(
        keyValues([
          ['Subject', entry.subject],
          ['Serial', entry.serial],
          ['SAN', [...entry.sans.dns.map((d) => `DNS:${d}`), ...entry.sans.ip.map((i) => `IP:${i}`), ...entry.sans.uri.map((u) => `URI:${u}`)].join(', ')],
          ['Valid until', entry.notAfter],
          ['Certificate', store.paths.cert(entry.serial)],
          ['Key', store.paths.key(entry.serial)],
        ]),
      );
    });
}
