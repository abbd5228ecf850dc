import { Command, Option } from 'commander';
import { SipsecError } from '../../core/errors.js';
import { KEY_SPECS } from '../../pki/keys.js';
import { SRTP_MODES, type Phone } from '../../home/schema.js';
import { formatMac } from '../../pki/names.js';
import { CaStore } from '../../home/store.js';
import { addPhones, findConflicts, findPhone, sipUser, validatePhone, type PhoneInput, type ValidPhone } from '../../inventory/phones.js';
import { readPhoneCsv, rowError } from '../../inventory/import.js';
import { revokeCert } from '../../home/operations.js';
import { isVendorId, loadVendor, vendorIds } from '../../vendors/registry.js';
import { askChoice, askText, interactive } from '../prompt.js';
import { removePhoneFiles, renderAfter, rerenderPhones } from '../../provision/hooks.js';
import { checkExposedSecrets, checkNames } from '../../doctor/checks.js';
import { doctorInput } from '../../doctor/doctor.js';
import { printFindings } from './doctor.js';
import { collect, collectOption, openStore, passphraseSource } from '../context.js';
import { keyValues, note, out, printJson, progress, shortDate, table } from '../output.js';
import { phoneJson } from '../json.js';

function certStatus(store: CaStore, name: string): string {
  const c = store.current(name);
  if (!c) return 'none';
  return new Date(c.notAfter) < store.clock() ? 'expired' : `valid until ${shortDate(c.notAfter)}`;
}

function phoneView(store: CaStore, p: Phone, showSecret: boolean) {
  const cert = store.current(p.name);
  return {
    ...phoneJson(p, showSecret),
    sipUser: sipUser(p),
    aor: `sip:${sipUser(p)}@${store.config.domain}`,
    certificate: cert ? { serial: cert.serial, notAfter: cert.notAfter, status: cert.status, file: store.paths.cert(cert.serial), keyFile: store.paths.key(cert.serial) } : null,
  };
}

