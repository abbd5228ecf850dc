import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { run, type RunResult } from './cli.js';
import { stop, within } from '../vendors/peer-stubs.js';

/**
 * sipp (Debian's sip-tester has no TLS, peers.md §6) over TCP into a local
 * stunnel client section that speaks TLS to sipsec, presenting a phone's
 * certificate when given one. sipsec never gets a plaintext path.
 */
export interface Stunnel {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startStunnel(bin: string, dir: string, name: string, o: { listen: number; connect: number; ca: string; cert?: string; key?: string }): Promise<Stunnel> {
  const conf = path.join(dir, `${name}.conf`);
  writeFileSync(
    conf,
    [
      'foreground = yes',
      'pid =',
      `output = ${path.join(dir, `${name}.log`)}`,
      'debug = 5',
      `[${name}]`,
      'client = yes',
      `accept = 127.0.0.1:${o.listen}`,
      `connect = 127.0.0.1:${o.connect}`,
      `CAfile = ${o.ca}`,
      'verifyChain = yes',
      'checkHost = localhost',
      ...(o.cert ? [`cert = ${o.cert}`, `key = ${o.key}`] : []),
      '',
    ].join('\n'),
  );
  const child = spawn(bin, [conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  // Ready when the accept port takes connections (bounded).
  await within(
    (async () => {
      for (;;) {
        if (child.exitCode !== null) throw new Error(`stunnel exited: ${err}`);
        const ok = await new Promise<boolean>((resolve) => {
          const s = net.connect(o.listen, '127.0.0.1', () => {
            s.destroy();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        });
        if (ok) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    })(),
    10_000,
    'stunnel to listen',
  );
  return { port: o.listen, child, stop: () => stop(child) };
}

/** One sipp run (bounded), over TCP to the stunnel port. */
export function sipp(bin: string, scenario: string, o: { port: number; localPort: number; service: string; user: string; password: string; calls?: number }): RunResult {
  return run(bin, ['127.0.0.1:' + o.port, '-t', 't1', '-i', '127.0.0.1', '-p', String(o.localPort), '-sf', scenario, '-s', o.service, '-auth_uri', 'pbx.test', '-au', o.user, '-ap', o.password, '-m', String(o.calls ?? 1), '-l', '1', '-nostdin', '-timeout', '20s', '-timeout_error', '-max_recv_loops', '100'], { timeoutMs: 40_000 });
}

const HEAD = (cseq: number, expires: number, auth: boolean, aor = '[service]') => `
REGISTER sip:pbx.test SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:${aor}@pbx.test>;tag=[pid]SIPpTag[call_number]
To: <sip:${aor}@pbx.test>
Call-ID: [call_id]
CSeq: ${cseq} REGISTER
Contact: <sip:[service]@[local_ip]:[local_port];transport=tcp>
Max-Forwards: 70
Expires: ${expires}
${auth ? '[authentication]\n' : ''}Content-Length: 0
`;

function send(text: string): string {
  return `  <send>\n    <![CDATA[${text}\n]]>\n  </send>\n`;
}

function scenario(name: string, body: string): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n<scenario name="${name}">\n${body}</scenario>\n`;
}

/** The sipp scenarios of the registrar tests, written into `dir`; returns their paths. */
export function writeScenarios(dir: string): Record<'register' | 'rejected' | 'locked' | 'unregister', string> {
  const files = {
    // Digest: challenge, answer, 200.
    register: scenario('register', send(HEAD(1, 600, false)) + '  <recv response="401" auth="true"/>\n' + send(HEAD(2, 600, true)) + '  <recv response="200"/>\n'),
    // Unknown user or wrong password: the answer is challenged again, exactly like the first time.
    rejected: scenario('rejected', send(HEAD(1, 600, false)) + '  <recv response="401" auth="true"/>\n' + send(HEAD(2, 600, true)) + '  <recv response="401"/>\n'),
    // A locked-out address: 403 at once.
    locked: scenario('locked', send(HEAD(1, 600, false)) + '  <recv response="403"/>\n'),
    // Register, then un-register (Expires: 0), each with digest.
    unregister: scenario(
      'unregister',
      send(HEAD(1, 600, false)) + '  <recv response="401" auth="true"/>\n' + send(HEAD(2, 600, true)) + '  <recv response="200"/>\n' + send(HEAD(3, 0, false)) + '  <recv response="401" auth="true"/>\n' + send(HEAD(4, 0, true)) + '  <recv response="200"/>\n',
    ),
  };
  const out = {} as Record<keyof typeof files, string>;
  for (const [k, v] of Object.entries(files) as Array<[keyof typeof files, string]>) {
    const file = path.join(dir, `${k}.xml`);
    writeFileSync(file, v);
    out[k] = file;
  }
  return out;
}
