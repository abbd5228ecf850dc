import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ALL_FAILURE_CODES,
  FAILURE_CODES,
  SERVE_EVENTS,
  SERVE_EVENT_NAMES,
  TFTP_EVENTS,
  TFTP_RESULT_CODES,
  codesOf,
  currentEventsTable,
  eventsTable,
  parseEvent,
  validateEvent,
  type EventInput,
  type FailureCode,
  type ServeEventName,
} from '../../src/events/index.js';
import { HINT_TABLES } from '../../src/verify/evaluate.js';
import { hint } from '../../src/verify/hints.js';
import { certFailureCode, handshakeFailureCode } from '../../src/core/tls-failure.js';
import { answerOffer } from '../../src/sdp/answer.js';
import type { AnswerPolicy } from '../../src/sdp/policy.js';
import { endCode, rejectCode } from '../../src/media/echo-endpoint.js';
import { EventChecker, strictBus } from '../helpers/events.js';
import { LOCAL, keyB64, sdp } from '../sdp/fixtures.js';

/**
 * The event catalog (src/events): every event name and code documented,
 * every event parseable, strict enough to catch a misspelt field, the
 * README table generated from it, verify's hint tables total over the
 * codes their events carry, and the emitters' classifiers giving the
 * right code from structure (OpenSSL errors, SDP negotiations, echo
 * reports).
 */

const T = '2026-12-06T10:00:00.000Z';
const R = '127.0.0.1:5062';

