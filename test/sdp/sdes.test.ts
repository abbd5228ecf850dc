import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SUITE_ALIASES, SUITE_NAMES, SUITES, masterLength } from '../../src/srtp/suites.js';
import {
  decodeBase64Strict,
  formatCryptoAttribute,
  formatCryptoLine,
  keyLimits,
  parseCryptoAttribute,
  resolveSuite,
  type CryptoLine,
} from '../../src/sdp/sdes.js';
import { LIBSRTP_KEY_128, LIBSRTP_KEY_256, LIBSRTP_KEY_GCM128, keyB64 } from './fixtures.js';

function usable(value: string): CryptoLine {
  const l = parseCryptoAttribute(value);
  assert.equal(l.usable, true, `expected usable, got: ${l.reason}`);
  assert.equal(l.reason, undefined);
  return l;
}

function unusable(value: string, reason: RegExp): CryptoLine {
  const l = parseCryptoAttribute(value);
  assert.equal(l.usable, false, 'expected unusable');
  assert.match(l.reason ?? '', reason);
  assert.ok(!/[\r\n]/.test(l.reason ?? ''), 'reason is one line');
  return l;
}

const K30 = LIBSRTP_KEY_128;

describe('RFC 4568 examples', () => {
  it('the §5.1 offer and answer keys decode to 30 octets with lifetime 2^20 and MKI 1:4', () => {
    for (const key of ['WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz', 'PS1uQCVeeCFCanVmcHcyKDJOPCMyLypKMl1pVzE0']) {
      const l = usable(`1 AES_CM_128_HMAC_SHA1_80 inline:${key}|2^20|1:4`);
      assert.equal(l.tag, 1);
      assert.equal(l.canonical, 'AES_CM_128_HMAC_SHA1_80');
      assert.equal(l.keys.length, 1);
      const k = l.keys[0];
      assert.equal(k.key.length + k.salt.length, 30);
      assert.equal(k.key.length, 16);
      assert.deepEqual(k.lifetime, { text: '2^20', packets: 1048576n, log2: 20 });
      assert.equal(k.mki?.value, 1n);
      assert.equal(k.mki?.length, 4);
      assert.equal(k.mki?.bytes.toString('hex'), '00000001');
    }
  });

  it('the §6.1 example with a decimal MKI and no lifetime', () => {
    const l = usable('1 AES_CM_128_HMAC_SHA1_80 inline:YUJDZGVmZ2hpSktMbW9QUXJzVHVWd3l6MTIzNDU2|1066:4');
    assert.equal(l.keys[0].lifetime, undefined);
    assert.equal(l.keys[0].mki?.bytes.toString('hex'), '0000042a');
  });
});

describe('libsrtp SDP keys (sip-srtp.md §2.7)', () => {
  it('AES-128 test_key', () => {
    const l = usable(`1 AES_CM_128_HMAC_SHA1_80 inline:${LIBSRTP_KEY_128}`);
    assert.equal(l.keys[0].key.toString('hex'), 'e1f97a0d3e018be0d64fa32c06de4139');
    assert.equal(l.keys[0].salt.toString('hex'), '0ec675ad498afeebb6960b3aabe6');
  });

  it('GCM-128 key with its == padding', () => {
    const l = usable(`1 AEAD_AES_128_GCM inline:${LIBSRTP_KEY_GCM128}`);
    assert.equal(l.keys[0].key.toString('hex'), '000102030405060708090a0b0c0d0e0f');
    assert.equal(l.keys[0].salt.toString('hex'), 'a0a1a2a3a4a5a6a7a8a9aaab');
  });

  it('GCM-128 key with the padding stripped decodes the same', () => {
    const l = usable(`1 AEAD_AES_128_GCM inline:${LIBSRTP_KEY_GCM128.replace(/=+$/, '')}`);
    assert.equal(l.keys[0].salt.toString('hex'), 'a0a1a2a3a4a5a6a7a8a9aaab');
  });

  it('AES-256 key with its == padding', () => {
    const l = usable(`1 AES_256_CM_HMAC_SHA1_80 inline:${LIBSRTP_KEY_256}`);
    assert.equal(l.keys[0].key.toString('hex'), 'f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6');
    assert.equal(l.keys[0].salt.toString('hex'), '3b04803de51ee7c96423ab5b78d2');
  });
});

