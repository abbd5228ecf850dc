/**
 * ROC and index estimation (RFC 3711 §3.3.1, Appendix A), alone and
 * through a sender/receiver pair across the 65535 → 0 wrap.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SrtpReceiver } from '../../src/srtp/receiver.js';
import { estimateRoc, RocState } from '../../src/srtp/rollover.js';
import { SrtpSender } from '../../src/srtp/sender.js';
import { SrtpStatus, statusName } from '../../src/srtp/status.js';
import type { SuiteName } from '../../src/srtp/suites.js';
import { randomKey, rtp, toHex } from './helpers.js';

describe('estimateRoc (Appendix A)', () => {
  const cases: Array<[string, number, number, number, number]> = [
    // [what, roc, s_l, seq, expected v]
    ['in order, low half', 5, 100, 101, 5],
    ['late, low half', 5, 100, 50, 5],
    ['from the previous ROC (s_l small, seq near 65535)', 5, 100, 65500, 4],
    ['in order, high half', 5, 40000, 40001, 5],
    ['wrapped (s_l high, seq small)', 5, 65535, 0, 6],
    ['wrap by a larger jump', 5, 60000, 1000, 6],
    ['late in the high half', 5, 60000, 30000, 5],
    ['exactly 32768 ahead stays', 5, 0, 32768, 5],
    ['32769 ahead of a low s_l is the previous ROC', 5, 0, 32769, 4],
    ['ROC 0 with an old packet gives -1 (before the stream)', 0, 10, 65000, -1],
  ];
  for (const [what, roc, sl, seq, v] of cases) {
    it(what, () => assert.equal(estimateRoc(roc, sl, seq), v));
  }

  it('RocState only moves forward on commit', () => {
    const s = new RocState();
    s.commit(s.guess(65534), 65534);
    s.commit(s.guess(65535), 65535);
    const v0 = s.guess(0);
    assert.equal(v0, 1);
    s.commit(v0, 0);
    assert.deepEqual([s.roc, s.sl], [1, 0]);
    // A late packet from ROC 0 commits without moving ROC back (§3.3.1).
    const late = s.guess(65533);
    assert.equal(late, 0);
    s.commit(late, 65533);
    assert.deepEqual([s.roc, s.sl], [1, 0]);
  });
});

describe('rollover through the contexts', () => {
  const suites: SuiteName[] = ['AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_128_GCM'];
  for (const suite of suites) {
    it(`${suite}: 65530..65535 then 0..5, and late packets from ROC 0 after the wrap`, () => {
      const key = randomKey(suite);
      const tx = new SrtpSender({ suite, keys: [key] });
      const rx = new SrtpReceiver({ suite, keys: [key] });
      const seqs = [65530, 65531, 65532, 65533, 65535, 0, 1, 2, 3, 4, 5];
      const held = new Map<number, Buffer>();
      for (const seq of [...seqs.slice(0, 4), 65534, ...seqs.slice(4)]) {
        const n = tx.protectRtp(rtp({ seq }));
        assert.ok(n > 0, statusName(n));
        held.set(seq, Buffer.from(tx.out.subarray(0, n)));
      }
      assert.equal(tx.rocOf(0x11223344), 1);
      // Deliver all but 65534, which arrives late after the wrap.
      for (const seq of seqs) {
        const n = rx.unprotectRtp(held.get(seq)!);
        assert.ok(n > 0, `seq ${seq}: ${statusName(n)}`);
        assert.equal(rx.out.readUInt16BE(2), seq);
      }
      assert.equal(rx.rocOf(0x11223344), 1);
      const late = rx.unprotectRtp(held.get(65534)!);
      assert.ok(late > 0, `late 65534: ${statusName(late)}`);
      assert.equal(toHex(rx.out, late), toHex(rtp({ seq: 65534 })));
      assert.equal(rx.rocOf(0x11223344), 1, 'a late packet must not move ROC back');
      // And replaying it now is caught (it is inside the window, already seen).
      assert.equal(rx.unprotectRtp(held.get(65534)!), SrtpStatus.REPLAY);
    });
  }

  it('the ROC is part of the tag: a receiver with the wrong ROC rejects (AES-CM, §4.2)', () => {
    const suite = 'AES_CM_128_HMAC_SHA1_80';
    const key = randomKey(suite);
    const tx = new SrtpSender({ suite, keys: [key] });
    tx.setRoc(0x11223344, 7);
    const n = tx.protectRtp(rtp({ seq: 10 }));
    const pkt = Buffer.from(tx.out.subarray(0, n));
    const wrong = new SrtpReceiver({ suite, keys: [key] });
    assert.equal(wrong.unprotectRtp(pkt), SrtpStatus.AUTH_FAIL);
    assert.equal(wrong.rocOf(0x11223344), undefined, 'no state from a failed packet');
    const right = new SrtpReceiver({ suite, keys: [key] });
    right.setRoc(0x11223344, 7);
    assert.ok(right.unprotectRtp(pkt) > 0);
    assert.equal(right.rocOf(0x11223344), 7);
  });

  it('a forged packet does not advance ROC (state only after authentication)', () => {
    const suite = 'AES_CM_128_HMAC_SHA1_80';
    const key = randomKey(suite);
    const tx = new SrtpSender({ suite, keys: [key] });
    const rx = new SrtpReceiver({ suite, keys: [key] });
    let n = tx.protectRtp(rtp({ seq: 60000 }));
    assert.ok(rx.unprotectRtp(tx.out, n) > 0);
    // A forged seq 5 would be ROC+1 if trusted.
    const forged = rtp({ seq: 5, payload: Buffer.alloc(30) });
    assert.equal(rx.unprotectRtp(forged), SrtpStatus.AUTH_FAIL);
    assert.equal(rx.rocOf(0x11223344), 0);
    n = tx.protectRtp(rtp({ seq: 60001 }));
    assert.ok(rx.unprotectRtp(tx.out, n) > 0);
  });

  it('a packet before the start of a ROC 0 stream is REPLAY_OLD, not a huge index', () => {
    const suite = 'AES_CM_128_HMAC_SHA1_80';
    const key = randomKey(suite);
    const tx = new SrtpSender({ suite, keys: [key] });
    const rx = new SrtpReceiver({ suite, keys: [key] });
    const n = tx.protectRtp(rtp({ seq: 10 }));
    assert.ok(rx.unprotectRtp(tx.out, n) > 0);
    assert.equal(tx.protectRtp(rtp({ seq: 65000 })), SrtpStatus.REPLAY_OLD);
    // The receiver side: a genuine ROC 0 packet with SEQ 65000 arriving after SEQ 10.
    const other = new SrtpSender({ suite, keys: [key] });
    const m = other.protectRtp(rtp({ seq: 65000 }));
    assert.equal(rx.unprotectRtp(other.out, m), SrtpStatus.REPLAY_OLD);
  });
});
