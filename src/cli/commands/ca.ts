import { isIP } from 'node:net';
import { Command, Option } from 'commander';
import { SipsecError } from '../../core/errors.js';
import { HASHES, KEY_SPECS, type HashName, type KeySpec } from '../../pki/keys.js';
import type { caInfo } from '../../home/operations.js';
import { checkDns, parseHostPort } from '../../pki/names.js';
import { parseDays } from '../../inventory/phones.js';
import { homeOf, openStore, passphraseSource, storeOf } from '../context.js';
import { askText } from '../prompt.js';
import { keyValues, note, out, printJson, progress, table } from '../output.js';
import type { Config } from '../../home/schema.js';
import { configJson } from '../json.js';

// Each action imports what it runs: start-up, paid by every command, loads only flags and help.
const operations = () => import('../../home/operations.js');
const hooks = () => import('../../provision/hooks.js');
const rotation = () => import('../../home/rotate.js');

/** The passphrase for commands that write a CA key: the ca init rules, and the home's own (one per home). */
function rotatePassphrase(file: string | undefined, noPassphrase: boolean, encrypted: boolean) {
  if (!encrypted) {
    if (file) throw new SipsecError('BAD_INPUT', 'this CA home keeps its CA key unencrypted; --passphrase-file would not apply', 'drop --passphrase-file (the new CA key is stored like the old one: unencrypted, mode 0600)');
    return async () => undefined;
  }
  if (noPassphrase) throw new SipsecError('BAD_INPUT', 'this CA home encrypts its CA key; --no-passphrase would leave the new key in clear', 'give the CA passphrase with --passphrase-file F or SIPSEC_CA_PASSPHRASE (the new key is encrypted with it)');
  return passphraseSource(file);
}

function checkUrl(input: string): string {
  let u: URL;
  try {
    u = new URL(input);
  } catch {
    throw new SipsecError('BAD_INPUT', `invalid --provisioning-url '${input}'`, 'give a full URL such as https://pbx.mycompany.com/provision/');
  }
  if (!['https:', 'http:', 'tftp:'].includes(u.protocol)) {
    throw new SipsecError('BAD_INPUT', `unsupported provisioning scheme '${u.protocol}'`, 'use https://, http:// or tftp://');
  }
  return u.href.endsWith('/') ? u.href : `${u.href}/`;
}

function printInfo(info: Awaited<ReturnType<typeof caInfo>>): void {
  out(
    keyValues([
      ['CA home', info.home],
      ['Subject', info.subject],
      ['Serial', info.serial],
      ['Valid', `${info.notBefore} .. ${info.notAfter}`],
      ['Key', `${info.keyType}, ${info.hash}${info.encrypted ? ', encrypted at rest' : ', NOT encrypted (no passphrase)'}`],
      ['SHA-256', info.fingerprint.match(/../g)!.join(':').toUpperCase()],
      ['Domain', info.domain],
      ['Registrar', info.registrar],
      ['Provisioning', info.provisioningUrl],
      ['TFTP server', info.tftpServer],
      ['NTP', info.ntp],
      ['CA certificate', info.caCert],
      ['CRL', info.crl],
      ['Issued', `${info.servers} server(s), ${info.phones} phone(s), ${info.revoked} revoked`],
      ['Rotation', info.rotation ? `in progress since ${info.rotation.startedAt} (old CA ${info.rotation.oldCa} still trusted): see sipsec ca status` : undefined],
    ]),
  );
}

function configPatch(o: { registrar?: string; provisioningUrl?: string; tftpServer?: string; ntp?: string }): Partial<Config> {
  const patch: Partial<Config> = {};
  if (o.registrar !== undefined) patch.registrar = parseHostPort(o.registrar, 5061);
  if (o.provisioningUrl !== undefined) patch.provisioningUrl = checkUrl(o.provisioningUrl);
  if (o.tftpServer !== undefined) {
    const hp = parseHostPort(o.tftpServer, 69);
    const host = isIP(hp.host) === 6 ? `[${hp.host}]` : hp.host;
    patch.tftpServer = hp.port === 69 ? hp.host : `${host}:${hp.port}`;
  }
  if (o.ntp !== undefined) patch.ntp = parseHostPort(o.ntp, 123).host;
  return patch;
}

