import * as path from 'node:path';
import { Command } from 'commander';
import { openStore } from '../context.js';
import { note, out, printJson, table } from '../output.js';

export function register(program: Command): void {
  const prov = program.command('provision').description('the provisioning tree: render it, list the routes servers answer, list the vendors');

  prov
    .command('render')
    .description('rebuild the whole provisioning tree: every phone, every vendor file; replaces and removes only the files sipsec wrote there')
    .option('--out <dir>', 'where (default: provision/ in the CA home, which every change re-renders by itself)')
    .option('--force', 'replace files of the same name that sipsec did not write (never folders)')
    .option('--json', 'print what was written, left as it was, and removed, as JSON')
    .addHelpText(
      'after',
      `
The tree in the CA home follows every change (phone add/import/remove, cert renew/revoke, ca config)
by itself; run this for a full rebuild, or to keep a tree elsewhere (--out) in step.
A manifest in the folder (.sipsec-manifest.json) lists the files sipsec wrote: only those are replaced
or removed, everything else (firmware images, other files in a TFTP root) is left alone. A file of the
same name that sipsec did not write is refused unless --force. Each file is replaced atomically.
baresip and linphone phones also get a ready directory <out>/<name>/ to run from.

Examples:
  sipsec provision render
  sipsec provision render --out /srv/tftp
  sipsec provision render --out /srv/tftp --force --json`,
    )
    .action(async (o: { out?: string; force?: boolean; json?: boolean }, cmd: Command) => {
      const store = await openStore(cmd);
      // The default tree lives in the CA home: a read-only home is one clear line, not an EROFS half-way.
      if (o.out === undefined) await store.assertWritable();
      const { renderTree } = await import('../../provision/render.js');
      const r = await renderTree(store, o.out ?? store.paths.provisionDir, { force: o.force === true });
      if (o.out !== undefined) {
        const { recordOut } = await import('../../provision/outs.js');
        await recordOut(store, o.out);
      }
      if (o.json) return printJson({ schema: 1, out: r.out, files: r.files.map((f) => path.relative(r.out, f)), written: r.written, unchanged: r.unchanged, removed: r.removed });
      for (const l of r.lines) note(l);
      note(`${r.files.length} file(s) in ${r.out}: ${r.written.length} written, ${r.unchanged.length} unchanged, ${r.removed.length} removed`);
    });

  prov
    .command('routes')
    .description('every route a server answers: path, phone, vendor, content type, whether it holds key material')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  sipsec provision routes\n  sipsec provision routes --json | jq -r \'.[] | select(.holdsKey) | .path\'')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const store = await openStore(cmd);
      const { listRoutes } = await import('../../provision/listing.js');
      const { rows } = await listRoutes(store);
      if (o.json) return printJson(rows);
      out(
        table(
          rows.map((r) => ({ path: r.path + (r.aliases.length ? ` (+${r.aliases.join(', ')})` : ''), phone: r.phone ?? '(all)', vendor: r.vendor, type: r.contentType, key: r.holdsKey ? 'KEY' : '', via: r.transports.join(',') })),
          [
            ['path', 'PATH'],
            ['phone', 'PHONE'],
            ['vendor', 'VENDOR'],
            ['type', 'CONTENT TYPE'],
            ['key', 'KEY'],
            ['via', 'SERVED OVER'],
          ],
        ) || 'no routes: add phones with sipsec phone add\n',
      );
    });

  prov
    .command('vendors')
    .description('the vendors sipsec provisions, with their transports, certificate delivery and SRTP suites')
    .option('--json', 'print the full descriptors (quirks and sources included) as JSON')
    .addHelpText('after', '\nExamples:\n  sipsec provision vendors\n  sipsec provision vendors --json | jq \'.[] | select(.id=="aastra") | .quirks\'')
    .action(async (o: { json?: boolean }) => {
      const { loadAllVendors } = await import('../../vendors/registry.js');
      const vendors = await loadAllVendors();
      if (o.json) return printJson(vendors.map((v) => v.descriptor));
      out(
        table(
          vendors.map((v) => ({ id: v.descriptor.id, name: v.descriptor.name, via: v.descriptor.transports.join(','), certs: v.descriptor.certDelivery.join(','), srtp: v.descriptor.srtp.suites.map((s) => s.replace('AES_CM_128_HMAC_SHA1_', 'CM128_').replace('AES_256_CM_HMAC_SHA1_', 'CM256_').replace('AEAD_AES_', 'GCM')).join(' ') })),
          [
            ['id', 'ID'],
            ['name', 'NAME'],
            ['via', 'FETCHES OVER'],
            ['certs', 'CERTIFICATES'],
            ['srtp', 'SRTP (preferred first)'],
          ],
        ),
      );
    });
}
