/**
 * Sender/receiver behaviour: every suite round-trips; bad packets are
 * counted, never thrown; MKI; the SRTCP tag length of `_32` suites; E = 0;
 * session parameters; KDR != 0; the buffer contract and the relay.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isSipsecError } from '../../src/core/errors.js';
import { SrtpReceiver } from '../../src/srtp/receiver.js';
import { reprotectRtcp, reprotectRtp } from '../../src/srtp/relay.js';
import { SrtpSender } from '../../src/srtp/sender.js';
import { SrtpStatus, statusName } from '../../src/srtp/status.js';
import { SUITE_NAMES, SUITES, type SuiteName } from '../../src/srtp/suites.js';
import { hex, randomKey, rtcp, rtp, toHex } from './helpers.js';

function pair(suite: SuiteName, extra: Partial<ConstructorParameters<typeof SrtpSender>[0]> = {}) {
  const key = randomKey(suite);
  const tx = new SrtpSender({ suite, keys: [key], ...extra });
  const rx = new SrtpReceiver({ suite, keys: [key], ...extra });
  return { key, tx, rx };
}

function copy(b: Buffer, n: number): Buffer {
  assert.ok(n >= 0, `expected a packet, got ${statusName(n)}`);
  return Buffer.from(b.subarray(0, n));
}

const badInput = (e: unknown) => isSipsecError(e) && e.code === 'BAD_INPUT';

describe('every suite round-trips RTP and RTCP', () => {
  for (const suite of SUITE_NAMES) {
    it(suite, () => {
      const { tx, rx } = pair(suite);
      const s = SUITES[suite];
      for (const f of [
        { seq: 1 },
        { seq: 2, csrcs: [1, 2, 3] },
        { seq: 3, extWords: 2 },
        { seq: 4, payload: Buffer.alloc(0) },
        { seq: 5, payload: Buffer.alloc(1200, 3) },
        { seq: 6, payload: Buffer.alloc(7, 9) },
      ]) {
        const plain = rtp(f);
        const p = copy(tx.out, tx.protectRtp(plain));
        assert.equal(p.length, plain.length + s.tagLen);
        if (plain.length > 12) assert.notEqual(toHex(p.subarray(0, plain.length)), toHex(plain), 'payload encrypted');
        assert.equal(toHex(rx.out, rx.unprotectRtp(p)), toHex(plain));
      }
      const rc = rtcp();
      const q = copy(tx.out, tx.protectRtcp(rc));
      assert.equal(q.length, rc.length + 4 + s.srtcpTagLen);
      assert.equal(toHex(rx.out, rx.unprotectRtcp(q)), toHex(rc));
      assert.equal(rx.srtcpTagBits, s.srtcpTagLen * 8);
      assert.equal(rx.srtcpEncrypted, true);
    });
  }
});

describe('bad packets are counted, never thrown', () => {
  for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AES_256_CM_HMAC_SHA1_32', 'AEAD_AES_128_GCM'] as const) {
    it(`${suite}: tampered, truncated, bad version, bad header, wrong key, garbage`, () => {
      const { tx, rx } = pair(suite);
      const good = copy(tx.out, tx.protectRtp(rtp({ seq: 100 })));
      const goodRtcp = copy(tx.out, tx.protectRtcp(rtcp()));
      const expect = (p: Uint8Array, code: number, what: string, kind: 'rtp' | 'rtcp' = 'rtp') => {
        const n = kind === 'rtp' ? rx.unprotectRtp(p) : rx.unprotectRtcp(p);
        assert.equal(statusName(n), statusName(code), what);
      };
      for (const at of [2, 12, good.length - 1]) {
        const t = Buffer.from(good);
        t[at] ^= 0x01;
        expect(t, SrtpStatus.AUTH_FAIL, `bit flipped at ${at}`);
      }
      expect(good.subarray(0, 11), SrtpStatus.TOO_SHORT, 'shorter than a header');
      expect(good.subarray(0, 12 + SUITES[suite].tagLen - 1), SrtpStatus.TOO_SHORT, 'header + less than a tag');
      expect(good.subarray(0, good.length - 1), SrtpStatus.AUTH_FAIL, 'one octet short');
      expect(Buffer.alloc(0), SrtpStatus.TOO_SHORT, 'empty');
      const v1 = Buffer.from(good);
      v1[0] = (v1[0] & 0x3f) | 0x40;
      expect(v1, SrtpStatus.BAD_VERSION, 'version 1');
      const cc = Buffer.from(good);
      cc[0] |= 0x0f;
      expect(cc, SrtpStatus.BAD_HEADER, '15 CSRCs in a short packet');
      const ext = Buffer.from(good);
      ext[0] |= 0x10;
      ext.writeUInt16BE(0xffff, 14);
      expect(ext, SrtpStatus.BAD_HEADER, 'extension longer than the packet');
      const other = new SrtpReceiver({ suite, keys: [randomKey(suite)] });
      assert.equal(other.unprotectRtp(good), SrtpStatus.AUTH_FAIL, 'wrong key');
      assert.equal(other.unprotectRtcp(goodRtcp), SrtpStatus.AUTH_FAIL, 'wrong key, SRTCP');
      const t = Buffer.from(goodRtcp);
      t[10] ^= 0x80;
      expect(t, SrtpStatus.AUTH_FAIL, 'SRTCP tampered', 'rtcp');
      expect(goodRtcp.subarray(0, 7), SrtpStatus.TOO_SHORT, 'SRTCP shorter than a header', 'rtcp');
      expect(goodRtcp.subarray(0, 12), SrtpStatus.TOO_SHORT, 'SRTCP without room for a tag', 'rtcp');
      const r2 = Buffer.from(goodRtcp);
      r2[0] = 0x41;
      expect(r2, SrtpStatus.BAD_VERSION, 'SRTCP version 1', 'rtcp');
      // Pseudo-random garbage of every length up to 100 octets: statuses only.
      let seed = 7;
      for (let len = 0; len <= 100; len++) {
        const g = Buffer.alloc(len);
        for (let i = 0; i < len; i++) g[i] = seed = (seed * 1103515245 + 12345) & 0xff;
        if (len > 0) g[0] = 0x80 | (g[0] & 0x3f);
        assert.ok(rx.unprotectRtp(g) < 0);
        assert.ok(rx.unprotectRtcp(g) < 0);
      }
      // The good packets still work: nothing above changed state.
      assert.equal(rx.unprotectRtp(good), 12 + 20);
      assert.equal(rx.unprotectRtcp(goodRtcp), 28);
      const c = rx.counters();
      assert.ok(c.AUTH_FAIL >= 5 && c.TOO_SHORT >= 4 && c.BAD_VERSION >= 2 && c.BAD_HEADER >= 2);
      assert.equal(c.OK, 2);
    });
  }

  it('a length beyond the buffer or beyond 65535 is refused, not read', () => {
    const { tx, rx } = pair('AES_CM_128_HMAC_SHA1_80');
    const p = rtp({ seq: 1 });
    assert.equal(tx.protectRtp(p, p.length + 5), SrtpStatus.TOO_SHORT);
    assert.equal(tx.protectRtp(Buffer.alloc(70000, 0x80)), SrtpStatus.TOO_LONG);
    assert.equal(rx.unprotectRtp(Buffer.alloc(70000, 0x80)), SrtpStatus.TOO_LONG);
  });

  it('a too-small dst is NO_ROOM', () => {
    const { tx } = pair('AES_CM_128_HMAC_SHA1_80');
    assert.equal(tx.protectRtp(rtp({ seq: 1 }), undefined, Buffer.alloc(10)), SrtpStatus.NO_ROOM);
  });
});

describe('MKI', () => {
  const suite = 'AES_CM_128_HMAC_SHA1_80';
  const k1 = randomKey(suite, hex('01'));
  const k2 = randomKey(suite, hex('02'));

  it('sender inserts the active key\'s MKI; receiver picks the key by MKI; unknown MKI is BAD_MKI', () => {
    const tx = new SrtpSender({ suite, keys: [k1, k2] });
    const rx = new SrtpReceiver({ suite, keys: [k1, k2] });
    const a = copy(tx.out, tx.protectRtp(rtp({ seq: 1 })));
    assert.equal(a[a.length - 11], 0x01);
    tx.selectKey(1);
    assert.equal(tx.activeKey, 1);
    const b = copy(tx.out, tx.protectRtp(rtp({ seq: 2 })));
    assert.equal(b[b.length - 11], 0x02);
    const c = copy(tx.out, tx.protectRtcp(rtcp()));
    assert.equal(c[c.length - 11], 0x02);
    assert.equal(toHex(rx.out, rx.unprotectRtp(b)), toHex(rtp({ seq: 2 })));
    assert.equal(rx.lastKey, 1);
    assert.equal(toHex(rx.out, rx.unprotectRtp(a)), toHex(rtp({ seq: 1 })));
    assert.equal(rx.lastKey, 0);
    assert.ok(rx.unprotectRtcp(c) > 0);
    const bad = Buffer.from(b);
    bad[bad.length - 11] = 0x03;
    assert.equal(rx.unprotectRtp(bad), SrtpStatus.BAD_MKI);
    const badRtcp = Buffer.from(c);
    badRtcp[badRtcp.length - 11] = 0x03;
    assert.equal(rx.unprotectRtcp(badRtcp), SrtpStatus.BAD_MKI);
    // A receiver that only knows key 1 refuses key 2's packets by MKI.
    const rx1 = new SrtpReceiver({ suite, keys: [k1] });
    assert.equal(rx1.unprotectRtp(b), SrtpStatus.BAD_MKI);
  });

  it('MKI of several octets, AEAD layout (tag then MKI), and with the _32 SRTCP fallback', () => {
    for (const s of ['AEAD_AES_256_GCM', 'AES_192_CM_HMAC_SHA1_32'] as const) {
      const m1 = randomKey(s, hex('a1b2c3d4e5f6'));
      const m2 = randomKey(s, hex('0000000000ff'));
      const tx = new SrtpSender({ suite: s, keys: [m1, m2], srtcpTagLen: s.endsWith('_32') ? 4 : undefined });
      const rx = new SrtpReceiver({ suite: s, keys: [m2, m1] });
      const p = copy(tx.out, tx.protectRtp(rtp({ seq: 1 })));
      if (SUITES[s].aead) assert.equal(toHex(p.subarray(p.length - 6)), 'a1b2c3d4e5f6');
      assert.ok(rx.unprotectRtp(p) > 0);
      assert.equal(rx.lastKey, 1);
      const q = copy(tx.out, tx.protectRtcp(rtcp()));
      assert.ok(rx.unprotectRtcp(q) > 0, s);
    }
  });

  it('bad MKI configurations are refused at construction', () => {
    const plain = randomKey(suite);
    assert.throws(() => new SrtpSender({ suite, keys: [plain, randomKey(suite)] }), badInput, 'two keys without MKI');
    assert.throws(() => new SrtpSender({ suite, keys: [k1, randomKey(suite, hex('0102'))] }), badInput, 'MKI lengths differ');
    assert.throws(() => new SrtpSender({ suite, keys: [k1, randomKey(suite, hex('01'))] }), badInput, 'duplicate MKI');
    assert.throws(() => new SrtpSender({ suite, keys: [k1] }).selectKey(1), badInput);
  });
});

describe('SRTCP tag length for _32 suites', () => {
  for (const suite of ['AES_CM_128_HMAC_SHA1_32', 'AES_192_CM_HMAC_SHA1_32', 'AES_256_CM_HMAC_SHA1_32'] as const) {
    it(`${suite}: receiver accepts 10- and 4-octet tags and reports which`, () => {
      const key = randomKey(suite);
      const rfc = new SrtpSender({ suite, keys: [key] });
      const asterisk = new SrtpSender({ suite, keys: [key], srtcpTagLen: 4 });
      const rx = new SrtpReceiver({ suite, keys: [key] });
      assert.equal(rx.srtcpTagBits, undefined);
      const p80 = copy(rfc.out, rfc.protectRtcp(rtcp(1)));
      const p32 = copy(asterisk.out, asterisk.protectRtcp(rtcp(2)));
      assert.equal(p80.length - p32.length, 6);
      assert.equal(toHex(rx.out, rx.unprotectRtcp(p80)), toHex(rtcp(1)));
      assert.equal(rx.srtcpTagBits, 80);
      assert.equal(toHex(rx.out, rx.unprotectRtcp(p32)), toHex(rtcp(2)));
      assert.equal(rx.srtcpTagBits, 32);
      assert.deepEqual(rx.srtcpTagCounts(), { 32: 1, 80: 1, 128: 0 });
      // A tampered 4-octet-tag packet fails both readings: AUTH_FAIL.
      const t = Buffer.from(p32);
      t[t.length - 1] ^= 1;
      assert.equal(rx.unprotectRtcp(t), SrtpStatus.AUTH_FAIL);
    });
  }

  it('the sender can switch to mirror the phone; _80 suites refuse a 4-octet SRTCP tag', () => {
    const suite = 'AES_CM_128_HMAC_SHA1_32';
    const key = randomKey(suite);
    const tx = new SrtpSender({ suite, keys: [key] });
    const rx = new SrtpReceiver({ suite, keys: [key] });
    tx.setSrtcpTagLen(4);
    assert.ok(rx.unprotectRtcp(tx.out, tx.protectRtcp(rtcp())) > 0);
    assert.equal(rx.srtcpTagBits, 32);
    assert.throws(() => new SrtpSender({ suite: 'AES_CM_128_HMAC_SHA1_80', keys: [randomKey('AES_CM_128_HMAC_SHA1_80')], srtcpTagLen: 4 }), badInput);
    assert.throws(() => tx.setSrtcpTagLen(16), badInput);
  });

  it('an _80 receiver does not accept a 4-octet tag', () => {
    const key = randomKey('AES_CM_128_HMAC_SHA1_32');
    const tx = new SrtpSender({ suite: 'AES_CM_128_HMAC_SHA1_32', keys: [key], srtcpTagLen: 4 });
    const rx = new SrtpReceiver({ suite: 'AES_CM_128_HMAC_SHA1_80', keys: [key] });
    assert.ok(rx.unprotectRtcp(tx.out, tx.protectRtcp(rtcp())) < 0);
  });
});

describe('session parameters', () => {
  it('UNENCRYPTED_SRTCP: E = 0 on the wire, body in clear, still authenticated; receivers follow E', () => {
    for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_128_GCM'] as const) {
      const key = randomKey(suite);
      const tx = new SrtpSender({ suite, keys: [key], unencryptedSrtcp: true });
      const rx = new SrtpReceiver({ suite, keys: [key] }); // not told: the E flag says it
      const plain = rtcp();
      const p = copy(tx.out, tx.protectRtcp(plain));
      assert.equal(toHex(p.subarray(0, plain.length)), toHex(plain), 'in clear');
      const trailerAt = SUITES[suite].aead ? plain.length + 16 : plain.length;
      assert.equal(p[trailerAt] & 0x80, 0, 'E flag 0');
      assert.equal(toHex(rx.out, rx.unprotectRtcp(p)), toHex(plain));
      assert.equal(rx.srtcpEncrypted, false);
      const t = Buffer.from(p);
      t[9] ^= 1;
      assert.equal(rx.unprotectRtcp(t), SrtpStatus.AUTH_FAIL, 'authenticated');
      const flip = Buffer.from(p);
      flip[trailerAt] |= 0x80;
      assert.equal(rx.unprotectRtcp(flip), SrtpStatus.AUTH_FAIL, 'the E flag itself is authenticated');
    }
  });

  it('UNENCRYPTED_SRTP: payload in clear, tag kept', () => {
    for (const suite of ['AES_256_CM_HMAC_SHA1_80', 'AEAD_AES_256_GCM'] as const) {
      const { tx, rx } = pair(suite, { unencryptedSrtp: true });
      const plain = rtp({ seq: 3 });
      const p = copy(tx.out, tx.protectRtp(plain));
      assert.equal(toHex(p.subarray(0, plain.length)), toHex(plain));
      assert.equal(p.length, plain.length + SUITES[suite].tagLen);
      const t = Buffer.from(p);
      t[20] ^= 1;
      assert.equal(rx.unprotectRtp(t), SrtpStatus.AUTH_FAIL);
      assert.equal(toHex(rx.out, rx.unprotectRtp(p)), toHex(plain));
    }
  });

  it('UNAUTHENTICATED_SRTP: no SRTP tag (SRTCP keeps its tag); refused for GCM', () => {
    const suite = 'AES_CM_128_HMAC_SHA1_80';
    const { tx, rx } = pair(suite, { unauthenticatedSrtp: true });
    const plain = rtp({ seq: 3 });
    const p = copy(tx.out, tx.protectRtp(plain));
    assert.equal(p.length, plain.length);
    assert.equal(toHex(rx.out, rx.unprotectRtp(p)), toHex(plain));
    assert.equal(rx.unprotectRtp(p), SrtpStatus.REPLAY, 'replay protection still applies');
    const q = copy(tx.out, tx.protectRtcp(rtcp()));
    assert.equal(q.length, rtcp().length + 4 + 10);
    assert.ok(rx.unprotectRtcp(q) > 0);
    assert.throws(() => new SrtpSender({ suite: 'AEAD_AES_128_GCM', keys: [randomKey('AEAD_AES_128_GCM')], unauthenticatedSrtp: true }), badInput);
  });
});

describe('key derivation rate != 0', () => {
  for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_128_GCM'] as const) {
    it(`${suite}, kdr 16: round trip across several r, late packets from the previous r, across the SEQ wrap`, () => {
      const key = randomKey(suite);
      const tx = new SrtpSender({ suite, keys: [key], kdr: 16 });
      const rx = new SrtpReceiver({ suite, keys: [key], kdr: 16 });
      const kdr0 = new SrtpReceiver({ suite, keys: [key] });
      const held: Buffer[] = [];
      const seqs: number[] = [];
      for (let i = 0; i < 80; i++) seqs.push((65500 + i) & 0xffff);
      for (const seq of seqs) held.push(copy(tx.out, tx.protectRtp(rtp({ seq }))));
      // First packet (index 65500, r = 4093) is encrypted under r != 0 keys: kdr 0 cannot read it.
      assert.equal(kdr0.unprotectRtp(held[0]), SrtpStatus.AUTH_FAIL);
      // Deliver with every 7th packet late by 20 (crossing an r boundary back).
      const order: number[] = [];
      for (let i = 0; i < held.length; i++) if (i % 7 !== 3) order.push(i);
      for (let i = 3; i < held.length; i += 7) order.splice(Math.min(order.length, order.indexOf(i - 3) + 20), 0, i);
      for (const i of order) {
        const n = rx.unprotectRtp(held[i]);
        assert.equal(toHex(rx.out, n), toHex(rtp({ seq: seqs[i] })), `seq ${seqs[i]}`);
      }
      assert.equal(rx.rocOf(0x11223344), 1);
      // SRTCP re-derives on the SRTCP index.
      tx.setSrtcpIndex(0x11223344, 30);
      for (let i = 0; i < 5; i++) {
        const q = copy(tx.out, tx.protectRtcp(rtcp()));
        assert.ok(rx.unprotectRtcp(q) > 0);
      }
    });
  }

  it('kdr 0 and kdr of r = 0 produce the same packets', () => {
    const suite = 'AES_CM_128_HMAC_SHA1_80';
    const key = randomKey(suite);
    const a = new SrtpSender({ suite, keys: [key] });
    const b = new SrtpSender({ suite, keys: [key], kdr: 2 ** 24 });
    assert.equal(toHex(a.out, a.protectRtp(rtp({ seq: 1000 }))), toHex(b.out, b.protectRtp(rtp({ seq: 1000 }))));
  });

  it('kdr must be 0 or a power of two up to 2^24', () => {
    const suite = 'AES_CM_128_HMAC_SHA1_80';
    for (const kdr of [3, -1, 2 ** 25, 0.5]) assert.throws(() => new SrtpSender({ suite, keys: [randomKey(suite)], kdr }), badInput);
  });
});

describe('construction errors', () => {
  it('wrong key or salt length is SipsecError BAD_INPUT naming the sizes', () => {
    for (const suite of SUITE_NAMES) {
      const s = SUITES[suite];
      const k = randomKey(suite);
      assert.throws(() => new SrtpSender({ suite, keys: [{ key: k.key.subarray(1), salt: k.salt }] }), (e: unknown) => badInput(e) && String((e as Error).message).includes(`${s.keyLen - 1} octets`));
      assert.throws(() => new SrtpReceiver({ suite, keys: [{ key: k.key, salt: Buffer.alloc(s.saltLen + 1) }] }), badInput);
    }
    assert.throws(() => new SrtpSender({ suite: 'AES_CM_128_HMAC_SHA1_80', keys: [] }), badInput);
    assert.throws(() => new SrtpSender({ suite: 'F8_128_HMAC_SHA1_80' as SuiteName, keys: [] }), badInput);
  });
});

describe('buffer contract', () => {
  const suite = 'AES_CM_128_HMAC_SHA1_80';

  it('the input is never written; out is reused by the next call; dst gets a copy', () => {
    const { tx, rx } = pair(suite);
    const plain = rtp({ seq: 1 });
    const before = toHex(plain);
    const n = tx.protectRtp(plain);
    assert.equal(toHex(plain), before);
    const first = toHex(tx.out, n);
    const dst = Buffer.alloc(2000);
    const m = tx.protectRtp(rtp({ seq: 2 }), undefined, dst);
    assert.equal(toHex(dst, m), toHex(tx.out, m));
    assert.notEqual(toHex(tx.out, n), first, 'out was overwritten by the second call');
    const wire = Buffer.from(dst.subarray(0, m));
    const wireHex = toHex(wire);
    assert.equal(rx.unprotectRtp(wire), plain.length);
    assert.equal(toHex(wire), wireHex, 'unprotect left its input alone');
  });

  it('in place: out itself may be passed back in (protect and unprotect)', () => {
    for (const s of ['AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_128_GCM'] as const) {
      const { tx, rx } = pair(s);
      const plain = rtp({ seq: 7 });
      const n = tx.protectRtp(plain);
      // Move the SRTP packet into rx.out and decrypt it where it lies.
      rx.out.set(tx.out.subarray(0, n), 0);
      assert.equal(toHex(rx.out, rx.unprotectRtp(rx.out, n)), toHex(plain));
      const q = tx.protectRtcp(rtcp());
      rx.out.set(tx.out.subarray(0, q), 0);
      assert.equal(toHex(rx.out, rx.unprotectRtcp(rx.out, q)), toHex(rtcp()));
      // And protect in place (a new SEQ: the sender refuses to reuse an index).
      const next = rtp({ seq: 8 });
      tx.out.set(next, 0);
      const m = tx.protectRtp(tx.out, next.length);
      assert.ok(m > 0, statusName(m));
      assert.equal(toHex(rx.out, rx.unprotectRtp(tx.out, m)), toHex(next));
    }
  });

  it('length selects a prefix of a larger buffer', () => {
    const { tx, rx } = pair(suite);
    const plain = rtp({ seq: 1 });
    const big = Buffer.alloc(1500, 0xee);
    plain.copy(big);
    const n = tx.protectRtp(big, plain.length);
    const wire = Buffer.alloc(1500, 0xdd);
    tx.out.copy(wire, 0, 0, n);
    assert.equal(toHex(rx.out, rx.unprotectRtp(wire, n)), toHex(plain));
  });
});

describe('relay (the echo path)', () => {
  it('phone key in, our key out, optional plaintext edit; errors pass through as statuses', () => {
    const phoneSuite = 'AES_CM_128_HMAC_SHA1_32';
    const phoneKey = randomKey(phoneSuite);
    const ourKey = randomKey(phoneSuite);
    const phone = new SrtpSender({ suite: phoneSuite, keys: [phoneKey], srtcpTagLen: 4 });
    const rx = new SrtpReceiver({ suite: phoneSuite, keys: [phoneKey] });
    const tx = new SrtpSender({ suite: phoneSuite, keys: [ourKey] });
    const phoneRx = new SrtpReceiver({ suite: phoneSuite, keys: [ourKey] });
    for (let seq = 0; seq < 5; seq++) {
      const wire = copy(phone.out, phone.protectRtp(rtp({ seq })));
      const n = reprotectRtp(rx, tx, wire, wire.length, (plain, len) => {
        plain.writeUInt32BE(0xaabbccdd, 8); // echo with our own SSRC
        return len;
      });
      assert.ok(n > 0, statusName(n));
      const back = phoneRx.unprotectRtp(tx.out, n);
      assert.equal(phoneRx.out.readUInt32BE(8), 0xaabbccdd);
      assert.equal(toHex(phoneRx.out.subarray(12, back)), toHex(rtp({ seq }).subarray(12)));
    }
    const wire = copy(phone.out, phone.protectRtcp(rtcp()));
    assert.equal(rx.srtcpTagBits, undefined);
    tx.setSrtcpTagLen(4);
    const m = reprotectRtcp(rx, tx, wire);
    assert.ok(m > 0);
    assert.equal(rx.srtcpTagBits, 32, 'the report the echo mirrors');
    assert.ok(phoneRx.unprotectRtcp(tx.out, m) > 0);
    assert.equal(phoneRx.srtcpTagBits, 32);
    wire[wire.length - 1] ^= 1;
    assert.equal(reprotectRtcp(rx, tx, wire), SrtpStatus.AUTH_FAIL);
  });
});

describe('AES-CM keystream read-ahead gives the same bytes as computing each packet alone', () => {
  for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AES_256_CM_HMAC_SHA1_32'] as const) {
    it(suite, () => {
      const key = randomKey(suite);
      const tx = new SrtpSender({ suite, keys: [key] });
      // [ssrc, seq, payload length]: runs, a longer packet inside a run,
      // shorter ones, interleaved SSRCs, a gap, the SEQ wrap, one huge packet.
      const plan: Array<[number, number, number]> = [];
      for (let s = 10; s < 30; s++) plan.push([1, s, 160]);
      plan.push([1, 30, 400], [1, 31, 160], [1, 32, 1], [1, 33, 0], [1, 34, 159]);
      for (let s = 35; s < 45; s++) plan.push([s % 2 ? 1 : 2, s, 160]);
      plan.push([1, 100, 160], [1, 101, 160], [1, 102, 160]);
      for (let s = 65530; s < 65546; s++) plan.push([3, s & 0xffff, 172]);
      plan.push([3, 10, 8000], [3, 11, 8000], [3, 12, 20]);
      const roc = new Map<number, number>();
      const last = new Map<number, number>();
      for (const [ssrc, seq, len] of plan) {
        const plain = rtp({ seq, ssrc, payload: Buffer.alloc(len, seq & 0xff) });
        const got = toHex(tx.out, tx.protectRtp(plain));
        const prev = last.get(ssrc);
        if (prev !== undefined && seq < prev && prev - seq > 32768) roc.set(ssrc, (roc.get(ssrc) ?? 0) + 1);
        last.set(ssrc, seq);
        const alone = new SrtpSender({ suite, keys: [key] });
        alone.setRoc(ssrc, roc.get(ssrc) ?? 0);
        assert.equal(got, toHex(alone.out, alone.protectRtp(plain)), `ssrc ${ssrc} seq ${seq} len ${len}`);
      }
      // SRTCP indices are sequential too.
      const rx = new SrtpReceiver({ suite, keys: [key] });
      for (let i = 0; i < 20; i++) {
        const body = rtcp(9, 4 + 4 * (i % 5));
        assert.equal(toHex(rx.out, rx.unprotectRtcp(tx.out, tx.protectRtcp(body))), toHex(body));
      }
    });
  }
});

describe('streams', () => {
  it('state per SSRC; maxStreams caps new SSRCs with STREAM_LIMIT', () => {
    const suite = 'AES_CM_128_HMAC_SHA1_80';
    const key = randomKey(suite);
    const tx = new SrtpSender({ suite, keys: [key] });
    const rx = new SrtpReceiver({ suite, keys: [key], maxStreams: 2 });
    for (const ssrc of [1, 2]) assert.ok(rx.unprotectRtp(tx.out, tx.protectRtp(rtp({ seq: 5, ssrc }))) > 0);
    assert.equal(rx.unprotectRtp(tx.out, tx.protectRtp(rtp({ seq: 5, ssrc: 3 }))), SrtpStatus.STREAM_LIMIT);
    // Same SEQ on another SSRC is not a replay.
    assert.ok(rx.unprotectRtp(tx.out, tx.protectRtp(rtp({ seq: 6, ssrc: 1 }))) > 0);
    assert.ok(rx.unprotectRtp(tx.out, tx.protectRtp(rtp({ seq: 6, ssrc: 2 }))) > 0);
    assert.equal(rx.counters().STREAM_LIMIT, 1);
  });
});
