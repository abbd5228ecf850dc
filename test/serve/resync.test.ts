import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, sipsec, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';
import { ServeProcess } from '../helpers/serve.js';
import { addBaresip, baresipPorts, cli, initHome, phoneSecret, startBaresip } from '../helpers/registrar-home.js';
import { startStunnel } from '../helpers/sipp.js';
import { collectOutput, freePort, stop } from '../vendors/peer-stubs.js';

/**
 * `sipsec phone resync` against real phones: sipp plays a Snom desk phone
 * (through stunnel, as in the registrar tests), registers, and answers the
 * NOTIFY from its out-of-call scenario only when the Event header is what
 * Snom expects, echoing the header back in its reason phrase; baresip is a
 * phone with no resync event of its own, and whatever it answers must be
 * reported as it is.
 */

const REGISTER = (cseq: number, auth: boolean) => `
REGISTER sip:pbx.test SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[service]@pbx.test>;tag=[pid]SIPpTag[call_number]
To: <sip:[service]@pbx.test>
Call-ID: [call_id]
CSeq: ${cseq} REGISTER
Contact: <sip:[service]@[local_ip]:[local_port];transport=tcp>
Max-Forwards: 70
Expires: 600
${auth ? '[authentication]\n' : ''}Content-Length: 0
`;

const send = (text: string) => `  <send>\n    <![CDATA[${text}\n]]>\n  </send>\n`;
const scenario = (name: string, body: string) => `<?xml version="1.0" encoding="ISO-8859-1" ?>\n<!DOCTYPE scenario SYSTEM "sipp.dtd">\n<scenario name="${name}">\n${body}</scenario>\n`;

/** Register, then stay connected (the NOTIFYs arrive on this connection) for `holdMs`. */
function registerAndHold(holdMs: number): string {
  return scenario('register-hold', send(REGISTER(1, false)) + '  <recv response="401" auth="true"/>\n' + send(REGISTER(2, true)) + `  <recv response="200"/>\n  <pause milliseconds="${holdMs}"/>\n`);
}

/** Out-of-call: a NOTIFY whose Event matches `eventRegexp` gets 200 with the Event value as reason; any other aborts (no answer). */
function answerNotify(eventRegexp: string): string {
  return scenario(
    'answer-notify',
    `  <recv request="NOTIFY">\n    <action>\n      <ereg regexp="${eventRegexp}" search_in="hdr" header="Event:" check_it="true" assign_to="ev"/>\n    </action>\n  </recv>\n` +
      send(`
SIP/2.0 200 Event [$ev]
[last_Via:]
[last_From:]
[last_To:];tag=[pid]SIPpTag[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0
`),
  );
}

interface ResyncJson {
  schema: number;
  results: Array<{ phone: string; vendor: string; event: string | null; status: number | string; reason: string; contacts: number; note: string | null }>;
}

