/**
 * Known-answer tests, byte-exact, both directions: every vector of
 * /work/shared/sip-srtp.md §2.6 (RFC 3711 B.2/B.3, RFC 6188 §7,
 * RFC 7714 §16-17) and §2.7 (libsrtp test/srtp_driver.c KATs).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aesCmKeystream } from '../../src/srtp/aes-cm.js';
import { deriveSessionKeys, LABEL, prf, prfInput } from '../../src/srtp/kdf.js';
import { SrtpReceiver } from '../../src/srtp/receiver.js';
import { SrtpSender } from '../../src/srtp/sender.js';
import { SUITES, type SuiteName } from '../../src/srtp/suites.js';
import { createTransform } from '../../src/srtp/transform.js';
import { Workspace } from '../../src/srtp/workspace.js';
import { hex, toHex } from './helpers.js';

describe('RFC 3711 B.2: AES-CM keystream', () => {
  const key = hex('2B7E151628AED2A6ABF7158809CF4F3C');
  const iv = hex('F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000');
  // Blocks 0..0xFF01 = 65282 blocks, ~1 MiB: one ECB call.
  const ks = aesCmKeystream(key, iv, 0xff02 * 16);
  const block = (n: number) => toHex(ks.subarray(n * 16, n * 16 + 16)).toUpperCase();
  const expected: Array<[number, string]> = [
    [0x0000, 'E03EAD0935C95E80E166B16DD92B4EB4'],
    [0x0001, 'D23513162B02D0F72A43A2FE4A5F97AB'],
    [0x0002, '41E95B3BB0A2E8DD477901E4FCA894C0'],
    [0xfeff, 'EC8CDF7398607CB0F2D21675EA9EA1E4'],
    [0xff00, '362B7C3C6773516318A077D7FC5073AE'],
    [0xff01, '6A2CC3787889374FBEB4C81B17BA6C44'],
  ];
  for (const [n, want] of expected) {
    it(`counter ...FD${n.toString(16).toUpperCase().padStart(4, '0')}`, () => assert.equal(block(n), want));
  }
});

describe('RFC 3711 B.3: key derivation', () => {
  const masterKey = hex('E1F97A0D3E018BE0D64FA32C06DE4139');
  const masterSalt = hex('0EC675AD498AFEEBB6960B3AABE6');

  it('cipher key (label 0)', () => {
    assert.equal(toHex(prf(masterKey, prfInput(masterSalt, LABEL.SRTP_ENCRYPTION, 0), 16)).toUpperCase(), 'C61E7A93744F39EE10734AFE3FF7A087');
  });
  it('cipher salt (label 2)', () => {
    assert.equal(toHex(prf(masterKey, prfInput(masterSalt, LABEL.SRTP_SALT, 0), 14)).toUpperCase(), '30CBBC08863D8C85D49DB34A9AE1');
  });
  it('auth key (label 1), the full 94 octets the RFC prints', () => {
    const want =
      'CEBE321F6FF7716B6FD4AB49AF256A15 6D38BAA48F0A0ACF3C34E2359E6CDBCE E049646C43D9327AD175578EF7227098 ' +
      '6371C10C9A369AC2F94A8C5FBCDDDC25 6D6E919A48B610EF17C2041E47403576 6B68642C59BBFC2F34DB60DBDFB2';
    assert.equal(toHex(prf(masterKey, prfInput(masterSalt, LABEL.SRTP_AUTH, 0), 94)).toUpperCase(), want.replace(/ /g, ''));
  });
  it('deriveSessionKeys uses the 20-octet prefix as the HMAC key', () => {
    const k = deriveSessionKeys(SUITES.AES_CM_128_HMAC_SHA1_80, masterKey, masterSalt, 'srtp', 0);
    assert.equal(toHex(k.encKey).toUpperCase(), 'C61E7A93744F39EE10734AFE3FF7A087');
    assert.equal(toHex(k.salt).toUpperCase(), '30CBBC08863D8C85D49DB34A9AE1');
    assert.equal(toHex(k.authKey ?? Buffer.alloc(0)).toUpperCase(), 'CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4');
  });
});

describe('RFC 6188 §7: AES-192/256-CM keystream', () => {
  const iv = hex('f0f1f2f3f4f5f6f7f8f9fafbfcfd0000');
  it('AES-192', () => {
    const key = hex('eab234764e517b2d3d160d587d8c86219740f65f99b6bcf7');
    assert.equal(toHex(aesCmKeystream(key, iv, 32)), '35096cba4610028dc1b57503804ce37c5de986291dcce161d5165ec4568f5c9a');
  });
  it('AES-256', () => {
    const key = hex('57f82fe3613fd170a85ec93c40b1f0922ec4cb0dc025b58272147cc438944a98');
    assert.equal(toHex(aesCmKeystream(key, iv, 32)), '92bdd28a93c3f52511c677d08b5515a49da71b2378a854f67050756ded165bac');
  });
});

/**
 * RFC 7714 §16-17 vectors start from session keys (no KDF), so they drive
 * the GCM transform directly. The "authenticated only" rows are the same
 * RFC inputs with E = 0 / UNENCRYPTED_SRTP, as carried by pion/srtp's
 * srtp_cipher_aead_aes_gcm_rfc_test.go.
 */
