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

// Taken before any test mocks the timers: real waits for real UDP.
const realSetTimeout = globalThis.setTimeout;
const realSetImmediate = globalThis.setImmediate;

/** The next datagram on `sock` that `pred` accepts (bounded by a real timer, which mock timers do not touch). */
function nextMessage(sock: dgram.Socket, pred: (m: Buffer) => boolean, ms = 2000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const timer = realSetTimeout(() => {
      sock.off('message', on);
      resolve(undefined);
    }, ms);
    const on = (m: Buffer) => {
      if (!pred(m)) return;
      clearTimeout(timer);
      sock.off('message', on);
      resolve(m);
    };
    sock.on('message', on);
  });
}
const isRtcpPacket = (m: Buffer) => m[1]! >= 192 && m[1]! <= 223;

test('echo: a phone that restarts its stream (new SSRC, lower sequence number) is still echoed, on a new SSRC of ours', async (t) => {
  const suite = 'AES_CM_128_HMAC_SHA1_80';
  const pool = new PortPool(43000, 43999);
  const phoneKey = key(suite);
  const ourKey = key(suite);
  const echo = await EchoSession.open({ callId: 'c3', phone: 'p', bind: '127.0.0.1', pool, rtcpMux: true, remote: { address: '127.0.0.1', rtpPort: 1, rtcpPort: 2 }, srtp: { suite, remote: [phoneKey], local: ourKey }, clockRate: 8000 });
  t.after(() => echo.close());
  const sock = await phoneSocket();
  t.after(() => sock.close());
  const rx = new SrtpReceiver({ suite, keys: [ourKey] });
  const back: Array<{ ssrc: number; seq: number }> = [];
  sock.on('message', (m) => {
    const n = rx.unprotectRtp(m);
    if (n >= 0) back.push({ ssrc: rx.out.readUInt32BE(8), seq: rx.out.readUInt16BE(2) });
  });
  const tx = new SrtpSender({ suite, keys: [phoneKey] });
  const send = async (seq: number, ssrc: number) => {
    const n = tx.protectRtp(rtp(seq, seq * 160, ssrc, randomBytes(160)));
    await new Promise<void>((r) => sock.send(Buffer.from(tx.out.subarray(0, n)), echo.localPort, '127.0.0.1', () => r()));
  };
  // The first stream runs at 30000; after "hold" the phone starts over at 100 with a new SSRC. Under one
  // SSRC of ours that is a step back in packet index (RFC 3711 §3.3.1 estimates the same ROC), which the
  // sender refuses: keystream reuse.
  for (let i = 0; i < 10; i++) await send(30000 + i, 0xaaaa0001);
  for (let i = 0; i < 10; i++) await send(100 + i, 0xbbbb0002);
  for (let i = 0; i < 50 && back.length < 20; i++) await new Promise((r) => realSetTimeout(r, 20));
  assert.equal(back.length, 20, 'both streams echoed');
  const ours = [...new Set(back.map((b) => b.ssrc))];
  assert.equal(ours.length, 2, 'one stream of ours per phone stream');
  const r = echo.report();
  assert.equal(r.decryptErrors, 0);
  assert.equal(r.packetsOut, 20);
  assert.equal(r.phoneStream.lost, 0, 'each SSRC has its own sequence space');
  assert.equal(r.phoneStream.gaps, 0);
  assert.equal(r.phoneStream.ssrcs, 2);
});

