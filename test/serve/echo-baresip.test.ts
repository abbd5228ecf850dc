import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';
import { ServeProcess } from '../helpers/serve.js';
import { addBaresip, baresipPorts, initHome, startBaresip } from '../helpers/registrar-home.js';
import { rtpPortRange, waitForEchoCall } from '../helpers/echo.js';
import { readWav, scanTone } from '../helpers/wav.js';
import { ctrlTcp, freePort } from '../vendors/peer-stubs.js';

/**
 * The first real-peer proof of the SRTP echo: baresip 1.0
 * (Debian), provisioned by `sipsec phone add --vendor baresip` with
 * `;mediaenc=srtp-mand`, calls `200`. Its sine source (ausine, 440 Hz, as
 * the rendered config sets it) is what it sends; its sndfile module (the
 * vendor option record_dir) records what it hears after SRTP and the
 * G.711 decoder. The test checks the recording is that tone, not silence,
 * and that sipsec counted no authentication failure.
 */
const TONE_HZ = 440;

test('baresip (real) calls the SRTP echo 200 and hears its own 440 Hz tone back; sipsec counts no authentication failure', { timeout: 120_000 }, async (t) => {
  const bin = requirePeer('baresip');
  const home = tmpDir('sipsec-echo-baresip-');
  t.after(() => cleanup(home));
  const sipPort = await freePort();
  initHome(home, sipPort);
  const recordings = path.join(home, 'recordings');
  mkdirSync(recordings);
  const dir = addBaresip(home, 'telefono1', '101', await baresipPorts(), { record_dir: recordings });
  const config = readFileSync(path.join(dir, 'config'), 'utf8');
  assert.match(config, new RegExp(`^audio_source\\s+ausine,${TONE_HZ}$`, 'm'), 'the rendered config sends the tone the test listens for');
  assert.match(config, /^module\s+sndfile\.so$/m);
  assert.match(readFileSync(path.join(dir, 'accounts'), 'utf8'), /;mediaenc=srtp-mand/);

  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', 'off', '--sip-port', String(sipPort), '--diagnostic-port', 'off', '--rtp-ports', await rtpPortRange()]);
  t.after(() => serve.stop());
  const phone = await startBaresip(bin, dir);
  t.after(() => phone.stop());
  await serve.waitFor((e) => e.event === 'register.ok' && e.phone === 'telefono1', 30_000);

  const ctrl = Number(/ctrl_tcp_listen\s+127\.0\.0\.1:(\d+)/.exec(config)![1]);
  assert.equal((await ctrlTcp(ctrl, 'dial', 'sip:200@pbx.test')).ok, true);
  const start = await serve.waitFor((e) => e.event === 'call.start' && e.phone === 'telefono1', 30_000);
  // baresip 1.0 offers exactly one line (peers.md §4); the echo takes it.
  assert.deepEqual(start.offered, ['1 AES_CM_128_HMAC_SHA1_80']);
  assert.equal(start.chosen, '1 AES_CM_128_HMAC_SHA1_80');
  assert.equal(start.suite, 'AES_CM_128_HMAC_SHA1_80');
  assert.equal(start.proto, 'RTP/SAVP');
  assert.equal(start.codec, 'PCMU/8000');

  // Live in `sipsec status` while it runs: at least 4 s of audio (50 packets/s) both ways.
  const live = await waitForEchoCall(home, (c) => c.callId === start.callId && Number(c.packetsIn) >= 200, 30_000, '4 s of echoed audio');
  assert.equal(live.authFailures, 0);
  assert.ok(Number(live.packetsOut) > 0);
  await phone.waitFor((s) => s.includes('SRTP is Enabled (cryptosuite=AES_CM_128_HMAC_SHA1_80)'), 5000, 'baresip to enable SRTP');

  assert.equal((await ctrlTcp(ctrl, 'hangup')).ok, true);
  const end = await serve.waitFor((e) => e.event === 'call.end' && e.callId === start.callId, 20_000);
  await phone.stop(); // sndfile finishes its WAV headers when the call's audio closes; stopping makes sure
  t.diagnostic(`call.end: ${JSON.stringify(end)}`);
  assert.equal(end.phone, 'telefono1');
  assert.equal(end.suite, 'AES_CM_128_HMAC_SHA1_80');
  assert.equal(end.authFailures, 0, 'no SRTP packet from baresip failed authentication');
  assert.equal(end.rtcpAuthFailures, 0, 'no SRTCP packet from baresip failed authentication');
  assert.equal(end.replays, 0);
  // At most one: the plain RTCP APP "PINGPONG" baresip 1.0 sends before SRTP starts (too short to be SRTCP).
  assert.ok(Number(end.decryptErrors) <= 1, `decryptErrors ${String(end.decryptErrors)}`);
  assert.ok(Number(end.packetsIn) >= 200);
  // Packets that raced the ACK are heard, not echoed (the echo waits for the confirmed dialog, as chan_sip does).
  assert.equal(Number(end.packetsOut) + Number(end.heardBeforeAck), end.packetsIn, 'every authentic packet echoed once (but those heard before the ACK)');
  assert.equal(end.oneWayAudio, false);
  assert.deepEqual(Object.keys(end.payloadTypes as object), ['0'], 'PCMU only');
  assert.equal(end.tsStep, 160, '20 ms of 8 kHz audio per packet');
  // baresip's RTCP: libre sends the RFC's 80-bit SRTCP tag for _80.
  if (Number(end.rtcpIn) > 0) assert.equal(end.srtcpTagBits, 80);

  // What baresip heard: the decoder-side dump is the tone it sent, not silence.
  const files = readdirSync(recordings);
  const dec = files.find((f) => /^dump-.*-dec\.wav$/.test(f));
  const enc = files.find((f) => /^dump-.*-enc\.wav$/.test(f));
  assert.ok(dec && enc, `sndfile wrote both directions: ${files.join(', ')}`);
  const heard = readWav(path.join(recordings, dec));
  assert.equal(heard.rate, 8000, 'sndfile records at the codec rate');
  const scan = scanTone(heard, TONE_HZ);
  t.diagnostic(`heard: ${JSON.stringify(scan)}`);
  assert.ok(scan.toneSeconds >= 2, `at least 2 s of the ${TONE_HZ} Hz tone heard (got ${scan.toneSeconds} s of ${scan.totalSeconds} s)`);
  assert.ok(scan.ratio > 0.8, `what baresip heard is the tone (Goertzel ratio ${scan.ratio.toFixed(3)})`);
  assert.ok(scan.rms > 1000, `at a real level (RMS ${Math.round(scan.rms)})`);
  // The control: what it sent is the same tone.
  assert.ok(scanTone(readWav(path.join(recordings, enc)), TONE_HZ).toneSeconds >= 2);
  assert.doesNotMatch(phone.output.text(), /srtp: .*(failed|error)/i);
});
