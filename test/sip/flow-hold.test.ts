import { test } from 'node:test';
import assert from 'node:assert/strict';
import { registrarCa, startInProcess } from '../helpers/registrar-ca.js';
import { answerChallenge, newCallId, registerText, SipTestClient } from '../helpers/sip-client.js';

// A registration holds its flow (Flow.hold, src/sip/transport/flow.ts):
// the idle sweep closes a silent connection, but not one a binding lives
// on, since requests to the phone can only go over it (RFC 5626 §5.3).

test('flow hold: a silent connection closes when idle, a registered one stays open and answers', async (t) => {
  const ca = await registrarCa([{ name: 'telefono1', vendor: 'baresip', ext: '101' }]);
  t.after(() => ca.cleanup());
  const reg = await startInProcess(ca, { idleTimeoutMs: 1000 });
  t.after(() => reg.close());
  const pair = await ca.pair('telefono1');
  const phone = await SipTestClient.connect(reg.port, { ca: ca.caPem, cert: pair.cert, key: pair.key });
  t.after(() => phone.close());
  const callId = newCallId();
  const base = { user: '101', domain: ca.domain, contact: `<sip:101@127.0.0.1:${phone.localPort};transport=tls>`, callId, localPort: phone.localPort, expires: 600 };
  phone.send(registerText({ ...base, cseq: 1 }));
  const challenge = await phone.final(callId, 'REGISTER');
  const authorization = answerChallenge(challenge, { username: '101', password: ca.secret('telefono1'), method: 'REGISTER', uri: `sip:${ca.domain}` });
  phone.send(registerText({ ...base, cseq: 2, authorization }));
  assert.equal((await phone.final(callId, 'REGISTER')).status, 200);

  // Connected after the registration, so silent for less time than the phone: once it is closed for idleness, the phone would have been too.
  const silent = await SipTestClient.connect(reg.port, { ca: ca.caPem });
  t.after(() => silent.close());
  await silent.ended;
  assert.equal(phone.socket.destroyed, false, 'the registered connection is held open');
  phone.send(registerText({ ...base, cseq: 3 }));
  const again = await phone.final(callId, 'REGISTER');
  assert.equal(again.status, 401, 'and still answered');
  assert.equal(reg.events.filter((e) => e.event === 'register.end').length, 0);
});
