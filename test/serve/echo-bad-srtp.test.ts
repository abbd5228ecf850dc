import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { cleanup, tmpDir } from '../helpers/cli.js';
import { ServeProcess } from '../helpers/serve.js';
import { cli, initHome } from '../helpers/registrar-home.js';
import { echoCalls, rtpPortRange } from '../helpers/echo.js';
import { EchoCaller, MediaSocket, freshKey, offerSdp, phoneCreds, protectedPackets, rtpPacket, srtpRoundTrip, type RoundTrip } from '../helpers/echo-caller.js';
import { freePort } from '../vendors/peer-stubs.js';
import { getAttributes, parseSdp } from '../../src/sdp/sdp.js';
import { parseCryptoAttribute } from '../../src/sdp/sdes.js';
import { SrtpSender, type SrtpMasterKey } from '../../src/srtp/index.js';

/**
 * Bad SRTP at a live echo call of `sipsec serve`: tampered tags, replays,
 * wrong keys, truncated packets, garbage and STUN on the media port,
 * forged SRTCP, and a flood from another address. Every one is dropped
 * and counted in the right counter (`sipsec status --json` while the call
 * runs, `call.end` after), nothing is echoed, the latch does not move, the
 * call keeps echoing, and serve keeps answering new calls. SRTCP with the
 * `_32` suite is sent with 4-octet and with 10-octet tags: `srtcpTagBits`
 * reports which.
 */
const SUITE = 'AES_CM_128_HMAC_SHA1_32';

/** A receiver report (RFC 3550 §6.4.2) about `about`, then SDES: a compound RTCP packet. */
function receiverReport(ssrc: number, about: number, highestSeq: number): Buffer {
  const b = Buffer.alloc(8 + 24 + 12);
  b[0] = 0x81;
  b[1] = 201;
  b.writeUInt16BE(7, 2);
  b.writeUInt32BE(ssrc >>> 0, 4);
  b.writeUInt32BE(about >>> 0, 8);
  b.writeUInt32BE(highestSeq >>> 0, 16);
  b[32] = 0x81;
  b[33] = 202;
  b.writeUInt16BE(2, 34);
  b.writeUInt32BE(ssrc >>> 0, 36);
  return b;
}

/** A STUN binding request (RFC 5389 §6): what linphone sends on its media ports as a keep-alive. */
function stunBindingRequest(): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt16BE(0x0001, 0);
  b.writeUInt32BE(0x2112a442, 4);
  randomBytes(12).copy(b, 8);
  return b;
}

interface Call {
  res: Awaited<ReturnType<EchoCaller['invite']>>;
  media: MediaSocket;
  echoPort: number;
  phoneKey: SrtpMasterKey;
  answerKey: SrtpMasterKey;
  roundTrip(count?: number, waitMs?: number): Promise<RoundTrip>;
}

async function call(caller: EchoCaller): Promise<Call> {
  const media = await MediaSocket.open();
  const k = freshKey(SUITE);
  const res = await caller.invite(offerSdp({ port: media.port, lines: [`a=crypto:1 ${SUITE} inline:${k.inline}`] }));
  assert.equal(res.status, 200, `${res.status} ${res.warning ?? ''}`);
  await res.ack();
  const parsed = parseSdp(res.answer);
  assert.ok(parsed.ok);
  const m = parsed.sdp.media[0]!;
  const key = parseCryptoAttribute(getAttributes(m.attributes, 'crypto')[0]!.value ?? '').keys[0]!;
  const answerKey = { key: key.key, salt: key.salt };
  const phoneKey = { key: k.key, salt: k.salt };
  return { res, media, echoPort: m.port, phoneKey, answerKey, roundTrip: (count = 2, waitMs = 5000) => srtpRoundTrip(media, m.port, { suite: SUITE, phoneKey, answerKey }, count, waitMs) };
}

