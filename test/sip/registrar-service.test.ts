import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { revokeCert } from '../../src/home/operations.js';
import type { SipResponse } from '../../src/sip/message/message.js';
import { foreignCa, registrarCa, startInProcess, type InProcessRegistrar, type RegistrarCa } from '../helpers/registrar-ca.js';
import { answerChallenge, header, newCallId, registerText, SipTestClient } from '../helpers/sip-client.js';

const noPassphrase = async (): Promise<string | undefined> => undefined;

const PHONES = [
  { name: 'telefono1', vendor: 'baresip', ext: '101' },
  { name: 'telefono2', vendor: 'baresip', ext: '102' },
  { name: 'spa1', vendor: 'cisco-spa', ext: '103', mac: '00:08:5d:11:22:33' },
];

async function setup(t: { after(fn: () => unknown): void }, o: Parameters<typeof startInProcess>[1] = {}): Promise<{ ca: RegistrarCa; reg: InProcessRegistrar }> {
  const ca = await registrarCa(PHONES);
  t.after(() => ca.cleanup());
  const reg = await startInProcess(ca, { lockout: { maxFailures: 3, windowMs: 60_000, blockMs: 60_000 }, ...o });
  t.after(() => reg.close());
  return { ca, reg };
}

async function connectAs(ca: RegistrarCa, reg: InProcessRegistrar, phone: string | undefined): Promise<SipTestClient> {
  const creds = phone ? await ca.pair(phone) : undefined;
  return SipTestClient.connect(reg.port, { ca: ca.caPem, ...(creds ? { cert: creds.cert, key: creds.key } : {}) });
}

/** REGISTER, answer the 401 with the phone's secret, return the final response. */
async function register(c: SipTestClient, ca: RegistrarCa, o: { user: string; password: string; aorUser?: string; expires?: number; contact?: string; callId?: string; cseq?: number }): Promise<SipResponse> {
  const callId = o.callId ?? newCallId();
  const cseq = o.cseq ?? 1;
  const contact = o.contact ?? `<sip:${o.user}@127.0.0.1:${c.localPort};transport=tls>`;
  const base = { user: o.user, domain: ca.domain, contact, callId, localPort: c.localPort, expires: o.expires ?? 600, ...(o.aorUser ? { aorUser: o.aorUser } : {}) };
  c.send(registerText({ ...base, cseq }));
  const first = await c.final(callId, 'REGISTER');
  if (first.status !== 401) return first;
  const authorization = answerChallenge(first, { username: o.user, password: o.password, method: 'REGISTER', uri: `sip:${ca.domain}` });
  c.send(registerText({ ...base, cseq: cseq + 1, authorization }));
  return c.final(callId, 'REGISTER');
}

test('registrar: a phone with its certificate registers with digest; register.ok and status say how', async (t) => {
  const { ca, reg } = await setup(t, { digestAlgorithms: ['SHA-256', 'MD5'] });
  const c = await connectAs(ca, reg, 'telefono1');
  t.after(() => c.close());
  const callId = newCallId();
  c.send(registerText({ user: '101', domain: ca.domain, contact: `<sip:101@127.0.0.1:${c.localPort};transport=tls>`, callId, cseq: 1, localPort: c.localPort, expires: 600 }));
  const challenge = await c.final(callId, 'REGISTER');
  assert.equal(challenge.status, 401);
  const offers = challenge.headers.all('www-authenticate');
  assert.deepEqual(offers.map((v) => /algorithm=([\w-]+)/.exec(v)?.[1]), ['SHA-256', 'MD5'], 'one challenge per algorithm, SHA-256 first (RFC 8760 §2)');
  assert.ok(offers.every((v) => v.includes('realm="pbx.test"') && v.includes('qop="auth"')));
  const ok = await register(c, ca, { user: '101', password: ca.secret('telefono1'), callId, cseq: 2 });
  assert.equal(ok.status, 200);
  assert.match(header(ok, 'contact') ?? '', /^<sip:101@127\.0\.0\.1:\d+;transport=tls>;expires=(600|599)$/);
  assert.ok(header(ok, 'date'));
  const ev = await reg.waitFor((e) => e.event === 'register.ok');
  assert.equal(ev.phone, 'telefono1');
  assert.equal(ev.aor, 'sip:101@pbx.test');
  assert.equal(ev.transport, 'tls');
  assert.equal(ev.algorithm, 'SHA-256');
  assert.match(String(ev.tlsVersion), /^TLSv1\.[23]$/);
  assert.ok(String(ev.cipher).length > 3);
  assert.equal(ev.certSerial, (await ca.pair('telefono1')).serial);
  const hs = await reg.waitFor((e) => e.event === 'tls.handshake' && e.ok === true);
  assert.equal(hs.certSerial, (await ca.pair('telefono1')).serial);
  assert.match(String(hs.certSubject), /CN=telefono1/);
  const regs = reg.service.status().registrations as Array<Record<string, unknown>>;
  assert.equal(regs.length, 1);
  for (const k of ['phone', 'aor', 'contact', 'remote', 'transport', 'tlsVersion', 'cipher', 'certSerial', 'expires']) assert.ok(regs[0]![k] !== undefined, `status has ${k}`);
  assert.ok(Number(regs[0]!.expires) > 590 && Number(regs[0]!.expires) <= 600);
});

