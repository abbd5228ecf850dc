import type { Command } from 'commander';
import * as path from 'node:path';
import { SipsecError } from '../../core/errors.js';
import { homePaths } from '../../home/paths.js';
import type { ResyncRequest, ResyncResult } from '../../serve/resync.js';
import { homeOf } from '../context.js';
import { note, out, printJson, table } from '../output.js';

/** Ask the running serve to NOTIFY phones; the library call behind `phone resync` and every `--resync`. */
export async function requestResync(home: string, req: ResyncRequest): Promise<ResyncResult[]> {
  const { postAction } = await import('../../serve/control.js');
  const answer = (await postAction(path.join(homePaths(home).root, 'serve.sock'), 'resync', req)) as { results?: ResyncResult[] };
  return answer.results ?? [];
}

function statusText(r: ResyncResult): string {
  if (typeof r.status === 'string') return r.status;
  return r.status >= 200 && r.status < 300 ? `${r.status} ${r.reason} (accepted)` : `${r.status} ${r.reason}`;
}

export function printResync(results: ResyncResult[], json: boolean): void {
  if (json) {
    printJson({ schema: 1, results });
    return;
  }
  out(
    table(
      results.map((r) => ({ phone: r.phone, vendor: r.vendor || '-', event: r.event ?? '-', status: statusText(r) })),
      [
        ['phone', 'PHONE'],
        ['vendor', 'VENDOR'],
        ['event', 'EVENT'],
        ['status', 'ANSWER'],
      ],
    ),
  );
  for (const r of results) if (r.note) note(`${r.phone}: ${r.note}`);
}

/** Exit 1 when a phone that was told did not accept (scripts and cron see it). */
export function resyncExitCode(results: ResyncResult[]): number {
  return results.every((r) => r.status === 'not-registered' || (typeof r.status === 'number' && r.status >= 200 && r.status < 300)) ? 0 : 1;
}

/**
 * `--resync` after a change (edit, renew, ca config): tell the phones, and
 * say so; without a running serve the change still stands, so that is a
 * note, not an error. With --json the answers go to stderr: stdout holds
 * the command's own JSON.
 */
export async function resyncAfterChange(home: string, req: ResyncRequest, json: boolean): Promise<ResyncResult[]> {
  try {
    const results = await requestResync(home, req);
    for (const r of results) note(`resync ${r.phone}: ${r.event ?? '-'} -> ${statusText(r)}${r.note ? ` (${r.note})` : ''}`);
    if (!json && results.length === 0) note('resync: no phones to tell');
    return results;
  } catch (e) {
    if (e instanceof SipsecError && e.code === 'NOT_RUNNING') {
      note('resync: no sipsec serve is running for this CA home, so no phone was told; they pick the change up at their next boot or periodic check');
      return [];
    }
    throw e;
  }
}

export function register(program: Command): void {
  const phone = program.commands.find((c) => c.name() === 'phone');
  if (!phone) throw new Error('phone command must be registered first');
  phone
    .command('resync [name]')
    .description('tell registered phones to fetch their files again (SIP NOTIFY over their own TLS connection, with the event their vendor expects)')
    .option('--all', 'every phone in the inventory')
    .option('--reboot', 'ask for a reboot too, where the vendor has such an event')
    .option('--timeout <seconds>', 'how long to wait for each answer', '5')
    .option('--json', 'print the answers as JSON')
    .addHelpText(
      'after',
      `
Needs a running "sipsec serve" on the same CA home: phones are reached only over the
connections they opened to its registrar. A phone that is not registered is reported
as not-registered (it fetches its files at its next boot or periodic check).

Examples:
  sipsec phone resync telefono1
  sipsec phone resync --all --reboot
  sipsec phone resync --all --json | jq '.results[] | select(.status != 200)'`,
    )
    .action(async (name: string | undefined, o: { all?: boolean; reboot?: boolean; timeout: string; json?: boolean }, cmd: Command) => {
      if (name !== undefined && o.all) throw new SipsecError('BAD_INPUT', 'give a phone name or --all, not both', 'sipsec phone resync NAME | --all');
      if (name === undefined && !o.all) throw new SipsecError('BAD_INPUT', 'which phones? give a phone name or --all', 'sipsec phone resync NAME | --all');
      const seconds = Number(o.timeout);
      if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 60) throw new SipsecError('BAD_INPUT', `--timeout must be 1-60 seconds, not ${JSON.stringify(o.timeout)}`);
      const results = await requestResync(homeOf(cmd), { ...(o.all ? { all: true } : { phones: [name!] }), reboot: o.reboot ?? false, timeoutMs: Math.round(seconds * 1000) });
      const unknown = results.find((r) => r.status === 'unknown-phone');
      if (unknown && !o.all) throw new SipsecError('BAD_INPUT', `no phone named ${unknown.phone}`, 'see sipsec phone list');
      printResync(results, o.json ?? false);
      process.exitCode = resyncExitCode(results);
    });
}
