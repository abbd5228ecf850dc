import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDatagram } from '../../src/sip/message/parser.js';
import type { SipRequest } from '../../src/sip/message/message.js';
import type { Flow } from '../../src/sip/transport/flow.js';
import { Registrar } from '../../src/sip/registrar/bindings.js';
import { registrarCa, startInProcess } from '../helpers/registrar-ca.js';
import { answerChallenge, header, newCallId, registerText, SipTestClient } from '../helpers/sip-client.js';

function fakeFlow(id: string): Flow {
  const listeners: Array<(r: string) => void> = [];
  return {
    id,
    transport: 'tls',
    remoteAddress: '127.0.0.1',
    remotePort: 5000,
    remote: '127.0.0.1:5000',
    localAddress: '127.0.0.1',
    localPort: 5061,
    tls: undefined,
    phone: undefined,
    identifiedBy: undefined,
    open: true,
    send: () => true,
    close: (r) => listeners.forEach((l) => l(r)),
    onClose: (l) => listeners.push(l),
  };
}

function reg(contact: string, o: { callId?: string; cseq?: number; expires?: number } = {}): SipRequest {
  const text = registerText({ user: '101', domain: 'pbx.test', contact, callId: o.callId ?? 'c1', cseq: o.cseq ?? 1, localPort: 5000, expires: o.expires });
  const r = parseDatagram(Buffer.from(text));
  assert.ok(r.ok && r.message.kind === 'request');
  return r.message;
}

test('bindings: expiry follows the injected clock; refresh extends; the 200 lists the remaining seconds', () => {
  let now = 1_000_000;
  const r = new Registrar({ now: () => now, minExpires: 60, maxExpires: 3600 });
  const flow = fakeFlow('f1');
  const src = { flow, phone: 'telefono1', auth: 'MD5' };
  const a = r.register(reg('<sip:101@10.0.0.1:5060>', { expires: 120 }), 'sip:101@pbx.test', src);
  assert.ok(a.ok && a.added.length === 1);
  now += 60_000;
  assert.equal(r.secondsLeft(r.lookup('sip:101@pbx.test')[0]!), 60);
  assert.match(r.contactValue(r.lookup('sip:101@pbx.test')[0]!), /;expires=60$/);
  const refresh = r.register(reg('<sip:101@10.0.0.1:5060>', { cseq: 2, expires: 120 }), 'sip:101@pbx.test', src);
  assert.ok(refresh.ok && refresh.refreshed.length === 1 && refresh.added.length === 0);
  now += 100_000;
  assert.equal(r.lookup('sip:101@pbx.test').length, 1, 'refreshed: still alive at 160 s');
  now += 30_000;
  assert.equal(r.lookup('sip:101@pbx.test').length, 0);
  assert.equal(r.expire().length, 1);
  assert.equal(r.size, 0);
  const long = r.register(reg('<sip:101@10.0.0.1:5060>', { cseq: 3, expires: 999_999 }), 'sip:101@pbx.test', src);
  assert.ok(long.ok);
  assert.equal(r.secondsLeft(long.bindings[0]!), 3600, 'clamped to maxExpires');
});

test('bindings: +sip.instance/reg-id replace a binding from a new port (RFC 5626); a closed flow removes its bindings', () => {
  const r = new Registrar();
  const f1 = fakeFlow('f1');
  const f2 = fakeFlow('f2');
  const inst = ';+sip.instance="<urn:uuid:00000000-0000-0000-0000-000000000001>";reg-id=1';
  assert.ok(r.register(reg(`<sip:101@10.0.0.1:5060;transport=tls>${inst}`, { callId: 'x1' }), 'sip:101@pbx.test', { flow: f1, phone: 'p', auth: 'MD5' }).ok);
  const again = r.register(reg(`<sip:101@10.0.0.1:6070;transport=tls>${inst}`, { callId: 'x2' }), 'sip:101@pbx.test', { flow: f2, phone: 'p', auth: 'MD5' });
  assert.ok(again.ok);
  assert.equal(r.lookup('sip:101@pbx.test').length, 1);
  assert.equal(r.lookup('sip:101@pbx.test')[0]!.source.flow, f2);
  assert.equal(r.removeFlow(f1).length, 0, 'the old flow holds nothing any more');
  assert.equal(r.removeFlow(f2).length, 1);
  assert.equal(r.size, 0);
});

test('bindings: non-SIP Contact and bad q are refused; several contacts, best q first', () => {
  const r = new Registrar();
  const src = { flow: fakeFlow('f'), phone: 'p', auth: 'MD5' };
  const bad = r.register(reg('<name:John_Smith>'), 'sip:101@pbx.test', src);
  assert.ok(!bad.ok && bad.status === 400);
  const q = r.register(reg('<sip:a@h>;q=2'), 'sip:101@pbx.test', src);
  assert.ok(!q.ok && q.status === 400);
  assert.ok(r.register(reg('<sip:low@h>;q=0.1, <sip:high@h>;q=0.9', { cseq: 5 }), 'sip:101@pbx.test', src).ok);
  assert.deepEqual(r.lookup('sip:101@pbx.test').map((b) => b.contactUri), ['sip:high@h', 'sip:low@h']);
});

test('digest: a replayed nonce count is answered stale=true and logged; a fresh nonce then works', async (t) => {
  const ca = await registrarCa([{ name: 'spa1', vendor: 'cisco-spa', ext: '103', mac: '00:08:5d:11:22:33' }]);
  t.after(() => ca.cleanup());
  const r = await startInProcess(ca);
  t.after(() => r.close());
  const c = await SipTestClient.connect(r.port, { ca: ca.caPem });
  t.after(() => c.close());
  const callId = newCallId();
  const base = { user: '103', domain: ca.domain, contact: `<sip:103@127.0.0.1:${c.localPort};transport=tls>`, callId, localPort: c.localPort, expires: 600 };
  c.send(registerText({ ...base, cseq: 1 }));
  const ch = await c.final(callId, 'REGISTER');
  const authorization = answerChallenge(ch, { username: '103', password: ca.secret('spa1'), method: 'REGISTER', uri: 'sip:pbx.test', cnonce: 'abc' });
  c.send(registerText({ ...base, cseq: 2, authorization }));
  assert.equal((await c.final(callId, 'REGISTER')).status, 200);
  c.send(registerText({ ...base, cseq: 3, authorization }));
  const replay = await c.final(callId, 'REGISTER');
  assert.equal(replay.status, 401);
  assert.match(header(replay, 'www-authenticate') ?? '', /stale=true/);
  await r.waitFor((e) => e.event === 'security' && e.securityEvent === 'ChallengeResponseFailed').catch(() => undefined);
  const fresh = answerChallenge(replay, { username: '103', password: ca.secret('spa1'), method: 'REGISTER', uri: 'sip:pbx.test' });
  c.send(registerText({ ...base, cseq: 4, authorization: fresh }));
  assert.equal((await c.final(callId, 'REGISTER')).status, 200);
});
