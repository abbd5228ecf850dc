import { Command, Option } from 'commander';
import { SipsecError } from '../../core/errors.js';
import { writeFileAtomic } from '../../core/atomic.js';
import { REVOCATION_REASONS, type RevocationReason } from '../../pki/crl.js';
import type { ExportFormat } from '../../home/operations.js';
import { KEY_SPECS, type KeySpec } from '../../pki/keys.js';
import { parseDays } from '../../inventory/phones.js';
import { parseSpan } from '../../home/supersede.js';

export { parseSpan };
import type { CertEntry } from '../../home/schema.js';
import type { CaStore } from '../../home/store.js';
import { homeOf, openStore, passphraseSource } from '../context.js';
import { keyValues, note, out, printJson, progress, shortDate, table } from '../output.js';
import { certJson } from '../json.js';

// Each action imports what it runs: start-up, paid by every command, loads only flags and help.
const operations = () => import('../../home/operations.js');

export function sanText(e: CertEntry): string {
  return [...e.sans.dns.map((d) => `DNS:${d}`), ...e.sans.ip.map((i) => `IP:${i}`), ...e.sans.uri.map((u) => `URI:${u}`)].join(', ');
}

function statusOf(e: CertEntry, now: Date): string {
  if (e.status === 'revoked') return `revoked (${e.reason ?? 'unspecified'})`;
  if (new Date(e.notAfter) < now) return 'expired';
  if (e.supersededBy) return e.graceUntil ? `valid (renewed; revoked by ${shortDate(e.graceUntil)} at the latest)` : 'valid (renewed; kept until ca retire-old)';
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
    ['Renewed by', e.supersededBy],
    ['Overlap ends', e.supersededBy && e.status === 'valid' ? (e.graceUntil ?? 'at sipsec ca retire-old') : undefined],
    ['Issuer CA', store.issuerOf(e)],
    ['SHA-256', e.fingerprint],
    ['Certificate', store.paths.cert(e.serial)],
    ['Key file', e.kind === 'ca' ? store.paths.caKey : store.paths.key(e.serial)],
  ]);
}

/** After a certificate change: a phone's files follow it (servers have none in the tree). */
async function followPhone(store: CaStore, name: string, change: string) {
  if (!store.index.phones.some((p) => p.name === name)) return undefined;
  const { renderAfter, rerenderPhones } = await import('../../provision/hooks.js');
  return renderAfter(change, () => rerenderPhones(store, [name]));
}

