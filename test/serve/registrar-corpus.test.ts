import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, tmpDir } from '../helpers/cli.js';
import { ServeProcess } from '../helpers/serve.js';
import * as dgram from 'node:dgram';
import { cli, initHome } from '../helpers/registrar-home.js';
import { header, newCallId, SipTestClient } from '../helpers/sip-client.js';
import { corpus } from '../sip/helpers.js';
import { freePort, within } from '../vendors/peer-stubs.js';

/**
 * The RFC 4475 torture messages (shared/corpus/rfc4475, read at test time)
 * sent to `sipsec serve` over a real TLS connection, one message per
 * connection: the server stays up, answers requests with the listed code
 * (or, where the README allows a choice, one of those), drops responses.
 * The connection carries no client certificate: an unidentified peer, as
 * an attacker would be; what passes validation is then challenged (407).
 */
type Expect = number[] | 'none' | 'any' | 'parsed';
const EXPECT: Record<string, Expect> = {
  // §3.1.2 malformed
  badinv01: [400],
  clerr: 'none', // a stream waits for the rest of the body
  ncl: [400],
  scalar02: [400],
  scalarlg: 'none',
  quotbal: [400],
  ltgtruri: [400],
  lwsruri: [400],
  lwsstart: [400],
  trws: [400],
  escruri: [400],
  baddate: 'any',
  regbadct: [400],
  badaspec: [400],
  // The .dat file has no empty line after its headers: on a stream the message never ends, so the server waits (as for clerr).
  baddn: 'none',
  badvers: [505],
  mismatch01: [400],
  mismatch02: [501, 400],
  bigcode: 'none',
  // §3.2-3.4
  badbranch: 'any',
  insuf: [400],
  unkscm: [416],
  novelsc: [416],
  unksm2: [400, 401, 403, 404],
  bext01: [420],
  invut: [415],
  regaut01: [401],
  multi01: [400],
  mcl01: [400],
  bcast: 'none',
  zeromf: [483, 407],
  sdp01: [406, 400],
  inv2543: 'any',
  // §3.1.1 well-formed: parsed and answered (auth or routing), never 400
  unreason: 'none',
  noreason: 'none',
};

const WELL_FORMED = ['wsinv', 'intmeth', 'esc01', 'escnull', 'esc02', 'lwsdisp', 'longreq', 'dblreq', 'semiuri', 'transports', 'mpart01', 'cparam01', 'cparam02', 'regescrt'];

test('RFC 4475 corpus over TLS against sipsec serve: the server stays up and answers as listed', { timeout: 180_000 }, async (t) => {
  const home = tmpDir('sipsec-reg-corpus-');
  t.after(() => cleanup(home));
  const sipPort = await freePort();
  initHome(home, sipPort);
  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', 'off', '--sip-port', String(sipPort), '--diagnostic-port', '0', '--lockout-failures', '0']);
  t.after(() => serve.stop());
  const ca = readFileSync(path.join(home, 'ca.crt'), 'utf8');
  const all = corpus();
  assert.ok(all.size >= 49, `corpus has ${all.size} files`);
  const problems: string[] = [];
  for (const [name, bytes] of all) {
    const c = await SipTestClient.connect(sipPort, { ca });
    c.send(bytes);
    const expect: Expect = EXPECT[name] ?? (WELL_FORMED.includes(name) ? 'parsed' : 'any');
    // Requests are answered at once; for the silent cases, a bounded wait for anything at all.
    const got = await c.next((m) => m.kind === 'response' && m.status >= 200, expect === 'none' ? 1500 : 5000).catch(() => undefined);
    const status = got && got.kind === 'response' ? got.status : undefined;
    c.close();
    if (expect === 'none') {
      if (status !== undefined) problems.push(`${name}: expected no answer, got ${status}`);
    } else if (expect === 'parsed') {
      if (status === undefined || status === 400 || status === 505) problems.push(`${name}: well-formed, got ${status ?? 'no answer'}${got ? ` (${header(got, 'warning') ?? ''})` : ''}`);
    } else if (Array.isArray(expect)) {
      if (status === undefined || !expect.includes(status)) problems.push(`${name}: expected ${expect.join(' or ')}, got ${status ?? 'no answer'}${got ? ` (${header(got, 'warning') ?? ''})` : ''}`);
    }
    if (serve.child.exitCode !== null) problems.push(`${name}: serve exited`);
  }
  assert.deepEqual(problems, []);
  // Still up and answering.
  const c = await SipTestClient.connect(sipPort, { ca });
  t.after(() => c.close());
  const id = newCallId();
  c.send(`OPTIONS sip:pbx.test SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:${c.localPort};branch=z9hG4bKalive\r\nMax-Forwards: 70\r\nFrom: <sip:probe@pbx.test>;tag=1\r\nTo: <sip:pbx.test>\r\nCall-ID: ${id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`);
  assert.equal((await c.final(id, 'OPTIONS')).status, 200);
  const rejects = serve.events.filter((e) => e.event === 'sip.reject');
  assert.ok(rejects.length >= 15, 'malformed messages are reported as sip.reject');
  for (const e of rejects) assert.ok(typeof e.what === 'string' && typeof e.why === 'string' && 'status' in e);
});

test('diagnostic plain-SIP listeners answer 403 "use TLS" and report the phone', { timeout: 60_000 }, async (t) => {
  const home = tmpDir('sipsec-reg-diag-');
  t.after(() => cleanup(home));
  const sipPort = await freePort();
  initHome(home, sipPort);
  cli(home, ['phone', 'add', 'spa1', '--vendor', 'cisco-spa', '--mac', '00:08:5d:11:22:33', '--ext', '103']);
  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', 'off', '--sip-port', String(sipPort), '--diagnostic-port', '0']);
  t.after(() => serve.stop());
  const listen = await serve.waitFor((e) => e.event === 'sip.listen');
  const udpPort = Number(listen.diagnosticUdpPort);
  assert.ok(udpPort > 0);
  const text = `REGISTER sip:pbx.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKdiag1\r\nMax-Forwards: 70\r\nFrom: <sip:103@pbx.test>;tag=1\r\nTo: <sip:103@pbx.test>\r\nCall-ID: diag1\r\nCSeq: 1 REGISTER\r\nContact: <sip:103@127.0.0.1:5060>\r\nContent-Length: 0\r\n\r\n`;
  const sock = dgram.createSocket('udp4');
  t.after(() => sock.close());
  const answer = new Promise<string>((resolve) => sock.once('message', (m) => resolve(m.toString('latin1'))));
  sock.send(Buffer.from(text, 'latin1'), udpPort, '127.0.0.1');
  const res = await within(answer, 10_000, 'the diagnostic 403');
  assert.match(res, /^SIP\/2\.0 403 /);
  assert.match(res, new RegExp(`Warning: 399 127\\.0\\.0\\.1 "use TLS on ${sipPort}"`));
  const ev = await serve.waitFor((e) => e.event === 'sip.reject' && e.transport === 'udp');
  assert.equal(ev.phone, 'spa1');
  assert.equal(ev.status, 403);
  assert.match(String(ev.why), /use TLS on port/);
});
