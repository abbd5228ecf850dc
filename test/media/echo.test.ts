import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { EchoSession } from '../../src/media/echo.js';
import { PortPool } from '../../src/media/ports.js';
import { SrtpReceiver, SrtpSender, type SuiteName, SUITES } from '../../src/srtp/index.js';

function key(suite: SuiteName) {
  return { key: randomBytes(SUITES[suite].keyLen), salt: randomBytes(SUITES[suite].saltLen) };
}

function rtp(seq: number, ts: number, ssrc: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = 0;
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE(ts >>> 0, 4);
  h.writeUInt32BE(ssrc, 8);
  return Buffer.concat([h, payload]);
}

/** A receiver report from the "phone" about `aboutSsrc`, as compound RTCP (RR + SDES). */
function rr(ssrc: number, aboutSsrc: number, highestSeq: number, fractionLost: number): Buffer {
  const b = Buffer.alloc(8 + 24 + 12);
  b[0] = 0x81;
  b[1] = 201;
  b.writeUInt16BE(7, 2);
  b.writeUInt32BE(ssrc, 4);
  b.writeUInt32BE(aboutSsrc, 8);
  b[12] = fractionLost;
  b.writeUInt32BE(highestSeq, 16);
  b[32] = 0x81;
  b[33] = 202;
  b.writeUInt16BE(2, 34);
  b.writeUInt32BE(ssrc, 36);
  return b;
}

async function phoneSocket(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return s;
}

for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AES_256_CM_HMAC_SHA1_80', 'AEAD_AES_128_GCM'] as const) {
  test(`echo ${suite}: the phone's audio comes back, re-keyed; tampering, replays and wrong keys are counted, never echoed`, async (t) => {
    const pool = new PortPool(41000, 41999);
    const phoneKey = key(suite);
    const ourKey = key(suite);
    const echo = await EchoSession.open({ callId: 'c1', phone: 'p', bind: '127.0.0.1', pool, rtcpMux: true, remote: { address: '127.0.0.1', rtpPort: 1, rtcpPort: 2 }, srtp: { suite, remote: [phoneKey], local: ourKey }, clockRate: 8000 });
    t.after(() => echo.close());
    const sock = await phoneSocket();
    t.after(() => sock.close());
    const tx = new SrtpSender({ suite, keys: [phoneKey], srtcpTagLen: suite.endsWith('_32') ? 4 : undefined });
    const rxOurs = new SrtpReceiver({ suite, keys: [ourKey] });
    const rxWrong = new SrtpReceiver({ suite, keys: [phoneKey] });
    const got: Buffer[] = [];
    let wrongKeyOk = 0;
    sock.on('message', (m) => {
      if (m[1]! >= 192 && m[1]! <= 223) return;
      if (rxWrong.unprotectRtp(m) >= 0) wrongKeyOk++;
      const n = rxOurs.unprotectRtp(m);
      if (n >= 0) got.push(Buffer.from(rxOurs.out.subarray(0, n)));
    });
    const ssrc = 0x12345678;
    const payloads: Buffer[] = [];
    const send = (b: Buffer) => new Promise<void>((r) => sock.send(b, echo.localPort, '127.0.0.1', () => r()));
    for (let i = 0; i < 50; i++) {
      const p = randomBytes(160);
      payloads.push(p);
      const n = tx.protectRtp(rtp(1000 + i, 160 * i, ssrc, p));
      const pkt = Buffer.from(tx.out.subarray(0, n));
      if (i === 20) {
        // A tampered copy first (a replayed index would be refused before authentication, RFC 3711 §3.3).
        const bad = Buffer.from(pkt);
        bad[bad.length - 1]! ^= 1;
        await send(bad);
        await send(pkt.subarray(0, 8)); // truncated
      }
      await send(pkt);
      if (i === 10) await send(pkt); // replay
    }
    // A packet under another key authenticates nowhere.
    const other = new SrtpSender({ suite, keys: [key(suite)] });
    const on = other.protectRtp(rtp(2000, 0, ssrc, randomBytes(160)));
    await send(Buffer.from(other.out.subarray(0, on)));
    // SRTCP from the phone reporting on our stream.
    await new Promise((r) => setTimeout(r, 200));
    const firstBack = got[0];
    assert.ok(firstBack, 'audio came back');
    const ourSsrc = firstBack.readUInt32BE(8);
    const rn = tx.protectRtcp(rr(ssrc, ourSsrc, 1049, 0));
    await send(Buffer.from(tx.out.subarray(0, rn)));
    await new Promise((r) => setTimeout(r, 200));

    assert.equal(got.length, 50, 'every authentic packet echoed once');
    assert.equal(wrongKeyOk, 0, "the echo never uses the phone's key");
    got.forEach((g, i) => assert.ok(g.subarray(12).equals(payloads[i]!), `payload ${i} intact`));
    assert.notEqual(ourSsrc, ssrc, 'the echo is its own source');
    const r = echo.report();
    assert.equal(r.packetsIn, 50);
    assert.equal(r.packetsOut, 50);
    assert.equal(r.replays, 1);
    assert.equal(r.authFailures, 2, 'tampered tag + foreign key');
    assert.ok(r.decryptErrors >= 1, 'the truncated packet');
    assert.equal(r.rtcpIn, 1);
    assert.equal(r.srtcpTagBits, suite.endsWith('_32') ? 32 : suite.startsWith('AEAD') ? 128 : 80);
    assert.deepEqual(r.phoneHears, { highestSeq: 1049, fractionLost: 0, cumulativeLost: 0 });
    assert.equal(r.oneWayAudio, false);
    assert.equal(r.phoneStream.tsStep, 160);
    assert.equal(r.phoneStream.timestampAnomalies, 0);
    assert.equal(r.phoneStream.lost, 0);
    assert.deepEqual(r.phoneStream.payloadTypes, { '0': 50 });
  });
}