describe('every suite: right and wrong key lengths', () => {
  for (const suite of SUITE_NAMES) {
    const n = masterLength(suite);
    it(`${suite}: ${n} octets usable, ${n - 1} and ${n + 1} not`, () => {
      const l = usable(`3 ${suite} inline:${keyB64(n, n)}`);
      assert.equal(l.keys[0].key.length, SUITES[suite].keyLen);
      assert.equal(l.keys[0].salt.length, SUITES[suite].saltLen);
      for (const wrong of [n - 1, n + 1]) {
        const bad = unusable(`3 ${suite} inline:${keyB64(wrong, wrong)}`, new RegExp(`${suite} needs ${n} octets of key\\|\\|salt .*decodes to ${wrong}`));
        assert.equal(bad.canonical, suite);
      }
    });
  }

  it('draft-era aliases resolve, keep their spelling, and check lengths', () => {
    for (const [alias, canonical] of Object.entries(SUITE_ALIASES)) {
      const l = usable(`1 ${alias} inline:${keyB64(masterLength(canonical), 1)}`);
      assert.equal(l.suite, alias);
      assert.equal(l.canonical, canonical);
      assert.ok(l.warnings.some((w) => w.includes('draft-era')));
      unusable(`1 ${alias} inline:${K30}`, /needs/);
    }
  });

  it('suite names match case-insensitively but keep the written spelling', () => {
    const l = usable(`1 aes_cm_128_hmac_sha1_80 inline:${K30}`);
    assert.equal(l.canonical, 'AES_CM_128_HMAC_SHA1_80');
    assert.equal(l.suite, 'aes_cm_128_hmac_sha1_80');
  });

  it('F8 is recognised but unsupported, with its key still checked', () => {
    const f8 = unusable(`1 F8_128_HMAC_SHA1_80 inline:${K30}`, /F8_128_HMAC_SHA1_80 .* recognised but not supported/);
    assert.equal(f8.suiteStatus, 'unsupported');
    assert.equal(f8.keys[0].key.length, 16);
    unusable(`1 F8_128_HMAC_SHA1_32 inline:${K30}`, /ABNF spelling/);
    unusable(`1 F8_128_HMAC_SHA1_80 inline:${keyB64(29, 1)}`, /not supported.*; F8_128_HMAC_SHA1_80 needs 30 octets/);
  });

  it('unknown and draft GCM_8 suites are unusable with a reason', () => {
    const u = unusable(`1 AES_CM_512_HMAC_SHA1_80 inline:${K30}`, /unknown crypto suite "AES_CM_512_HMAC_SHA1_80"/);
    assert.equal(u.suiteStatus, 'unknown');
    unusable(`1 AEAD_AES_128_GCM_8 inline:${LIBSRTP_KEY_GCM128}`, /draft-era 8-octet/);
    assert.equal(resolveSuite('NULL_HMAC_SHA1_80').status, 'unsupported');
  });
});