test('bad SRTP at a live echo call is dropped and counted, never echoed, never fatal; SRTCP _32 tag length reported', { timeout: 120_000 }, async (t) => {
  const home = tmpDir('sipsec-echo-bad-');
  t.after(() => cleanup(home));
  const sipPort = await freePort();
  initHome(home, sipPort);
  cli(home, ['phone', 'add', 'victim', '--vendor', 'baresip', '--ext', '401']);
  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', 'off', '--sip-port', String(sipPort), '--diagnostic-port', 'off', '--rtp-ports', await rtpPortRange()]);
  t.after(() => serve.stop());
  const caller = await EchoCaller.register(sipPort, await phoneCreds(home, 'victim'));
  t.after(() => caller.close());
  const attacker = dgram.createSocket('udp4');
  await new Promise<void>((r) => attacker.bind(0, '127.0.0.1', r));
  t.after(() => attacker.close());

  const a = await call(caller);
  t.after(() => a.media.close());
  const first = await a.roundTrip(20);
  assert.deepEqual(first, { sent: 20, back: 20, intact: 20, failed: 0 });
  const ourSsrc = a.media.received[0]!.readUInt32BE(8);
  const send = (b: Uint8Array, port = a.echoPort) => a.media.send(b, port);
  const before = a.media.received.length;

  // 1. Each kind of bad packet, a known number of times.
  const fresh = protectedPackets(SUITE, a.phoneKey, 5);
  for (const p of fresh) {
    const tampered = Buffer.from(p);
    tampered[tampered.length - 1]! ^= 0x01; // the last octet of the 32-bit tag
    await send(tampered);
  }
  const replayed = protectedPackets(SUITE, a.phoneKey, 5);
  for (const p of replayed) await send(p); // good the first time: echoed
  for (const p of replayed) await send(p); // the same indexes again (RFC 3711 §3.3.2)
  for (const p of protectedPackets(SUITE, freshKey(SUITE), 5)) await send(p); // another key
  const cut = protectedPackets(SUITE, a.phoneKey, 3);
  await send(cut[0]!.subarray(0, 8)); // shorter than an RTP header
  await send(cut[1]!.subarray(0, 8));
  await send(cut[1]!.subarray(0, 14)); // header, but no room for the tag
  await send(cut[2]!.subarray(0, 14));
  await send(cut[2]!.subarray(0, cut[2]!.length - 3)); // payload cut: the tag no longer verifies
  for (let i = 0; i < 4; i++) await send(Buffer.concat([Buffer.from([0x40 | i]), randomBytes(99)])); // not RTP (version 1)
  await send(Buffer.alloc(0));
  await send(stunBindingRequest());
  await send(stunBindingRequest());
  for (let i = 0; i < 3; i++) await send(rtpPacket(i, randomBytes(4).readUInt32BE(0), randomBytes(164))); // RTP-shaped garbage
  // The echo handles a socket's datagrams in order: once this comes back, all of the above was handled.
  assert.equal((await a.roundTrip(2)).intact, 2);
  const echoed = a.media.received.slice(before).filter((b) => b[1]! < 192 || b[1]! > 223).length;
  assert.equal(echoed, 5 + 2, 'only the five first sendings of the replayed packets and the two of the check came back');

  // About the stream the echo sends now: each phone SSRC gets an SSRC of the echo's own (the check's is the latest).
  const current = a.media.received.filter((b) => b[1]! < 192 || b[1]! > 223).at(-1)!.readUInt32BE(8);
  assert.notEqual(current, ourSsrc, 'a new phone stream, a new echo stream');
  // SRTCP with the _32 suite: Asterisk/baresip/linphone style 4-octet tags; two tampered, three good.
  const rtcpTx = new SrtpSender({ suite: SUITE, keys: [a.phoneKey], srtcpTagLen: 4 });
  const phoneSsrc = 0x5eed0001;
  for (let i = 0; i < 5; i++) {
    const n = rtcpTx.protectRtcp(receiverReport(phoneSsrc, current, 1000 + i));
    const pkt = Buffer.from(rtcpTx.out.subarray(0, n));
    if (i < 2) pkt[pkt.length - 1]! ^= 0x80;
    await send(pkt, a.echoPort + 1);
  }
  assert.equal((await a.roundTrip(2)).intact, 2);

  const expected = { packetsIn: 29, packetsOut: 29, authFailures: 5 + 5 + 1 + 3, replays: 5, decryptErrors: 2 + 2 + 4 + 1, stunIn: 2, rtcpIn: 3, rtcpAuthFailures: 2, srtcpTagBits: 32 };
  // 2. Live, in `sipsec status --json` during the call.
  const live = echoCalls(home).find((c) => c.callId === a.res.callId);
  assert.ok(live, 'the call is live in sipsec status');
  for (const [k, v] of Object.entries(expected)) assert.equal(live[k], v, `status: ${k}`);
  assert.equal(live.suite, SUITE);
  assert.equal(live.relatches, 0);
  assert.deepEqual(live.phoneHears, { highestSeq: 1004, fractionLost: 0, cumulativeLost: 0 }, 'the good receiver reports were read');
  const latchedTo = live.latchedTo;
  assert.equal(latchedTo, `127.0.0.1:${a.media.port}`);

  // 3. A flood from another address: forged packets under the call's SSRC space, as fast as node sends.
  const FLOOD = 20_000;
  const forged = rtpPacket(0, 0x12345678, randomBytes(164));
  for (let i = 0; i < FLOOD; i += 500) {
    for (let j = 0; j < 500; j++) {
      forged.writeUInt16BE((i + j) & 0xffff, 2);
      attacker.send(forged, a.echoPort, '127.0.0.1');
    }
    await new Promise((r) => setImmediate(r));
  }
  // While the echo works through the backlog its socket buffer is full and drops what arrives, good or bad:
  // probe (bounded) until a round trip succeeds again, then check a full one.
  let drained = 0;
  for (let i = 0; i < 40 && drained < 2; i++) drained = (await a.roundTrip(2, 250)).intact;
  assert.equal(drained, 2, 'the echo recovered from the flood');
  const after = await a.roundTrip(20);
  assert.deepEqual(after, { sent: 20, back: 20, intact: 20, failed: 0 }, 'the call still echoes after the flood');
  const flooded = echoCalls(home).find((c) => c.callId === a.res.callId)!;
  assert.equal(flooded.latchedTo, latchedTo, 'forged packets never move the latch (RFC 4961 symmetric RTP only on authentic packets)');
  assert.equal(flooded.relatches, 0);
  const floodCounted = Number(flooded.authFailures) - expected.authFailures;
  t.diagnostic(`flood: ${floodCounted} of ${FLOOD} forged packets reached the echo and were counted as authentication failures (the rest overflowed the socket buffer)`);
  assert.ok(floodCounted > 0 && floodCounted <= FLOOD);

  assert.equal(await a.res.bye(), 200);
  const end = await serve.waitFor((e) => e.event === 'call.end' && e.callId === a.res.callId);
  const { packetsIn: _in, packetsOut: _out, ...exact } = { ...expected, authFailures: expected.authFailures + floodCounted };
  for (const [k, v] of Object.entries(exact)) assert.equal(end[k], v, `call.end: ${k}`);
  // The probes while the flood drained lost some packets in the full socket buffer; the rest were echoed.
  assert.ok(Number(end.packetsIn) >= 49);
  assert.equal(Number(end.packetsOut) + Number(end.heardBeforeAck), end.packetsIn, 'every authentic packet echoed once (but those heard before the ACK)');
  assert.equal(end.oneWayAudio, false);
  assert.equal(end.lost, 0, 'the phone’s streams (each SSRC its own sequence space) lost nothing');

  // 4. serve is still up and answers a new call; this phone sends the RFC's 10-octet SRTCP tags for _32.
  assert.equal(serve.child.exitCode, null);
  const b = await call(caller);
  t.after(() => b.media.close());
  assert.equal((await b.roundTrip(5)).intact, 5);
  const bSsrc = b.media.received[0]!.readUInt32BE(8);
  const rfcTx = new SrtpSender({ suite: SUITE, keys: [b.phoneKey] });
  const n = rfcTx.protectRtcp(receiverReport(phoneSsrc, bSsrc, 7));
  await b.media.send(Buffer.from(rfcTx.out.subarray(0, n)), b.echoPort + 1);
  assert.equal((await b.roundTrip(2)).intact, 2);
  assert.equal(await b.res.bye(), 200);
  const endB = await serve.waitFor((e) => e.event === 'call.end' && e.callId === b.res.callId);
  assert.equal(endB.srtcpTagBits, 80);
  assert.equal(endB.rtcpIn, 1);
  assert.equal(endB.authFailures, 0);
  assert.doesNotMatch(serve.stderr, /Error|at .*\.js/, 'nothing thrown in serve');
});