test('echo diagnoses one-way audio and timestamp anomalies', async (t) => {
  const suite = 'AES_CM_128_HMAC_SHA1_80';
  const pool = new PortPool(42000, 42999);
  const phoneKey = key(suite);
  const echo = await EchoSession.open({ callId: 'c2', phone: 'p', bind: '127.0.0.1', pool, rtcpMux: true, remote: { address: '127.0.0.1', rtpPort: 1, rtcpPort: 2 }, srtp: { suite, remote: [phoneKey], local: key(suite) }, clockRate: 8000 });
  t.after(() => echo.close());
  const silent = echo.report();
  assert.equal(silent.oneWayAudio, true);
  assert.match(silent.oneWayReason ?? '', /no media from the phone/);
  const sock = await phoneSocket();
  t.after(() => sock.close());
  // The talk's "Wrong timestamp": a phone that advances its timestamp by the wrong amount now and then.
  const tx = new SrtpSender({ suite, keys: [phoneKey] });
  let ourSsrc = 0;
  sock.on('message', (m) => (ourSsrc = m.readUInt32BE(8)));
  let ts = 0;
  for (let i = 0; i < 40; i++) {
    ts += i % 4 === 3 ? 80 : 160;
    const n = tx.protectRtp(rtp(i, ts, 7, randomBytes(160)));
    await new Promise<void>((r) => sock.send(Buffer.from(tx.out.subarray(0, n)), echo.localPort, '127.0.0.1', () => r()));
  }
  // And reports that it hears none of our audio.
  await new Promise((r) => setTimeout(r, 150));
  assert.notEqual(ourSsrc, 0, 'the echo answered');
  const n = tx.protectRtcp(rr(7, ourSsrc, 0, 255));
  await new Promise<void>((r) => sock.send(Buffer.from(tx.out.subarray(0, n)), echo.localPort, '127.0.0.1', () => r()));
  await new Promise((r) => setTimeout(r, 150));
  const r = echo.report();
  assert.equal(r.phoneStream.tsStep, 160);
  assert.equal(r.phoneStream.timestampAnomalies, 10, "every 4th step is 80 instead of 160");
  assert.equal(r.packetsIn, 40);
  assert.equal(r.oneWayAudio, true);
  assert.match(r.oneWayReason ?? '', /the phone reports losing all of sipsec's audio/);
});