describe('lifetimes', () => {
  const ok: ReadonlyArray<[string, bigint]> = [
    ['2^20', 1n << 20n],
    ['2^31', 1n << 31n],
    // Grandstream: above SRTCP's 2^31 but within the 2^48 maximum (RFC 4568 §6.1).
    ['2^32', 1n << 32n],
    ['2^48', 1n << 48n],
    ['1048576', 1048576n],
    ['281474976710656', 1n << 48n],
    ['1', 1n],
  ];
  for (const [text, packets] of ok) {
    it(`|${text} is accepted`, () => {
      const l = usable(`1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|${text}`);
      assert.equal(l.keys[0].lifetime?.packets, packets);
      assert.equal(l.keys[0].lifetime?.text, text);
    });
  }

  const bad: ReadonlyArray<[string, RegExp]> = [
    ['2^49', /lifetime 2\^49 exceeds AES_CM_128_HMAC_SHA1_80's maximum of 2\^48/],
    ['281474976710657', /exceeds/],
    ['2^99999999', /exceeds/],
    ['99999999999999999999999999', /exceeds/],
    ['0', /lifetime 0 is not a positive/],
    ['2^', /neither 2\^n nor a decimal/],
    ['2^x', /neither 2\^n nor a decimal/],
    ['-5', /neither 2\^n nor a decimal/],
  ];
  for (const [text, reason] of bad) {
    it(`|${text} makes the line unusable`, () => {
      unusable(`1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|${text}`, reason);
    });
  }

  it('a leading zero is a warning, not a refusal', () => {
    const l = usable(`1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|2^031`);
    assert.equal(l.keys[0].lifetime?.log2, 31);
    assert.ok(l.warnings.some((w) => w.includes('leading zero')));
  });

  it('keyLimits: |2^32 leaves SRTCP at 2^31; no lifetime means 2^48 / 2^31', () => {
    const l = usable(`1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|2^32`);
    assert.deepEqual(keyLimits(l.keys[0]), { srtp: 1n << 32n, srtcp: 1n << 31n });
    assert.deepEqual(keyLimits({}), { srtp: 1n << 48n, srtcp: 1n << 31n });
    assert.deepEqual(keyLimits({ lifetime: { text: '2^20', packets: 1n << 20n, log2: 20 } }), { srtp: 1n << 20n, srtcp: 1n << 20n });
  });
});

describe('MKI and several keys', () => {
  it('MKI alone, and lifetime + MKI', () => {
    assert.equal(usable(`1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|1:4`).keys[0].mki?.length, 4);
    assert.equal(usable(`1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|2^20|1:4`).keys[0].mki?.value, 1n);
    assert.equal(usable(`1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|255:1`).keys[0].mki?.bytes.toString('hex'), 'ff');
    assert.equal(usable(`1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|7:128`).keys[0].mki?.bytes.length, 128);
  });

  const bad: ReadonlyArray<[string, RegExp]> = [
    ['1:0', /MKI length 0 is outside 1..128/],
    ['1:129', /MKI length 129 is outside 1..128/],
    ['256:1', /MKI value 256 does not fit in 1 octet/],
    ['1:', /not "<value>:<length>"/],
    ['a:4', /not "<value>:<length>"/],
    ['1:4|2^20', /lifetime "2\^20" after the MKI/],
    ['2^20|2^21', /two lifetime fields/],
    ['1:4|2:4', /two MKI fields/],
    ['2^20|1:4|x', /3 "\|" fields/],
    ['', /empty field after "\|"/],
  ];
  for (const [suffix, reason] of bad) {
    it(`|${suffix} is unusable`, () => {
      unusable(`1 AES_CM_128_HMAC_SHA1_80 inline:${K30}|${suffix}`, reason);
    });
  }

  it('several key params, each with an MKI of one length', () => {
    const l = usable(`1 AES_CM_128_HMAC_SHA1_80 inline:${keyB64(30, 1)}|2^20|1:4;inline:${keyB64(30, 2)}|2^20|2:4`);
    assert.equal(l.keys.length, 2);
    assert.deepEqual(
      l.keys.map((k) => k.mki?.value),
      [1n, 2n],
    );
    assert.notDeepEqual(l.keys[0].key, l.keys[1].key);
  });

  it('several keys without MKIs, with different MKI lengths or a shared MKI are unusable', () => {
    unusable(`1 AES_CM_128_HMAC_SHA1_80 inline:${keyB64(30, 1)};inline:${keyB64(30, 2)}`, /not every key has an MKI/);
    unusable(`1 AES_CM_128_HMAC_SHA1_80 inline:${keyB64(30, 1)}|1:4;inline:${keyB64(30, 2)}`, /not every key has an MKI/);
    unusable(`1 AES_CM_128_HMAC_SHA1_80 inline:${keyB64(30, 1)}|1:4;inline:${keyB64(30, 2)}|2:2`, /MKI lengths differ/);
    unusable(`1 AES_CM_128_HMAC_SHA1_80 inline:${keyB64(30, 1)}|1:4;inline:${keyB64(30, 2)}|1:4`, /share one MKI value/);
    unusable(`1 AES_CM_128_HMAC_SHA1_80 inline:${keyB64(30, 1)}|1:4;`, /key parameter 2 is empty/);
  });

  it('a wrong-length key among several names which key', () => {
    unusable(`1 AES_CM_128_HMAC_SHA1_80 inline:${keyB64(30, 1)}|1:4;inline:${keyB64(29, 2)}|2:4`, /key 2: AES_CM_128_HMAC_SHA1_80 needs 30/);
  });
});

describe('session parameters (RFC 4568 §6.3)', () => {
  const line = (params: string): string => `1 AES_CM_128_HMAC_SHA1_80 inline:${K30} ${params}`;

  it('KDR=n for n in 1..24', () => {
    assert.equal(usable(line('KDR=1')).sessionParams.kdr, 1);
    assert.equal(usable(line('KDR=24')).sessionParams.kdr, 24);
    unusable(line('KDR=0'), /KDR="0" is outside 1..24 \(RFC 4568 §6.3.1\)/);
    unusable(line('KDR=25'), /outside 1..24/);
    unusable(line('KDR=100'), /outside 1..24/);
    unusable(line('KDR'), /outside 1..24/);
  });

  it('the three flags', () => {
    const sp = usable(line('UNENCRYPTED_SRTP UNENCRYPTED_SRTCP UNAUTHENTICATED_SRTP')).sessionParams;
    assert.equal(sp.unencryptedSrtp, true);
    assert.equal(sp.unencryptedSrtcp, true);
    assert.equal(sp.unauthenticatedSrtp, true);
    assert.deepEqual(sp.raw, ['UNENCRYPTED_SRTP', 'UNENCRYPTED_SRTCP', 'UNAUTHENTICATED_SRTP']);
    unusable(line('UNENCRYPTED_SRTP=1'), /takes no value/);
  });

  it('FEC_ORDER and FEC_KEY', () => {
    assert.equal(usable(line('FEC_ORDER=FEC_SRTP')).sessionParams.fecOrder, 'FEC_SRTP');
    assert.equal(usable(line('FEC_ORDER=SRTP_FEC')).sessionParams.fecOrder, 'SRTP_FEC');
    unusable(line('FEC_ORDER=BOTH'), /neither FEC_SRTP nor SRTP_FEC/);
    const fk = usable(line(`FEC_KEY=inline:${keyB64(30, 9)}|2^20|1:4`)).sessionParams.fecKeys;
    assert.equal(fk?.length, 1);
    assert.equal(fk?.[0].mki?.length, 4);
    unusable(line(`FEC_KEY=inline:${keyB64(20, 9)}`), /FEC_KEY: AES_CM_128_HMAC_SHA1_80 needs 30/);
    unusable(line('FEC_KEY='), /no key parameters/);
  });

  it('WSH at least 64', () => {
    assert.equal(usable(line('WSH=64')).sessionParams.wsh, 64);
    assert.equal(usable(line('WSH=1024')).sessionParams.wsh, 1024);
    unusable(line('WSH=63'), /at least 64/);
    unusable(line('WSH=abc'), /at least 64/);
  });

  it('unknown parameters: "-" prefix ignored, otherwise the line is invalid (§6.3.7)', () => {
    const l = usable(line('-SIPSEC_HINT=1'));
    assert.deepEqual(l.sessionParams.ignored, ['-SIPSEC_HINT=1']);
    unusable(line('SIPSEC_HINT=1'), /unknown session parameter "SIPSEC_HINT=1" without "-" prefix .* \(RFC 4568 §6.3.7\)/);
  });

  it('a parameter given twice', () => {
    unusable(line('KDR=1 KDR=2'), /KDR given twice/);
    const l = usable(line('UNENCRYPTED_SRTCP UNENCRYPTED_SRTCP'));
    assert.ok(l.warnings.some((w) => w.includes('twice')));
  });

  it('several spaces and tabs between fields', () => {
    const l = usable(`1 \tAES_CM_128_HMAC_SHA1_80   inline:${K30}\t WSH=128  `);
    assert.equal(l.sessionParams.wsh, 128);
  });
});

describe('tags, key methods, base64', () => {
  it('tags of 1 to 9 digits; 10 digits is unusable', () => {
    assert.equal(usable(`123456789 AES_CM_128_HMAC_SHA1_80 inline:${K30}`).tag, 123456789);
    const ten = unusable(`1234567890 AES_CM_128_HMAC_SHA1_80 inline:${K30}`, /tag "1234567890" has 10 digits; RFC 4568 §9.1 allows 1 to 9/);
    assert.equal(ten.tag, 1234567890);
    unusable(`x AES_CM_128_HMAC_SHA1_80 inline:${K30}`, /tag "x" is not a decimal number/);
    assert.equal(usable(`01 AES_CM_128_HMAC_SHA1_80 inline:${K30}`).tagText, '01');
  });

  it('missing fields', () => {
    unusable('1 AES_CM_128_HMAC_SHA1_80', /needs "<tag> <crypto-suite> <key-params>"/);
    unusable('', /needs/);
  });

  it('key methods other than inline', () => {
    unusable('1 AES_CM_128_HMAC_SHA1_80 uri:http://example.com/key', /key method "uri" is not supported/);
    unusable(`1 AES_CM_128_HMAC_SHA1_80 ${K30}`, /has no "<method>:" prefix/);
    const upper = usable(`1 AES_CM_128_HMAC_SHA1_80 INLINE:${K30}`);
    assert.ok(upper.warnings.some((w) => w.includes('INLINE')));
  });

  const badB64: ReadonlyArray<[string, RegExp]> = [
    [K30.slice(0, -1) + '-', /"-" at position 40, not a base64 character/],
    [K30.slice(0, -1) + '_', /"_" at position 40/],
    ['AAAA=AAA', /"=" before its end/],
    ['AAAAA', /5 base64 characters, which is not a whole number of octets/],
    ['AAAAAA=', /padded base64 is a multiple of 4/],
    ['AA===', /at most 2/],
    ['', /inline key is empty/],
  ];
  for (const [key, reason] of badB64) {
    it(`bad base64 "${key.slice(-8)}" is unusable`, () => {
      unusable(`1 AES_CM_128_HMAC_SHA1_80 inline:${key}`, reason);
    });
  }

  it('decodeBase64Strict with and without padding', () => {
    const a = decodeBase64Strict(LIBSRTP_KEY_GCM128);
    const b = decodeBase64Strict(LIBSRTP_KEY_GCM128.replace(/=+$/, ''));
    assert.ok(a.ok && b.ok);
    if (a.ok && b.ok) {
      assert.equal(a.padded, true);
      assert.equal(b.padded, false);
      assert.deepEqual(a.bytes, b.bytes);
      assert.equal(a.bytes.length, 28);
    }
  });

  it('a bad line does not hide its other problems', () => {
    const l = unusable(`1234567890 AES_CM_128_HMAC_SHA1_80 inline:${keyB64(29, 1)}|2^60 FOO`, /10 digits.*decodes to 29.*2\^60 exceeds.*FOO/);
    assert.equal(l.reason?.includes('\n'), false);
  });
});

describe('formatCryptoAttribute', () => {
  const key = Buffer.from('e1f97a0d3e018be0d64fa32c06de4139', 'hex');
  const salt = Buffer.from('0ec675ad498afeebb6960b3aabe6', 'hex');
  const lifetime = { text: '2^31', packets: 1n << 31n, log2: 31 };
  const mki = { value: 1n, length: 4 };

  it('never writes lifetime or MKI unless asked', () => {
    const spec = { tag: 1, suite: 'AES_CM_128_HMAC_SHA1_80', keys: [{ key, salt, lifetime, mki }] };
    assert.equal(formatCryptoAttribute(spec), `1 AES_CM_128_HMAC_SHA1_80 inline:${LIBSRTP_KEY_128}`);
    assert.equal(formatCryptoLine(spec), `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${LIBSRTP_KEY_128}`);
    assert.equal(formatCryptoAttribute(spec, { includeLifetime: true, includeMki: true }), `1 AES_CM_128_HMAC_SHA1_80 inline:${LIBSRTP_KEY_128}|2^31|1:4`);
  });

  it('keeps padding, the offered spelling and session params; round-trips through the parser', () => {
    const gcm = parseCryptoAttribute(`2 AEAD_AES_128_GCM inline:${LIBSRTP_KEY_GCM128}`);
    const out = formatCryptoAttribute({ tag: gcm.tagText, suite: gcm.suite, keys: gcm.keys, sessionParams: ['UNENCRYPTED_SRTCP'] });
    assert.equal(out, `2 AEAD_AES_128_GCM inline:${LIBSRTP_KEY_GCM128} UNENCRYPTED_SRTCP`);
    const back = usable(out);
    assert.deepEqual(back.keys[0].key, gcm.keys[0].key);
    assert.equal(back.sessionParams.unencryptedSrtcp, true);
  });
});
