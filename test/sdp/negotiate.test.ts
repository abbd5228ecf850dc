import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SUITE_ALIASES, SUITE_NAMES, masterLength, type SuiteName } from '../../src/srtp/suites.js';
import { getAttributes, parseSdp, type SessionDescription } from '../../src/sdp/sdp.js';
import { parseCryptoAttribute } from '../../src/sdp/sdes.js';
import { answerOffer, type AnswerResult, type StreamNegotiation } from '../../src/sdp/answer.js';
import { buildOffer, processAnswer } from '../../src/sdp/offer.js';
import type { AnswerPolicy } from '../../src/sdp/policy.js';
import { compareCrypto, reofferChanged } from '../../src/sdp/reoffer.js';
import { reportNegotiation } from '../../src/sdp/report.js';
import {
  AASTRA_32_FIRST,
  BARESIP,
  BLINK,
  GCM_ONLY,
  LIBSRTP_KEY_GCM128,
  LINPHONE,
  LOCAL,
  NOTHING_ACCEPTABLE,
  PLAIN_AVP,
  SNOM_AVP_32,
  WITH_MKI,
  YEALINK_F8_FIRST,
  ZOIPER_256_FIRST,
  grandstream,
  keyB64,
  sdp,
  seededRandom,
} from './fixtures.js';

const MANDATORY: AnswerPolicy = { srtp: 'mandatory' };

function answered(offer: string, policy: AnswerPolicy = MANDATORY, seed = 1): Extract<AnswerResult, { ok: true }> & { parsed: SessionDescription } {
  const r = answerOffer(offer, policy, LOCAL, { random: seededRandom(seed) });
  if (!r.ok) assert.fail(`expected an answer, got ${r.status}: ${r.error}`);
  const p = parseSdp(r.sdp);
  if (!p.ok) assert.fail(`our own answer does not parse: ${p.error}`);
  return { ...r, parsed: p.sdp };
}

function refused(offer: string, policy: AnswerPolicy = MANDATORY): Extract<AnswerResult, { ok: false }> {
  const r = answerOffer(offer, policy, LOCAL, { random: seededRandom(2) });
  if (r.ok) assert.fail('expected a refusal');
  return r;
}

function answerCrypto(s: SessionDescription): string[] {
  return getAttributes(s.media[0].attributes, 'crypto').map((a) => a.value ?? '');
}

/** The answer's crypto line: tag, suite, and a key of the suite's length that is not the phone's. */
function assertAnsweredWith(r: ReturnType<typeof answered>, tag: string, suite: string): void {
  const lines = answerCrypto(r.parsed);
  assert.equal(lines.length, 1, 'exactly one crypto line in the answer (RFC 4568 §7.1.2)');
  const line = parseCryptoAttribute(lines[0]);
  assert.equal(line.usable, true, line.reason);
  assert.equal(line.tagText, tag);
  assert.equal(line.suite, suite);
  assert.ok(!/\|/.test(lines[0]), 'no lifetime or MKI in what sipsec sends');
  const chosen = r.negotiation.chosen;
  assert.ok(chosen);
  assert.equal(chosen.tagText, tag);
  assert.equal(chosen.suite, suite);
  assert.deepEqual(line.keys[0].key, chosen.localKey.key);
  assert.deepEqual(line.keys[0].salt, chosen.localKey.salt);
  assert.notDeepEqual(chosen.localKey.key, chosen.remoteKey.key);
  assert.equal(r.negotiation.srtp, 'sdes');
}

