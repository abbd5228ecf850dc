/**
 * Shared fixtures for the SDP tests: a seeded PRNG (so keys and fuzz cases
 * are reproducible), key material helpers, and offers as real phones send them.
 * This file holds no tests.
 */
import type { RandomSource } from '../../src/sdp/key-material.js';

/** mulberry32: small, fast, seeded; good enough for test data, never for keys. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A deterministic stand-in for crypto.randomBytes. */
export function seededRandom(seed: number): RandomSource {
  const next = prng(seed);
  return (size: number) => {
    const b = Buffer.alloc(size);
    for (let i = 0; i < size; i++) b[i] = Math.floor(next() * 256);
    return b;
  };
}

/**
 * base64 of n deterministic octets: a well-formed inline key of a chosen
 * length. Fixture offers use seeds from 1000 up, so they differ from the
 * small seeds tests hand to answerOffer as its random source.
 */
export function keyB64(n: number, seed: number): string {
  return seededRandom(seed)(n).toString('base64');
}

/** Join lines with CRLF, as on the wire. */
export function sdp(lines: readonly string[]): string {
  return lines.join('\r\n') + '\r\n';
}

/** The RFC 3711 B.3 master key+salt as libsrtp's test_key in SDP form (sip-srtp.md §2.7). */
export const LIBSRTP_KEY_128 = '4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm';
export const LIBSRTP_KEY_GCM128 = 'AAECAwQFBgcICQoLDA0OD6ChoqOkpaanqKmqqw==';
export const LIBSRTP_KEY_256 = '8PBJFLUT8nY6Gx+hMPEOKZj29uQ+QwnR5iKg4zK58bY7BIA95R7nyWQjq1t40g==';

export const LOCAL = { address: '192.0.2.10', port: 40000, sessionId: '4242' } as const;

function head(addr: string, user = '-'): string[] {
  return ['v=0', `o=${user} 1314 1314 IN IP4 ${addr}`, 's=-', `c=IN IP4 ${addr}`, 't=0 0'];
}

/** Aastra 57i (2011): `_32` first, then `_80`. */
export const AASTRA_32_FIRST = sdp([
  'v=0',
  'o=MxSIP 0 1 IN IP4 198.51.100.57',
  's=SIP Call',
  'c=IN IP4 198.51.100.57',
  't=0 0',
  'm=audio 3000 RTP/SAVP 0 8 18 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:18 G729/8000',
  'a=fmtp:18 annexb=no',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=ptime:20',
  'a=sendrecv',
  `a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:${keyB64(30, 1001)}`,
  `a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:${keyB64(30, 1002)}`,
]);

/** Blink: `_80` and `_32`, each with its own key; opus first. */
export const BLINK = sdp([
  ...head('198.51.100.20', 'blink'),
  'm=audio 50000 RTP/SAVP 113 9 0 8 101',
  'a=rtpmap:113 opus/48000/2',
  'a=fmtp:113 useinbandfec=1',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=rtcp:50001',
  'a=sendrecv',
  `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${keyB64(30, 1003)}`,
  `a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:${keyB64(30, 1004)}`,
]);

/** Grandstream: a lifetime on every line. */
export function grandstream(lifetime: string): string {
  return sdp([
    ...head('198.51.100.30', 'GS'),
    'm=audio 5004 RTP/SAVP 0 8 101',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15',
    `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${keyB64(30, 1005)}|${lifetime}`,
  ]);
}

/** RFC 4568 §5.1 example key with lifetime and MKI. */
export const WITH_MKI = sdp([
  ...head('198.51.100.31'),
  'm=audio 49170 RTP/SAVP 0',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4',
]);

/** baresip 1.0 `mediaenc=srtp-mand`: exactly one `_80` line, no lifetime, no MKI (peers.md §4). */
export const BARESIP = sdp([
  'v=0',
  'o=- 3718296164 2612917545 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 20022 RTP/SAVP 0 101',
  'b=AS:96',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=sendrecv',
  'a=label:1',
  'a=rtcp-rsize',
  'a=ptime:20',
  `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${keyB64(30, 1006)}`,
]);

