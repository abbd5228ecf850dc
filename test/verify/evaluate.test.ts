import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePhone, eventsOf, type PhoneFacts, type StepName } from '../../src/verify/evaluate.js';
import { loadVendor } from '../../src/vendors/registry.js';
import type { ServeEvent } from '../../src/events/index.js';
import type { Phone } from '../../src/home/schema.js';

/**
 * The verdict table without peers: synthetic serve event streams (the
 * field names serve really emits, see src/sip/transport-tls.ts,
 * server.ts, transport-diagnostic.ts, media/echo-endpoint.ts) for every
 * failure mode of the issue and the talk, each judged FAIL on the right
 * step with the right hint; and which events verify attributes to a phone
 * when nothing in them names it. The real-peer tests (verify-*.test.ts)
 * prove that serve emits these fields; this file covers the modes no
 * Debian peer can be made to produce on demand.
 */

const SERIAL = '1a2b3c4d5e6f';
const OLD = '0f0e0d0c0b0a';

function phone(over: Partial<Phone> = {}): Phone {
  return { name: 'telefono1', vendor: 'baresip', ips: [], dns: [], ext: '101', secret: 's', srtp: 'mandatory', line: 1, options: {}, createdAt: '2026-01-01T00:00:00.000Z', ...over };
}

async function facts(over: Partial<Phone> = {}, extra: Partial<PhoneFacts> = {}): Promise<PhoneFacts> {
  const p = phone(over);
  return { phone: p, vendor: (await loadVendor(p.vendor)).descriptor, expectedRoutes: [`${p.vendor}/${p.name}/config`], currentSerial: SERIAL, oldSerials: [OLD], echoExt: '200', ...extra };
}

let clock = Date.parse('2026-11-26T10:00:00.000Z');
function ev(event: string, fields: Record<string, unknown> = {}): ServeEvent {
  clock += 1000;
  return { time: new Date(clock).toISOString(), event, ...fields } as ServeEvent;
}

