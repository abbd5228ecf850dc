import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { initCa } from '../src/home/operations.js';
import { CaStore } from '../src/home/store.js';
import type { KeySpec } from '../src/pki/keys.js';
import { argValue, fmt, printTable, rate } from './lib/report.js';

/**
 * `npm run bench -- issue [--count 500] [--key rsa2048|p256] [--ca both|rsa2048|same]`: phone certificates through
 * sipsec (keys on the thread pool, signed, written and committed like
 * `phone import`) against an ast_tls_cert-style openssl loop (key, CSR,
 * sign per phone, one process each), both under the same RSA-2048 CA.
 */

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.toString()}`);
}

export function opensslLoop(dir: string, caCrt: string, caKey: string, count: number, key: KeySpec): number {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const name = `phone${i}`;
    const cfg = path.join(dir, `${name}.cfg`);
    writeFileSync(cfg, `[req]\ndistinguished_name = req_dn\nprompt = no\n[req_dn]\nCN=${name}\nO=bench\n`);
    const k = path.join(dir, `${name}.key`);
    if (key === 'p256') sh('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', k]);
    else sh('openssl', ['genrsa', '-out', k, '2048']);
    sh('openssl', ['req', '-batch', '-config', cfg, '-new', '-key', k, '-out', path.join(dir, `${name}.csr`)]);
    const serial = spawnSync('openssl', ['rand', '-hex', '8'], { encoding: 'utf8' }).stdout.trim();
    sh('openssl', ['x509', '-req', '-days', '365', '-in', path.join(dir, `${name}.csr`), '-CA', caCrt, '-CAkey', caKey, '-set_serial', `0x${serial}`, '-out', path.join(dir, `${name}.crt`)]);
    writeFileSync(path.join(dir, `${name}.pem`), readFileSync(k, 'utf8') + readFileSync(path.join(dir, `${name}.crt`), 'utf8'));
  }
  return performance.now() - t0;
}

async function sipsecIssue(home: string, count: number, key: KeySpec, tag: string): Promise<number> {
  const store = await CaStore.open(home);
  const signer = await store.signer(async () => undefined);
  const t0 = performance.now();
  const reqs = Array.from({ length: count }, (_, i) => ({ name: `${tag}${i}`, kind: 'phone' as const, cn: `${tag}${i}`, sans: { dns: [`${tag}${i}`], ip: [], uri: [`sip:${tag}${i}@bench.test`] }, keySpec: key, days: 365 }));
  for (let i = 0; i < reqs.length; i += 100) {
    const prepared = await store.prepare(reqs.slice(i, i + 100), signer);
    await store.update((draft) => {
      for (const p of prepared) draft.certificates.push(p.entry);
    });
  }
  return performance.now() - t0;
}

export async function run(args: string[]): Promise<void> {
  const count = argValue(args, '--count', 500);
  const caArg = args.includes('--ca') ? args[args.indexOf('--ca') + 1] : 'both';
  if (caArg !== 'rsa2048' && caArg !== 'same' && caArg !== 'both') throw new Error('--ca takes rsa2048 (an RSA-2048 CA, as the issue\'s baseline), same (a CA of the leaves\' key type) or both');
  const root = mkdtempSync(path.join(os.tmpdir(), 'sipsec-bench-issue-'));
  try {
    const rows: string[][] = [];
    const keys = args.includes('--key') ? [args[args.indexOf('--key') + 1] as 'rsa2048' | 'p256'] : (['rsa2048', 'p256'] as const);
    // Both sides always sign with the same CA: RSA-2048 (the issue's baseline), and for P-256 leaves
    // also a P-256 CA, where the openssl loop barely changes (process start-up) and sipsec does not wait on RSA signing.
    const runs: Array<[KeySpec, KeySpec]> = keys.flatMap((k): Array<[KeySpec, KeySpec]> => (caArg === 'rsa2048' || k === 'rsa2048' ? [[k, 'rsa2048']] : caArg === 'same' ? [[k, k]] : [[k, 'rsa2048'], [k, k]]));
    for (const [key, caKeyType] of runs) {
      const home = path.join(root, `ca-${key}-${caKeyType}`);
      await initCa(home, { org: 'bench', domain: 'bench.test', cn: 'bench CA', caKey: caKeyType, hash: 'sha256', caDays: 3650, leafKey: key, leafDays: 365, registrar: { host: 'bench.test', port: 5061 }, force: false }, undefined);
      const caCrt = path.join(home, 'ca.crt');
      const caKey = path.join(home, 'private', 'ca.key');
      const loopDir = mkdtempSync(path.join(root, `loop-${key}-${caKeyType}-`));
      process.stdout.write(`  ${key} leaves, ${caKeyType} CA: sipsec... `);
      const s = await sipsecIssue(home, count, key, `${key}${caKeyType}`);
      process.stdout.write(`${fmt(rate(count, s))}/s; openssl loop... `);
      const o = opensslLoop(loopDir, caCrt, caKey, count, key);
      console.log(`${fmt(rate(count, o))}/s`);
      rows.push([key, caKeyType, fmt(rate(count, s)), fmt(rate(count, o)), `${(rate(count, s) / rate(count, o)).toFixed(1)}x`, key === 'rsa2048' ? '4x' : '50x']);
    }
    printTable(`phone certificates per second (${count} per run, ${os.cpus().length} cores)`, ['leaf key', 'CA key', 'sipsec', 'openssl loop', 'ratio', 'target'], rows);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
