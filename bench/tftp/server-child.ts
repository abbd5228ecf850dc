/**
 * sipsec's TFTP server in a process of its own for the benchmark, so it has
 * its own event loop like in.tftpd has its own processes. Serves every file
 * of a directory from memory (as `sipsec serve` serves rendered configs),
 * with the server's default limits (those `sipsec serve` runs with).
 * Prints "PORT <n>" once listening; each "STATS" line on stdin is answered
 * with "STATS <json>", the running totals of its events (see ServerCounts),
 * so the bench can tell what the server saw (refusals, retransmissions).
 *
 *   node server-child.js <dir>
 */
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { createTftpServer } from '../../src/provision/tftp/index.js';
import type { TftpEvent, TftpLookupResult } from '../../src/provision/tftp/index.js';

/** Totals since start: transfers per result ("ok", "busy", "timeout", ...) and DATA/OACK packets resent. */
export interface ServerCounts {
  results: Record<string, number>;
  retransmits: number;
}

function counter(): { counts: ServerCounts; onEvent: (ev: TftpEvent) => void } {
  const counts: ServerCounts = { results: {}, retransmits: 0 };
  const add = (key: string, n: number): void => {
    counts.results[key] = (counts.results[key] ?? 0) + n;
  };
  const onEvent = (ev: TftpEvent): void => {
    if (ev.event === 'tftp.transfer') {
      add(ev.result, 1);
      counts.retransmits += ev.retransmits;
    } else if (ev.event === 'tftp.suppressed') {
      // Refusals past the event gate's rate still count (their retransmits are 0: none started).
      for (const [kind, n] of Object.entries(ev.by)) add(kind, n);
    } else {
      add(ev.event, 1);
    }
  };
  return { counts, onEvent };
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: server-child.js <dir>');
  const files = new Map<string, Buffer>();
  for (const name of fs.readdirSync(dir)) files.set(name, fs.readFileSync(path.join(dir, name)));
  const { counts, onEvent } = counter();
  const server = await createTftpServer({
    host: '127.0.0.1',
    port: 0,
    lookup: (name): TftpLookupResult => {
      const data = files.get(name);
      return data ? { ok: true, data } : { ok: false, code: 1, message: 'file not found' };
    },
    onEvent,
  });
  process.stdout.write(`PORT ${server.address().port}\n`);
  readline.createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() === 'STATS') process.stdout.write(`STATS ${JSON.stringify(counts)}\n`);
  });
  process.on('SIGTERM', () => {
    void server.close().then(() => process.exit(0));
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