export function register(program: Command): void {
  const cert = program.command('cert').description('every certificate the CA issued: list, show, revoke, renew, export');

  cert
    .command('list')
    .description('list certificates (newest per name; --all for history)')
    .option('--all', 'include superseded and revoked certificates')
    .option('--expiring <span>', 'only current phone and server certificates that expire within SPAN (30d, 36h; a bare number is days)')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  sipsec cert list\n  sipsec cert list --all --json\n  sipsec cert list --expiring 30d')
    .action(async (o: { all?: boolean; expiring?: string; json?: boolean }, cmd: Command) => {
      if (o.all && o.expiring !== undefined) throw new SipsecError('BAD_INPUT', '--all and --expiring contradict each other', 'choose one');
      const within = o.expiring !== undefined ? parseSpan(o.expiring, '--expiring') : undefined;
      const { expiringCerts } = await operations();
      const store = await openStore(cmd);
      const all = store.index.certificates;
      const shown =
        within !== undefined
          ? expiringCerts(store, within)
          : o.all
            ? all
            : all.filter((c) => c === store.current(c.name) || (!store.current(c.name) && c === store.history(c.name).at(-1)));
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
        ) || (within !== undefined ? `no certificate expires within ${o.expiring}\n` : 'no certificates\n'),
      );
    });

  cert
    .command('show <name>')
    .description('show one certificate (the current one of NAME, or a serial)')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  sipsec cert show telefono1\n  sipsec cert show ca --json')
    .action(async (name: string, o: { json?: boolean }, cmd: Command) => {
      const store = await openStore(cmd);
      const e = name === 'ca' ? store.currentCa() : (store.current(name) ?? store.bySerial(name) ?? store.history(name).at(-1));
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
      const { revokeCert } = await operations();
      const store = await openStore(cmd);
      const e = await revokeCert(store, name, o.reason, passphraseSource(o.passphraseFile));
      // A phone without a valid certificate has nothing to fetch: its files leave the tree.
      const rendered = await followPhone(store, name, `${name}'s certificate was revoked`);
      if (o.json) return printJson(certJson(e));
      note(`revoked ${name} (serial ${e.serial}, reason ${o.reason}); CRL updated: ${store.paths.crl}`);
      if (rendered && rendered.removed.length > 0) note(`${rendered.removed.length} provisioning file(s) removed from ${rendered.out}`);
    });

  cert
    .command('renew [name]')
    .description('new key and certificate with the same names; the old one stays valid until the phone has its new files (or --grace ends), then is revoked as superseded')
    .option('--expiring <span>', 'renew every current phone and server certificate that expires within SPAN (60d; a bare number is days)')
    .option('--grace <span>', 'longest the old certificate stays valid (14d, 36h)', '14d')
    .option('--now', 'revoke the old certificate at once (its key is compromised)')
    .option('--resync', 'then tell the renewed phones to fetch their new files (needs a running sipsec serve)')
    .addOption(new Option('--key <type>', 'key type of the new certificate (default: the old one\'s)').choices(KEY_SPECS))
    .option('--days <n>', 'validity of the new certificate (default: the CA\'s --leaf-days)')
    .option('--passphrase-file <file>', 'the CA key passphrase')
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      `
The old certificate stays valid (the registrar and HTTPS accept it, the CRL does not list it)
until the phone fetches its new files or presents its new certificate, or until --grace ends;
then sipsec revokes it as superseded (serve when running, else the next sipsec command).

Examples:
  sipsec cert renew telefono1
  sipsec cert renew telefono1 --now                # its key leaked: the old certificate stops now
  sipsec cert renew --expiring 60d --grace 7d      # every phone and server certificate ending within 60 days
  sipsec cert renew --expiring 60d --resync        # ... and tell the registered phones to fetch them now
  sipsec cert list --expiring 30d`,
    )
    .action(async (name: string | undefined, o: { expiring?: string; grace: string; now?: boolean; resync?: boolean; key?: KeySpec; days?: string; passphraseFile?: string; json?: boolean }, cmd: Command) => {
      if ((name === undefined) === (o.expiring === undefined)) throw new SipsecError('BAD_INPUT', name === undefined ? 'nothing to renew' : 'give NAME or --expiring, not both', 'sipsec cert renew NAME, or sipsec cert renew --expiring 60d');
      const graceGiven = cmd.getOptionValueSource('grace') === 'cli';
      if (o.now && graceGiven) throw new SipsecError('BAD_INPUT', '--now and --grace contradict each other', '--now revokes the old certificate at once; --grace keeps it valid for a while');
      const graceMs = parseSpan(o.grace, '--grace');
      const within = o.expiring !== undefined ? parseSpan(o.expiring, '--expiring') : undefined;
      const days = o.days !== undefined ? parseDays(o.days, 825) : undefined;
      const [{ expiringCerts, renewMany }, { renderAfter, rerenderPhones }, { resyncAfterChange }] = await Promise.all([operations(), import('../../provision/hooks.js'), import('./resync.js')]);
      const store = await openStore(cmd);
      const names = within !== undefined ? expiringCerts(store, within).map((c) => c.name) : [name!];
      if (names.length === 0) {
        if (o.json) return printJson({ schema: 1, renewals: [] });
        note(`no certificate expires within ${o.expiring}`);
        return;
      }
      const bar = within !== undefined && !o.json ? progress('renewing') : undefined;
      const renewals = await renewMany(store, names, passphraseSource(o.passphraseFile), { graceMs, ...(o.now ? { now: true } : {}), ...(o.key ? { key: o.key } : {}), ...(days ? { days } : {}) }, bar ? (n) => bar.update(n, names.length) : undefined);
      bar?.end();
      const phones = renewals.filter((r) => r.renewed.kind === 'phone').map((r) => r.renewed.name);
      if (phones.length > 0) await renderAfter(`${phones.length} phone certificate(s) were renewed`, () => rerenderPhones(store, phones));
      if (o.resync && phones.length > 0) await resyncAfterChange(homeOf(cmd), { phones }, o.json === true);
      const olds = renewals.map((r) => ({ old: store.bySerial(r.old.serial) ?? r.old, renewed: r.renewed }));
      const shown = olds.map((x) => ({ old: certJson(x.old), renewed: certJson(x.renewed) }));
      if (o.json) return printJson(within !== undefined ? { schema: 1, renewals: shown } : { schema: 1, ...shown[0]! });
      for (const { old, renewed } of olds) {
        const fate = old.status === 'revoked' ? 'revoked now' : `valid until the phone has its new files, at most until ${old.graceUntil}`;
        note(`renewed ${renewed.name}: new serial ${renewed.serial} (until ${shortDate(renewed.notAfter)}); old serial ${old.serial} ${fate}`);
      }
      if (within === undefined) out(showEntry(store, olds[0]!.renewed));
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
      const { currentOrThrow, exportCert, readSecretFile } = await operations();
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