export function register(program: Command): void {
  const phone = program.command('phone').description('the phone inventory: add (issues the certificate and renders the files), import, list, show, remove');

  phone
    .command('add <name>')
    .description('add a phone: record it, issue its certificate, render its provisioning files')
    .option('--vendor <vendor>', `phone or softphone type (asked for on a terminal when missing): ${vendorIds().join(', ') || '(see sipsec provision vendors)'}`)
    .option('--mac <mac>', 'MAC address (required for hardware phones): 00:08:5d:12:34:56, 00-08-5D-12-34-56 or 00085d123456')
    .option('--ip <address>', 'an IP address of the phone (repeatable); goes into its certificate and limits key downloads to it', collect, [])
    .option('--dns <name>', 'a DNS name of the phone (repeatable)', collect, [])
    .option('--ext <ext>', 'extension / SIP user name (default: the phone name)')
    .option('--secret <secret>', 'SIP digest password (default: a generated 128-bit one)')
    .option('--display-name <name>', 'caller ID name')
    .addOption(new Option('--srtp <mode>', 'media encryption the phone is set to and held to').choices(SRTP_MODES).default('mandatory'))
    .option('--line <n>', 'account/line number on the phone', '1')
    .option('--option <key=value>', 'a vendor option (repeatable), validated by the vendor module', collectOption, {})
    .addOption(new Option('--key <type>', 'key type (default: the CA\'s leaf key type)').choices(KEY_SPECS))
    .option('--days <n>', 'certificate validity in days')
    .option('--passphrase-file <file>', 'the CA key passphrase')
    .option('--json', 'print as JSON (without the secret)')
    .addHelpText(
      'after',
      `
Examples:
  sipsec phone add telefono1 --vendor aastra --mac 00:08:5d:12:34:56 --ip 10.0.1.132 --ext 101
  sipsec phone add softphone1 --vendor baresip --ext 102 --srtp mandatory
  sipsec phone add lobby --vendor yealink --mac 805ec0aabbcc --option model=t46g`,
    )
    .action(async (name: string, o: Record<string, unknown>, cmd: Command) => {
      const store = await openStore(cmd);
      const vendorId = typeof o.vendor === 'string' ? o.vendor : await askChoice('--vendor', 'Vendor:', 'the phone or softphone type', vendorIds());
      let mac = o.mac as string | undefined;
      if (mac === undefined && isVendorId(vendorId) && (await loadVendor(vendorId)).descriptor.macRequired && interactive()) {
        mac = await askText('--mac', 'MAC address (e.g. 00:08:5d:12:34:56):', 'the MAC address');
      }
      const input: PhoneInput = {
        name,
        vendor: vendorId,
        mac,
        ips: o.ip as string[],
        dns: o.dns as string[],
        ext: o.ext as string | undefined,
        secret: o.secret as string | undefined,
        displayName: o.displayName as string | undefined,
        srtp: o.srtp as string,
        line: o.line as string,
        key: o.key as string | undefined,
        days: o.days as string | undefined,
        options: o.option as Record<string, string>,
      };
      const valid = await validatePhone(input, { key: store.config.leafKey, days: store.config.leafDays, now: store.clock() });
      await addPhones(store, [valid], passphraseSource(o.passphraseFile as string | undefined));
      const rendered = await renderAfter(`${valid.phone.name} was added`, () => rerenderPhones(store, [valid.phone.name]));
      // A secret that will travel in clear, or a registrar name no certificate carries: said now, not at boot.
      const checks = await doctorInput(store);
      printFindings([...checkExposedSecrets({ ...checks, phones: [valid.phone] }), ...checkNames(checks)]);
      if (o.json) return printJson({ ...phoneView(store, valid.phone, false), files: rendered.files });
      note(`added ${valid.phone.name} (${valid.phone.vendor}${valid.phone.mac ? `, MAC ${formatMac(valid.phone.mac, 'colon')}` : ''}) as sip:${sipUser(valid.phone)}@${store.config.domain}`);
      for (const line of rendered.lines) note(line);
    });

  phone
    .command('import <file>')
    .description('add many phones from a CSV file: every row is validated first, then certificates are issued')
    .option('--dry-run', 'validate only; issue nothing')
    .option('--passphrase-file <file>', 'the CA key passphrase')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
The header row names the columns (any order): name,vendor,mac,ext,ip,dns,secret,display_name,srtp,line,key,days
Any other column is a vendor option. Several IPs or DNS names in a cell are separated by ';'.

Examples:
  sipsec phone import phones.csv --dry-run
  sipsec phone import phones.csv

  name,vendor,mac,ext,ip
  telefono1,aastra,00:08:5d:12:34:56,101,10.0.1.132
  telefono2,grandstream,00:0b:82:12:34:56,102,10.0.1.134`,
    )
    .action(async (file: string, o: { dryRun?: boolean; passphraseFile?: string; json?: boolean }, cmd: Command) => {
      const store = await openStore(cmd);
      const rows = await readPhoneCsv(file);
      const valid: ValidPhone[] = [];
      const errors: SipsecError[] = [];
      for (const row of rows) {
        try {
          valid.push(await validatePhone(row.input, { key: store.config.leafKey, days: store.config.leafDays, now: store.clock() }));
        } catch (e) {
          errors.push(rowError(file, row.line, e));
        }
      }
      const conflicts = findConflicts(
        valid.map((v) => v.phone),
        store.index,
      );
      for (const c of conflicts) {
        const name = c.split(':')[0]!;
        const row = rows.find((r) => r.input.name.trim() === name);
        errors.push(new SipsecError('DUPLICATE', `${file} line ${row?.line ?? '?'}: ${c}`));
      }
      if (errors.length > 0) {
        for (const e of errors) note(e.line());
        throw new SipsecError('BAD_INPUT', `${errors.length} of ${rows.length} row(s) in ${file} are invalid; nothing was issued`, 'fix the rows above and run the import again');
      }
      if (o.dryRun) {
        if (o.json) return printJson({ dryRun: true, valid: valid.length, imported: 0, seconds: null, files: null });
        note(`${valid.length} row(s) valid; nothing issued (--dry-run)`);
        return;
      }
      const bar = progress('issuing');
      const started = Date.now();
      const result = await addPhones(store, valid, passphraseSource(o.passphraseFile), { onProgress: (d, t) => bar.update(d, t) });
      bar.end();
      const rendered = await renderAfter(`${result.phones.length} phone(s) were imported`, () => rerenderPhones(store, result.phones.map((p) => p.name)));
      const seconds = (Date.now() - started) / 1000;
      if (o.json) return printJson({ dryRun: false, valid: valid.length, imported: result.phones.length, seconds, files: rendered.files.length });
      note(`imported ${result.phones.length} phone(s) in ${seconds.toFixed(1)} s (${(result.phones.length / Math.max(seconds, 0.001)).toFixed(1)}/s)`);
    });

  phone
    .command('list')
    .description('list the phones')
    .option('--json', 'print as JSON (secrets left out)')
    .addHelpText('after', '\nExamples:\n  sipsec phone list\n  sipsec phone list --json | jq -r \'.[].name\'')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const store = await openStore(cmd);
      if (o.json) return printJson(store.index.phones.map((p) => phoneView(store, p, false)));
      out(
        table(
          store.index.phones.map((p) => ({
            name: p.name,
            vendor: p.vendor,
            mac: p.mac ? formatMac(p.mac, 'colon') : '-',
            user: sipUser(p),
            ip: p.ips.join(' ') || '-',
            srtp: p.srtp,
            cert: certStatus(store, p.name),
          })),
          [
            ['name', 'NAME'],
            ['vendor', 'VENDOR'],
            ['mac', 'MAC'],
            ['user', 'SIP USER'],
            ['ip', 'IP'],
            ['srtp', 'SRTP'],
            ['cert', 'CERTIFICATE'],
          ],
        ) || 'no phones; add one with sipsec phone add NAME --vendor V --mac MAC\n',
      );
    });

  phone
    .command('show <name>')
    .description('show one phone')
    .option('--show-secret', 'include the SIP secret')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  sipsec phone show telefono1\n  sipsec phone show telefono1 --json --show-secret')
    .action(async (name: string, o: { json?: boolean; showSecret?: boolean }, cmd: Command) => {
      const store = await openStore(cmd);
      const p = findPhone(store, name);
      const view = phoneView(store, p, o.showSecret === true);
      if (o.json) return printJson(view);
      out(
        keyValues([
          ['Name', p.name],
          ['Vendor', p.vendor],
          ['MAC', p.mac ? formatMac(p.mac, 'colon') : undefined],
          ['AOR', view.aor],
          ['Display name', p.displayName],
          ['IP', p.ips.join(', ')],
          ['DNS', p.dns.join(', ')],
          ['SRTP', p.srtp],
          ['Line', p.line],
          ['Options', Object.entries(p.options).map(([k, v]) => `${k}=${String(v)}`).join(', ')],
          ['Secret', o.showSecret ? p.secret : '(hidden; --show-secret)'],
          ['Certificate', view.certificate ? `${view.certificate.serial} (${certStatus(store, p.name)})` : 'none'],
        ]),
      );
    });

  phone
    .command('remove <name>')
    .description('remove a phone from the inventory and revoke its certificate')
    .option('--passphrase-file <file>', 'the CA key passphrase')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  sipsec phone remove telefono1')
    .action(async (name: string, o: { passphraseFile?: string; json?: boolean }, cmd: Command) => {
      const store = await openStore(cmd);
      const p = findPhone(store, name);
      const pass = passphraseSource(o.passphraseFile);
      let revoked: string | undefined;
      if (store.current(p.name)) {
        revoked = (await revokeCert(store, p.name, 'cessationOfOperation', pass)).serial;
      }
      await store.update((draft) => {
        draft.phones = draft.phones.filter((x) => x.name !== p.name);
      });
      const gone = await renderAfter(`${p.name} was removed`, () => removePhoneFiles(store, p.name));
      if (o.json) return printJson({ removed: p.name, revokedSerial: revoked ?? null });
      note(`removed ${p.name}${revoked ? `; certificate ${revoked} revoked (cessationOfOperation), CRL updated` : ''}${gone.removed.length > 0 ? `; ${gone.removed.length} file(s) removed from ${gone.out}` : ''}`);
    });
}