test('registrar: the certificate of one phone cannot register another AOR (403 with Warning, register.fail)', async (t) => {
  const { ca, reg } = await setup(t);
  const c = await connectAs(ca, reg, 'telefono1');
  t.after(() => c.close());
  const res = await register(c, ca, { user: '102', aorUser: '102', password: ca.secret('telefono2') });
  assert.equal(res.status, 403);
  assert.equal(header(res, 'warning'), '399 127.0.0.1 "certificate of telefono1 cannot register sip:102@pbx.test"');
  const ev = await reg.waitFor((e) => e.event === 'register.fail');
  assert.equal(ev.phone, 'telefono1');
  assert.equal(ev.status, 403);
  assert.match(String(ev.reason), /certificate of telefono1 cannot register/);
});

test('registrar: wrong password and unknown user get the same challenge; failures are logged for fail2ban; the lockout refuses the address', async (t) => {
  const { ca, reg } = await setup(t);
  const c = await connectAs(ca, reg, undefined);
  t.after(() => c.close());
  const wrong = await register(c, ca, { user: '103', password: 'not-the-secret' });
  const unknown = await register(c, ca, { user: '999', password: 'whatever1' });
  assert.equal(wrong.status, 401);
  assert.equal(unknown.status, 401);
  const shape = (r: SipResponse) => r.headers.all('www-authenticate').map((v) => v.replace(/nonce="[^"]+"/, 'nonce="x"'));
  assert.deepEqual(shape(wrong), shape(unknown), 'no user enumeration (alwaysauthreject)');
  const fails = reg.events.filter((e) => e.event === 'register.fail');
  assert.equal(fails.length, 2);
  assert.deepEqual(fails.map((e) => e.status), [401, 401]);
  const log = readFileSync(path.join(ca.home, 'security.log'), 'utf8').trim().split('\n');
  assert.equal(log.length, 2);
  assert.match(log[0]!, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\] SECURITY\[\d+\] sipsec: SecurityEvent="InvalidPassword",.*AccountID="103".*RemoteAddress="IPV4\/TLS\/127\.0\.0\.1\/\d+"/);
  assert.match(log[1]!, /SecurityEvent="InvalidAccountID".*AccountID="999"/);
  for (const line of log) assert.doesNotMatch(line, /not-the-secret|whatever1|ReceivedHash/);
  // The third failure reaches the limit (3 in this test): the address is refused.
  const third = await register(c, ca, { user: '103', password: 'still-wrong' });
  assert.equal(third.status, 401);
  await reg.waitFor((e) => e.event === 'security.block');
  const locked = await register(c, ca, { user: '103', password: ca.secret('spa1') });
  assert.equal(locked.status, 403, 'even the right password is refused while locked out');
  assert.match(header(locked, 'warning') ?? '', /too many authentication failures/);
  assert.match(readFileSync(path.join(ca.home, 'security.log'), 'utf8'), /SecurityEvent="FailedACL"/);
});

test('registrar: per-vendor default: a Cisco SPA registers with digest alone, a baresip phone must present its certificate', async (t) => {
  const { ca, reg } = await setup(t);
  const c = await connectAs(ca, reg, undefined);
  t.after(() => c.close());
  const spa = await register(c, ca, { user: '103', password: ca.secret('spa1') });
  assert.equal(spa.status, 200);
  const bare = await register(c, ca, { user: '101', password: ca.secret('telefono1') });
  assert.equal(bare.status, 403);
  assert.match(header(bare, 'warning') ?? '', /telefono1 must present its client certificate \(its vendor baresip can present one\)/);
});

test('registrar: refresh, several contacts, 423 Interval Too Brief, Expires 0 and * un-register', async (t) => {
  const { ca, reg } = await setup(t, { auth: 'cert' });
  const c = await connectAs(ca, reg, 'telefono1');
  t.after(() => c.close());
  const callId = newCallId();
  const send = (cseq: number, contact: string, expires?: number) => {
    c.send(registerText({ user: '101', domain: ca.domain, contact, callId, cseq, localPort: c.localPort, expires }));
    return c.final(callId, 'REGISTER');
  };
  const a = `<sip:101@127.0.0.1:${c.localPort};transport=tls>`;
  const b = `<sip:101-b@127.0.0.1:${c.localPort};transport=tls>;q=0.5`;
  const brief = await send(1, a, 30);
  assert.equal(brief.status, 423);
  assert.equal(header(brief, 'min-expires'), '60');
  assert.equal((await send(2, a, 300)).status, 200);
  const two = await send(3, b, 600);
  assert.equal(two.status, 200);
  assert.equal(two.headers.all('contact').length, 2, 'both bindings listed');
  assert.equal(reg.service.status().bindings, 2);
  const outOfOrder = await send(2, a, 300);
  assert.equal(outOfOrder.status, 400, 'same Call-ID, CSeq not higher');
  const star = await send(4, '*', 600);
  assert.equal(star.status, 400, '* needs Expires: 0');
  const removeA = await send(5, a, 0);
  assert.equal(removeA.status, 200);
  assert.equal(removeA.headers.all('contact').length, 1);
  const removeAll = await send(6, '*', 0);
  assert.equal(removeAll.status, 200);
  assert.equal(removeAll.headers.all('contact').length, 0);
  assert.equal(reg.service.status().bindings, 0);
  const ends = reg.events.filter((e) => e.event === 'register.end');
  assert.deepEqual(ends.map((e) => e.reason), ['unregistered', 'unregistered']);
});