/** linphonec default: four lines, 128 then 256, no lifetime/MKI (peers.md §5). */
export const LINPHONE = sdp([
  'v=0',
  'o=telefono2 1948 3451 IN IP4 127.0.0.1',
  's=Talk',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'a=rtcp-xr:rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics',
  'm=audio 20200 RTP/SAVP 96 97 98 0 8 18 101 99 100',
  'a=rtpmap:96 opus/48000/2',
  'a=fmtp:96 useinbandfec=1',
  'a=rtpmap:97 speex/16000',
  'a=fmtp:97 vbr=on',
  'a=rtpmap:98 speex/8000',
  'a=fmtp:98 vbr=on',
  'a=fmtp:18 annexb=yes',
  'a=rtpmap:101 telephone-event/48000',
  'a=rtpmap:99 telephone-event/16000',
  'a=rtpmap:100 telephone-event/8000',
  `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${keyB64(30, 1007)}`,
  `a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:${keyB64(30, 1008)}`,
  `a=crypto:3 AES_256_CM_HMAC_SHA1_80 inline:${keyB64(46, 1009)}`,
  `a=crypto:4 AES_256_CM_HMAC_SHA1_32 inline:${keyB64(46, 1010)}`,
  'a=rtcp-fb:* trr-int 5000',
  'a=rtcp-fb:* ccm tmmbr',
]);

/** Snom "optional crypto": RTP/AVP carrying a `_32` line (ASTERISK-23989). */
export const SNOM_AVP_32 = sdp([
  ...head('198.51.100.40', 'root'),
  'm=audio 60000 RTP/AVP 8 0 9 2 3 18 101',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:' + keyB64(30, 1011),
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:2 G726-32/8000',
  'a=rtpmap:3 GSM/8000',
  'a=rtpmap:18 G729/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=ptime:20',
  'a=sendrecv',
]);

/** Zoiper 5: AES-256 first (rtpengine issue 736). */
export const ZOIPER_256_FIRST = sdp([
  ...head('198.51.100.50', 'Zoiper'),
  'm=audio 52000 RTP/SAVP 0 101 8 3',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=sendrecv',
  `a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:${keyB64(46, 1012)}`,
  `a=crypto:2 AES_256_CM_HMAC_SHA1_32 inline:${keyB64(46, 1013)}`,
  `a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:${keyB64(30, 1014)}`,
  `a=crypto:4 AES_CM_128_HMAC_SHA1_32 inline:${keyB64(30, 1015)}`,
]);

/** Yealink with the f8 line first (vendors.md §5.3 lists f8 in its default offer). */
export const YEALINK_F8_FIRST = sdp([
  ...head('198.51.100.60', '-'),
  'm=audio 11780 RTP/SAVP 0 8 9 18 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:9 G722/8000',
  'a=rtpmap:18 G729/8000',
  'a=fmtp:18 annexb=no',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=ptime:20',
  'a=sendrecv',
  `a=crypto:1 F8_128_HMAC_SHA1_80 inline:${keyB64(30, 1016)}`,
  `a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:${keyB64(30, 1017)}`,
  `a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:${keyB64(30, 1018)}`,
]);

export const GCM_ONLY = sdp([
  ...head('198.51.100.70'),
  'm=audio 30000 RTP/SAVP 0',
  `a=crypto:7 AEAD_AES_128_GCM inline:${LIBSRTP_KEY_GCM128}`,
]);

/** Plain RTP/AVP without crypto. */
export const PLAIN_AVP = sdp([...head('198.51.100.80'), 'm=audio 8000 RTP/AVP 0 8 101', 'a=rtpmap:101 telephone-event/8000']);

/** RTP/SAVP and only `_32` with UNENCRYPTED_SRTP: nothing sipsec accepts by default. */
export const NOTHING_ACCEPTABLE = sdp([
  ...head('198.51.100.90'),
  'm=audio 9000 RTP/SAVP 0',
  `a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:${keyB64(30, 1019)} UNENCRYPTED_SRTP`,
]);

export const ALL_SAMPLES: readonly string[] = [
  AASTRA_32_FIRST,
  BLINK,
  grandstream('2^32'),
  WITH_MKI,
  BARESIP,
  LINPHONE,
  SNOM_AVP_32,
  ZOIPER_256_FIRST,
  YEALINK_F8_FIRST,
  GCM_ONLY,
  PLAIN_AVP,
  NOTHING_ACCEPTABLE,
];