export function register(program: Command): void {
  const ca = program.command('ca').description('the certificate authority: create it, show it, publish its CRL, change its settings');

  ca.command('init')
    .description('create a CA (key, self-signed certificate, CRL) in the CA home')
    .option('--org <org>', 'organisation name (O=) in every certificate')
    .option('--domain <domain>', 'SIP domain: URI:sip:<domain> in server certificates, AORs user@<domain>')
    .option('--cn <cn>', 'CA common name (default: "<org> SIP CA")')
    .addOption(new Option('--key <type>', 'CA key type').choices(KEY_SPECS).default('rsa3072'))
    .addOption(new Option('--hash <hash>', 'signature hash for everything this CA signs').choices(HASHES).default('sha256'))
    .option('--days <n>', 'CA validity in days', '3650')
    .addOption(new Option('--leaf-key <type>', 'default key type for server and phone certificates').choices(KEY_SPECS).default('rsa2048'))
    .option('--leaf-days <n>', 'default validity of server and phone certificates (825 or less keeps Apple-style limits)', '825')
    .option('--registrar <host[:port]>', 'SIP/TLS registrar phones are provisioned with (default: the domain, port 5061)')
    .option('--provisioning-url <url>', 'base URL phones fetch files from (default: https://<domain>/)')
    .option('--tftp-server <host[:port]>', 'TFTP server phones boot from (default: the registrar host)')
    .option('--ntp <host>', 'NTP server phones use (certificate checks need a correct clock)')
    .option('--passphrase-file <file>', 'encrypt the CA key with the passphrase on the first line of this file')
    .option('--no-passphrase', 'store the CA key unencrypted (protected by file mode 0600 only)')
    .option('--force', 'replace an existing CA, or use a folder holding other files: everything in it is moved aside to <home>.replaced-<time>, not deleted')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
Examples:
  sipsec ca init --org "My Super Company" --domain pbx.mycompany.com
  sipsec ca init --org Acme --domain acme.test --key p256 --passphrase-file ~/.sipsec-pass
  SIPSEC_CA_PASSPHRASE=... sipsec ca init --org Acme --domain acme.test --registrar 10.0.1.133:5061

Without --passphrase-file, SIPSEC_CA_PASSPHRASE or --no-passphrase, sipsec asks on a terminal
and refuses to guess when there is none. The CA home must be empty or a sipsec CA: a folder
holding other files (ast_tls_cert's /etc/asterisk/keys) is refused, naming them, unless --force.`,
    )
    .action(async (o: Record<string, string | boolean | undefined>, cmd: Command) => {
      const { initCa, readSecretFile } = await operations();
      const org = typeof o.org === 'string' ? o.org : await askText('--org', 'Organisation (O=):', 'the organisation name');
      const domainIn = typeof o.domain === 'string' ? o.domain : await askText('--domain', 'SIP domain:', 'the SIP domain, e.g. pbx.mycompany.com');
      const domain = checkDns(domainIn);
      if (org.trim() === '' || /[\u0000-\u001f]/.test(org)) throw new SipsecError('BAD_INPUT', 'invalid --org', 'give a non-empty organisation name');
      if (typeof o.passphraseFile === 'string' && o.passphrase === false) {
        throw new SipsecError('BAD_INPUT', '--passphrase-file and --no-passphrase contradict each other', 'choose one');
      }
      let passphrase: string | undefined;
      if (typeof o.passphraseFile === 'string') {
        passphrase = await readSecretFile(o.passphraseFile, 'passphrase');
      } else if (o.passphrase !== false) {
        // commander sets passphrase=false for --no-passphrase; otherwise env or prompt.
        passphrase = await passphraseSource(undefined, { confirm: true })().catch((e: unknown) => {
          if (e instanceof SipsecError && e.code === 'PASSPHRASE_REQUIRED') {
            throw new SipsecError('PASSPHRASE_REQUIRED', 'no passphrase for the new CA key', 'give --passphrase-file F, set SIPSEC_CA_PASSPHRASE, or choose --no-passphrase explicitly');
          }
          throw e;
        });
      }
      const patch = configPatch({
        registrar: typeof o.registrar === 'string' ? o.registrar : domain,
        ...(typeof o.provisioningUrl === 'string' ? { provisioningUrl: o.provisioningUrl } : { provisioningUrl: `https://${domain}/` }),
        ...(typeof o.tftpServer === 'string' ? { tftpServer: o.tftpServer } : {}),
        ...(typeof o.ntp === 'string' ? { ntp: o.ntp } : {}),
      });
      const registrar = patch.registrar!;
      const info = await initCa(
        homeOf(cmd),
        {
          org: org.trim(),
          domain,
          cn: typeof o.cn === 'string' ? o.cn : `${org.trim()} SIP CA`,
          caKey: o.key as KeySpec,
          hash: o.hash as HashName,
          caDays: parseDays(o.days as string, 3650),
          leafKey: o.leafKey as KeySpec,
          leafDays: parseDays(o.leafDays as string, 825),
          registrar,
          provisioningUrl: patch.provisioningUrl!,
          tftpServer: patch.tftpServer ?? registrar.host,
          ...(patch.ntp ? { ntp: patch.ntp } : {}),
          force: o.force === true,
        },
        passphrase,
        storeOf(cmd),
      );
      if (o.json) return printJson({ ...info, replaced: info.replaced ?? null });
      if (info.replaced) note(`the previous CA was moved to ${info.replaced}`);
      note(`created a CA in ${info.home}`);
      printInfo(info);
      if (!info.encrypted) note('warning: the CA key is not encrypted; anyone who can read it can issue certificates');
      note(`next: sipsec server add ${registrar.host} --ip <address>   and   sipsec phone add NAME --vendor V --mac MAC`);
    });

  ca.command('show')
    .description('show the CA: subject, validity, fingerprint, settings, counts')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  sipsec ca show\n  sipsec ca show --json | jq .fingerprint')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const info = await (await operations()).caInfo(await openStore(cmd));
      if (o.json) return printJson(info);
      printInfo(info);
    });

  ca.command('crl')
    .description('write a fresh CRL signed by the CA and print its path')
    .option('--out <file>', 'where to write it (default: crl.pem in the CA home)')
    .option('--passphrase-file <file>', 'the CA key passphrase')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  sipsec ca crl\n  sipsec ca crl --out /etc/kamailio/tls/crl.pem\n  openssl crl -in "$(sipsec ca crl)" -noout -text')
    .action(async (o: { out?: string; passphraseFile?: string; json?: boolean }, cmd: Command) => {
      const store = await openStore(cmd);
      const signer = await store.signer(passphraseSource(o.passphraseFile));
      const file = await store.writeCrl(signer, o.out);
      const revoked = store.index.certificates.filter((c) => c.status === 'revoked').length;
      if (o.json) return printJson({ path: file, crlNumber: store.index.crlNumber, revoked });
      out(`${file}\n`);
      note(`CRL number ${store.index.crlNumber}, ${revoked} revoked certificate(s)`);
    });

  ca.command('rotate')
    .description('create a new CA beside the old one; every phone and server gets a new certificate under it, with no outage')
    .addOption(new Option('--key <type>', 'new CA key type').choices(KEY_SPECS).default('rsa3072'))
    .option('--days <n>', 'new CA validity in days', '3650')
    .option('--cn <cn>', 'new CA common name (default: the old one\'s with today\'s date; must differ from the old)')
    .option('--grace <span>', 'longest a phone\'s old certificate stays valid (14d, 36h)', '14d')
    .option('--passphrase-file <file>', 'the CA passphrase: unlocks the old key and encrypts the new one')
    .option('--no-passphrase', 'for a CA home whose key is unencrypted (the new key is stored the same way)')
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      `
What happens:
  1. a new CA (private/ca-<serial>.key, encrypted with the same passphrase); the old key stays
     encrypted in private/ca-<old serial>.key
  2. ca.crt and every rendered file that carries the CA now hold both CAs; the registrar and
     HTTPS trust both; each CA signs its own CRL (crl.pem holds both)
  3. every phone and server gets a new certificate under the new CA; a phone's old one stays
     valid until it fetches its new files or presents the new certificate (or --grace ends);
     serve keeps presenting its old-CA server certificate until ca retire-old
  4. sipsec ca status shows which CA each phone uses; sipsec ca retire-old ends the transition

Examples:
  sipsec ca rotate --passphrase-file ~/.sipsec-pass
  sipsec ca rotate --key p384 --days 3650 --grace 30d
  sipsec ca status
  sipsec ca retire-old`,
    )
    .action(async (o: { key: KeySpec; days: string; cn?: string; grace: string; passphraseFile?: string; passphrase?: boolean; json?: boolean }, cmd: Command) => {
      const [{ parseSpan }, { rotateCa }, { rerenderAll }] = await Promise.all([import('../../home/supersede.js'), rotation(), hooks()]);
      const graceMs = parseSpan(o.grace, '--grace');
      const days = parseDays(o.days, 3650);
      if (o.cn !== undefined && (o.cn.trim() === '' || /[\u0000-\u001f]/.test(o.cn))) throw new SipsecError('BAD_INPUT', 'invalid --cn', 'give a non-empty name');
      const store = await openStore(cmd);
      const pass = rotatePassphrase(o.passphraseFile, o.passphrase === false, store.config.encrypted);
      const count = new Set(store.index.certificates.filter((c) => c.kind !== 'ca' && c.status === 'valid').map((c) => c.name)).size;
      const bar = !o.json && count > 20 ? progress('issuing') : undefined;
      const r = await rotateCa(store, { key: o.key, days, cn: o.cn?.trim(), graceMs }, pass, bar ? (n) => bar.update(n, count) : undefined);
      bar?.end();
      await rerenderAll(store);
      if (o.json) return printJson({ schema: 1, oldCa: r.oldCa, newCa: r.newCa, renewed: r.renewed, graceMs });
      note(`new CA ${r.newCa.subject} (serial ${r.newCa.serial}); the old CA ${r.oldCa.serial} stays trusted until sipsec ca retire-old`);
      note(`issued ${r.renewed.length} certificate(s) under the new CA; the phones' files now carry both CAs and their new certificates`);
      note('next: let the phones resync (sipsec ca status shows which CA each one uses), then sipsec ca retire-old');
    });

  ca.command('status')
    .description('the CA rotation: per phone, which CA its current certificate and its last TLS connection used')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nThe last TLS connection comes from serve\'s event log (serve.log in the CA home).\n\nExamples:\n  sipsec ca status\n  sipsec ca status --json | jq .usingOldCa')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const st = await (await rotation()).caStatus(await openStore(cmd));
      if (o.json) return printJson(st);
      out(
        keyValues([
          ['Current CA', `${st.current.subject} (serial ${st.current.serial}, until ${st.current.notAfter.slice(0, 10)})`],
          ['Old CA', st.old ? `${st.old.subject} (serial ${st.old.serial}, until ${st.old.notAfter.slice(0, 10)})` : 'none: no rotation in progress'],
          ['Rotation since', st.rotationStartedAt ?? undefined],
        ]),
      );
      const t = table(
        st.phones.map((p) => ({
          name: p.name,
          cert: p.certCa ? `${p.certCa} (${(p.certSerial ?? '').slice(0, 12)})` : 'none',
          overlap: p.oldCertSerial ? `${p.oldCertCa} (${p.oldCertSerial.slice(0, 12)})` : '-',
          tls: p.lastTls ? `${p.lastTls.ca} (${p.lastTls.certSerial.slice(0, 12)}) ${p.lastTls.time.slice(0, 16).replace('T', ' ')}` : 'never seen',
          old: p.usesOldCa ? 'yes' : '',
        })),
        [
          ['name', 'PHONE'],
          ['cert', 'CERTIFICATE CA'],
          ['overlap', 'OLD CERT (STILL VALID)'],
          ['tls', 'LAST TLS CONNECTION'],
          ['old', 'USES OLD CA'],
        ],
      );
      if (t) out('\n' + t);
      if (st.old) note(st.usingOldCa.length > 0 ? `${st.usingOldCa.length} phone(s) still use the old CA: ca retire-old waits for them (or --force)` : 'no phone uses the old CA: sipsec ca retire-old ends the transition');
    });

  ca.command('retire-old')
    .description('end a CA rotation: the old CA leaves ca.crt, the phones\' files and the servers\' trust; its remaining certificates are revoked')
    .option('--force', 'end it even though phones still use the old CA (they are refused until they fetch their new files)')
    .option('--passphrase-file <file>', 'the CA key passphrase')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nRefused while a phone\'s current certificate or last TLS connection (serve.log) is under the old CA.\n\nExamples:\n  sipsec ca status && sipsec ca retire-old\n  sipsec ca retire-old --force')
    .action(async (o: { force?: boolean; passphraseFile?: string; json?: boolean }, cmd: Command) => {
      const [{ retireOldCa }, { rerenderAll }] = await Promise.all([rotation(), hooks()]);
      const store = await openStore(cmd);
      const r = await retireOldCa(store, passphraseSource(o.passphraseFile), { force: o.force === true });
      await rerenderAll(store);
      if (o.json) return printJson({ schema: 1, retired: r.retired, revoked: r.revoked, forced: r.forced });
      note(`retired the old CA ${r.retired.serial}; revoked its ${r.revoked.length} remaining certificate(s); ca.crt and the phones' files now carry the new CA only`);
      if (r.forced.length > 0) note(`warning: still on the old CA (refused until they fetch their new files): ${r.forced.join(', ')}`);
    });

  ca.command('config')
    .description('change where phones are pointed (registrar, provisioning URL, TFTP, NTP); every phone\'s files are re-rendered')
    .option('--registrar <host[:port]>', 'SIP/TLS registrar (port defaults to 5061)')
    .option('--provisioning-url <url>', 'base URL phones fetch their files from')
    .option('--tftp-server <host[:port]>', 'TFTP server for phones that boot over TFTP')
    .option('--ntp <host>', 'NTP server')
    .option('--resync', 'then tell every registered phone to fetch its files again (needs a running sipsec serve)')
    .option('--json', 'print the resulting settings as JSON')
    .addHelpText('after', '\nThe provisioning tree in the CA home is re-rendered at once; a --out tree is rebuilt with sipsec provision render --out DIR.\n\nExamples:\n  sipsec ca config --registrar 10.0.1.133:5061 --resync\n  sipsec ca config --ntp pool.ntp.org')
    .action(async (o: { registrar?: string; provisioningUrl?: string; tftpServer?: string; ntp?: string; resync?: boolean; json?: boolean }, cmd: Command) => {
      const [{ renderAfter, rerenderAll }, { doctorInput }, { checkClock, checkNames }, { printFindings }, { resyncAfterChange }] = await Promise.all([
        hooks(),
        import('../../doctor/doctor.js'),
        import('../../doctor/checks.js'),
        import('./doctor.js'),
        import('./resync.js'),
      ]);
      const store = await openStore(cmd);
      const patch = configPatch(o);
      const changed = Object.keys(patch).length > 0;
      const next = changed ? await store.updateConfig(patch) : store.config;
      // Every phone's files name these addresses: the whole tree follows.
      const rendered = changed ? await renderAfter('the settings were saved', () => rerenderAll(store)) : undefined;
      // The failures this tool exists to prevent, said at once: a registrar no server certificate names, no clock.
      const input = await doctorInput(store, { phones: [], readCrl: false });
      printFindings([...checkNames(input), ...checkClock(input)]);
      if (o.resync) await resyncAfterChange(homeOf(cmd), { all: true }, o.json ?? false);
      if (o.json) return printJson(configJson(next));
      out(
        keyValues([
          ['Registrar', `${next.registrar.host}:${next.registrar.port}`],
          ['Provisioning', next.provisioningUrl],
          ['TFTP server', next.tftpServer],
          ['NTP', next.ntp],
        ]),
      );
      if (rendered) note(`settings saved; provisioning files re-rendered in ${rendered.out} (${rendered.written.length} changed, ${rendered.removed.length} removed); a --out tree needs sipsec provision render --out DIR`);
    });

  ca.command('backup')
    .description('copy the whole CA (settings, index database, certificates, every private key) into one tar file, consistently, while serve runs')
    .argument('<file>', 'the archive to write (gzip-compressed when it ends in .gz or .tgz); it holds the CA key: keep it like the key')
    .option('--json', 'print what was written as JSON')
    .addHelpText('after', '\nThe rendered provisioning tree and the logs are not copied: ca restore renders the tree again.\nThe file is written with mode 0600; an encrypted CA key stays encrypted in it.\n\nExamples:\n  sipsec ca backup /var/backups/sipsec-$(date +%F).tar.gz\n  sipsec ca backup ca.tar --json')
    .action(async (file: string, o: { json?: boolean }, cmd: Command) => {
      const { backupHome } = await import('../../home/backup.js');
      const store = await openStore(cmd);
      const r = await backupHome(store, file);
      if (o.json) return printJson(r);
      note(`wrote ${r.file}: ${r.files} file(s), ${r.phones} phone(s), ${r.certificates} certificate(s), ${(r.bytes / 1024).toFixed(0)} KiB${r.compressed ? ' (gzip)' : ''}`);
      note('it holds the CA key: keep it where only you can read it (restore with sipsec ca restore FILE)');
    });

  ca.command('restore')
    .description('make the CA home (--home) from a file written by ca backup, then render its provisioning tree')
    .argument('<file>', 'a file written by sipsec ca backup (.tar, .tar.gz)')
    .option('--force', 'replace a CA home that is not empty (it is moved to <home>.replaced-<time>, not deleted)')
    .option('--json', 'print what was restored as JSON')
    .addHelpText('after', '\nRefused while sipsec serve runs on that home (stop it first: it would go on serving what it loaded).\nThe archive is unpacked beside the home, checked (SQLite quick_check, every indexed certificate present), then renamed into place.\n\nExamples:\n  sipsec --home /etc/sipsec ca restore /var/backups/sipsec-2026-12-01.tar.gz\n  sipsec --home ./ca ca restore ca.tar --force')
    .action(async (file: string, o: { force?: boolean; json?: boolean }, cmd: Command) => {
      const [{ restoreHome }, { renderAfter, rerenderAll }] = await Promise.all([import('../../home/backup.js'), hooks()]);
      const r = await restoreHome(file, homeOf(cmd), { force: o.force ?? false });
      const store = await openStore(cmd);
      const rendered = await renderAfter('the CA home was restored', () => rerenderAll(store));
      if (o.json) return printJson({ ...r, rendered: rendered.written.length });
      if (r.replaced) note(`the CA home that was there was moved to ${r.replaced}`);
      note(`restored ${r.home} from ${r.file}: ${r.phones} phone(s), ${r.certificates} certificate(s); provisioning files rendered in ${rendered.out} (${rendered.written.length})`);
    });
}
