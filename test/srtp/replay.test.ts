/**
 * Replay protection (RFC 3711 §3.3.2): the window alone, then through
 * SRTP and SRTCP contexts, including the window edges.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSipsecError } from '../../src/core/errors.js';
import { SrtpReceiver } from '../../src/srtp/receiver.js';
import { ReplayWindow } from '../../src/srtp/replay.js';
import { SrtpSender } from '../../src/srtp/sender.js';
import { SrtpStatus } from '../../src/srtp/status.js';
import { randomKey, rtcp, rtp } from './helpers.js';

describe('ReplayWindow', () => {
  it('accepts anything first, then new, unseen-in-window; rejects seen and too old', () => {
    const w = new ReplayWindow(64);
    assert.equal(w.check(1000), SrtpStatus.OK);
    w.accept(1000);
    assert.equal(w.check(1000), SrtpStatus.REPLAY);
    assert.equal(w.check(1001), SrtpStatus.OK);
    assert.equal(w.check(999), SrtpStatus.OK);
    // Edges: top - 63 is the oldest slot inside a 64 window, top - 64 is out.
    assert.equal(w.check(1000 - 63), SrtpStatus.OK);
    assert.equal(w.check(1000 - 64), SrtpStatus.REPLAY_OLD);
    w.accept(1000 - 63);
    assert.equal(w.check(1000 - 63), SrtpStatus.REPLAY);
  });

  it('slides: advancing clears the slots it passes, keeps the ones still inside', () => {
    const w = new ReplayWindow(64);
    for (const i of [10, 12, 14]) w.accept(i);
    w.accept(70); // window now 7..70
    assert.equal(w.check(10), SrtpStatus.REPLAY);
    assert.equal(w.check(11), SrtpStatus.OK);
    assert.equal(w.check(6), SrtpStatus.REPLAY_OLD);
    w.accept(74); // window 11..74: 10 fell out
    assert.equal(w.check(10), SrtpStatus.REPLAY_OLD);
    assert.equal(w.check(12), SrtpStatus.REPLAY);
    assert.equal(w.check(73), SrtpStatus.OK, 'a slot reused by the ring is clear');
    w.accept(1000); // a jump larger than the window clears everything
    assert.equal(w.check(999), SrtpStatus.OK);
    assert.equal(w.check(1000 - 64), SrtpStatus.REPLAY_OLD);
  });

  it('works at 48-bit indices', () => {
    const w = new ReplayWindow(128);
    const big = 2 ** 47 + 12345;
    w.accept(big);
    assert.equal(w.check(big), SrtpStatus.REPLAY);
    assert.equal(w.check(big - 127), SrtpStatus.OK);
    assert.equal(w.check(big - 128), SrtpStatus.REPLAY_OLD);
  });
});

describe('replay through the contexts', () => {
  const suite = 'AES_CM_128_HMAC_SHA1_80';

  it('SRTP: duplicate rejected, reordered accepted, window edge at the configured size (128 default)', () => {
    const key = randomKey(suite);
    const tx = new SrtpSender({ suite, keys: [key] });
    const rx = new SrtpReceiver({ suite, keys: [key] });
    const pkts: Buffer[] = [];
    for (let seq = 0; seq <= 200; seq++) {
      const n = tx.protectRtp(rtp({ seq }));
      pkts.push(Buffer.from(tx.out.subarray(0, n)));
    }
    assert.ok(rx.unprotectRtp(pkts[200]) > 0);
    assert.equal(rx.unprotectRtp(pkts[200]), SrtpStatus.REPLAY);
    assert.ok(rx.unprotectRtp(pkts[73]) > 0, '200 - 127: inside');
    assert.equal(rx.unprotectRtp(pkts[72]), SrtpStatus.REPLAY_OLD, '200 - 128: outside');
    assert.equal(rx.unprotectRtp(pkts[73]), SrtpStatus.REPLAY);
    assert.equal(rx.counters().REPLAY, 2);
    assert.equal(rx.counters().REPLAY_OLD, 1);
    assert.equal(rx.counters().OK, 2);
  });

  it('SRTP: a 64-packet window (RFC minimum) is configurable', () => {
    const key = randomKey(suite);
    const tx = new SrtpSender({ suite, keys: [key] });
    const rx = new SrtpReceiver({ suite, keys: [key], replayWindow: 64 });
    const pkts: Buffer[] = [];
    for (let seq = 0; seq < 100; seq++) pkts.push(Buffer.from(tx.out.subarray(0, tx.protectRtp(rtp({ seq })))));
    assert.ok(rx.unprotectRtp(pkts[99]) > 0);
    assert.ok(rx.unprotectRtp(pkts[36]) > 0);
    assert.equal(rx.unprotectRtp(pkts[35]), SrtpStatus.REPLAY_OLD);
  });

  it('SRTP: a replayed packet with a tampered tag is still counted as a failure, not accepted', () => {
    const key = randomKey(suite);
    const tx = new SrtpSender({ suite, keys: [key] });
    const rx = new SrtpReceiver({ suite, keys: [key] });
    const n = tx.protectRtp(rtp({ seq: 1 }));
    const p = Buffer.from(tx.out.subarray(0, n));
    assert.ok(rx.unprotectRtp(p) > 0);
    p[p.length - 1] ^= 1;
    assert.ok(rx.unprotectRtp(p) < 0);
  });

  it('SRTCP has its own window; the first index need not be 0', () => {
    const key = randomKey(suite);
    const tx = new SrtpSender({ suite, keys: [key] });
    const rx = new SrtpReceiver({ suite, keys: [key] });
    tx.setSrtcpIndex(0x11223344, 5000);
    const pkts: Buffer[] = [];
    for (let i = 0; i < 3; i++) pkts.push(Buffer.from(tx.out.subarray(0, tx.protectRtcp(rtcp()))));
    assert.ok(rx.unprotectRtcp(pkts[1]) > 0);
    assert.ok(rx.unprotectRtcp(pkts[0]) > 0, 'reordered inside the window');
    assert.equal(rx.unprotectRtcp(pkts[0]), SrtpStatus.REPLAY);
    assert.ok(rx.unprotectRtcp(pkts[2]) > 0);
    // The SRTP window for the same SSRC is untouched by SRTCP.
    const n = tx.protectRtp(rtp({ seq: 5000 }));
    assert.ok(rx.unprotectRtp(tx.out, n) > 0);
  });

  it('the sender refuses to reuse a packet index (keystream reuse) unless allowed', () => {
    const key = randomKey(suite);
    const tx = new SrtpSender({ suite, keys: [key] });
    assert.ok(tx.protectRtp(rtp({ seq: 9 })) > 0);
    assert.equal(tx.protectRtp(rtp({ seq: 9 })), SrtpStatus.REPLAY);
    const again = new SrtpSender({ suite, keys: [key], allowRepeatTx: true });
    assert.ok(again.protectRtp(rtp({ seq: 9 })) > 0);
    assert.ok(again.protectRtp(rtp({ seq: 9 })) > 0);
  });

  it('window sizes outside 64..32736 or not a multiple of 32 are refused at construction', () => {
    const key = randomKey(suite);
    for (const replayWindow of [32, 63, 100, 0x8000]) {
      assert.throws(() => new SrtpReceiver({ suite, keys: [key], replayWindow }), (e: unknown) => isSipsecError(e) && e.code === 'BAD_INPUT');
    }
  });
});