test('echo: STUN keep-alives and plain RTCP are not counted as authentication failures', async (t) => {
  const suite = 'AES_CM_128_HMAC_SHA1_80';
  const pool = new PortPool(44000, 44999);
  const phoneKey = key(suite);
  const echo = await EchoSession.open({ callId: 'c4', phone: 'p', bind: '127.0.0.1', pool, rtcpMux: false, remote: { address: '127.0.0.1', rtpPort: 1, rtcpPort: 2 }, srtp: { suite, remote: [phoneKey], local: key(suite) }, clockRate: 8000 });
  t.after(() => echo.close());
  const sock = await phoneSocket();
  t.after(() => sock.close());
  const stun = Buffer.alloc(20);
  stun.writeUInt16BE(1, 0);
  stun.writeUInt32BE(0x2112a442, 4);
  // linphone: STUN binding requests on both ports; baresip 1.0: one plain RTCP APP "PINGPONG" before SRTP starts.
  const pingpong = Buffer.from('80cc0003ee64f8ae50494e47504f4e47', 'hex');
  const send = (b: Buffer, port: number) => new Promise<void>((r) => sock.send(b, port, '127.0.0.1', () => r()));
  await send(stun, echo.localPort);
  await send(stun, echo.localPort + 1);
  await send(pingpong, echo.localPort + 1);
  // A real SRTCP packet with a tampered tag is an authentication failure.
  const tx = new SrtpSender({ suite, keys: [phoneKey] });
  const n = tx.protectRtcp(rr(7, 8, 0, 0));
  const bad = Buffer.from(tx.out.subarray(0, n));
  bad[bad.length - 1]! ^= 1;
  await send(bad, echo.localPort + 1);
  for (let i = 0; i < 50; i++) {
    const r = echo.report();
    if (r.stunIn + r.decryptErrors + r.rtcpAuthFailures >= 4) break;
    await new Promise((res) => realSetTimeout(res, 10));
  }
  const r = echo.report();
  assert.equal(r.stunIn, 2);
  assert.equal(r.decryptErrors, 1, 'the plain APP packet: too short to be SRTCP');
  assert.equal(r.rtcpAuthFailures, 1);
  assert.equal(r.authFailures, 0);
});

for (const phoneSends of [4, 10, null] as const) {
  test(`echo _32: its SRTCP waits for the phone's tag length, then mirrors it (phone sends ${phoneSends === null ? 'no SRTCP' : `${phoneSends * 8}-bit tags`})`, async (t) => {
    const suite = 'AES_CM_128_HMAC_SHA1_32';
    const pool = new PortPool(45000, 45999);
    const phoneKey = key(suite);
    const ourKey = key(suite);
    let clock = 1_000_000;
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const echo = await EchoSession.open({ callId: 'c5', phone: 'p', bind: '127.0.0.1', pool, rtcpMux: true, remote: { address: '127.0.0.1', rtpPort: 1, rtcpPort: 2 }, srtp: { suite, remote: [phoneKey], local: ourKey }, clockRate: 8000, now: () => clock });
    t.after(() => echo.close());
    const sock = await phoneSocket();
    t.after(() => sock.close());
    const tx = new SrtpSender({ suite, keys: [phoneKey], ...(phoneSends ? { srtcpTagLen: phoneSends } : {}) });
    const send = (b: Buffer) => new Promise<void>((r) => sock.send(b, echo.localPort, '127.0.0.1', () => r()));
    const echoed = nextMessage(sock, (m) => !isRtcpPacket(m));
    const m = tx.protectRtp(rtp(1, 160, 9, randomBytes(160)));
    await send(Buffer.from(tx.out.subarray(0, m)));
    const first = await echoed;
    assert.ok(first, 'echoed');
    // The first report is due within 7.5 s; with the phone's tag length unknown it is held back.
    const early = nextMessage(sock, isRtcpPacket, 300);
    t.mock.timers.tick(8000);
    assert.equal(await early, undefined, 'no SRTCP before the phone showed its tag length');
    if (phoneSends !== null) {
      const n = tx.protectRtcp(rr(9, first.readUInt32BE(8), 1, 0));
      await send(Buffer.from(tx.out.subarray(0, n)));
      for (let i = 0; i < 50 && echo.report().rtcpIn === 0; i++) await new Promise((r) => realSetImmediate(r));
      assert.equal(echo.report().srtcpTagBits, phoneSends * 8);
    } else {
      clock += 12_000; // after the wait, the RFC's 80 bits
    }
    const report = nextMessage(sock, isRtcpPacket);
    t.mock.timers.tick(8000);
    const got = await report;
    assert.ok(got, 'the echo sent its report');
    const rx = new SrtpReceiver({ suite, keys: [ourKey] });
    assert.ok(rx.unprotectRtcp(got) >= 0, 'it authenticates with the echo key');
    assert.equal(rx.srtcpTagBits, phoneSends === 4 ? 32 : 80);
  });
}