describe('answerOffer: the talk\'s phones and today\'s peers', () => {
  it('Aastra offering _32 first: answered _32 with tag 1 (the offerer\'s order wins)', () => {
    const r = answered(AASTRA_32_FIRST);
    assertAnsweredWith(r, '1', 'AES_CM_128_HMAC_SHA1_32');
    assert.equal(r.parsed.media[0].proto, 'RTP/SAVP');
    assert.equal(r.parsed.media[0].port, LOCAL.port);
    assert.deepEqual(r.negotiation.remote, { address: '198.51.100.57', port: 3000, rtcpPort: 3001, rtcpMux: false });
    assert.equal(r.negotiation.offeredCrypto.length, 2);
    assert.ok(r.negotiation.offeredCrypto.every((l) => l.acceptable));
  });

  it('Aastra against a server without _32 (Asterisk 1.8): tag 2, _80', () => {
    const r = answered(AASTRA_32_FIRST, { srtp: 'mandatory', acceptSuites: ['AES_CM_128_HMAC_SHA1_80'] });
    assertAnsweredWith(r, '2', 'AES_CM_128_HMAC_SHA1_80');
    assert.equal(r.negotiation.offeredCrypto[0].acceptable, false);
    assert.match(r.negotiation.offeredCrypto[0].refusal ?? '', /AES_CM_128_HMAC_SHA1_32 is not among the suites sipsec accepts/);
  });

  it('only _32 offered to a server without _32: 488 with Warning 306 naming both sides', () => {
    const only32 = sdp([
      'v=0', 'o=- 1 1 IN IP4 198.51.100.57', 's=-', 'c=IN IP4 198.51.100.57', 't=0 0',
      'm=audio 3000 RTP/SAVP 0', `a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:${keyB64(30, 1)}`,
    ]);
    const r = refused(only32, { srtp: 'mandatory', acceptSuites: ['AES_CM_128_HMAC_SHA1_80'] });
    assert.equal(r.status, 488);
    assert.equal(r.warning, '306 sipsec "offered AES_CM_128_HMAC_SHA1_32; accepts AES_CM_128_HMAC_SHA1_80"');
  });

  it('Blink offering _80 and _32 with different keys: tag 1 _80, the phone\'s tag-1 key to decrypt', () => {
    const r = answered(BLINK);
    assertAnsweredWith(r, '1', 'AES_CM_128_HMAC_SHA1_80');
    const offered = r.negotiation.offeredCrypto;
    assert.notDeepEqual(offered[0].keys[0].key, offered[1].keys[0].key);
    assert.deepEqual(r.negotiation.chosen?.remoteKey.key, offered[0].keys[0].key);
    // echo-first: opus only (telephone-event/8000 does not match opus' 48 kHz clock, RFC 4733 §7.1.1).
    assert.deepEqual(r.parsed.media[0].formats, ['113']);
    assert.deepEqual(getAttributes(r.parsed.media[0].attributes, 'rtpmap')[0].value, '113 opus/48000/2');
    assert.equal(r.negotiation.remote?.rtcpPort, 50001, 'a=rtcp honoured');
  });

  for (const lifetime of ['2^31', '2^32', '1073741824']) {
    it(`Grandstream lifetime |${lifetime} is accepted; the answer carries none`, () => {
      const r = answered(grandstream(lifetime));
      assertAnsweredWith(r, '1', 'AES_CM_128_HMAC_SHA1_80');
      assert.equal(r.negotiation.chosen?.remoteKey.lifetime?.text, lifetime);
      assert.equal(r.negotiation.chosen?.localKey.lifetime, undefined);
    });
  }

  it('Grandstream lifetime refused by an Asterisk-1.8-like policy: 488 naming the lifetime', () => {
    const r = refused(grandstream('2^31'), { srtp: 'mandatory', acceptLifetime: false });
    assert.match(r.warning, /^306 sipsec "offered AES_CM_128_HMAC_SHA1_80 with lifetime 2\^31; accepts .*; refuses lifetimes"$/);
  });

  it('an MKI on the phone\'s key is reported for decryption and not echoed', () => {
    const r = answered(WITH_MKI);
    assertAnsweredWith(r, '1', 'AES_CM_128_HMAC_SHA1_80');
    const mki = r.negotiation.chosen?.remoteKey.mki;
    assert.equal(mki?.value, 1n);
    assert.equal(mki?.bytes.toString('hex'), '00000001');
    assert.equal(r.negotiation.chosen?.localKey.mki, undefined);
  });

  it('baresip\'s single RTP/SAVP line: tag 1 _80, PCMU + telephone-event, ptime kept', () => {
    const r = answered(BARESIP);
    assertAnsweredWith(r, '1', 'AES_CM_128_HMAC_SHA1_80');
    const m = r.parsed.media[0];
    assert.deepEqual(m.formats, ['0', '101']);
    assert.deepEqual(
      m.attributes.map((a) => (a.value === null ? a.name : `${a.name}:${a.value}`)).filter((s) => !s.startsWith('crypto')),
      ['rtpmap:0 PCMU/8000', 'rtpmap:101 telephone-event/8000', 'fmtp:101 0-15', 'ptime:20', 'sendrecv'],
    );
    assert.equal(r.negotiation.codec?.encoding, 'PCMU');
  });

  it('linphone\'s default 4-line offer: tag 1 _80; opus with the 48 kHz telephone-event', () => {
    const r = answered(LINPHONE);
    assertAnsweredWith(r, '1', 'AES_CM_128_HMAC_SHA1_80');
    assert.deepEqual(r.parsed.media[0].formats, ['96', '101']);
  });

  it('linphone with a codec list: PCMU, PCMA and the 8 kHz telephone-event, in offer order', () => {
    const r = answered(LINPHONE, { srtp: 'mandatory', codecs: { encodings: ['pcmu', 'PCMA', 'telephone-event'] } });
    assert.deepEqual(r.parsed.media[0].formats, ['0', '8', '101', '99', '100']);
  });

  it('a codec list nothing matches: 488 with Warning 305', () => {
    const r = refused(BARESIP, { srtp: 'mandatory', codecs: { encodings: ['G722'] } });
    assert.match(r.warning, /^305 sipsec "offered 0 PCMU, 101 telephone-event; accepts G722"$/);
  });

  it('Snom RTP/AVP + _32: SRTP answered on RTP/AVP under mandatory and optional', () => {
    for (const srtp of ['mandatory', 'optional'] as const) {
      const r = answered(SNOM_AVP_32, { srtp });
      assertAnsweredWith(r, '1', 'AES_CM_128_HMAC_SHA1_32');
      assert.equal(r.parsed.media[0].proto, 'RTP/AVP', 'best-effort SRTP keeps the offered profile');
      assert.deepEqual(r.parsed.media[0].formats, ['8', '101']);
    }
  });

  it('Snom RTP/AVP + _32 with srtp off: crypto ignored, plain RTP/AVP', () => {
    const r = answered(SNOM_AVP_32, { srtp: 'off' });
    assert.deepEqual(answerCrypto(r.parsed), []);
    assert.equal(r.negotiation.srtp, 'none');
    assert.equal(r.negotiation.chosen, undefined);
    assert.ok(r.negotiation.reasons.some((x) => x.includes('ignored')));
  });

  it('Snom RTP/AVP + _32 to an optional server without _32: plain RTP', () => {
    const r = answered(SNOM_AVP_32, { srtp: 'optional', acceptSuites: ['AES_CM_128_HMAC_SHA1_80'] });
    assert.equal(r.negotiation.srtp, 'none');
    assert.deepEqual(answerCrypto(r.parsed), []);
  });

  it('Snom RTP/AVP + _32 to a mandatory server without _32: 488 306', () => {
    const r = refused(SNOM_AVP_32, { srtp: 'mandatory', acceptSuites: ['AES_CM_128_HMAC_SHA1_80'] });
    assert.match(r.warning, /^306 sipsec "offered AES_CM_128_HMAC_SHA1_32; accepts AES_CM_128_HMAC_SHA1_80"$/);
  });

  it('Zoiper AES_256 first: tag 1 AES_256_CM_HMAC_SHA1_80 with a 46-octet key', () => {
    const r = answered(ZOIPER_256_FIRST);
    assertAnsweredWith(r, '1', 'AES_256_CM_HMAC_SHA1_80');
    const c = r.negotiation.chosen;
    assert.equal((c?.localKey.key.length ?? 0) + (c?.localKey.salt.length ?? 0), 46);
  });

  it('Zoiper to a 128-only server (rtpengine #736, Yealink fw 87): tag 3', () => {
    const r = answered(ZOIPER_256_FIRST, { srtp: 'mandatory', acceptSuites: ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'] });
    assertAnsweredWith(r, '3', 'AES_CM_128_HMAC_SHA1_80');
  });

  it('Yealink with an F8 line first: F8 skipped with its reason, tag 2 _80', () => {
    const r = answered(YEALINK_F8_FIRST);
    assertAnsweredWith(r, '2', 'AES_CM_128_HMAC_SHA1_80');
    const f8 = r.negotiation.offeredCrypto[0];
    assert.equal(f8.acceptable, false);
    assert.equal(f8.suiteStatus, 'unsupported');
    assert.match(f8.refusal ?? '', /F8_128_HMAC_SHA1_80 .* not supported/);
    assert.ok(r.negotiation.reasons.some((x) => x.startsWith('crypto 1 F8_128_HMAC_SHA1_80 not chosen')));
  });

  it('GCM only: answered AEAD_AES_128_GCM with a 28-octet key, padded base64', () => {
    const r = answered(GCM_ONLY);
    assertAnsweredWith(r, '7', 'AEAD_AES_128_GCM');
    const line = answerCrypto(r.parsed)[0];
    assert.match(line, /^7 AEAD_AES_128_GCM inline:[A-Za-z0-9+/]{38}==$/);
    assert.equal(r.negotiation.chosen?.remoteKey.key.toString('hex'), '000102030405060708090a0b0c0d0e0f');
  });

  it('GCM only to a server without GCM: 488 306', () => {
    const r = refused(GCM_ONLY, { srtp: 'mandatory', acceptSuites: ['AES_CM_128_HMAC_SHA1_80'] });
    assert.equal(r.warning, '306 sipsec "offered AEAD_AES_128_GCM; accepts AES_CM_128_HMAC_SHA1_80"');
  });

  it('nothing acceptable: 488, Warning 306 names what was offered and what sipsec accepts', () => {
    const r = refused(NOTHING_ACCEPTABLE, { srtp: 'mandatory', acceptSuites: ['AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_128_GCM'] });
    assert.equal(r.status, 488);
    assert.equal(
      r.warning,
      '306 sipsec "offered AES_CM_128_HMAC_SHA1_32 with UNENCRYPTED_SRTP; accepts AES_CM_128_HMAC_SHA1_80, AEAD_AES_128_GCM; refuses UNENCRYPTED_SRTP"',
    );
    assert.equal(r.streams[0].accepted, false);
    assert.equal(r.streams[0].warning?.code, 306);
  });

  it('UNENCRYPTED_SRTCP allowed by policy is echoed in the answer (a negotiated parameter, RFC 4568 §6.3.2)', () => {
    const offer = NOTHING_ACCEPTABLE.replace('UNENCRYPTED_SRTP', 'UNENCRYPTED_SRTCP');
    refused(offer);
    const r = answered(offer, { srtp: 'mandatory', allowUnencryptedSrtcp: true });
    assert.match(answerCrypto(r.parsed)[0], / UNENCRYPTED_SRTCP$/);
    assert.deepEqual(r.negotiation.chosen?.answeredSessionParams, ['UNENCRYPTED_SRTCP']);
  });

  it('KDR is refused by default and accepted (not echoed) when allowed', () => {
    const offer = BARESIP.replace(/(a=crypto:1 \S+ \S+)/, '$1 KDR=10');
    assert.match(refused(offer).warning, /with KDR=10; accepts .*; refuses KDR"/);
    const r = answered(offer, { srtp: 'mandatory', allowKdr: true });
    assert.equal(r.negotiation.chosen?.sessionParams.kdr, 10);
    assert.ok(!answerCrypto(r.parsed)[0].includes('KDR'));
  });

  it('an invalid line in the Warning says why', () => {
    const offer = BARESIP.replace(/inline:\S+/, `inline:${keyB64(29, 1)}`);
    assert.match(refused(offer).warning, /offered AES_CM_128_HMAC_SHA1_80 \(invalid: AES_CM_128_HMAC_SHA1_80 needs 30 octets/);
  });

  it('draft-era spelling is answered with the same spelling', () => {
    const offer = BARESIP.replace(/a=crypto:1 \S+ inline:\S+/, `a=crypto:1 AES_CM_256_HMAC_SHA1_80 inline:${keyB64(46, 3)}`);
    const r = answered(offer);
    assertAnsweredWith(r, '1', 'AES_CM_256_HMAC_SHA1_80');
    assert.equal(r.negotiation.chosen?.canonical, 'AES_256_CM_HMAC_SHA1_80');
  });
});

describe('answerOffer: a phone offering no crypto, per srtp policy', () => {
  it('mandatory: 488 with Warning 302', () => {
    const r = refused(PLAIN_AVP, { srtp: 'mandatory' });
    assert.equal(r.warning, '302 sipsec "offered RTP/AVP without a=crypto; this phone requires SRTP (RTP/SAVP, or RTP/AVP with a=crypto)"');
  });

  for (const srtp of ['optional', 'off'] as const) {
    it(`${srtp}: plain RTP/AVP answer`, () => {
      const r = answered(PLAIN_AVP, { srtp });
      assert.equal(r.negotiation.srtp, 'none');
      assert.equal(r.parsed.media[0].proto, 'RTP/AVP');
      assert.deepEqual(answerCrypto(r.parsed), []);
      assert.deepEqual(r.parsed.media[0].formats, ['0', '101']);
    });
  }

  it('off: an RTP/SAVP offer gets 488 302', () => {
    const r = refused(BARESIP, { srtp: 'off' });
    assert.equal(r.warning, '302 sipsec "offered RTP/SAVP; SRTP is off for this phone, so sipsec answers RTP/AVP only"');
  });

  it('RTP/SAVP without any a=crypto: 488 306 under mandatory and optional', () => {
    const offer = BARESIP.replace(/a=crypto:[^\r\n]*\r\n/, '');
    for (const srtp of ['mandatory', 'optional'] as const) {
      assert.match(refused(offer, { srtp }).warning, /^306 sipsec "offered RTP\/SAVP without a=crypto/);
    }
  });
});

describe('answerOffer: streams and SDP shape', () => {
  it('rejects non-audio streams with port 0 and answers the audio one', () => {
    const offer = BARESIP + 'm=video 20024 RTP/SAVP 96\r\na=rtpmap:96 H264/90000\r\n' + `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${keyB64(30, 5)}\r\n`;
    const r = answered(offer);
    assert.equal(r.parsed.media.length, 2, 'as many m-lines as the offer (RFC 3264 §6)');
    assert.equal(r.parsed.media[1].port, 0);
    assert.equal(r.parsed.media[1].media, 'video');
    assert.equal(r.streams[1].accepted, false);
    assert.equal(r.negotiation.index, 0);
  });

  it('a second audio stream is rejected: the echo has one media port', () => {
    const second = `m=audio 20030 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${keyB64(30, 1600)}\r\n`;
    const r = answered(BARESIP + second);
    assert.deepEqual(r.parsed.media.map((m) => m.port), [LOCAL.port, 0]);
    assert.equal(r.streams[1].accepted, false);
  });

  it('no audio at all: 488 304', () => {
    const offer = sdp(['v=0', 'o=- 1 1 IN IP4 192.0.2.5', 's=-', 'c=IN IP4 192.0.2.5', 't=0 0', 'm=video 5000 RTP/AVP 96']);
    assert.match(refused(offer).warning, /^304 sipsec /);
  });

  it('DTLS-SRTP offer: 488 302', () => {
    const offer = BARESIP.replace('RTP/SAVP', 'UDP/TLS/RTP/SAVP');
    assert.match(refused(offer).warning, /^302 sipsec "offered UDP\/TLS\/RTP\/SAVP \(DTLS-SRTP\)/);
  });

  it('RTP/SAVPF keeps its profile', () => {
    const r = answered(BARESIP.replace('RTP/SAVP', 'RTP/SAVPF'));
    assert.equal(r.parsed.media[0].proto, 'RTP/SAVPF');
    assert.equal(r.negotiation.srtp, 'sdes');
  });

  it('hold (sendonly) is answered recvonly; rtcp-mux only when the policy allows', () => {
    const offer = BARESIP.replace('a=sendrecv', 'a=sendonly\r\na=rtcp-mux');
    const r = answered(offer);
    assert.equal(r.negotiation.direction, 'recvonly');
    assert.equal(r.negotiation.remote?.rtcpMux, false);
    assert.equal(getAttributes(r.parsed.media[0].attributes, 'rtcp-mux').length, 0);
    const mux = answered(offer, { srtp: 'mandatory', rtcpMux: true });
    assert.equal(mux.negotiation.remote?.rtcpPort, 20022);
    assert.equal(getAttributes(mux.parsed.media[0].attributes, 'rtcp-mux').length, 1);
  });

  it('malformed offer: status 400, one-line error, Warning 399', () => {
    const r = refused('v=0\r\nthis is not sdp\r\n');
    assert.equal(r.status, 400);
    assert.match(r.error, /^SDP line 2: expected "<letter>=<value>"/);
    assert.match(r.warning, /^399 sipsec "SDP line 2/);
  });

  it('o= and c= carry our address; IPv6 gives IP6', () => {
    const r = answerOffer(BARESIP, MANDATORY, { address: '2001:db8::10', port: 40000, sessionVersion: 7, sessionId: '99' }, { random: seededRandom(1) });
    assert.ok(r.ok);
    if (r.ok) {
      assert.match(r.sdp, /^v=0\r\no=sipsec 99 7 IN IP6 2001:db8::10\r\ns=sipsec\r\nc=IN IP6 2001:db8::10\r\nt=0 0\r\nm=audio 40000 RTP\/SAVP 0 101\r\n/);
    }
  });

  it('never answers with the offered key, even when the random source produces it (RFC 4568 §7.1.2)', () => {
    // BARESIP's key is keyB64(30, 1006): the same seed replays it as our first "random" key.
    const r = answered(BARESIP, MANDATORY, 1006);
    const chosen = r.negotiation.chosen;
    assert.ok(chosen);
    assert.notDeepEqual(Buffer.concat([chosen.localKey.key, chosen.localKey.salt]), Buffer.concat([chosen.remoteKey.key, chosen.remoteKey.salt]));
    const stuck = (): Buffer => Buffer.from(keyB64(30, 1006), 'base64');
    assert.throws(() => answerOffer(BARESIP, MANDATORY, LOCAL, { random: stuck }), /keeps returning an offered master key/);
  });

  it('is deterministic under an injected random source', () => {
    const a = answerOffer(LINPHONE, MANDATORY, { address: '192.0.2.1', port: 1 }, { random: seededRandom(9) });
    const b = answerOffer(LINPHONE, MANDATORY, { address: '192.0.2.1', port: 1 }, { random: seededRandom(9) });
    assert.ok(a.ok && b.ok);
    if (a.ok && b.ok) assert.equal(a.sdp, b.sdp);
  });

  it('Warning text cannot be broken by a hostile suite name', () => {
    const offer = BARESIP.replace(/AES_CM_128_HMAC_SHA1_80/, 'EVIL"\\SUITE');
    const r = refused(offer);
    assert.match(r.warning, /^306 sipsec "offered EVIL\\"\\\\SUITE \(unknown suite\); accepts /);
    assert.ok(!/[\r\n]/.test(r.warning));
  });
});

describe('buildOffer → answerOffer → processAnswer', () => {
  const offerer = { address: '192.0.2.1', port: 30000, sessionId: '1' };

  for (const suite of [...SUITE_NAMES, ...Object.keys(SUITE_ALIASES)]) {
    it(`round trip with ${suite}: matching key pairs both ways`, () => {
      const offer = buildOffer({ local: offerer, suites: [suite], random: seededRandom(11) });
      const answer = answered(offer.sdp, MANDATORY, 12);
      const chosen = answer.negotiation.chosen;
      assert.ok(chosen);
      assert.equal(chosen.suite, suite);
      const done = processAnswer(offer, answer.sdp);
      assert.ok(done.ok, done.ok ? '' : done.error);
      if (!done.ok || done.srtp !== 'sdes') return assert.fail('expected SDES');
      // What we send with, the answerer decrypts with, and vice versa.
      assert.deepEqual(done.localKey, offer.crypto[0].key);
      assert.deepEqual(done.localKey.key, chosen.remoteKey.key);
      assert.deepEqual(done.localKey.salt, chosen.remoteKey.salt);
      assert.deepEqual(done.remoteKey.key, chosen.localKey.key);
      assert.deepEqual(done.remoteKey.salt, chosen.localKey.salt);
      assert.equal(done.remoteKey.key.length + done.remoteKey.salt.length, masterLength(chosen.canonical));
      assert.equal(done.suite, suite);
    });
  }

  it('preference order becomes tags 1, 2, 3 with a fresh key each', () => {
    const offer = buildOffer({
      local: offerer,
      suites: ['AES_CM_128_HMAC_SHA1_80', 'AEAD_AES_128_GCM', 'AES_256_CM_HMAC_SHA1_80'],
      random: seededRandom(3),
    });
    const p = parseSdp(offer.sdp);
    assert.ok(p.ok);
    if (!p.ok) return;
    const lines = getAttributes(p.sdp.media[0].attributes, 'crypto').map((a) => parseCryptoAttribute(a.value ?? ''));
    assert.deepEqual(lines.map((l) => `${l.tag} ${l.suite}`), ['1 AES_CM_128_HMAC_SHA1_80', '2 AEAD_AES_128_GCM', '3 AES_256_CM_HMAC_SHA1_80']);
    assert.ok(lines.every((l) => l.usable));
    assert.equal(new Set(lines.map((l) => l.keys[0].key.toString('hex'))).size, 3);
    assert.equal(p.sdp.media[0].proto, 'RTP/SAVP');
    assert.deepEqual(p.sdp.media[0].formats, ['0', '8', '101']);
  });

  it('an Aastra-safe order never puts _32 first: the answer takes tag 1 _80', () => {
    const offer = buildOffer({ local: offerer, suites: ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'], random: seededRandom(4) });
    const answer = answered(offer.sdp);
    const done = processAnswer(offer, answer.sdp);
    assert.ok(done.ok && done.srtp === 'sdes' && done.tag === 1 && done.canonical === 'AES_CM_128_HMAC_SHA1_80');
  });

  it('the answerer picking our second line: processAnswer uses our tag-2 key', () => {
    const offer = buildOffer({ local: offerer, suites: ['AES_CM_128_HMAC_SHA1_32', 'AES_CM_128_HMAC_SHA1_80'], random: seededRandom(5) });
    const answer = answered(offer.sdp, { srtp: 'mandatory', acceptSuites: ['AES_CM_128_HMAC_SHA1_80'] });
    const done = processAnswer(offer, answer.sdp);
    assert.ok(done.ok && done.srtp === 'sdes');
    if (done.ok && done.srtp === 'sdes') {
      assert.equal(done.tag, 2);
      assert.deepEqual(done.localKey, offer.crypto[1].key);
    }
  });

  it('best-effort RTP/AVP offer answered in clear', () => {
    const offer = buildOffer({ local: offerer, suites: ['AES_CM_128_HMAC_SHA1_80'], proto: 'RTP/AVP', random: seededRandom(6) });
    const answer = answered(offer.sdp, { srtp: 'off' });
    const done = processAnswer(offer, answer.sdp);
    assert.ok(done.ok && done.srtp === 'none');
  });

  it('buildOffer refuses F8, unknown suites and SAVP without suites', () => {
    assert.throws(() => buildOffer({ local: offerer, suites: ['F8_128_HMAC_SHA1_80'] }), /cannot offer crypto suite F8_128_HMAC_SHA1_80/);
    assert.throws(() => buildOffer({ local: offerer, suites: ['NOPE'] }), /unknown crypto suite/);
    assert.throws(() => buildOffer({ local: offerer, suites: [] }), /needs at least one crypto suite/);
    assert.doesNotThrow(() => buildOffer({ local: offerer, suites: [], proto: 'RTP/AVP' }));
  });

  describe('processAnswer errors', () => {
    const offer = buildOffer({ local: offerer, suites: ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'], random: seededRandom(7) });
    const good = answered(offer.sdp).sdp;
    const cases: ReadonlyArray<[string, string, RegExp]> = [
      ['unknown tag', good.replace('a=crypto:1 ', 'a=crypto:9 '), /tag 9 matches none of the offered tags \(1, 2\)/],
      ['suite swapped', good.replace('a=crypto:1 AES_CM_128_HMAC_SHA1_80', 'a=crypto:1 AES_CM_128_HMAC_SHA1_32'), /tag 1 carries AES_CM_128_HMAC_SHA1_32 but we offered AES_CM_128_HMAC_SHA1_80/],
      ['two crypto lines', good.replace(/(a=crypto:[^\r]*)\r\n/, '$1\r\n$1\r\n'), /2 a=crypto lines/],
      ['no crypto on SAVP', good.replace(/a=crypto:[^\r]*\r\n/, ''), /RTP\/SAVP answer has no a=crypto/],
      ['port 0', good.replace('m=audio 40000', 'm=audio 0'), /rejected the audio stream/],
      ['other proto', good.replace('RTP/SAVP', 'RTP/AVP'), /answer uses RTP\/AVP but the offer was RTP\/SAVP/],
      ['reflected key', good.replace(/inline:\S+/, `inline:${Buffer.concat([offer.crypto[0].key.key, offer.crypto[0].key.salt]).toString('base64')}`), /reuses our offered master key/],
      ['added UNENCRYPTED_SRTP', good.replace(/(a=crypto:[^\r]*)/, '$1 UNENCRYPTED_SRTP'), /adds UNENCRYPTED_SRTP/],
      ['bad key length', good.replace(/inline:\S+/, `inline:${keyB64(29, 3)}`), /answer a=crypto is invalid: .*decodes to 29/],
      ['not SDP', 'hello', /^answer: SDP line 1/],
      ['extra m-line', good + 'm=video 0 RTP/AVP 96\r\n', /answer has 2 m-lines; the offer had 1/],
    ];
    for (const [name, text, expected] of cases) {
      it(name, () => {
        const r = processAnswer(offer, text);
        assert.equal(r.ok, false);
        if (!r.ok) assert.match(r.error, expected);
      });
    }
  });
});

describe('re-offers', () => {
  function first(offer: string): StreamNegotiation[] {
    return answered(offer).streams;
  }

  it('same crypto on hold: contexts kept, same local key, same answer crypto line', () => {
    const before = first(BARESIP);
    const hold = BARESIP.replace('a=sendrecv', 'a=sendonly').replace(/o=- (\d+) 2612917545/, 'o=- $1 2612917546');
    const r = reofferChanged(before, hold, MANDATORY, LOCAL, { random: seededRandom(99) });
    assert.ok(r.ok);
    if (!r.ok || !r.answer.ok) return;
    assert.deepEqual(r.checks, [{ changed: false, reason: 'same suite, key and parameters' }]);
    assert.deepEqual(r.answer.negotiation.chosen?.localKey, before[0].chosen?.localKey);
    assert.equal(r.answer.negotiation.direction, 'recvonly');
    assert.ok(r.answer.negotiation.reasons.some((x) => x.includes('kept: same key as before')));
  });

  it('same key under a new tag is not a change', () => {
    const before = first(BARESIP);
    const retag = BARESIP.replace('a=crypto:1 ', 'a=crypto:5 ');
    const r = reofferChanged(before, retag, MANDATORY, LOCAL, { random: seededRandom(98) });
    assert.ok(r.ok);
    if (r.ok) assert.deepEqual(r.checks, [{ changed: false, reason: 'same key under a new tag (1 -> 5)' }]);
  });

  it('new key: changed, and our key is fresh too', () => {
    const before = first(BARESIP);
    const rekey = BARESIP.replace(/inline:\S+/, `inline:${keyB64(30, 1234)}`);
    const r = reofferChanged(before, rekey, MANDATORY, LOCAL, { random: seededRandom(97) });
    assert.ok(r.ok);
    if (!r.ok || !r.answer.ok) return;
    assert.deepEqual(r.checks, [{ changed: true, reason: 'master key changed' }]);
    assert.notDeepEqual(r.answer.negotiation.chosen?.localKey.key, before[0].chosen?.localKey.key);
  });

  it('a re-offer that adds a line in front still keeps the previous key\'s line', () => {
    const before = first(BARESIP);
    const reordered = BARESIP.replace('a=crypto:1 ', `a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:${keyB64(30, 77)}\r\na=crypto:1 `);
    const r = reofferChanged(before, reordered, MANDATORY, LOCAL, { random: seededRandom(96) });
    assert.ok(r.ok);
    if (r.ok && r.answer.ok) {
      assert.equal(r.checks[0].changed, false);
      assert.equal(r.answer.negotiation.chosen?.tagText, '1');
    }
  });

  it('compareCrypto: suite, lifetime and SRTP start/stop', () => {
    const a = first(BARESIP)[0].chosen;
    const b = first(grandstream('2^31'))[0].chosen;
    assert.ok(a && b);
    assert.deepEqual(compareCrypto(a, undefined), { changed: true, reason: 'SRTP stopped' });
    assert.deepEqual(compareCrypto(undefined, a), { changed: true, reason: 'SRTP started' });
    assert.deepEqual(compareCrypto(undefined, undefined), { changed: false, reason: 'no SRTP before or now' });
    assert.equal(compareCrypto(a, { ...a, canonical: 'AES_CM_128_HMAC_SHA1_32' as SuiteName }).reason, 'suite changed from AES_CM_128_HMAC_SHA1_80 to AES_CM_128_HMAC_SHA1_32');
    const withLifetime = { ...a, remoteKeys: [{ ...a.remoteKey, lifetime: b.remoteKey.lifetime }] };
    assert.equal(compareCrypto(a, withLifetime).reason, 'key lifetime changed');
  });

  it('reofferChanged on a bad re-offer reports the error', () => {
    const r = reofferChanged(first(BARESIP), 'v=0\r\n', MANDATORY, LOCAL);
    assert.equal(r.ok, false);
  });
});

describe('reportNegotiation', () => {
  it('is JSON-safe and leaves keys out unless asked', () => {
    const r = answered(WITH_MKI);
    const report = reportNegotiation(r.negotiation);
    const json = JSON.stringify(report);
    assert.ok(!json.includes('WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz'), 'no remote key by default');
    assert.deepEqual(JSON.parse(json), report);
    assert.deepEqual(report.offeredCrypto, [
      { tag: '1', suite: 'AES_CM_128_HMAC_SHA1_80', usable: true, acceptable: true, keys: 1, lifetime: '2^20', mki: '1:4', sessionParams: [] },
    ]);
    assert.equal(report.chosen?.remoteMki, '1:4');
    assert.equal(report.chosen?.remoteLifetime, '2^20');
    assert.equal(report.srtp, 'sdes');
    const withKeys = reportNegotiation(r.negotiation, { includeKeys: true });
    assert.equal(withKeys.chosen?.remoteInline, 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz');
    assert.equal(withKeys.offeredCrypto[0].inline?.[0], 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz');
  });

  it('a rejected stream reports its refusals and warning', () => {
    const r = refused(YEALINK_F8_FIRST, { srtp: 'mandatory', acceptSuites: ['AEAD_AES_128_GCM'] });
    const report = reportNegotiation(r.streams[0]);
    assert.equal(report.accepted, false);
    assert.deepEqual(report.offeredCrypto.map((l) => l.acceptable), [false, false, false]);
    assert.match(report.offeredCrypto[0].reason ?? '', /F8/);
    assert.match(report.warning ?? '', /^306 offered F8_128_HMAC_SHA1_80 \(not supported\), AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32; accepts AEAD_AES_128_GCM$/);
  });
});

describe('odd offers', () => {
  it('duplicate tags: the first acceptable line is used and the duplicate noted', () => {
    const offer = BARESIP.replace(/(a=crypto:1 [^\r]*\r\n)/, `$1a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:${keyB64(30, 1500)}\r\n`);
    const r = answered(offer);
    assertAnsweredWith(r, '1', 'AES_CM_128_HMAC_SHA1_80');
    assert.ok(r.negotiation.reasons.some((x) => x.includes('tag 1 used on more than one')));
  });

  it('every audio stream disabled: 488 304 saying so', () => {
    const r = refused(BARESIP.replace('m=audio 20022', 'm=audio 0'));
    assert.equal(r.warning, '304 sipsec "every audio stream was offered with port 0 (disabled)"');
  });

  it('session-level a=crypto is ignored with a warning', () => {
    const offer = BARESIP.replace('t=0 0\r\n', `t=0 0\r\na=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:${keyB64(30, 1501)}\r\n`);
    const r = answered(offer);
    assertAnsweredWith(r, '1', 'AES_CM_128_HMAC_SHA1_80');
    assert.ok(r.warnings.some((w) => w.includes('session-level a=crypto')));
  });
});

describe('LIBSRTP GCM key in an offer reaches the negotiation result intact', () => {
  it('remote salt is the 12-octet GCM salt', () => {
    const r = answered(GCM_ONLY);
    assert.equal(r.negotiation.chosen?.remoteKey.salt.toString('hex'), 'a0a1a2a3a4a5a6a7a8a9aaab');
    assert.ok(GCM_ONLY.includes(LIBSRTP_KEY_GCM128));
  });
});
