import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { within } from '../vendors/peer-stubs.js';

/**
 * A screenshot of a local HTML file with headless Chromium (Debian
 * `chromium`): no sandbox (root in a container), no GPU, no network
 * side-traffic (QUIC, component updates, sync, background networking), a
 * fresh profile. Chromium runs in its own process group, so its helpers
 * (zygote, GPU and renderer processes) are stopped with it; bounded.
 */
export async function screenshot(bin: string, html: string, png: string, profileDir: string, size = '1200,800'): Promise<{ code: string; log: string }> {
  mkdirSync(profileDir, { recursive: true });
  const args = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    `--user-data-dir=${profileDir}`,
    `--screenshot=${png}`,
    `--window-size=${size}`,
    pathToFileURL(html).href,
  ];
  const child = spawn(bin, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(String(code ?? signal))));
  const killGroup = (sig: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, sig);
    } catch {
      // the group is gone already
    }
  };
  let code: string;
  try {
    code = await within(exited, 60_000, 'chromium to take the screenshot');
  } catch (e) {
    killGroup('SIGKILL');
    throw e;
  }
  // Any helper process left behind goes with the group.
  killGroup('SIGKILL');
  if (!existsSync(png)) throw new Error(`chromium (exit ${code}) wrote no screenshot:\n${log}`);
  return { code, log };
}
