import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { StatusEndpoint } from '../../src/sip/registrar/local-endpoint.js';
import type { SipResponse } from '../../src/sip/message/message.js';
import { registrarCa, startInProcess, type InProcessRegistrar, type RegistrarCa } from '../helpers/registrar-ca.js';
import { answerChallenge, header, newCallId, registerText, SipTestClient } from '../helpers/sip-client.js';

// The auth gate (src/sip/registrar/auth-gate.ts) has one digest path for
// REGISTER (401, register.fail) and for proxied requests (407, sip.reject):
// each failure below is checked on both sides, with its status, Warning,
// event code and security event.

const PHONES = [
  { name: 'telefono1', vendor: 'baresip', ext: '101' },
  { name: 'telefono2', vendor: 'baresip', ext: '102' },
];

async function setup(t: { after(fn: () => unknown): void }): Promise<{ ca: RegistrarCa; reg: InProcessRegistrar; c: SipTestClient }> {
  const ca = await registrarCa(PHONES);
  t.after(() => ca.cleanup());
  // No lockout: the failures here must not block the address half-way.
  const reg = await startInProcess(ca, { lockout: null, endpoints: [new StatusEndpoint('300', 486, true)] });
  t.after(() => reg.close());
  // telefono1's certificate, under `--auth both`: digest is asked on top of it, and the flow is not trusted before it registers.
  const pair = await ca.pair('telefono1');
  const c = await SipTestClient.connect(reg.port, { ca: ca.caPem, cert: pair.cert, key: pair.key });
  t.after(() => c.close());
  return { ca, reg, c };
}

/** A REGISTER for 101, answered (after its 401) with these digest credentials. */
async function registerWith(c: SipTestClient, ca: RegistrarCa, creds: { username: string; password: string; uri?: string }): Promise<SipResponse> {
  const callId = newCallId();
  const base = { user: '101', domain: ca.domain, contact: `<sip:101@127.0.0.1:${c.localPort};transport=tls>`, callId, localPort: c.localPort, expires: 600 };
  c.send(registerText({ ...base, cseq: 1 }));
  const challenge = await c.final(callId, 'REGISTER');
  assert.equal(challenge.status, 401);
  const authorization = answerChallenge(challenge, { ...creds, method: 'REGISTER', uri: creds.uri ?? `sip:${ca.domain}` });
  c.send(registerText({ ...base, cseq: 2, authorization }));
  return c.final(callId, 'REGISTER');
}

function options(c: SipTestClient, callId: string, cseq: number, extra: string[] = []): string {
  return [
    'OPTIONS sip:300@pbx.test SIP/2.0',
    `Via: SIP/2.0/TLS 127.0.0.1:${c.localPort};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
    'Max-Forwards: 70',
    'From: <sip:101@pbx.test>;tag=ot1',
    'To: <sip:300@pbx.test>',
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} OPTIONS`,
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** An OPTIONS to extension 300, answered (after its 407) with these proxy digest credentials. */
async function optionsWith(c: SipTestClient, creds: { username: string; password: string; uri?: string }): Promise<SipResponse> {
  const callId = newCallId();
  c.send(options(c, callId, 1));
  const challenge = await c.final(callId, 'OPTIONS');
  assert.equal(challenge.status, 407);
  const authorization = answerChallenge(challenge, { ...creds, method: 'OPTIONS', uri: creds.uri ?? 'sip:300@pbx.test' });
  c.send(options(c, callId, 2, [`Proxy-Authorization: ${authorization}`]));
  return c.final(callId, 'OPTIONS');
}

test('auth gate: a wrong password is challenged again (401 / 407), with its failure code and a security event', async (t) => {
  const { ca, reg, c } = await setup(t);
  const reg401 = await registerWith(c, ca, { username: '101', password: 'not-the-secret' });
  assert.equal(reg401.status, 401);
  assert.ok(reg401.headers.all('www-authenticate').length > 0, 'a fresh challenge');
  const fail = await reg.waitFor((e) => e.event === 'register.fail');
  assert.equal(fail.event === 'register.fail' && fail.code, 'register.wrong_password');
  assert.equal(fail.event === 'register.fail' && fail.status, 401);
  assert.equal(fail.event === 'register.fail' && fail.phone, undefined);

  const opt407 = await optionsWith(c, { username: '101', password: 'not-the-secret' });
  assert.equal(opt407.status, 407);
  assert.ok(opt407.headers.all('proxy-authenticate').length > 0, 'a fresh challenge');
  const reject = await reg.waitFor((e) => e.event === 'sip.reject' && e.code === 'sip.wrong_password');
  assert.equal(reject.event === 'sip.reject' && reject.status, 407);
  assert.equal(reject.event === 'sip.reject' && reject.what, 'OPTIONS sip:300@pbx.test');

  const security = reg.events.filter((e) => e.event === 'security');
  assert.deepEqual(
    security.map((e) => e.event === 'security' && [e.securityEvent, e.account, e.code]),
    [
      ['InvalidPassword', '101', 'auth.wrong_password'],
      ['InvalidPassword', '101', 'auth.wrong_password'],
    ],
  );
});

test('auth gate: digest credentials of another phone than the certificate are refused 403, with the reason in a Warning', async (t) => {
  const { ca, reg, c } = await setup(t);
  const reg403 = await registerWith(c, ca, { username: '102', password: ca.secret('telefono2') });
  assert.equal(reg403.status, 403);
  assert.match(header(reg403, 'warning') ?? '', /certificate of telefono1 does not match digest user 102/);
  const fail = await reg.waitFor((e) => e.event === 'register.fail');
  assert.equal(fail.event === 'register.fail' && fail.code, 'register.cert_user_mismatch');
  assert.equal(fail.event === 'register.fail' && fail.phone, 'telefono1');

  const opt403 = await optionsWith(c, { username: '102', password: ca.secret('telefono2') });
  assert.equal(opt403.status, 403);
  assert.match(header(opt403, 'warning') ?? '', /certificate of telefono1 does not match digest user 102/);
  await reg.waitFor((e) => e.event === 'sip.reject' && e.code === 'sip.cert_user_mismatch' && e.status === 403);
  assert.equal(reg.events.filter((e) => e.event === 'security').length, 0, 'a right password is no security event');

  // The phone's own credentials pass the gate on both sides.
  assert.equal((await optionsWith(c, { username: '101', password: ca.secret('telefono1') })).status, 200);
  assert.equal((await registerWith(c, ca, { username: '101', password: ca.secret('telefono1') })).status, 200);
});

test('auth gate: credentials for another URI are a bad request (400), not a failed password', async (t) => {
  const { ca, reg, c } = await setup(t);
  const reg400 = await registerWith(c, ca, { username: '101', password: ca.secret('telefono1'), uri: 'sip:elsewhere.test' });
  assert.equal(reg400.status, 400);
  assert.match(header(reg400, 'warning') ?? '', /digest uri differs from the Request-URI/);
  await reg.waitFor((e) => e.event === 'register.fail' && e.code === 'register.bad_credentials' && e.status === 400);

  const opt400 = await optionsWith(c, { username: '101', password: ca.secret('telefono1'), uri: 'sip:301@pbx.test' });
  assert.equal(opt400.status, 400);
  assert.match(header(opt400, 'warning') ?? '', /digest uri differs from the Request-URI/);
  await reg.waitFor((e) => e.event === 'sip.reject' && e.code === 'sip.bad_credentials' && e.status === 400);
  assert.equal(reg.events.filter((e) => e.event === 'security').length, 0);
});
