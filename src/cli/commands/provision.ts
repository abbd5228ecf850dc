import * as path from 'node:path';
import { Command } from 'commander';
import { openStore } from '../context.js';
import { note, out, printJson, table } from '../output.js';

export function register(program: Command): void {
  const prov = program.command('provision').description('the provisioning tree: render it, list the routes servers answer, list the vendors');

  prov
    .command('render')
    .description('write the whole provisioning tree (every phone, every vendor file), replacing the previous one')
    .option('--out <dir>', 'where (default: provision/ in the CA home)')
    .option('--json', 'print the written files as JSON')
    .addHelpText('after', '\nbaresip and linphone phones also get a ready directory <out>/<name>/ to run from.\n\nExamples:\n  sipsec provision render\n  sipsec provision render --out /srv/tftp')
    .action(async (o: { out?: string; json?: boolean }, cmd: Command) => {
      const store = await openStore(cmd);
      // The default tree lives in the CA home: a read-only home is one clear line, not an EROFS half-way.
      if (o.out === undefined) await store.assertWritable();
      const { renderTree } = await import('../../provision/render.js');
      const r = await renderTree(store, o.out ?? store.paths.provisionDir);
      if (o.json) return printJson({ out: r.out, files: r.files.map((f) => path.relative(r.out, f)) });
      for (const l of r.lines) note(l);
      note(`${r.files.length} file(s) in ${r.out}`);
    });

  prov
    .command('routes')
    .description('every route a server answers: path, phone, vendor, content type, whether it holds key material')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  sipsec provision routes\n  sipsec provision routes --json | jq -r \'.[] | select(.holdsKey) | .path\'')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const store = await openStore(cmd);
      const { buildRoutes } = await import('../../provision/routes.js');
      const t = await buildRoutes(store);
      const rows = t.routes.map((r) => ({ path: r.path, phone: r.phone ?? null, vendor: r.vendor, contentType: r.contentType, holdsKey: r.holdsKey, transports: r.transports, bytes: r.content.length, aliases: r.aliases }));
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