/** One valid event of each name (each shape where an event has several). Typed: the compiler checks them too. */
const SAMPLES: Record<ServeEventName, EventInput[]> = {
  'serve.start': [{ event: 'serve.start', bind: '127.0.0.1', ports: { tftp: 6969, https: 8443 }, serverCert: 'registrar', keyWindowMs: 1_800_000, routes: 4 }],
  'serve.stop': [{ event: 'serve.stop' }],
  'serve.reload': [{ event: 'serve.reload', phones: 2, routes: 6 }],
  'serve.error': [{ event: 'serve.error', reason: 'reload failed: EACCES', code: 'serve.reload_failed' }],
  'serve.notice': [{ event: 'serve.notice', note: 'diagnostic plain-SIP listener not started (UDP 5060: EADDRINUSE)', code: 'sip.diagnostic_unavailable' }],
  'serve.certificate': [{ event: 'serve.certificate', name: 'host', serial: '0a', sans: { dns: ['localhost'], ip: ['127.0.0.1'] }, issued: true, note: 'issued' }],
  'sip.listen': [{ event: 'sip.listen', port: 5061, clientCert: 'vendor', tlsMin: '1.2', auth: 'both', diagnosticUdpPort: 5060, endpoints: ['200'] }],
  'sip.reject': [{ event: 'sip.reject', remote: R, transport: 'udp', phone: 'telefono1', what: 'REGISTER sip:pbx.test', why: 'plain SIP is not served here: use TLS on port 5061', status: 403, code: 'sip.udp_not_tls' }],
  'tls.handshake': [
    { event: 'tls.handshake', protocol: 'sip', remote: R, ok: true, version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', certSerial: '0a', phone: 'telefono1' },
    { event: 'tls.handshake', protocol: 'sip', remote: R, ok: false, error: 'sslv3 alert unknown ca', alert: 'received unknown ca (48)', code: 'tls.unknown_ca' },
  ],
  'register.ok': [{ event: 'register.ok', phone: 'telefono1', aor: 'sip:101@pbx.test', contact: 'sip:101@127.0.0.1:5062;transport=tls', remote: R, transport: 'tls', expires: 600, algorithm: 'MD5', tlsVersion: 'TLSv1.3' }],
  'register.fail': [{ event: 'register.fail', aor: 'sip:101@pbx.test', remote: R, transport: 'tls', reason: 'wrong password', status: 401, code: 'register.wrong_password' }],
  'register.end': [{ event: 'register.end', phone: 'telefono1', aor: 'sip:101@pbx.test', contact: 'sip:101@127.0.0.1:5062', remote: R, reason: 'expired' }],
  security: [{ event: 'security', remote: R, securityEvent: 'InvalidPassword', account: '101', line: '[Dec  6 10:00:00] SECURITY ...', code: 'auth.wrong_password' }],
  'security.block': [{ event: 'security.block', remote: R, failures: 5, until: T, reason: '5 authentication failures within 60 s', code: 'auth.locked_out' }],
  'call.proxy': [{ event: 'call.proxy', phone: 'telefono1', remote: R, from: 'sip:101@pbx.test', to: 'sip:102@pbx.test', callee: 'telefono2', calleeRemote: '127.0.0.1:5064', callId: 'c1', status: 200 }],
  'dialog.start': [{ event: 'dialog.start', phone: 'telefono1', remote: R, ext: '200', callId: 'c1' }],
  'dialog.end': [{ event: 'dialog.end', phone: 'telefono1', remote: R, ext: '200', callId: 'c1', reason: 'bye' }],
  'call.start': [{ event: 'call.start', phone: 'telefono1', remote: R, callId: 'c1', ext: '200', proto: 'RTP/SAVP', srtp: 'sdes', offered: ['1 AES_CM_128_HMAC_SHA1_80'], chosen: '1 AES_CM_128_HMAC_SHA1_80', suite: 'AES_CM_128_HMAC_SHA1_80', localPort: 20000, negotiation: { index: 0 } }],
  'call.reject': [{ event: 'call.reject', phone: 'telefono1', remote: R, callId: 'c1', ext: '200', status: 488, warning: '306 sipsec "..."', offered: [], offeredSuites: ['AES_CM_128_HMAC_SHA1_32'], acceptSuites: ['AES_CM_128_HMAC_SHA1_80'], policy: 'mandatory', code: 'sdes.no_acceptable_suite' }],
  'call.end': [
    {
      event: 'call.end',
      phone: 'telefono1',
      remote: R,
      callId: 'c1',
      ext: '200',
      reason: 'bye',
      suite: 'AES_CM_128_HMAC_SHA1_80',
      srtcpTagBits: 80,
      packetsIn: 250,
      packetsOut: 250,
      bytesIn: 43000,
      bytesOut: 43000,
      authFailures: 0,
      replays: 0,
      decryptErrors: 0,
      stunIn: 0,
      rtcpIn: 2,
      rtcpOut: 2,
      rtcpAuthFailures: 0,
      oneWayAudio: false,
      phoneHears: null,
      relatches: 0,
      localPort: 20000,
      durationMs: 5000,
      payloadTypes: { '0': 250 },
      lost: 0,
      gaps: 0,
      jitterMs: 1.5,
      tsStep: 160,
      timestampAnomalies: 0,
    },
    { event: 'call.end', phone: 'telefono1', remote: R, callId: 'c2', by: 'telefono1', status: 200 },
  ],
  'provision.fetch': [{ event: 'provision.fetch', phone: 'telefono1', remote: R, protocol: 'https', file: 'baresip/telefono1/config', bytes: 100, ms: 2, result: 'ok', auth: 'certificate' }],
  'provision.denied': [{ event: 'provision.denied', remote: R, protocol: 'tftp', file: 'x.cfg', reason: "only served to telefono1's address 10.0.1.132", code: 'provision.wrong_address' }],
  'phone.changed': [
    { event: 'phone.changed', phone: 'desk', change: 'edited', fields: ['ips', 'secret'] },
    { event: 'phone.changed', phone: 'lobby', change: 'added', fields: [] },
  ],
  'cert.superseded': [
    { event: 'cert.superseded', phone: 'desk', name: 'desk', serial: '0a1b', supersededBy: '0c2d', why: 'presented', crl: true },
    { event: 'cert.superseded', name: 'registrar', serial: '0e3f', supersededBy: '1a4b', why: 'grace', crl: false },
  ],
  'phone.resync': [
    { event: 'phone.resync', phone: 'desk', remote: R, notifyEvent: 'check-sync;reboot=false', contact: 'sip:301@127.0.0.1:5070;transport=tcp', status: 200, reason: 'OK' },
    { event: 'phone.resync', phone: 'soft', remote: R, notifyEvent: 'check-sync', contact: 'sip:401@127.0.0.1:5072', status: 481, reason: 'Subscription Does Not Exist', code: 'resync.refused' },
    { event: 'phone.resync', phone: 'far', remote: R, notifyEvent: 'check-sync', status: 408, reason: 'no answer in time', code: 'resync.no_answer' },
    { event: 'phone.resync', phone: 'gone', remote: R, notifyEvent: 'check-sync', status: 503, reason: 'connection closed: reset', code: 'resync.connection_closed' },
    { event: 'phone.resync', phone: 'away', notifyEvent: 'resync', status: 'not-registered', reason: 'not registered', code: 'resync.not_registered' },
  ],
  'provision.suppressed': [{ event: 'provision.suppressed', protocol: 'tftp', count: 12, by: { denied: 12 } }],
};

const stamped = (ev: EventInput) => ({ time: T, ...ev });

test('every code is documented in one line, named dotted.snake_case, and carried by some event', () => {
  const carried = new Set<FailureCode>([...Object.values(SERVE_EVENTS).flatMap((e) => codesOf(e.schema)), ...Object.values(TFTP_EVENTS).flatMap((e) => codesOf(e.schema))]);
  for (const code of ALL_FAILURE_CODES) {
    assert.match(code, /^[a-z]+\.[a-z0-9_]+$/, code);
    const meaning = FAILURE_CODES[code];
    assert.ok(meaning.length > 10 && !meaning.includes('\n'), `${code}: ${meaning}`);
    assert.ok(carried.has(code), `${code} is in FAILURE_CODES but no event schema allows it`);
  }
  for (const code of carried) assert.ok(code in FAILURE_CODES, `${code} is allowed by a schema but not documented in FAILURE_CODES`);
  // The codes the brief (issue 10) names are there.
  for (const code of ['tls.unknown_ca', 'tls.cert_revoked', 'tls.no_client_cert', 'tls.cert_foreign', 'register.wrong_password', 'register.aor_mismatch', 'register.locked_out', 'sdes.no_acceptable_suite', 'sdes.lifetime_refused', 'srtp.auth_failures', 'sip.udp_not_tls']) {
    assert.ok(code in FAILURE_CODES, code);
  }
  for (const code of Object.values(TFTP_RESULT_CODES)) assert.ok(code in FAILURE_CODES, code);
});

test('every event name parses; a sample of each shape validates, as an object and as a JSON line', () => {
  assert.deepEqual(Object.keys(SAMPLES).sort(), [...SERVE_EVENT_NAMES].sort());
  for (const name of SERVE_EVENT_NAMES) {
    for (const ev of SAMPLES[name]) {
      const r = validateEvent(stamped(ev));
      assert.ok(r.ok, `${name}: ${r.ok ? '' : r.error}`);
      assert.equal(parseEvent(JSON.stringify(stamped(ev))).event, name);
    }
  }
});

test('the schemas catch a misspelt field, a missing code, a code from another event, a wrong type and an unknown event', () => {
  const bad = (ev: Record<string, unknown>, re: RegExp) => {
    const r = validateEvent({ time: T, ...ev });
    assert.equal(r.ok, false, JSON.stringify(ev));
    if (!r.ok) assert.match(r.error, re);
  };
  const fail = SAMPLES['register.fail'][0]! as Record<string, unknown>;
  bad({ ...fail, reson: 'x' }, /unrecognized|reson/i);
  const { code: _code, ...noCode } = fail;
  bad(noCode, /code/);
  bad({ ...fail, code: 'sdes.no_acceptable_suite' }, /code/);
  bad({ ...fail, code: 'register.no_such_code' }, /code/);
  bad({ ...fail, status: '401' }, /status/);
  bad({ ...(SAMPLES['register.ok'][0]! as Record<string, unknown>), certSerail: '0a' }, /certSerail/);
  bad({ event: 'register.failed', reason: 'x' }, /unknown event "register.failed"/);
  // A failed handshake needs its code and error; a successful one has neither.
  bad({ event: 'tls.handshake', protocol: 'sip', remote: R, ok: false, error: 'x' }, /code/);
  bad({ event: 'tls.handshake', protocol: 'sip', remote: R, ok: true, code: 'tls.unknown_ca' }, /code/);
  // A TFTP fetch that broke off carries its code; one that succeeded does not.
  bad({ event: 'provision.fetch', remote: R, protocol: 'tftp', file: 'f', bytes: 0, ms: 1, result: 'timeout' }, /code/);
  assert.throws(() => parseEvent('{"event":'), /not JSON/);
});

test('a test that lets an invalid event through fails: the strict bus and the serve-output checker record it', () => {
  const strict = strictBus();
  strict.bus.emit(SAMPLES['serve.reload'][0]!);
  strict.assertClean();
  // What an emitter with a typo would do (the cast stands for an untyped caller).
  strict.bus.emit({ event: 'register.fail', remote: R, transport: 'tls', reason: 'wrong password', status: 401, cdoe: 'register.wrong_password' } as unknown as EventInput);
  assert.throws(() => strict.assertClean(), (e: Error) => e.name === 'AssertionError' && /register\.fail/.test(e.message) && /cdoe/.test(e.message));
  const checker = new EventChecker();
  assert.equal(checker.check(JSON.parse('{"time":"x","event":"sip.reject","remote":"1.2.3.4:5","transport":"udp","what":"REGISTER","why":"plain","status":403}')), false);
  assert.throws(() => checker.assertClean(), /sip\.reject: code/);
});

test('README.md holds the table generated from the schemas (regenerate: npm run build && npm run events:table)', () => {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
  const current = currentEventsTable(readme);
  assert.ok(current, 'README.md lacks the <!-- events:begin ... --> / <!-- events:end --> markers');
  assert.equal(current, eventsTable(), 'README.md event table is out of date: run npm run build && npm run events:table');
  for (const name of SERVE_EVENT_NAMES) assert.ok(current.includes(`| \`${name}\``), name);
  for (const code of ALL_FAILURE_CODES) assert.ok(current.includes(`| \`${code}\` |`), code);
});

test("verify's hint tables cover exactly the codes their events carry, and every mode they name renders a hint", () => {
  for (const t of HINT_TABLES) {
    const keys = Object.keys(t.table).sort();
    if (t.events.length > 0) {
      const carried = [...new Set(t.events.flatMap((e) => codesOf(SERVE_EVENTS[e].schema)))].sort();
      assert.deepEqual(keys, carried, `${t.step} (${t.events.join(', ')})`);
    }
    for (const code of keys) assert.ok(code in FAILURE_CODES, code);
    for (const mode of Object.values(t.table)) {
      if (mode === null) continue;
      assert.ok(hint(mode, { phone: 'telefono1', vendor: undefined }).length > 20, mode);
    }
  }
});

test('OpenSSL failures become codes: the alert the phone sent first, then what OpenSSL refused; verify codes by OpenSSL name', () => {
  const e = (message: string, code?: string) => Object.assign(new Error(message), code ? { code } : {});
  assert.equal(handshakeFailureCode(e('C0:error:0A000418:SSL routines:ssl3_read_bytes:tlsv1 alert unknown ca:../ssl/record/rec_layer_s3.c:1605:SSL alert number 48')), 'tls.unknown_ca');
  assert.equal(handshakeFailureCode(e('...:sslv3 alert bad certificate:...:SSL alert number 42')), 'tls.bad_certificate');
  assert.equal(handshakeFailureCode(e('...:sslv3 alert certificate unknown:...:SSL alert number 46')), 'tls.bad_certificate');
  assert.equal(handshakeFailureCode(e('...:sslv3 alert certificate expired:...:SSL alert number 45')), 'tls.certificate_expired');
  assert.equal(handshakeFailureCode(e('...:tlsv1 alert decode error:...:SSL alert number 50')), 'tls.peer_alert');
  assert.equal(handshakeFailureCode(e('C0:error:0A000102:SSL routines:tls_early_post_process_client_hello:unsupported protocol:...')), 'tls.protocol_version');
  assert.equal(handshakeFailureCode(e('...:SSL routines:tls_post_process_client_hello:no shared cipher:...')), 'tls.no_shared_cipher');
  assert.equal(handshakeFailureCode(e('peer did not return a certificate', 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE')), 'tls.no_client_cert');
  assert.equal(handshakeFailureCode(e('socket hang up', 'ECONNRESET')), 'tls.peer_closed');
  assert.equal(handshakeFailureCode(e('timed out', 'ERR_TLS_HANDSHAKE_TIMEOUT')), 'tls.handshake_timeout');
  assert.equal(handshakeFailureCode(e('...:SSL routines:ssl3_get_record:http request:...')), 'tls.handshake_failed');
  assert.equal(certFailureCode('CERT_REVOKED'), 'tls.cert_revoked');
  assert.equal(certFailureCode('UNABLE_TO_GET_ISSUER_CERT_LOCALLY'), 'tls.cert_foreign');
  assert.equal(certFailureCode('CERT_HAS_EXPIRED'), 'tls.cert_expired');
  assert.equal(certFailureCode('CRL_HAS_EXPIRED'), 'tls.crl_unavailable');
  assert.equal(certFailureCode('SOMETHING_NEW'), 'tls.cert_invalid');
});

test("the echo's refusals get their code from the negotiation's structure, and its reports from the counters", () => {
  const head = ['v=0', 'o=- 1 1 IN IP4 198.51.100.7', 's=-', 'c=IN IP4 198.51.100.7', 't=0 0'];
  const crypto = (suite: string, extra = '') => `a=crypto:1 ${suite} inline:${keyB64(30, 1100)}${extra}`;
  const offer = (proto: string, lines: string[] = [], media = 'audio') => sdp([...head, `m=${media} 3000 ${proto} 0`, 'a=rtpmap:0 PCMU/8000', ...lines]);
  const codeOf = (sdpText: string, policy: AnswerPolicy) => {
    const r = answerOffer(sdpText, policy, LOCAL);
    assert.equal(r.ok, false, 'the echo refuses this offer');
    return r.ok ? undefined : rejectCode(r, policy);
  };
  const mandatory: AnswerPolicy = { srtp: 'mandatory' };
  assert.equal(codeOf('v=0\r\ngarbage', mandatory), 'sdp.malformed');
  assert.equal(codeOf(offer('RTP/AVP'), mandatory), 'srtp.plain_rtp_offered');
  assert.equal(codeOf(offer('RTP/SAVP'), mandatory), 'sdes.no_crypto');
  assert.equal(codeOf(offer('RTP/SAVP', [crypto('AES_CM_128_HMAC_SHA1_32')]), { srtp: 'mandatory', acceptSuites: ['AES_CM_128_HMAC_SHA1_80'] }), 'sdes.no_acceptable_suite');
  assert.equal(codeOf(offer('RTP/SAVP', [crypto('AES_CM_128_HMAC_SHA1_80', '|2^31')]), { srtp: 'mandatory', acceptLifetime: false }), 'sdes.lifetime_refused');
  assert.equal(codeOf(offer('RTP/SAVP', [crypto('AES_CM_128_HMAC_SHA1_80')]), { srtp: 'off' }), 'srtp.offered_while_off');
  assert.equal(codeOf(offer('UDP/TLS/RTP/SAVP', ['a=fingerprint:sha-256 00:11']), mandatory), 'sdp.unsupported_transport');
  assert.equal(codeOf(offer('RTP/AVP', [], 'video'), { srtp: 'optional' }), 'sdp.no_audio');
  assert.equal(codeOf(sdp([...head, 'm=audio 3000 RTP/SAVP 96', 'a=rtpmap:96 unknown/8000', crypto('AES_CM_128_HMAC_SHA1_80')]), { srtp: 'mandatory', codecs: { encodings: ['PCMU'] } }), 'sdp.no_common_codec');

  const report = { suite: 'AES_CM_128_HMAC_SHA1_80', packetsIn: 100, authFailures: 0, oneWayAudio: false } as Parameters<typeof endCode>[0];
  assert.equal(endCode(report), undefined);
  assert.equal(endCode({ ...report, suite: null }), 'srtp.plain_rtp');
  assert.equal(endCode({ ...report, packetsIn: 0, authFailures: 40, oneWayAudio: true }), 'srtp.auth_failures');
  assert.equal(endCode({ ...report, oneWayAudio: true }), 'media.one_way_audio');
  assert.equal(endCode({ ...report, authFailures: 2 }), undefined, 'a few failed packets are reported, not failed');
});
