/**
 * Seeded mutation fuzzing: thousands of damaged SDP bodies and crypto lines
 * must never make the entry points throw, and every error must stay one line.
 * The seed is fixed, so a failure reproduces; the failing input is printed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSdp, serializeSdp } from '../../src/sdp/sdp.js';
import { parseCryptoAttribute } from '../../src/sdp/sdes.js';
import { answerOffer } from '../../src/sdp/answer.js';
import { buildOffer, processAnswer } from '../../src/sdp/offer.js';
import type { AnswerPolicy } from '../../src/sdp/policy.js';
import { ALL_SAMPLES, LOCAL, prng, seededRandom } from './fixtures.js';

const PIECES = [
  '\r\n', '\n', '\r', '\u0000', ' ', '\t', ':', ';', '|', '=', '/', '^', '-', '"', '\\', 'é', '\u{1F600}',
  'a=crypto:', 'inline:', '2^', '2^48', '2^49', '2^999999', '1:4', '0:0', '1:129', '99999999999999999999',
  'm=audio 0 RTP/SAVP 0', 'm=audio 65536 RTP/AVP', 'c=IN IP6 ::1', 'c=IN IP4 1.2.3.4/1/2/3', 'a=rtpmap:96 x/0/0',
  'KDR=', 'WSH=1', 'FEC_KEY=inline:', 'FEC_KEY=inline:;', 'UNENCRYPTED_SRTP', '-X', 'F8_128_HMAC_SHA1_80',
  'AES_CM_192_HMAC_SHA1_80', 'AEAD_AES_256_GCM', '==', 'AAAA', '1234567890', 'v=0', 'o=', 's=', 't=',
];

type Rand = () => number;

function pick<T>(r: Rand, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

function mutate(r: Rand, input: string): string {
  let s = input;
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) {
    const pos = Math.floor(r() * (s.length + 1));
    switch (Math.floor(r() * 8)) {
      case 0: // delete a span
        s = s.slice(0, pos) + s.slice(pos + 1 + Math.floor(r() * 6));
        break;
      case 1: // insert a piece
        s = s.slice(0, pos) + pick(r, PIECES) + s.slice(pos);
        break;
      case 2: // random code unit
        s = s.slice(0, pos) + String.fromCharCode(Math.floor(r() * 0x10000)) + s.slice(pos);
        break;
      case 3: { // duplicate or drop a line
        const lines = s.split('\r\n');
        const j = Math.floor(r() * lines.length);
        if (r() < 0.5) lines.splice(j, 0, lines[j] ?? '');
        else lines.splice(j, 1);
        s = lines.join('\r\n');
        break;
      }
      case 4: { // swap two lines
        const lines = s.split('\r\n');
        const a = Math.floor(r() * lines.length);
        const b = Math.floor(r() * lines.length);
        [lines[a], lines[b]] = [lines[b], lines[a]];
        s = lines.join('\r\n');
        break;
      }
      case 5: // truncate
        s = s.slice(0, pos);
        break;
      case 6: // numbers become huge or negative
        s = s.replace(/\d+/, r() < 0.5 ? '99999999999999999999999' : '-1');
        break;
      default: // change a character's case
        s = s.slice(0, pos) + (s[pos] ?? '').toUpperCase() + s.slice(pos + 1);
    }
  }
  return s;
}

const POLICIES: readonly AnswerPolicy[] = [
  { srtp: 'mandatory' },
  { srtp: 'optional', codecs: { encodings: ['PCMU', 'PCMA', 'telephone-event'] } },
  { srtp: 'off' },
  { srtp: 'mandatory', acceptSuites: ['AES_CM_128_HMAC_SHA1_80'], acceptLifetime: false, acceptMki: false, rtcpMux: true },
];

function oneLine(s: string, what: string, input: string): void {
  if (/[\r\n]/.test(s)) assert.fail(`${what} is not one line for input ${JSON.stringify(input)}`);
}

describe('fuzz', () => {
  it('3000 mutated offers: parse, answer, and our answers parse and process', () => {
    const r = prng(0x5195ec);
    const random = seededRandom(0xc0ffee);
    for (let i = 0; i < 3000; i++) {
      const input = mutate(r, pick(r, ALL_SAMPLES));
      try {
        const p = parseSdp(input);
        if (!p.ok) {
          oneLine(p.error, 'parse error', input);
        } else {
          // Whatever parsed must serialise and parse again.
          assert.equal(parseSdp(serializeSdp(p.sdp)).ok, true, `re-parse failed for ${JSON.stringify(input)}`);
        }
        const a = answerOffer(input, pick(r, POLICIES), LOCAL, { random });
        if (a.ok) {
          const again = parseSdp(a.sdp);
          assert.equal(again.ok, true, `our answer does not parse for ${JSON.stringify(input)}`);
          assert.equal(a.negotiation.accepted, true);
        } else {
          oneLine(a.error, 'answer error', input);
          oneLine(a.warning, 'Warning header', input);
          assert.match(a.warning, /^\d{3} sipsec "/);
        }
      } catch (e) {
        assert.fail(`threw on input ${JSON.stringify(input)}: ${e instanceof Error ? e.stack : String(e)}`);
      }
    }
  });

  it('3000 mutated crypto lines never throw; unusable ones carry a one-line reason', () => {
    const r = prng(0xdecaf);
    const lines = ALL_SAMPLES.flatMap((s) => s.split('\r\n').filter((l) => l.startsWith('a=crypto:')).map((l) => l.slice('a=crypto:'.length)));
    for (let i = 0; i < 3000; i++) {
      const input = mutate(r, pick(r, lines));
      try {
        const l = parseCryptoAttribute(input);
        if (!l.usable) {
          assert.ok(l.reason && l.reason.length > 0, `no reason for ${JSON.stringify(input)}`);
          oneLine(l.reason, 'reason', input);
        }
      } catch (e) {
        assert.fail(`threw on crypto ${JSON.stringify(input)}: ${e instanceof Error ? e.stack : String(e)}`);
      }
    }
  });

  it('1000 mutated answers to our own offer never throw processAnswer', () => {
    const r = prng(0xbeef);
    const offer = buildOffer({ local: { address: '192.0.2.1', port: 30000 }, suites: ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'], random: seededRandom(1) });
    const answer = answerOffer(offer.sdp, { srtp: 'mandatory' }, LOCAL, { random: seededRandom(2) });
    assert.ok(answer.ok);
    if (!answer.ok) return;
    for (let i = 0; i < 1000; i++) {
      const input = mutate(r, answer.sdp);
      try {
        const p = processAnswer(offer, input);
        if (!p.ok) oneLine(p.error, 'processAnswer error', input);
      } catch (e) {
        assert.fail(`threw on answer ${JSON.stringify(input)}: ${e instanceof Error ? e.stack : String(e)}`);
      }
    }
  });
});
