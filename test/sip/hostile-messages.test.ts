/**
 * Issue 13, items 3-5: what the hostile-input run found the registrar and
 * proxy accepting, driven through the real SIP/TLS listener (the
 * registrar service in this process, phones connected with their
 * certificates).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { registrarCa, startInProcess } from '../helpers/registrar-ca.js';
import { header, newCallId, registerText, SipTestClient } from '../helpers/sip-client.js';

interface Phone {
  c: SipTestClient;
  user: string;
}

async function setup(t: { after(fn: () => unknown): void }) {
  const ca = await registrarCa([
    { name: 'telefono1', vendor: 'baresip', ext: '101' },
    { name: 'telefono2', vendor: 'baresip', ext: '102' },
    { name: 'telefono3', vendor: 'baresip', ext: '103' },
  ]);
  t.after(() => ca.cleanup());
  // --auth cert: a verified phone certificate registers without digest, so every request below reaches the registrar.
  const reg = await startInProcess(ca, { auth: 'cert' });
  t.after(() => reg.close());
  const connect = async (name: string): Promise<SipTestClient> => {
    const pair = await ca.pair(name);
    const c = await SipTestClient.connect(reg.port, { ca: ca.caPem, cert: pair.cert, key: pair.key });
    t.after(() => c.close());
    return c;
  };
  const phone = async (name: string, user: string): Promise<Phone> => {
    const c = await connect(name);
    const callId = newCallId();
    c.send(registerText({ user, domain: ca.domain, contact: `<sip:${user}@127.0.0.1:${c.localPort};transport=tls>`, callId, cseq: 1, localPort: c.localPort, expires: 600 }));
    assert.equal((await c.final(callId, 'REGISTER')).status, 200);
    return { c, user };
  };
  return { ca, reg, connect, phone };
}

function invite(from: Phone, to: string, callId: string, extra: string[] = [], maxForwards = 70): string {
  return [
    `INVITE sip:${to}@pbx.test SIP/2.0`,
    `Via: SIP/2.0/TLS 127.0.0.1:${from.c.localPort};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
    `Max-Forwards: ${maxForwards}`,
    `From: <sip:${from.user}@pbx.test>;tag=${randomBytes(4).toString('hex')}`,
    `To: <sip:${to}@pbx.test>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    `Contact: <sip:${from.user}@127.0.0.1:${from.c.localPort};transport=tls>`,
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

test('a NUL or another control character in a header value: 400 with the reason, and an INVITE is never relayed', async (t) => {
  const { ca, reg, connect, phone } = await setup(t);
  const c = await connect('telefono1');
  const reject = async (extra: string, what: RegExp) => {
    const callId = newCallId();
    c.send(registerText({ user: '101', domain: ca.domain, contact: `<sip:101@127.0.0.1:${c.localPort};transport=tls>`, callId, cseq: 1, localPort: c.localPort, expires: 600, extra: [extra] }));
    const res = await c.final(callId, 'REGISTER');
    assert.equal(res.status, 400, JSON.stringify(extra));
    await reg.waitFor((e) => e.event === 'sip.reject' && what.test(String(e.why)));
  };
  await reject('Subject: a\0b', /control character 0x00 in the Subject header value/);
  await reject('Subject: a\x07b', /control character 0x07 in the Subject header value/);
  await reject('User-Agent: x\x1by', /control character 0x1b in the User-Agent header value/);
  // HTAB is LWS (RFC 3261 §25.1): still fine.
  const ok = newCallId();
  c.send(registerText({ user: '101', domain: ca.domain, contact: `<sip:101@127.0.0.1:${c.localPort};transport=tls>`, callId: ok, cseq: 1, localPort: c.localPort, expires: 600, extra: ['Subject: a\tb'] }));
  assert.equal((await c.final(ok, 'REGISTER')).status, 200);

  // The INVITE case: caller and callee registered; the callee must never see the message.
  const caller = await phone('telefono2', '102');
  const callee = await phone('telefono3', '103');
  for (const extra of ['Subject: a\0b', 'To-Do: \x01', 'Subject: "\\\0"']) {
    const callId = newCallId();
    caller.c.send(invite(caller, '103', callId, [extra]));
    const res = await caller.c.final(callId, 'INVITE');
    assert.equal(res.status, 400, JSON.stringify(extra));
  }
  // A clean INVITE does reach the callee, so the absence above is real.
  const clean = newCallId();
  caller.c.send(invite(caller, '103', clean, ['Subject: hello']));
  const relayed = await callee.c.request((r) => r.method === 'INVITE');
  assert.equal(header(relayed, 'call-id'), clean);
  assert.equal(callee.c.messages.filter((m) => m.kind === 'request' && m.method === 'INVITE').length, 1, 'only the clean INVITE was relayed');
});

test('a malformed Expires header or Contact expires parameter on REGISTER: 400 naming it, no binding', async (t) => {
  const { ca, reg, connect } = await setup(t);
  const c = await connect('telefono1');
  const contact = `<sip:101@127.0.0.1:${c.localPort};transport=tls>`;
  const cases: Array<{ contact: string; extra: string[]; names: RegExp }> = [
    { contact, extra: ['Expires: -1'], names: /malformed Expires header/ },
    { contact, extra: ['Expires: abc'], names: /malformed Expires header/ },
    { contact: `${contact};expires=abc`, extra: [], names: /malformed expires parameter in the Contact header/ },
    { contact: `${contact};expires=-5`, extra: ['Expires: 600'], names: /malformed expires parameter in the Contact header/ },
  ];
  for (const k of cases) {
    const callId = newCallId();
    c.send(registerText({ user: '101', domain: ca.domain, contact: k.contact, callId, cseq: 1, localPort: c.localPort, extra: k.extra }));
    const res = await c.final(callId, 'REGISTER');
    assert.equal(res.status, 400, JSON.stringify(k));
    assert.match(res.reason, /.+/);
    await reg.waitFor((e) => e.event === 'sip.reject' && k.names.test(String(e.why)));
  }
  assert.equal(reg.service.server.registrar.size, 0, 'nothing was bound');
  // The well-formed forms still register.
  const good = newCallId();
  c.send(registerText({ user: '101', domain: ca.domain, contact: `${contact};expires=120`, callId: good, cseq: 1, localPort: c.localPort, extra: ['Expires: 600'] }));
  const ok = await c.final(good, 'REGISTER');
  assert.equal(ok.status, 200);
  assert.match(header(ok, 'contact') ?? '', /;expires=1[12]\d$/);
});

test('Max-Forwards 0 is answered 483 before the target lookup: unregistered, unknown and registered targets alike (RFC 3261 §16.3)', async (t) => {
  const { phone } = await setup(t);
  const caller = await phone('telefono1', '101');
  await phone('telefono2', '102');
  // 103 is a phone that is not registered (480 otherwise), 555 nobody (404 otherwise), 102 registered.
  for (const target of ['103', '555', '102']) {
    const callId = newCallId();
    caller.c.send(invite(caller, target, callId, [], 0));
    const res = await caller.c.final(callId, 'INVITE');
    assert.equal(res.status, 483, `INVITE to ${target}`);
  }
  // With hops left, the lookup answers as before.
  const callId = newCallId();
  caller.c.send(invite(caller, '103', callId, [], 70));
  assert.equal((await caller.c.final(callId, 'INVITE')).status, 480);
});