test('phone resync: sipp as a Snom phone gets check-sync;reboot=false (and =true with --reboot) over its own TLS flow, and says so', { timeout: 180_000 }, async (t) => {
  const sippBin = requirePeer('sipp');
  const stunnelBin = requirePeer('stunnel');
  const home = tmpDir('sipsec-resync-');
  t.after(() => cleanup(home));
  const sipPort = await freePort();
  initHome(home, sipPort);
  cli(home, ['phone', 'add', 'desk', '--vendor', 'snom', '--mac', '00:04:13:12:34:56', '--ext', '301']);
  cli(home, ['phone', 'add', 'away', '--vendor', 'yealink', '--mac', '80:5e:c0:12:34:56', '--ext', '302']);
  const secret = phoneSecret(home, 'desk');

  // Without serve there is nobody to send the NOTIFY: a clear error, exit 1.
  const none = sipsec(['--home', home, 'phone', 'resync', 'desk']);
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^error: no sipsec serve is running for this CA home \(start it with sipsec serve/);

  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', 'off', '--sip-port', String(sipPort), '--diagnostic-port', 'off']);
  t.after(() => serve.stop());
  const tunnel = await startStunnel(stunnelBin, home, 'desk', { listen: await freePort(), connect: sipPort, ca: path.join(home, 'ca.crt') });
  t.after(() => tunnel.stop());

  const main = path.join(home, 'register-hold.xml');
  const ooc = path.join(home, 'answer-notify.xml');
  writeFileSync(main, registerAndHold(90_000));
  writeFileSync(ooc, answerNotify('check-sync;reboot=(false|true)'));
  const sipp = spawn(sippBin, ['127.0.0.1:' + tunnel.port, '-t', 't1', '-i', '127.0.0.1', '-p', String(await freePort()), '-sf', main, '-oocsf', ooc, '-s', '301', '-auth_uri', 'pbx.test', '-au', '301', '-ap', secret, '-m', '1', '-l', '1', '-nostdin', '-timeout', '120s', '-trace_msg', '-message_file', path.join(home, 'sipp-messages.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const sippOut = collectOutput(sipp);
  t.after(() => stop(sipp));
  await serve.waitFor((e) => e.event === 'register.ok' && e.phone === 'desk', 20_000).catch((e: Error) => {
    throw new Error(`${e.message}\nsipp: ${sippOut.text().slice(-1500)}`);
  });

  const plain = sipsec(['--home', home, 'phone', 'resync', 'desk', '--json']);
  assert.equal(plain.code, 0, plain.stderr);
  const pj = JSON.parse(plain.stdout) as ResyncJson;
  assert.equal(pj.schema, 1);
  assert.deepEqual(
    pj.results.map((r) => [r.phone, r.vendor, r.event, r.status, r.reason, r.contacts]),
    [['desk', 'snom', 'check-sync;reboot=false', 200, 'Event check-sync;reboot=false', 1]],
  );
  const ev = await serve.waitFor((e) => e.event === 'phone.resync' && e.phone === 'desk');
  assert.equal(ev.status, 200);
  assert.equal(ev.notifyEvent, 'check-sync;reboot=false');

  const reboot = sipsec(['--home', home, 'phone', 'resync', 'desk', '--reboot']);
  assert.equal(reboot.code, 0, reboot.stderr);
  assert.match(reboot.stdout, /desk\s+snom\s+check-sync;reboot=true\s+200 Event check-sync;reboot=true \(accepted\)/);

  // --all: the registered phone is told, the other is reported as not registered (exit 0: nothing refused).
  const all = sipsec(['--home', home, 'phone', 'resync', '--all', '--json']);
  assert.equal(all.code, 0, all.stderr);
  const aj = JSON.parse(all.stdout) as ResyncJson;
  assert.deepEqual(aj.results.map((r) => [r.phone, r.event, r.status]).sort(), [
    ['away', 'check-sync;reboot=false', 'not-registered'],
    ['desk', 'check-sync;reboot=false', 200],
  ]);

  // The NOTIFY as sipp saw it: out of dialog, over the registered connection, with Subscription-State.
  const seen = readFileSync(path.join(home, 'sipp-messages.log'), 'utf8');
  assert.match(seen, /NOTIFY sip:301@127\.0\.0\.1:\d+;transport=tcp SIP\/2\.0/);
  assert.match(seen, /Subscription-State: terminated/);
  assert.match(seen, /To: <sip:301@pbx\.test>/);

  // Bad input: exit 2 with one line.
  for (const args of [['phone', 'resync'], ['phone', 'resync', 'desk', '--all'], ['phone', 'resync', 'nosuch'], ['phone', 'resync', 'desk', '--timeout', 'x']]) {
    const r = sipsec(['--home', home, ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.code} ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('phone resync: baresip (no resync event of its own) gets the generic check-sync, and its answer is reported as it is', { timeout: 120_000 }, async (t) => {
  const bin = requirePeer('baresip');
  const home = tmpDir('sipsec-resync-bs-');
  t.after(() => cleanup(home));
  const sipPort = await freePort();
  initHome(home, sipPort);
  const dir = addBaresip(home, 'soft', '401', await baresipPorts());
  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', 'off', '--sip-port', String(sipPort), '--diagnostic-port', 'off']);
  t.after(() => serve.stop());
  const phone = await startBaresip(bin, dir);
  t.after(() => phone.stop());
  await serve.waitFor((e) => e.event === 'register.ok' && e.phone === 'soft', 30_000);

  const r = sipsec(['--home', home, 'phone', 'resync', 'soft', '--json']);
  const j = JSON.parse(r.stdout) as ResyncJson;
  const res = j.results[0]!;
  assert.equal(res.event, 'check-sync');
  assert.match(String(res.note), /names no resync event: sent the generic check-sync/);
  // A final SIP status from baresip itself (not a timeout or a closed connection), whatever it is.
  assert.equal(typeof res.status, 'number');
  assert.ok(Number(res.status) >= 200 && Number(res.status) < 700 && res.status !== 408 && res.status !== 503, `baresip answered ${res.status} ${res.reason}`);
  t.diagnostic(`baresip answered ${res.status} ${res.reason}`);
  assert.equal(r.code, Number(res.status) < 300 ? 0 : 1, `exit code follows the answer (${res.status})`);
  const ev = await serve.waitFor((e) => e.event === 'phone.resync' && e.phone === 'soft');
  assert.equal(ev.status, res.status);
  // The registration survives being told.
  const status = JSON.parse(sipsec(['--home', home, 'status', '--json']).stdout) as { registrations: Array<{ phone: string }> };
  assert.ok(status.registrations.some((x) => x.phone === 'soft'));
});
