import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { readServeLog } from '../../src/home/supersede.js';
import { cleanup, tmpDir } from '../helpers/cli.js';

/**
 * Renewal overlaps are settled from serve.log by every command: it reads
 * the log back only to the overlap's start, and still finds every event
 * since then, whatever chunk boundary a line straddles.
 */
test('readServeLog returns exactly the evidence since a time from a log of several megabytes', async (t) => {
  const dir = tmpDir('sipsec-log-');
  t.after(() => cleanup(dir));
  const file = path.join(dir, 'serve.log');
  const start = Date.parse('2026-01-01T00:00:00Z');
  const lines: string[] = [];
  // 60,000 lines (~6 MB), one a minute; padding varies so lines straddle the 1 MiB read chunks.
  for (let i = 0; i < 60_000; i++) {
    const time = new Date(start + i * 60_000).toISOString();
    const event = i % 3 === 0 ? 'tls.handshake' : i % 3 === 1 ? 'provision.fetch' : 'register.ok';
    lines.push(JSON.stringify({ time, event, phone: `p${i % 97}`, n: i, pad: 'x'.repeat(i % 53) }));
  }
  writeFileSync(file, lines.join('\n') + '\n');
  const since = new Date(start + 55_000 * 60_000);
  const evs = await readServeLog(file, since);
  const want = lines.map((l) => JSON.parse(l) as { n: number; event: string }).filter((e) => e.n >= 55_000 && e.event !== 'register.ok');
  assert.deepEqual(
    evs.map((e) => (e as unknown as { n: number }).n),
    want.map((e) => e.n),
  );
});