const R = '127.0.0.1:40000';
const okHandshake = (fields: Record<string, unknown> = {}) => ev('tls.handshake', { protocol: 'sip', remote: R, ok: true, version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', certSerial: SERIAL, certSubject: 'CN=telefono1', phone: 'telefono1', ...fields });
const registered = () => ev('register.ok', { phone: 'telefono1', aor: 'sip:101@pbx.test', contact: '<sip:101@127.0.0.1:5062;transport=tls>', remote: R, transport: 'tls', expires: 600, algorithm: 'MD5', certSerial: SERIAL });

async function judge(events: ServeEvent[], over: Partial<Phone> = {}, extra: Partial<PhoneFacts> = {}) {
  return evaluatePhone(await facts(over, extra), events);
}

function expectFail(v: Awaited<ReturnType<typeof judge>>, step: StepName, failure: string, hint: RegExp[]): void {
  const s = v.steps.find((x) => x.step === step)!;
  assert.equal(s.state, 'FAIL', `${step}: ${s.state} ${s.summary}`);
  assert.equal(s.failure, failure, `${step}: ${s.summary}`);
  for (const re of hint) assert.match(s.hint ?? '', re, `${step} hint: ${s.hint}`);
  assert.equal(v.ok, false);
}

test('every step PASS from a full stream; provisioning NOT SEEN is fine for a softphone, not for hardware', async () => {
  const events = [
    ev('provision.fetch', { phone: 'telefono1', remote: '127.0.0.1:39000', protocol: 'https', file: 'baresip/telefono1/config', bytes: 100, result: 'ok' }),
    okHandshake(),
    registered(),
    ev('call.start', { phone: 'telefono1', remote: R, ext: '200', callId: 'c1', offered: ['1 AES_CM_128_HMAC_SHA1_80'], chosen: '1 AES_CM_128_HMAC_SHA1_80', suite: 'AES_CM_128_HMAC_SHA1_80' }),
    ev('call.end', { phone: 'telefono1', remote: R, ext: '200', callId: 'c1', suite: 'AES_CM_128_HMAC_SHA1_80', packetsIn: 250, packetsOut: 250, authFailures: 0, replays: 0, rtcpIn: 2, oneWayAudio: false, timestampAnomalies: 0 }),
  ];
  const v = await judge(events);
  assert.deepEqual(v.steps.map((s) => s.state), ['PASS', 'PASS', 'PASS', 'PASS']);
  assert.equal(v.ok, true);
  assert.equal(v.steps[1]!.data.currentCertificate, true);
  const soft = await judge(events.slice(1));
  assert.equal(soft.steps[0]!.state, 'NOT SEEN');
  assert.equal(soft.ok, true, 'a softphone configured by hand fetches nothing');
  const hw = await judge(events.slice(1), { name: 'telefono1', vendor: 'yealink', mac: '001565aabbcc' });
  assert.equal(hw.ok, false, 'a hardware phone must have fetched its files');
});

test('TLS failures: the phone\'s alerts (CA not trusted, or name mismatch), the talk\'s clock, version; sipsec\'s verdict on the phone\'s certificate', async () => {
  const anon = (fields: Record<string, unknown>) => ev('tls.handshake', { protocol: 'sip', remote: '10.0.1.132:5062', ok: false, ...fields });
  const p = { ips: ['10.0.1.132'] };
  // unknown_ca: "unable to get local issuer certificate", the CA is not in the phone's trust slot.
  expectFail(await judge([anon({ error: 'sslv3 alert unknown ca', alert: 'received unknown ca (48)', code: 'tls.unknown_ca' })], p), 'tls', 'phone-rejects-ca', [/unable to get local issuer certificate/, /`sip_cafile`/]);
  // bad_certificate / certificate_unknown: CA or name; the hint gives both, with the --ip re-issue.
  for (const alert of ['received bad certificate (42)', 'received certificate unknown (46)']) {
    expectFail(await judge([anon({ error: 'x', alert, code: 'tls.bad_certificate' })], p), 'tls', 'phone-rejects-ca', [/does not trust sipsec's CA/, /common name did not match/, /--ip ADDRESS/]);
  }
  // The phone thinks sipsec's valid certificate expired: its clock.
  expectFail(await judge([anon({ error: 'sslv3 alert certificate expired', alert: 'received certificate expired (45)', code: 'tls.certificate_expired' })], p), 'tls', 'phone-clock', [/clock/, /NTP|time source/]);
  expectFail(await judge([anon({ error: 'unsupported protocol', alert: 'sent protocol_version (70)', code: 'tls.protocol_version' })], p), 'tls', 'tls-version', [/--tls-min 1\.0/]);
  expectFail(await judge([anon({ error: 'the peer closed the connection during the handshake', code: 'tls.peer_closed' })], p), 'tls', 'handshake-aborted', [/rejected sipsec's certificate/, /sipsec probe/]);
  // What sipsec said about the phone's certificate (serial known to be the phone's).
  const mine = (error: string, code: string) => ev('tls.handshake', { protocol: 'sip', remote: R, ok: false, certSerial: SERIAL, error, code });
  expectFail(await judge([mine("client certificate not accepted: the certificate is revoked (listed in the CA's CRL) (CERT_REVOKED)", 'tls.cert_revoked')]), 'tls', 'client-cert-revoked', [/revoked/, /sipsec cert renew telefono1/]);
  expectFail(await judge([mine('client certificate not accepted: the certificate has expired (CERT_HAS_EXPIRED)', 'tls.cert_expired')]), 'tls', 'client-cert-expired', [/expired/, /cert renew/]);
  // An older certificate of its own, accepted by TLS but not current.
  expectFail(await judge([okHandshake({ certSerial: OLD })]), 'tls', 'client-cert-old', [/older certificate/]);
  // A later success clears an earlier failure; a later failure overrides an earlier success.
  assert.equal((await judge([mine('client certificate not accepted: the certificate has expired', 'tls.cert_expired'), okHandshake()])).steps[1]!.state, 'PASS');
  assert.equal((await judge([okHandshake(), mine('client certificate not accepted: the certificate has expired', 'tls.cert_expired')])).steps[1]!.state, 'FAIL');
});

test('a phone on UDP or TCP to the diagnostic port: tls FAIL naming its transport setting', async () => {
  const v = await judge([ev('sip.reject', { remote: '127.0.0.1:5070', transport: 'udp', phone: 'telefono1', what: 'REGISTER sip:pbx.test from 101', why: 'plain SIP is not served here: use TLS on port 5061', status: 403, code: 'sip.udp_not_tls' })]);
  expectFail(v, 'tls', 'udp-registration', [/over UDP/, /`;transport=tls` in accounts/]);
  const linphone = await judge([ev('sip.reject', { remote: '127.0.0.1:5070', transport: 'tcp', phone: 'telefono1', what: 'REGISTER', status: 403, code: 'sip.tcp_not_tls' })], { vendor: 'linphone' });
  expectFail(linphone, 'tls', 'udp-registration', [/over TCP/, /reg_proxy/]);
});

test('registration failures: wrong password, someone else\'s AOR, lockout, certificates', async () => {
  const fail = (reason: string, code: string, status = 403) => ev('register.fail', { aor: 'sip:101@pbx.test', remote: R, transport: 'tls', reason, status, code });
  expectFail(await judge([okHandshake(), fail('wrong password', 'register.wrong_password', 401)]), 'registration', 'wrong-password', [/password/, /--show-secret/]);
  expectFail(await judge([okHandshake(), fail('telefono1 cannot register sip:102@pbx.test (its AOR is sip:101@pbx.test)', 'register.aor_mismatch')]), 'registration', 'aor-mismatch', [/address of record/]);
  expectFail(await judge([okHandshake(), fail('address locked out after repeated authentication failures', 'register.locked_out')]), 'registration', 'locked-out', [/too many failed logins/]);
  expectFail(await judge([fail("client certificate not accepted: the certificate is revoked (listed in the CA's CRL) (CERT_REVOKED)", 'tls.cert_revoked')]), 'registration', 'client-cert-revoked', [/revoked/]);
  // A registration after the failure is what counts.
  assert.equal((await judge([okHandshake(), fail('wrong password', 'register.wrong_password', 401), registered()])).steps[2]!.state, 'PASS');
});

test('call failures: SRTP off (held off, or switched off by hand), _80 versus _32, a key lifetime, authentication failures, one-way audio', async () => {
  const end = (fields: Record<string, unknown>) => ev('call.end', { phone: 'telefono1', remote: R, ext: '200', callId: 'c', packetsIn: 100, packetsOut: 100, authFailures: 0, oneWayAudio: false, ...fields });
  const reject = (warning: string, offered: string[], code: string, reason = '', suites: Record<string, string[]> = {}) => ev('call.reject', { phone: 'telefono1', remote: R, ext: '200', callId: 'c', status: 488, warning, reason, offered, code, ...suites });
  // Held at --srtp off: the echo answered in clear; still a FAIL, with the inventory in the hint.
  expectFail(await judge([okHandshake(), registered(), end({ suite: null, code: 'srtp.plain_rtp' })], { srtp: 'off' }), 'call', 'srtp-off', [/--srtp off/, /sipsec phone edit telefono1 --srtp mandatory/, /mediaenc=srtp-mand/]);
  // Held to SRTP but offering plain RTP: the echo's 488.
  expectFail(
    await judge([okHandshake(), registered(), reject('302 sipsec "offered RTP/AVP without a=crypto; this phone requires SRTP (RTP/SAVP, or RTP/AVP with a=crypto)"', [], 'srtp.plain_rtp_offered', 'plain RTP offered but srtp=mandatory')]),
    'call',
    'srtp-off',
    [/offered plain RTP although sipsec holds it to SRTP \(mandatory\)/],
  );
  // _80 versus _32: a phone offering only _32 to an echo limited to _80 (serve --echo-suites).
  expectFail(
    await judge([reject('306 sipsec "offered AES_CM_128_HMAC_SHA1_32; accepts AES_CM_128_HMAC_SHA1_80"', ['1 AES_CM_128_HMAC_SHA1_32 (refused: AES_CM_128_HMAC_SHA1_32 is not among the suites sipsec accepts here (AES_CM_128_HMAC_SHA1_80))'], 'sdes.no_acceptable_suite', '', { offeredSuites: ['AES_CM_128_HMAC_SHA1_32'], acceptSuites: ['AES_CM_128_HMAC_SHA1_80'] })]),
    'call',
    'suite-mismatch',
    [/_80 versus _32/, /--echo-suites/],
  );
  expectFail(await judge([reject('306 sipsec "offered AES_CM_128_HMAC_SHA1_80|2^31; refuses lifetimes"', ['1 AES_CM_128_HMAC_SHA1_80 (refused: key lifetime refused by policy (as Asterisk 1.8 did))'], 'sdes.lifetime_refused')]), 'call', 'lifetime-refused', [/lifetime/, /2\^31/]);
  expectFail(await judge([end({ suite: 'AES_CM_128_HMAC_SHA1_80', packetsIn: 0, authFailures: 120, oneWayAudio: true, oneWayReason: 'every packet failed', code: 'srtp.auth_failures' })]), 'call', 'srtp-auth', [/failed authentication/]);
  expectFail(await judge([end({ suite: 'AES_CM_128_HMAC_SHA1_80', packetsOut: 0, oneWayAudio: true, oneWayReason: 'sipsec received audio but sent none back', code: 'media.one_way_audio' })]), 'call', 'one-way-audio', [/one-way audio/, /NAT|firewall/]);
  // Timestamp anomalies and a few authentication failures are reported, not failed.
  const noisy = await judge([okHandshake(), registered(), end({ suite: 'AES_CM_128_HMAC_SHA1_32', authFailures: 2, timestampAnomalies: 3, srtcpTagBits: 80 })]);
  assert.equal(noisy.steps[3]!.state, 'PASS');
  assert.match(noisy.steps[3]!.summary, /2 authentication failure\(s\), 3 RTP timestamp anomalies/);
});

test('provisioning failures: refused files, the key window', async () => {
  expectFail(await judge([ev('provision.denied', { phone: 'telefono1', remote: '10.0.1.132:1234', protocol: 'tftp', file: 'x.cfg', reason: 'the key window closed 3 min ago; restart serve or use HTTPS', code: 'provision.key_window_closed' })]), 'provisioning', 'key-window', [/key window/]);
  expectFail(await judge([ev('provision.denied', { phone: 'telefono1', remote: '10.0.0.9:1234', protocol: 'tftp', file: 'x.cfg', reason: "only served to telefono1's address 10.0.1.132", code: 'provision.wrong_address' })]), 'provisioning', 'provisioning-denied', [/sipsec phone edit telefono1 --ip ADDRESS/, /--allow/]);
});

test('attribution: events that name no phone are tied to it by connection, by its inventory address, or by an address only it was seen at', async () => {
  const f = await facts();
  // A certificate from another CA names nobody; the REGISTER on that connection names the AOR.
  const foreignHs = ev('tls.handshake', { protocol: 'sip', remote: '127.0.0.1:41000', ok: false, certSerial: 'ffff', certSubject: 'CN=telefono1', error: 'client certificate not accepted: the certificate was not issued by this CA', code: 'tls.cert_foreign' });
  const foreignReg = ev('register.fail', { aor: 'sip:101@pbx.test', remote: '127.0.0.1:41000', transport: 'tls', reason: 'client certificate not accepted: the certificate was not issued by this CA', status: 403, code: 'tls.cert_foreign' });
  const strangerHs = ev('tls.handshake', { protocol: 'sip', remote: '127.0.0.1:41001', ok: false, certSerial: 'eeee', error: 'client certificate not accepted: the certificate was not issued by this CA', code: 'tls.cert_foreign' });
  assert.deepEqual(eventsOf(f, [foreignHs, foreignReg, strangerHs]), [foreignHs, foreignReg]);
  assert.deepEqual(eventsOf(f, [strangerHs]), [], 'an unknown certificate on another connection is not this phone\'s');

  // An anonymous handshake (aborted before any certificate) from an address this phone fetched its files from.
  const fetch = ev('provision.fetch', { phone: 'telefono1', remote: '192.0.2.7:50000', protocol: 'https', file: 'baresip/telefono1/config', result: 'ok' });
  const aborted = ev('tls.handshake', { protocol: 'sip', remote: '192.0.2.7:50001', ok: false, error: 'x', alert: 'received unknown ca (48)', code: 'tls.unknown_ca' });
  assert.deepEqual(eventsOf(f, [fetch, aborted]), [fetch, aborted]);
  expectFail(evaluatePhone(f, [fetch, aborted]), 'tls', 'phone-rejects-ca', [/unable to get local issuer certificate/]);
  // ... unless another phone was seen at that address too (NAT): then it could be either.
  const other = ev('register.ok', { phone: 'telefono2', remote: '192.0.2.7:50002', aor: 'sip:102@pbx.test' });
  assert.deepEqual(eventsOf(f, [fetch, other, aborted]), [fetch]);
  // The inventory address (--ip) always counts; another phone's certificate never does.
  const inv = await facts({ ips: ['192.0.2.7'] });
  assert.deepEqual(eventsOf(inv, [other, aborted]), [aborted]);
  const othersCert = ev('tls.handshake', { protocol: 'sip', remote: '192.0.2.7:50003', ok: false, certSerial: 'abcdef', error: 'client certificate not accepted: the certificate has expired', code: 'tls.cert_expired' });
  assert.deepEqual(eventsOf(inv, [othersCert]), []);
  // Serials compare without leading zeros, whatever case.
  const padded = ev('tls.handshake', { protocol: 'sip', remote: R, ok: false, certSerial: `00${SERIAL.toUpperCase()}`, error: 'client certificate not accepted: the certificate has expired', code: 'tls.cert_expired' });
  assert.deepEqual(eventsOf(f, [padded]), [padded]);
});
