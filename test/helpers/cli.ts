import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest ancestor of this compiled file that holds package.json and bin/sipsec. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'bin', 'sipsec'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('repository root not found');
}

/** The compiled CLI entry next to this compiled test tree (dist/ or a private build dir). */
export function cliEntry(): string {
  const here = path.dirname(fileURLToPath(import.meta.url));
  // <build>/test/helpers → <build>/src/cli/main.js
  return path.resolve(here, '..', '..', 'src', 'cli', 'main.js');
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Every CLI run in the tests checks the events serve writes against the catalog (src/serve/serve.ts strictEvents). */
const STRICT = { SIPSEC_STRICT_EVENTS: '1' };

const RUNNER = `const m = await import(process.argv[1]); process.exitCode = await m.main(process.argv.slice(2));`;

/** Run the sipsec CLI synchronously (bounded), as a user would, in a separate process. */
export function sipsec(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number; cwd?: string } = {}): RunResult {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', RUNNER, new URL(`file://${cliEntry()}`).href, ...args], {
    encoding: 'utf8',
    env: { ...process.env, SIPSEC_CA_PASSPHRASE: '', ...STRICT, ...opts.env },
    input: opts.input ?? '',
    timeout: opts.timeoutMs ?? 120_000,
    cwd: opts.cwd ?? repoRoot(),
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Start the CLI as a child process (for serve and kill tests). */
export function sipsecSpawn(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}) {
  return spawn(process.execPath, ['--input-type=module', '-e', RUNNER, new URL(`file://${cliEntry()}`).href, ...args], {
    env: { ...process.env, SIPSEC_CA_PASSPHRASE: '', ...STRICT, ...opts.env },
    cwd: opts.cwd ?? repoRoot(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export function tmpDir(prefix = 'sipsec-test-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/**
 * Remove a test's folder. Retried: node:test runs `after` hooks in the order they were added, so a
 * serve stopped by a later hook may still write into its home (serve.log, the files it follows)
 * while this runs, and rm meets a folder that is not empty any more.
 */
export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}

/** Run a peer program (bounded) and return its result. */
export function run(cmd: string, args: string[], opts: { input?: string | Buffer; timeoutMs?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {}): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input: opts.input ?? '', timeout: opts.timeoutMs ?? 60_000, cwd: opts.cwd, env: opts.env ?? process.env });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** `sipsec --home HOME ARGS...` (bounded, as a user runs it). */
export function inHome(home: string, ...args: string[]): RunResult {
  return sipsec(['--home', home, ...args]);
}

/** The same, which must succeed: a failure names the command and its stderr. */
export function okInHome(home: string, ...args: string[]): RunResult {
  const r = inHome(home, ...args);
  if (r.code !== 0) throw new Error(`sipsec ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r;
}