describe('RFC 7714: AES-GCM from session keys', () => {
  const salt = hex('517569642070726f2071756f');
  const rtpPlain = hex('8040f17b8041f8d35501a0b2 47616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573');
  const rtcpPlain = hex('81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef');
  const cases: Array<{ suite: SuiteName; key: string; srtp: string; srtcp: string; srtpAuthOnly: string; srtcpAuthOnly: string }> = [
    {
      suite: 'AEAD_AES_128_GCM',
      key: '000102030405060708090a0b0c0d0e0f',
      srtp: '8040f17b8041f8d35501a0b2 f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf8833 899d7f27beb16a9152cf765ee4390cce',
      srtcp: '81c8000d4d617273 63e94885dcdab67ca727d7662f6b7e997ff5c0f76c06f32dc676a5f1730d6fda4ce09b4686303ded0bb9275bc84aa45896cf4d2fc5abf87245d9eade 800005d4',
      srtpAuthOnly: '8040f17b8041f8d35501a0b2 47616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573 22493f82d2bce397e9d79e3b19aa4216',
      srtcpAuthOnly: '81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef 841dd9683dd78ec92ae58790125f62b3 000005d4',
    },
    {
      suite: 'AEAD_AES_256_GCM',
      key: '000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f',
      srtp: '8040f17b8041f8d35501a0b2 32b1de78a822fe12ef9f78fa332e33aab18012389a58e2f3b50b2a0276ffae0f1ba63799b87b7aa3db36dfffd6b0f9bb 7878d7a76c13',
      srtcp: '81c8000d4d617273 d50ae4d1f5ce5d304ba297e47d470c282c3ece5dbffe0a50a2eaa5c1110555be8415f658c61de0476f1b6fad1d1eb30c4446839f57ff6f6cb26ac3be 800005d4',
      srtpAuthOnly: '8040f17b8041f8d35501a0b2 47616c6c696120657374206f6d6e69732064697669736120696e207061727465732074726573 a866d5910f887463067ceefec45215d4',
      srtcpAuthOnly: '81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef 91db4afbfeee5a978fab4393ed2615fe 000005d4',
    },
  ];
  const SSRC_RTP = 0x5501a0b2;
  const SSRC_RTCP = 0x4d617273;
  for (const c of cases) {
    const t = createTransform(SUITES[c.suite], { encKey: hex(c.key), authKey: null, salt }, 0);
    const ws = new Workspace();
    const seq = 0xf17b;
    it(`${c.suite} SRTP protect`, () => {
      const n = t.protectRtp(ws, rtpPlain, rtpPlain.length, 12, SSRC_RTP, 0, seq, null, 16, true);
      assert.equal(toHex(ws.out, n), toHex(hex(c.srtp)));
    });
    it(`${c.suite} SRTP unprotect`, () => {
      const p = hex(c.srtp);
      const n = t.unprotectRtp(ws, p, p.length, 12, SSRC_RTP, 0, seq, 0, 16, true);
      assert.equal(toHex(ws.out, n), toHex(rtpPlain));
    });
    it(`${c.suite} SRTCP protect (index 0x5d4)`, () => {
      const n = t.protectRtcp(ws, rtcpPlain, rtcpPlain.length, SSRC_RTCP, 0x5d4, true, null, 16);
      assert.equal(toHex(ws.out, n), toHex(hex(c.srtcp)));
    });
    it(`${c.suite} SRTCP unprotect`, () => {
      const p = hex(c.srtcp);
      const n = t.unprotectRtcp(ws, p, p.length, SSRC_RTCP, 0x5d4, true, 0, 16);
      assert.equal(toHex(ws.out, n), toHex(rtcpPlain));
    });
    it(`${c.suite} authenticated-only SRTP and SRTCP (E = 0), both directions`, () => {
      let n = t.protectRtp(ws, rtpPlain, rtpPlain.length, 12, SSRC_RTP, 0, seq, null, 16, false);
      assert.equal(toHex(ws.out, n), toHex(hex(c.srtpAuthOnly)));
      const a = hex(c.srtpAuthOnly);
      n = t.unprotectRtp(ws, a, a.length, 12, SSRC_RTP, 0, seq, 0, 16, false);
      assert.equal(toHex(ws.out, n), toHex(rtpPlain));
      n = t.protectRtcp(ws, rtcpPlain, rtcpPlain.length, SSRC_RTCP, 0x5d4, false, null, 16);
      assert.equal(toHex(ws.out, n), toHex(hex(c.srtcpAuthOnly)));
      const b = hex(c.srtcpAuthOnly);
      n = t.unprotectRtcp(ws, b, b.length, SSRC_RTCP, 0x5d4, false, 0, 16);
      assert.equal(toHex(ws.out, n), toHex(rtcpPlain));
    });
  }
});

