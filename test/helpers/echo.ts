import { sipsec } from './cli.js';
import { freePort } from '../vendors/peer-stubs.js';

/**
 * Helpers shared by the echo tests (test/serve/echo-*.test.ts): an RTP
 * port range for `serve --rtp-ports`, and the echo's live calls as
 * `sipsec status --json` shows them.
 */

/** An even-based range near a port the OS just handed out; the echo's pool skips pairs another program holds. */
export async function rtpPortRange(size = 200): Promise<string> {
  const p = await freePort();
  const base = Math.min(p - (p % 2), 65534 - size);
  return `${base}-${base + size - 1}`;
}

export type LiveCall = Record<string, unknown>;

/** The echo's live calls from `sipsec status --json` (the CLI, as a user runs it). */
export function echoCalls(home: string): LiveCall[] {
  const r = sipsec(['--home', home, 'status', '--json'], { timeoutMs: 15_000 });
  if (r.code !== 0) throw new Error(`sipsec status failed (${r.code}): ${r.stderr}`);
  const status = JSON.parse(r.stdout) as { registrar?: { echo?: { calls?: LiveCall[] } } };
  return status.registrar?.echo?.calls ?? [];
}

/**
 * Polls `sipsec status --json` until a live call satisfies `pred` (bounded
 * in time; each poll is a CLI run, a few hundred milliseconds apart).
 */
export async function waitForEchoCall(home: string, pred: (c: LiveCall) => boolean, ms: number, what: string): Promise<LiveCall> {
  const deadline = Date.now() + ms;
  let last: LiveCall[] = [];
  while (Date.now() < deadline) {
    last = echoCalls(home);
    const hit = last.find(pred);
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`gave up waiting for ${what} after ${ms} ms; live calls: ${JSON.stringify(last).slice(0, 800)}`);
}