test('transactions: a retransmitted REGISTER is absorbed and answered with the same response', async (t) => {
  const { ca, reg } = await setup(t, { auth: 'cert' });
  const c = await connectAs(ca, reg, 'telefono1');
  t.after(() => c.close());
  const callId = newCallId();
  const text = registerText({ user: '101', domain: ca.domain, contact: `<sip:101@127.0.0.1:${c.localPort};transport=tls>`, callId, cseq: 1, localPort: c.localPort, expires: 600 });
  c.send(text);
  c.send(text);
  const r1 = await c.final(callId, 'REGISTER');
  const r2 = await c.final(callId, 'REGISTER');
  assert.equal(r1.status, 200);
  assert.equal(r2.status, 200, 'not 400 out-of-order: the retransmission never reached the registrar');
  assert.equal(header(r1, 'to'), header(r2, 'to'), 'the same response, same To tag');
  assert.equal(reg.events.filter((e) => e.event === 'register.ok').length, 1);
});

test('TLS: a certificate from another CA and a revoked certificate are refused, the events say why', async (t) => {
  const { ca, reg } = await setup(t);
  const other = await foreignCa([{ name: 'telefono1', vendor: 'baresip', ext: '101' }]);
  t.after(() => other.cleanup());
  const foreign = await other.pair('telefono1');
  const c1 = await SipTestClient.connect(reg.port, { ca: ca.caPem, cert: foreign.cert, key: foreign.key });
  t.after(() => c1.close());
  const hs = await reg.waitFor((e) => e.event === 'tls.handshake' && e.ok === false);
  assert.match(String(hs.error), /not issued by this CA|self-signed|another CA/);
  const r1 = await register(c1, ca, { user: '101', password: ca.secret('telefono1') });
  assert.equal(r1.status, 403);
  assert.match(header(r1, 'warning') ?? '', /client certificate not accepted/);
  await c1.ended;
  const fail = await reg.waitFor((e) => e.event === 'register.fail');
  assert.match(String(fail.reason), /client certificate not accepted/);

  // Revoke telefono2's certificate: new CRL, reloaded like serve does.
  const before = await ca.pair('telefono2');
  const live = await connectAs(ca, reg, 'telefono2');
  t.after(() => live.close());
  assert.equal((await register(live, ca, { user: '102', password: ca.secret('telefono2') })).status, 200);
  await revokeCert(ca.store, 'telefono2', 'keyCompromise', noPassphrase);
  await reg.reloadCa();
  await live.ended; // the registered connection of the revoked certificate is closed
  await reg.waitFor((e) => e.event === 'register.end' && e.phone === 'telefono2');
  const c2 = await SipTestClient.connect(reg.port, { ca: ca.caPem, cert: before.cert, key: before.key });
  t.after(() => c2.close());
  const revoked = await reg.waitFor((e) => e.event === 'tls.handshake' && e.ok === false && e.certSerial === before.serial);
  assert.match(String(revoked.error), /revoked/);
  const r2 = await register(c2, ca, { user: '102', password: ca.secret('telefono2') });
  assert.equal(r2.status, 403);
});

test('TLS: --client-cert required refuses a handshake without a certificate with an alert', async (t) => {
  const { ca, reg } = await setup(t, { clientCert: 'required' });
  await assert.rejects(async () => {
    const c = await SipTestClient.connect(reg.port, { ca: ca.caPem });
    // TLS 1.3: the alert arrives after the client's handshake finished.
    await c.ended;
    throw Object.assign(new Error('closed'), { code: 'closed' });
  });
  const hs = await reg.waitFor((e) => e.event === 'tls.handshake' && e.ok === false);
  assert.match(String(hs.error), /no client certificate/);
  assert.match(String(hs.alert), /certificate_required/);
  // With its certificate the same phone gets in.
  const c = await connectAs(ca, reg, 'spa1');
  t.after(() => c.close());
  assert.equal((await register(c, ca, { user: '103', password: ca.secret('spa1') })).status, 200);
});
