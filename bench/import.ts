import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaStore } from '../src/home/store.js';
import { renderPhones, renderTree } from '../src/provision/render.js';
import { opensslLoop } from './issue.js';
import { phoneSheet, VENDOR_MIX } from './lib/fleet-csv.js';
import { argValue, fmt, printTable, rate } from './lib/report.js';

/**
 * `npm run bench -- import [--count 1000] [--key rsa2048]`: `sipsec phone
 * import` of a mixed-vendor CSV end to end (validation, certificates,
 * commit, rendering) through the real CLI, against the openssl loop's rate
 * in the same run; then the render of the whole tree alone.
 */
export async function run(args: string[]): Promise<void> {
  const count = argValue(args, '--count', 1000);
  const key = args.includes('--key') ? args[args.indexOf('--key') + 1]! : 'rsa2048';
  const root = mkdtempSync(path.join(os.tmpdir(), 'sipsec-bench-import-'));
  const cli = fileURLToPath(new URL('../../bin/sipsec', import.meta.url));
  const sip = (...a: string[]) => {
    const r = spawnSync(process.execPath, [cli, '--home', path.join(root, 'ca'), ...a], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`sipsec ${a.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  try {
    sip('ca', 'init', '--org', 'bench', '--domain', 'bench.test', '--key', 'rsa2048', '--leaf-key', key, '--no-passphrase', '--registrar', '10.0.0.1:5061', '--tftp-server', '10.0.0.1');
    const csv = path.join(root, 'phones.csv');
    writeFileSync(csv, phoneSheet(count));
    console.log(`phone import of ${count} phones (${VENDOR_MIX.length} vendors, ${key} keys) through the CLI, ${os.cpus().length} cores`);
    const t0 = performance.now();
    sip('phone', 'import', csv);
    const importMs = performance.now() - t0;

    const loopN = Math.max(20, Math.round(count / 25));
    const loopDir = mkdtempSync(path.join(root, 'loop-'));
    const caDir = path.join(root, 'ca');
    const loopMs = opensslLoop(loopDir, path.join(caDir, 'ca.crt'), path.join(caDir, 'private', 'ca.key'), loopN, key === 'p256' ? 'p256' : 'rsa2048');

    const store = await CaStore.open(caDir);
    const t1 = performance.now();
    const rendered = await renderTree(store, path.join(root, 'render'));
    const renderMs = performance.now() - t1;
    // What every change costs: one phone re-rendered into the full tree, and a full re-render that finds nothing changed.
    const t2 = performance.now();
    const one = await renderPhones(store, ['p0'], rendered.out);
    const oneMs = performance.now() - t2;
    const t3 = performance.now();
    await renderTree(store, rendered.out);
    const againMs = performance.now() - t3;

    printTable('import, end to end', ['', 'phones/s', 'ratio'], [
      ['sipsec phone import', fmt(rate(count, importMs)), `${(rate(count, importMs) / rate(loopN, loopMs)).toFixed(1)}x`],
      [`openssl loop (${loopN} certificates)`, fmt(rate(loopN, loopMs)), '1.0x'],
    ]);
    printTable('render alone', ['phones', 'files', 'total ms', 'ms per phone', 'target'], [[String(count), String(rendered.files.length), fmt(renderMs, 0), (renderMs / count).toFixed(2), '< 20']]);
    printTable('re-render', ['case', 'files', 'ms'], [
      ['one phone (p0) in the full tree', String(one.files.length), fmt(oneMs, 1)],
      ['whole tree, nothing changed', String(rendered.files.length), fmt(againMs, 0)],
    ]);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
