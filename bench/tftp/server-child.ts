/**
 * sipsec's TFTP server in a process of its own for the benchmark, so it has
 * its own event loop like in.tftpd has its own processes. Serves every file
 * of a directory from memory (as `sipsec serve` serves rendered configs),
 * with the server's default limits. Prints "PORT <n>" once listening and a
 * JSON summary of its events on SIGTERM.
 *
 *   node server-child.js <dir>
 */
import fs from 'node:fs';
import path from 'node:path';
import { createTftpServer } from '../../src/provision/tftp/index.js';
import type { TftpLookupResult } from '../../src/provision/tftp/index.js';

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: server-child.js <dir>');
  const files = new Map<string, Buffer>();
  for (const name of fs.readdirSync(dir)) files.set(name, fs.readFileSync(path.join(dir, name)));
  const results: Record<string, number> = {};
  const server = await createTftpServer({
    host: '127.0.0.1',
    port: 0,
    lookup: (name): TftpLookupResult => {
      const data = files.get(name);
      return data ? { ok: true, data } : { ok: false, code: 1, message: 'file not found' };
    },
    onEvent: (ev) => {
      const key = ev.event === 'tftp.transfer' ? ev.result : ev.event;
      results[key] = (results[key] ?? 0) + 1;
    },
  });
  process.stdout.write(`PORT ${server.address().port}\n`);
  process.on('SIGTERM', () => {
    void server.close().then(() => {
      process.stdout.write(`EVENTS ${JSON.stringify(results)}\n`);
      process.exit(0);
    });
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