/** libsrtp test/srtp_driver.c: full packets from master keys (through the KDF). */
describe('libsrtp srtp_validate KATs', () => {
  const testKey = hex('e1f97a0d3e018be0d64fa32c06de4139 0ec675ad498afeebb6960b3aabe6 c173c317f2dabe357793b6960b3aabe6');
  const rtpIn = hex('800f1234decafbadcafebabe' + 'ab'.repeat(16));
  const rtcpIn = hex('81c8000bcafebabe' + 'ab'.repeat(16));
  const aes128 = { key: testKey.subarray(0, 16), salt: testKey.subarray(16, 30) };
  const mki = hex('e1f97a0d');

  interface Kat {
    name: string;
    suite: SuiteName;
    key: { key: Uint8Array; salt: Uint8Array; mki?: Uint8Array };
    plain: Buffer;
    kind: 'rtp' | 'rtcp';
    want: string;
  }
  const kats: Kat[] = [
    {
      name: 'srtp_validate RTP, AES_CM_128_HMAC_SHA1_80',
      suite: 'AES_CM_128_HMAC_SHA1_80', key: aes128, plain: rtpIn, kind: 'rtp',
      want: '800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb',
    },
    {
      name: 'srtp_validate SRTCP (index 1), AES_CM_128_HMAC_SHA1_80',
      suite: 'AES_CM_128_HMAC_SHA1_80', key: aes128, plain: rtcpIn, kind: 'rtcp',
      want: '81c8000bcafebabe 7128035be487b9bdbef89041f977a5a8 80000001 993e08cd54d6c1230798',
    },
    {
      name: 'derived: AES_CM_128_HMAC_SHA1_32 RTP (tag = first 4 octets of the _80 tag)',
      suite: 'AES_CM_128_HMAC_SHA1_32', key: aes128, plain: rtpIn, kind: 'rtp',
      want: '800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc',
    },
    {
      name: 'srtp_validate_mki RTP (MKI e1f97a0d before the tag)',
      suite: 'AES_CM_128_HMAC_SHA1_80', key: { ...aes128, mki }, plain: rtpIn, kind: 'rtp',
      want: '800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 e1f97a0d b78d6acc99ea179b8dbb',
    },
    {
      name: 'srtp_validate_mki SRTCP (MKI after E||index, tag unchanged)',
      suite: 'AES_CM_128_HMAC_SHA1_80', key: { ...aes128, mki }, plain: rtcpIn, kind: 'rtcp',
      want: '81c8000bcafebabe 7128035be487b9bdbef89041f977a5a8 80000001 e1f97a0d 993e08cd54d6c1230798',
    },
    {
      name: 'srtp_validate_aes_256 RTP',
      suite: 'AES_256_CM_HMAC_SHA1_80',
      key: { key: hex('f0f04914b513f2763a1b1fa130f10e2998f6f6e43e4309d1e622a0e332b9f1b6'), salt: hex('3b04803de51ee7c96423ab5b78d2') },
      plain: rtpIn, kind: 'rtp',
      want: '800f1234decafbadcafebabe f1d9de17ff251ff1aa007774b0b4b40d a08d9d9a5b3a55d8873b',
    },
    {
      name: 'srtp_validate_aes_192 RTP',
      suite: 'AES_192_CM_HMAC_SHA1_80',
      key: { key: hex('73edc66c4fa15776fb57f9505c17136550ffda71f3e8e5f1'), salt: hex('c8522f3acd4ce86d5add78edbb11') },
      plain: hex('800f0000decafbad00000000' + 'ab'.repeat(16)), kind: 'rtp',
      want: '800f0000decafbad00000000 d98865552f2762c3ef37f837acfdb712 2d6bc4dc84c76f74aea5',
    },
    {
      name: 'srtp_validate_gcm RTP (GCM through the KDF)',
      suite: 'AEAD_AES_128_GCM',
      key: { key: hex('000102030405060708090a0b0c0d0e0f'), salt: hex('a0a1a2a3a4a5a6a7a8a9aaab') },
      plain: rtpIn, kind: 'rtp',
      want: '800f1234decafbadcafebabe c5002ede04cfdd2eb91159e0880aa06e d2976826f796b201df3131a127e8a392',
    },
    {
      name: 'srtp_validate_gcm SRTCP (index 1)',
      suite: 'AEAD_AES_128_GCM',
      key: { key: hex('000102030405060708090a0b0c0d0e0f'), salt: hex('a0a1a2a3a4a5a6a7a8a9aaab') },
      plain: rtcpIn, kind: 'rtcp',
      want: '81c8000bcafebabe c98b8b5df0392a55852b6c21ac8e7025 c52c6fbea2b3b446ea31123ba88ce61e 80000001',
    },
  ];

  for (const k of kats) {
    it(`${k.name}: protect`, () => {
      const tx = new SrtpSender({ suite: k.suite, keys: [k.key] });
      // libsrtp's first SRTCP index is 1 (it increments before use).
      tx.setSrtcpIndex(k.plain.readUInt32BE(k.kind === 'rtp' ? 8 : 4), 1);
      const n = k.kind === 'rtp' ? tx.protectRtp(k.plain) : tx.protectRtcp(k.plain);
      assert.equal(toHex(tx.out, n), toHex(hex(k.want)));
    });
    it(`${k.name}: unprotect`, () => {
      const rx = new SrtpReceiver({ suite: k.suite, keys: [k.key] });
      const p = hex(k.want);
      const n = k.kind === 'rtp' ? rx.unprotectRtp(p) : rx.unprotectRtcp(p);
      assert.equal(toHex(rx.out, n), toHex(k.plain));
    });
  }

  it('srtp_validate_aes_192 input as Debian libsrtp 2.5.0 really protects it (its AES-192 KDF quirk, recorded here)', () => {
    const key = { key: hex('73edc66c4fa15776fb57f9505c17136550ffda71f3e8e5f1'), salt: hex('c8522f3acd4ce86d5add78edbb11') };
    const plain = hex('800f0000decafbad00000000' + 'ab'.repeat(16));
    const recorded = '800f0000decafbad00000000 00d4ca92d8e69ee8a33c29a6dbdf8b1f 7bbd186703c08a53153e';
    const tx = new SrtpSender({ suite: 'AES_192_CM_HMAC_SHA1_80', keys: [key], libsrtpAes192Kdf: true });
    assert.equal(toHex(tx.out, tx.protectRtp(plain)), toHex(hex(recorded)));
    const rx = new SrtpReceiver({ suite: 'AES_192_CM_HMAC_SHA1_80', keys: [key], libsrtpAes192Kdf: true });
    assert.equal(toHex(rx.out, rx.unprotectRtp(hex(recorded))), toHex(plain));
    const rfc = new SrtpReceiver({ suite: 'AES_192_CM_HMAC_SHA1_80', keys: [key] });
    assert.ok(rfc.unprotectRtp(hex(recorded)) < 0, 'RFC 6188 keys cannot read it');
  });

  it('SDES inline: material of the libsrtp test key splits into the same key and salt', async () => {
    const { splitKeySalt } = await import('../../src/srtp/keys.js');
    const m = Buffer.from('4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm', 'base64');
    const { key, salt } = splitKeySalt('AES_CM_128_HMAC_SHA1_80', m);
    assert.equal(toHex(key), toHex(aes128.key));
    assert.equal(toHex(salt), toHex(aes128.salt));
  });
});
