import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as path from 'node:path';
import { sipsec } from './cli.js';
import { collectOutput, outputMatches, stop } from '../vendors/peer-stubs.js';
import { readIndex } from './index-db.js';

/**
 * A CA home built through the real CLI for the registrar's end-to-end
 * tests (`sipsec ca init`, `server add`, `phone add`), with the registrar
 * address the phones are provisioned with, and drivers for the peers.
 */
export function cli(home: string, args: string[]): string {
  const r = sipsec(['--home', home, ...args]);
  assert.equal(r.code, 0, `sipsec ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

export function initHome(home: string, sipPort: number): void {
  cli(home, ['ca', 'init', '--org', 'sipsec test', '--domain', 'pbx.test', '--key', 'p256', '--leaf-key', 'p256', '--no-passphrase', '--registrar', `127.0.0.1:${sipPort}`, '--provisioning-url', 'https://localhost/prov/', '--tftp-server', '127.0.0.1']);
  // linphonec ignores IP SANs (peers.md L1): the server certificate also names localhost.
  cli(home, ['server', 'add', 'registrar', '--dns', 'localhost', '--ip', '127.0.0.1']);
}

export interface BaresipPorts {
  ctrl: number;
  sip: number;
  rtp: string;
}

/**
 * Ports for one baresip: ctrl_tcp, SIP listen (TLS on +1), and an RTP range,
 * in one block below the kernel's ephemeral range (32768-60999). baresip
 * binds sip+1 itself, a port nobody checked; in the ephemeral range an
 * outgoing connection of a parallel test can take it first ("Address
 * already in use"). Below it only explicit binds compete, and the block is
 * checked free by binding every port (TCP and UDP) before it is handed out.
 */
export async function baresipPorts(): Promise<BaresipPorts> {
  const base = await freeBlock(24);
  return { ctrl: base, sip: base + 2, rtp: `${base + 4}-${base + 23}` };
}

async function freeBlock(size: number): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20_000 + 2 * Math.floor(Math.random() * ((32_700 - 20_000 - size) / 2));
    if (await allFree(base, size)) return base;
  }
  throw new Error(`no free block of ${size} ports in 20000-32700 after 100 tries`);
}

async function allFree(base: number, size: number): Promise<boolean> {
  const held: Array<{ close(cb: () => void): unknown }> = [];
  try {
    for (let p = base; p < base + size; p++) {
      held.push(await bindTcp(p));
      held.push(await bindUdp(p));
    }
    return true;
  } catch {
    return false;
  } finally {
    await Promise.all(held.map((h) => new Promise<void>((r) => h.close(() => r()))));
  }
}

function bindTcp(port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve(srv));
  });
}

function bindUdp(port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    sock.once('error', reject);
    sock.bind(port, '127.0.0.1', () => resolve(sock));
  });
}

/** `sipsec phone add NAME --vendor baresip` with headless options (and `extra` vendor options); returns its ready directory. */
export function addBaresip(home: string, name: string, ext: string, p: BaresipPorts, extra: Record<string, string> = {}): string {
  const more = Object.entries(extra).flatMap(([k, v]) => ['--option', `${k}=${v}`]);
  cli(home, ['phone', 'add', name, '--vendor', 'baresip', '--ext', ext, '--option', `ctrl_port=${p.ctrl}`, '--option', `sip_listen=127.0.0.1:${p.sip}`, '--option', `rtp_ports=${p.rtp}`, '--option', 'answermode=auto', ...more]);
  return path.join(home, 'provision', name);
}

/**
 * The files a baresip phone fetched (its served copy, which names its files
 * by bare name), kept in `dest` as the device keeps them: a revoked phone
 * still holds them after sipsec removed them from its tree.
 */
export function heldBaresipFiles(home: string, name: string, dest: string): string {
  cpSync(path.join(home, 'provision', 'baresip', name), dest, { recursive: true });
  return dest;
}

export function phoneSecret(home: string, name: string): string {
  const index = readIndex(home);
  const p = index.phones.find((x) => x.name === name);
  assert.ok(p, `phone ${name}`);
  return p.secret;
}

/** Rewrites the auth_pass of a rendered baresip accounts file (a phone typed the wrong password). */
export function setBaresipPassword(dir: string, password: string): void {
  const file = path.join(dir, 'accounts');
  writeFileSync(file, readFileSync(file, 'utf8').replace(/auth_pass=[^;]+/, `auth_pass=${password}`));
}

export interface RunningBaresip {
  child: ChildProcess;
  output: { text(): string };
  waitFor(pred: (s: string) => boolean, ms: number, what: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startBaresip(bin: string, dir: string): Promise<RunningBaresip> {
  const child = spawn(bin, ['-f', dir], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = collectOutput(child);
  const r: RunningBaresip = {
    child,
    output,
    waitFor: (pred, ms, what) => outputMatches(child, output, pred, ms, what),
    stop: () => stop(child),
  };
  await r.waitFor((s) => s.includes('baresip is ready'), 20_000, 'baresip to start');
  return r;
}
