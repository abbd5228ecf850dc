import { Command, Option } from 'commander';
import { SipsecError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/atomic.js';
import { REVOCATION_REASONS, type RevocationReason } from '../../pki/crl.js';
import { currentOrThrow, exportCert, readSecretFile, renewCert, revokeCert, type ExportFormat } from '../../home/operations.js';
import type { CertEntry } from '../../home/schema.js';
import type { CaStore } from '../../home/store.js';
import { renderAfter, rerenderPhones } from '../../provision/hooks.js';
import { openStore, passphraseSource } from '../context.js';
import { keyValues, note, out, printJson, shortDate, table } from '../output.js';
import { certJson } from '../json.js';

export function sanText(e: CertEntry): string {
  return [...e.sans.dns.map((d) => `DNS:${d}`), ...e.sans.ip.map((i) => `IP:${i}`), ...e.sans.uri.map((u) => `URI:${u}`)].join(', ');
}

function statusOf(e: CertEntry, now: Date): string {
  if (e.status === 'revoked') return `revoked (${e.reason ?? 'unspecified'})`;
  if (new Date(e.notAfter) < now) return 'expired';
  return 'valid';
}

function showEntry(store: CaStore, e: CertEntry): string {
  return keyValues([
    ['Name', e.name],
    ['Kind', e.kind],
    ['Subject', e.subject],
    ['Serial', e.serial],
    ['SAN', sanText(e)],
    ['Key', e.keyType],
    ['Valid', `${e.notBefore} .. ${e.notAfter}`],
    ['Status', statusOf(e, store.clock())],
    ['Revoked', e.revokedAt],
    ['SHA-256', e.fingerprint],
    ['Certificate', store.paths.cert(e.serial)],
    ['Key file', e.kind === 'ca' ? store.paths.caKey : store.paths.key(e.serial)],
  ]);
}

/** After a certificate change: a phone's files follow it (servers have none in the tree). */
async function followPhone(store: CaStore, name: string, change: string) {
  if (!store.index.phones.some((p) => p.name === name)) return undefined;
  return renderAfter(change, () => rerenderPhones(store, [name]));
}

export function register(program: Command): void {
  const cert = program.command('cert').description('every certificate the CA issued: list, show, revoke, renew, export');

  cert
    .command('list')
    .description('list certificates (newest per name; --all for history)')
    .option('--all', 'include superseded and revoked certificates')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  sipsec cert list\n  sipsec cert list --all --json')
    .action(async (o: { all?: boolean; json?: boolean }, cmd: Command) => {
      const store = await openStore(cmd);
      const all = store.index.certificates;
      const shown = o.all ? all : all.filter((c) => c === store.current(c.name) || (!store.current(c.name) && c === store.history(c.name).at(-1)));
      if (o.json) return printJson(shown.map((c) => ({ ...certJson(c), status: statusOf(c, store.clock()).split(' ')[0] })));
      out(
        table(
          shown.map((c) => ({ name: c.name, kind: c.kind, serial: c.serial.slice(0, 16), until: shortDate(c.notAfter), status: statusOf(c, store.clock()), sans: sanText(c) })),
          [
            ['name', 'NAME'],
            ['kind', 'KIND'],
            ['serial', 'SERIAL'],
            ['until', 'NOT AFTER'],
            ['status', 'STATUS'],
            ['sans', 'SUBJECT ALT NAMES'],
          ],
        ) || 'no certificates\n',
      );
    });

  cert
    .command('show <name>')
    .description('show one certificate (the current one of NAME, or a serial)')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  sipsec cert show telefono1\n  sipsec cert show ca --json')
    .action(async (name: string, o: { json?: boolean }, cmd: Command) => {
      const store = await openStore(cmd);
      const e = name === 'ca' ? store.index.certificates.find((c) => c.kind === 'ca') : (store.current(name) ?? store.bySerial(name) ?? store.history(name).at(-1));
      if (!e) throw new SipsecError('NOT_FOUND', `no certificate named '${name}'`, 'see sipsec cert list');
      if (o.json) return printJson({ ...certJson(e), status: statusOf(e, store.clock()).split(' ')[0], certFile: store.paths.cert(e.serial) });
      out(showEntry(store, e));
    });

  cert
    .command('revoke <name>')
    .description('revoke the current certificate of NAME and publish a fresh CRL')
    .addOption(new Option('--reason <reason>', 'RFC 5280 revocation reason').choices(REVOCATION_REASONS).default('unspecified'))
    .option('--passphrase-file <file>', 'the CA key passphrase')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  sipsec cert revoke telefono1 --reason keyCompromise\n  sipsec cert revoke pbx --reason cessationOfOperation')
    .action(async (name: string, o: { reason: RevocationReason; passphraseFile?: string; json?: boolean }, cmd: Command) => {
      const store = await openStore(cmd);
      const e = await revokeCert(store, name, o.reason, passphraseSource(o.passphraseFile));
      // A phone without a valid certificate has nothing to fetch: its files leave the tree.
      const rendered = await followPhone(store, name, `${name}'s certificate was revoked`);
      if (o.json) return printJson(certJson(e));
      note(`revoked ${name} (serial ${e.serial}, reason ${o.reason}); CRL updated: ${store.paths.crl}`);
      if (rendered && rendered.removed.length > 0) note(`${rendered.removed.length} provisioning file(s) removed from ${rendered.out}`);
    });

  cert
    .command('renew <name>')
    .description('new key and certificate with the same names (a phone\'s files are re-rendered); the old one is revoked as superseded')
    .option('--passphrase-file <file>', 'the CA key passphrase')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nA phone\'s provisioning files in the CA home are re-rendered at once; a --out tree is rebuilt with sipsec provision render --out DIR.\n\nExamples:\n  sipsec cert renew telefono1\n  sipsec cert renew pbx')
    .action(async (name: string, o: { passphraseFile?: string; json?: boolean }, cmd: Command) => {
      const store = await openStore(cmd);
      const { old, renewed } = await renewCert(store, name, passphraseSource(o.passphraseFile));
      const rendered = await followPhone(store, name, `${name} was renewed`);
      if (o.json) return printJson({ old: certJson(old), renewed: certJson(renewed) });
      note(`renewed ${name}: serial ${old.serial} superseded by ${renewed.serial}`);
      if (rendered) note(`re-rendered ${name}'s provisioning files in ${rendered.out} (${rendered.written.length} file(s) changed)`);
      out(showEntry(store, renewed));
    });

  cert
    .command('export <name>')
    .description('export a certificate (and its key with --with-key) as PEM, DER or PKCS#12; "ca" exports the CA certificate, never its key')
    .addOption(new Option('--format <format>', 'output format').choices(['pem', 'der', 'p12']).default('pem'))
    .option('--with-key', 'include the private key (pem: key + certificate; p12 always includes it)')
    .option('--legacy-key', 'with --format pem --with-key: write the key as PKCS#1/SEC1 for old firmware')
    .addOption(new Option('--p12 <profile>', 'PKCS#12 profile: modern (AES-256, SHA-256 MAC) or legacy (3DES, SHA-1 MAC, RSA only)').choices(['modern', 'legacy']).default('modern'))
    .option('--password-file <file>', 'PKCS#12 password (first line of the file)')
    .option('--out <file>', 'write here instead of stdout')
    .addHelpText(
      'after',
      `
Examples:
  sipsec cert export ca > ca.crt
  sipsec cert export telefono1 --with-key --out telefono1.pem
  sipsec cert export telefono1 --format p12 --p12 legacy --password-file pw.txt --out telefono1.p12`,
    )
    .action(async (name: string, o: { format: ExportFormat; withKey?: boolean; legacyKey?: boolean; p12: 'modern' | 'legacy'; passwordFile?: string; out?: string }, cmd: Command) => {
      const store = await openStore(cmd);
      if (name !== 'ca') currentOrThrow(store, name);
      const password = o.passwordFile ? await readSecretFile(o.passwordFile, 'password') : undefined;
      const result = await exportCert(store, { name, format: o.format, withKey: o.withKey === true || o.format === 'p12', p12: o.p12, ...(password !== undefined ? { password } : {}), legacyKey: o.legacyKey === true });
      if (o.out) {
        await writeFileAtomic(o.out, result.data, { mode: result.holdsKey ? 0o600 : 0o644 });
        note(`wrote ${o.out} (${result.format}${result.holdsKey ? ', holds the private key: mode 0600' : ''})`);
        return;
      }
      if (o.format !== 'pem' && process.stdout.isTTY) {
        throw new SipsecError('BAD_INPUT', `${o.format.toUpperCase()} is binary`, 'give --out FILE or redirect stdout');
      }
      process.stdout.write(result.data);
    });
}
