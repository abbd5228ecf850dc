import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, tmpDir } from '../helpers/cli.js';
import { ServeProcess } from '../helpers/serve.js';
import { cli, initHome } from '../helpers/registrar-home.js';
import { rtpPortRange } from '../helpers/echo.js';
import { EchoCaller, MediaSocket, freshKey, offerSdp, phoneCreds, srtpRoundTrip } from '../helpers/echo-caller.js';
import { freePort } from '../vendors/peer-stubs.js';
import { parseCryptoAttribute } from '../../src/sdp/sdes.js';

/**
 * The ACK of a 2xx carries the INVITE's CSeq number (RFC 3261 §13.2.2.4).
 * chan_sip does not confirm a call on any other ACK and sends no audio
 * (issue 12: sipsec probe sent `CSeq: 3 ACK` for `CSeq: 2 INVITE`); sipsec's
 * echo is as strict, so a client that gets it wrong fails against sipsec too:
 * an ACK with another CSeq number is dropped (sip.reject, code
 * sip.ack_cseq_mismatch) and the echo stays silent until the right ACK.
 */
test('echo: an ACK whose CSeq number is not the INVITE\'s confirms nothing (no audio back); the right ACK starts the echo', { timeout: 120_000 }, async (t) => {
  const home = tmpDir('sipsec-echo-ack-');
  t.after(() => cleanup(home));
  const sipPort = await freePort();
  initHome(home, sipPort);
  cli(home, ['phone', 'add', 'acker', '--vendor', 'baresip', '--ext', '401']);
  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', 'off', '--sip-port', String(sipPort), '--diagnostic-port', 'off', '--rtp-ports', await rtpPortRange()]);
  t.after(() => serve.stop());
  const caller = await EchoCaller.register(sipPort, await phoneCreds(home, 'acker'));
  t.after(() => caller.close());
  const m = await MediaSocket.open();
  t.after(() => m.close());

  const key = freshKey('AES_CM_128_HMAC_SHA1_80');
  const res = await caller.invite(offerSdp({ port: m.port, lines: [`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key.inline}`] }));
  assert.equal(res.status, 200, `${res.status} ${res.reason} ${res.warning ?? ''}`);
  const port = Number(/^m=audio (\d+) /m.exec(res.answer)?.[1]);
  const crypto = parseCryptoAttribute(/^a=crypto:(.*)$/m.exec(res.answer)![1]!.trim());
  const answerKey = { key: crypto!.keys[0]!.key, salt: crypto!.keys[0]!.salt };

  // What sipsec probe used to send: the CSeq number after the INVITE's.
  await res.ack(res.inviteSeq + 1);
  const dropped = await serve.waitFor((e) => e.event === 'sip.reject' && e.code === 'sip.ack_cseq_mismatch' && e.callId === res.callId, 10_000);
  assert.match(String(dropped.why), new RegExp(`ACK CSeq ${res.inviteSeq + 1} is not the INVITE's CSeq ${res.inviteSeq}`));
  const silent = await srtpRoundTrip(m, port, { suite: 'AES_CM_128_HMAC_SHA1_80', phoneKey: key, answerKey }, 20, 2000);
  assert.equal(silent.back, 0, `no audio before a matching ACK: ${JSON.stringify(silent)}`);

  // The right ACK confirms the call: the echo now answers every packet.
  await res.ack();
  const echoed = await srtpRoundTrip(m, port, { suite: 'AES_CM_128_HMAC_SHA1_80', phoneKey: key, answerKey });
  assert.deepEqual(echoed, { sent: 20, back: 20, intact: 20, failed: 0 });
  assert.equal(await res.bye(), 200);
  const end = await serve.waitFor((e) => e.event === 'call.end' && e.callId === res.callId);
  assert.equal(end.packetsIn, 40, 'both bursts were heard');
  assert.equal(end.packetsOut, 20, 'only the burst after the matching ACK was echoed');
  assert.equal(end.heardBeforeAck, 20, 'the burst before it is counted apart');
});
