import { spawnSync } from 'node:child_process';
import { appendFileSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * A private PostgreSQL for tests: Debian's server binaries, a throw-away
 * data directory and port, trust authentication on 127.0.0.1 only. Run as
 * the `postgres` user when the tests run as root (PostgreSQL refuses root);
 * no root login or system cluster is touched. Missing binaries fail with
 * the install command, never a skip.
 */

export interface PgCluster {
  port: number;
  dir: string;
  /** A URL for one database (created by createDatabase). */
  url(db: string, query?: string): string;
  createDatabase(name: string): void;
  /** Run SQL through psql as the superuser; stdout. */
  psql(db: string, sql: string): string;
  /** Stop the server, keeping its data (an outage); `resume` starts it again on the same port. */
  pause(): void;
  resume(): void;
  stop(): void;
}

export function postgresBinDir(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => existsSync(path.join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) throw new Error("peer 'postgres' is missing: install it with: apt-get install -y --no-install-recommends postgresql (or run: node scripts/peers.mjs --install)");
  return path.join(base, versions[0]!, 'bin');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

const asRoot = process.getuid?.() === 0;

function run(bin: string, args: string[], input?: string): string {
  const cmd = asRoot ? 'runuser' : bin;
  const argv = asRoot ? ['-u', 'postgres', '--', bin, ...args] : args;
  const r = spawnSync(cmd, argv, { encoding: 'utf8', input, timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${path.basename(bin)} ${args.slice(0, 3).join(' ')} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
}

export async function startPostgres(): Promise<PgCluster> {
  const bin = postgresBinDir();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sipsec-pg-'));
  if (asRoot) chownSync(dir, uidOf('postgres'), gidOf('postgres'));
  const data = path.join(dir, 'data');
  run(path.join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const port = await freePort();
  // Throw-away data: no fsync. Only 127.0.0.1 and a socket in the private folder.
  appendFileSync(
    path.join(data, 'postgresql.conf'),
    `port = ${port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '${dir}'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n`,
  );
  const start = () => run(path.join(bin, 'pg_ctl'), ['-D', data, '-l', path.join(dir, 'log'), '-w', '-t', '60', 'start']);
  start();
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      run(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // Already gone.
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stop);
  const psql = (db: string, sql: string) => run('psql', ['-h', dir, '-p', String(port), '-U', 'postgres', '-d', db, '-v', 'ON_ERROR_STOP=1', '-qAt', '-c', sql]);
  return {
    port,
    dir,
    url: (db, query) => `postgres://postgres@127.0.0.1:${port}/${db}${query ? `?${query}` : ''}`,
    createDatabase: (name) => {
      psql('postgres', `CREATE DATABASE ${name}`);
    },
    psql,
    pause: () => {
      run(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop']);
    },
    resume: start,
    stop,
  };
}

function idOf(flag: '-u' | '-g', user: string): number {
  const r = spawnSync('id', [flag, user], { encoding: 'utf8' });
  const n = Number(r.stdout.trim());
  if (r.status !== 0 || !Number.isInteger(n)) throw new Error(`no '${user}' user: install PostgreSQL with: apt-get install -y --no-install-recommends postgresql`);
  return n;
}
const uidOf = (u: string) => idOf('-u', u);
const gidOf = (u: string) => idOf('-g', u);
