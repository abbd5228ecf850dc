import { Command, Option } from 'commander';
import { SipsecError } from '../../core/errors.js';
import { KEY_SPECS } from '../../pki/keys.js';
import { SRTP_MODES, type Phone } from '../../home/schema.js';
import { formatMac } from '../../pki/names.js';
import type { CaStore } from '../../home/store.js';
import { findPhone, sipUser, type PhoneInput } from '../../inventory/phones.js';
import type { ImportMode } from '../../inventory/import.js';
import type { PhoneEdit } from '../../inventory/edit.js';
import { vendorIds } from '../../vendors/registry.js';
import { collect, collectOption, homeOf, openStore, passphraseSource } from '../context.js';
import { keyValues, note, out, printJson, progress, shortDate, table } from '../output.js';
import { phoneJson } from '../json.js';

// Start-up loads only flags and help: each action imports what it runs, since every command pays for start-up.

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

/** Commander gives '' for `--ext ''`: that clears the field. */
function clearable(v: unknown): string | null | undefined {
  if (typeof v !== 'string') return undefined;
  return v.trim() === '' ? null : v;
}

export function register(program: Command): void {
  const phone = program.command('phone').description('the phone inventory: add (issues the certificate and renders the files), edit, import, export, list, show, remove');

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
      const [{ addPhones, validatePhone }, { isVendorId, loadVendor }, { askChoice, askText, interactive }, { renderAfter, rerenderPhones }, { checkExposedSecrets, checkNames }, { doctorInput }, { printFindings }] = await Promise.all([
        import('../../inventory/phones.js'),
        import('../../vendors/registry.js'),
        import('../prompt.js'),
        import('../../provision/hooks.js'),
        import('../../doctor/checks.js'),
        import('../../doctor/doctor.js'),
        import('./doctor.js'),
      ]);
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
      const checks = await doctorInput(store, { phones: [valid.phone], readCrl: false });
      printFindings([...checkExposedSecrets(checks), ...checkNames(checks)]);
      if (o.json) return printJson({ ...phoneView(store, valid.phone, false), files: rendered.files });
      note(`added ${valid.phone.name} (${valid.phone.vendor}${valid.phone.mac ? `, MAC ${formatMac(valid.phone.mac, 'colon')}` : ''}) as sip:${sipUser(valid.phone)}@${store.config.domain}`);
      for (const line of rendered.lines) note(line);
    });

  phone
    .command('edit <name>')
    .description('change a phone in place: its certificate is re-issued only when a name in it changes (the old one stays valid meanwhile), its files are re-rendered')
    .option('--ip <address>', 'the phone\'s IP addresses, replacing the recorded ones (repeatable)', collect)
    .option('--add-ip <address>', 'add an IP address (repeatable)', collect)
    .option('--remove-ip <address>', 'remove an IP address (repeatable)', collect)
    .option('--dns <name>', 'the phone\'s DNS names, replacing the recorded ones (repeatable)', collect)
    .option('--ext <ext>', 'extension / SIP user name (\'\' = the phone name)')
    .option('--display-name <name>', 'caller ID name (\'\' clears it)')
    .addOption(new Option('--srtp <mode>', 'media encryption the phone is set to and held to').choices(SRTP_MODES))
    .option('--line <n>', 'account/line number on the phone')
    .option('--option <key=value>', 'set a vendor option (repeatable), validated by the vendor module', collectOption)
    .option('--unset-option <key>', 'remove a vendor option (repeatable)', collect)
    .option('--mac <mac>', 'MAC address')
    .option('--secret <secret>', 'new SIP digest password')
    .option('--rotate-secret', 'generate a new 128-bit SIP digest password')
    .option('--passphrase-file <file>', 'the CA key passphrase (needed only when the certificate is re-issued)')
    .option('--show-secret', 'include the SIP secret in --json')
    .option('--resync', 'then tell the phone to fetch its files again (needs a running sipsec serve)')
    .option('--json', 'print the updated phone as JSON')
    .addHelpText(
      'after',
      `
A certificate names the phone, its IPs, its DNS names and sip:<ext>@<domain>: changing one of those
issues a new certificate, and the old one stays valid (not revoked) for 14 days so the phone keeps
registering until it has fetched its new files. Any other change keeps the certificate.
A running sipsec serve picks the change up by itself (new address, secret, files).

Examples:
  sipsec phone edit telefono1 --ip 10.0.1.140 --resync   # the phone moved: new address, new certificate, told to fetch it
  sipsec phone edit telefono1 --add-ip 2001:db8::132
  sipsec phone edit telefono1 --ext 201 --display-name "Reception"
  sipsec phone edit telefono1 --rotate-secret --json --show-secret
  sipsec phone edit lobby --option model=t46g --unset-option persistent_tls`,
    )
    .action(async (name: string, o: Record<string, unknown>, cmd: Command) => {
      const edit: PhoneEdit = {
        ...(o.ip !== undefined ? { ips: o.ip as string[] } : {}),
        ...(o.addIp !== undefined ? { addIps: o.addIp as string[] } : {}),
        ...(o.removeIp !== undefined ? { removeIps: o.removeIp as string[] } : {}),
        ...(o.dns !== undefined ? { dns: o.dns as string[] } : {}),
        ...(o.ext !== undefined ? { ext: clearable(o.ext) ?? null } : {}),
        ...(o.displayName !== undefined ? { displayName: clearable(o.displayName) ?? null } : {}),
        ...(o.srtp !== undefined ? { srtp: o.srtp as string } : {}),
        ...(o.line !== undefined ? { line: o.line as string } : {}),
        ...(o.option !== undefined ? { options: o.option as Record<string, string> } : {}),
        ...(o.unsetOption !== undefined ? { unsetOptions: o.unsetOption as string[] } : {}),
        ...(o.mac !== undefined ? { mac: clearable(o.mac) ?? null } : {}),
        ...(o.secret !== undefined ? { secret: o.secret as string } : {}),
        ...(o.rotateSecret ? { rotateSecret: true } : {}),
      };
      const [{ checkEdit, editPhone }, { renderAfter, rerenderPhones }, { resyncAfterChange }] = await Promise.all([import('../../inventory/edit.js'), import('../../provision/hooks.js'), import('./resync.js')]);
      // Contradicting flags are refused before the CA home is even opened.
      checkEdit(edit);
      const store = await openStore(cmd);
      const before = findPhone(store, name);
      const r = await editPhone(store, before, edit, passphraseSource(o.passphraseFile as string | undefined));
      // The phone's files follow (a new MAC replaces the old MAC's files).
      const rendered = r.changed.length > 0 ? await renderAfter(`${r.phone.name} was edited`, () => rerenderPhones(store, [r.phone.name])) : { files: [], lines: [] };
      if (o.resync && r.changed.length > 0) await resyncAfterChange(homeOf(cmd), { phones: [r.phone.name] }, o.json === true);
      const superseded = r.superseded ? { serial: r.superseded.serial, graceUntil: r.superseded.graceUntil ?? null } : null;
      if (o.json) return printJson({ ...phoneView(store, r.phone, o.showSecret === true), changed: r.changed, reissued: r.reissued, superseded, files: rendered.files });
      if (r.changed.length === 0) return note(`${r.phone.name}: nothing to change`);
      note(`edited ${r.phone.name}: ${r.changed.join(', ')}`);
      if (r.reissued && r.certificate && superseded) {
        note(`new certificate ${r.certificate.serial} (a name in it changed); the old one ${superseded.serial} stays valid until ${shortDate(superseded.graceUntil ?? '')} so the phone keeps working until it fetches its new files`);
      } else if (!r.certificate) {
        note(`${r.phone.name} has no valid certificate: issue one with sipsec cert renew ${r.phone.name}`);
      } else {
        note(`certificate ${r.certificate.serial} kept (no name in it changed)`);
      }
      if (rendered.files.length > 0) note(`re-rendered ${rendered.files.length} file(s) in ${store.paths.provisionDir}`);
    });

  phone
    .command('import <file>')
    .description('add many phones from a CSV file (or update them with --update): every row is validated first, then certificates are issued')
    .option('--update', 'change phones already in the inventory in place (same rules as phone edit) and add the new ones')
    .option('--skip-existing', 'leave phones already in the inventory alone and add only the new ones')
    .option('--dry-run', 'validate only; write nothing')
    .option('--passphrase-file <file>', 'the CA key passphrase')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `
The header row names the columns (any order): name,vendor,mac,ext,ip,dns,secret,display_name,srtp,line,key,days
and option:KEY for a vendor option (a bare vendor option name such as model works too). Other columns
(notes, room...) are ignored with a warning. The separator (, ; or tab) is read from the header row.
Several IPs or DNS names in a cell are separated by spaces or ';'.

With --update a row describes the phone as phone add would read it, for the columns the sheet has:
an empty cell clears the field (no MAC, no extension) or means the default (SRTP mandatory, line 1),
except secret, where an empty cell keeps the current secret. The certificate is re-issued only when a
name in it changes; the old one stays valid for 14 days. sipsec phone export writes such a sheet.

Examples:
  sipsec phone import phones.csv --dry-run
  sipsec phone import phones.csv
  sipsec phone export > phones.csv     # edit in a spreadsheet, then:
  sipsec phone import phones.csv --update

  name,vendor,mac,ext,ip
  telefono1,aastra,00:08:5d:12:34:56,101,10.0.1.132
  telefono2,grandstream,00:0b:82:12:34:56,102,10.0.1.134`,
    )
    .action(async (file: string, o: { update?: boolean; skipExisting?: boolean; dryRun?: boolean; passphraseFile?: string; json?: boolean }, cmd: Command) => {
      if (o.update && o.skipExisting) throw new SipsecError('BAD_INPUT', '--update and --skip-existing contradict each other', 'use --update to change existing phones, or --skip-existing to leave them alone');
      const mode: ImportMode = o.update ? 'update' : o.skipExisting ? 'skip-existing' : 'add';
      const [{ planImport, readPhoneCsv }, { applyEdits }, { addPhones }, { renderAfter, rerenderPhones }] = await Promise.all([
        import('../../inventory/import.js'),
        import('../../inventory/edit.js'),
        import('../../inventory/phones.js'),
        import('../../provision/hooks.js'),
      ]);
      const store = await openStore(cmd);
      const sheet = await readPhoneCsv(file);
      for (const w of sheet.warnings) note(`warning: ${w}`);
      const plan = await planImport(store, sheet, mode);
      if (plan.errors.length > 0) {
        // A sheet imported twice: the one error says what to run instead.
        if (plan.existing.length > 0 && plan.errors.length === 1) throw new SipsecError('BAD_INPUT', `${plan.errors[0]!.message}; nothing was issued`, plan.errors[0]!.hint);
        for (const e of plan.errors) note(e.line());
        throw new SipsecError(
          'BAD_INPUT',
          `${plan.badLines.length} of ${sheet.rows.length} row(s) in ${file} are invalid; nothing was issued`,
          plan.existing.length > 0 ? 'fix the rows above and run the import again; for phones already in the inventory add --update or --skip-existing' : 'fix the rows above and run the import again',
        );
      }
      const reissue = plan.update.filter((u) => u.reissue).length;
      const summary = { schema: 1 as const, added: plan.add.length, updated: plan.update.length, reissued: reissue, unchanged: plan.unchanged.length, skipped: plan.skipped.length, warnings: sheet.warnings };
      if (o.dryRun) {
        const valid = plan.add.length + plan.update.length + plan.unchanged.length + plan.skipped.length;
        if (o.json) return printJson({ ...summary, dryRun: true, valid, imported: 0, seconds: null, files: null });
        note(`${valid} row(s) valid: ${plan.add.length} to add, ${plan.update.length} to update (${reissue} certificate(s) re-issued), ${plan.unchanged.length} unchanged, ${plan.skipped.length} skipped; nothing issued (--dry-run)`);
        return;
      }
      const pass = passphraseSource(o.passphraseFile);
      const started = Date.now();
      // Changes first: a new phone may take an extension or MAC that a changed one gives up.
      const edited = await applyEdits(store, plan.update, pass);
      const bar = progress('issuing');
      const result = await addPhones(store, plan.add, pass, { onProgress: (d, t) => bar.update(d, t) });
      bar.end();
      const changedNames = edited.map((e) => e.phone.name);
      const rendered = await renderAfter(`${result.phones.length + changedNames.length} phone(s) were imported or updated`, () => rerenderPhones(store, [...result.phones.map((p) => p.name), ...changedNames]));
      const seconds = (Date.now() - started) / 1000;
      if (o.json) return printJson({ ...summary, dryRun: false, valid: plan.add.length + plan.update.length + plan.unchanged.length + plan.skipped.length, imported: result.phones.length, seconds, files: rendered.files.length });
      if (mode === 'add' || result.phones.length > 0) note(`imported ${result.phones.length} phone(s) in ${seconds.toFixed(1)} s (${(result.phones.length / Math.max(seconds, 0.001)).toFixed(1)}/s)`);
      if (mode === 'update') note(`updated ${edited.length} phone(s) in place (${reissue} certificate(s) re-issued; each old one stays valid 14 days), ${plan.unchanged.length} unchanged`);
      if (mode === 'skip-existing') note(`skipped ${plan.skipped.length} phone(s) already in the inventory`);
    });

  phone
    .command('export')
    .description('write the inventory in the import format (CSV, or JSON): edit it in a spreadsheet and import it back with --update')
    .option('--csv', 'CSV with a header row (the default)')
    .option('--json', 'JSON: { schema: 1, phones: [...] }')
    .option('--show-secret', 'include the SIP secrets (a secret column); without it an import --update keeps every secret')
    .addHelpText('after', '\nExamples:\n  sipsec phone export > phones.csv\n  sipsec phone import phones.csv --update\n  sipsec phone export --json | jq -r \'.phones[].name\'')
    .action(async (o: { csv?: boolean; json?: boolean; showSecret?: boolean }, cmd: Command) => {
      if (o.csv && o.json) throw new SipsecError('BAD_INPUT', '--csv and --json contradict each other', 'choose one format');
      const { exportCsv, exportJson } = await import('../../inventory/export.js');
      const store = await openStore(cmd);
      const phones = store.index.phones;
      if (o.json) return printJson(exportJson(phones, { showSecret: o.showSecret === true }));
      out(exportCsv(phones, { showSecret: o.showSecret === true }));
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
      const [{ revokeAllOf }, { removePhoneFiles, renderAfter }] = await Promise.all([import('../../home/supersede.js'), import('../../provision/hooks.js')]);
      const store = await openStore(cmd);
      const p = findPhone(store, name);
      const pass = passphraseSource(o.passphraseFile);
      // The current certificate and any older one still in its overlap after an edit.
      const all = await revokeAllOf(store, p.name, 'cessationOfOperation', pass);
      const revoked = all.at(-1)?.serial;
      await store.update((draft) => {
        draft.deletePhone(p.name);
      });
      const gone = await renderAfter(`${p.name} was removed`, () => removePhoneFiles(store, p.name, { vendor: p.vendor }));
      if (o.json) return printJson({ removed: p.name, revokedSerial: revoked ?? null, revokedSerials: all.map((c) => c.serial) });
      note(`removed ${p.name}${revoked ? `; certificate${all.length > 1 ? 's' : ''} ${all.map((c) => c.serial).join(', ')} revoked (cessationOfOperation), CRL updated` : ''}${gone.removed.length > 0 ? `; ${gone.removed.length} file(s) removed from ${gone.out}` : ''}`);
    });
}
