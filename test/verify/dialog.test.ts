import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDatagram } from '../../src/sip/message/parser.js';
import type { SipResponse } from '../../src/sip/message/index.js';
import { inDialogTarget, uacDialog } from '../../src/verify/dialog.js';

/** probe's ACK and BYE: to the 2xx's Contact through its Record-Route, reversed (RFC 3261 §12.1.2, §12.2.1.1). */
function ok(extra: string[]): SipResponse {
  const text = ['SIP/2.0 200 OK', 'Via: SIP/2.0/TLS 127.0.0.1:5000;branch=z9hG4bKx', 'From: <sip:101@pbx.test>;tag=a', 'To: <sip:200@pbx.test>;tag=b', 'Call-ID: c1', 'CSeq: 2 INVITE', ...extra, 'Content-Length: 0', '', ''].join('\r\n');
  const r = parseDatagram(text);
  assert.ok(r.ok && r.message.kind === 'response');
  return r.message as SipResponse;
}

test('dialog: no Record-Route: the Request-URI is the 200\'s Contact, no Route', () => {
  assert.deepEqual(inDialogTarget(uacDialog(ok(['Contact: <sip:200@10.0.0.5:5061;transport=tls>']), 'sip:200@pbx.test')), { uri: 'sip:200@10.0.0.5:5061;transport=tls', routes: [] });
  // No Contact at all (a broken server): the original target.
  assert.deepEqual(inDialogTarget(uacDialog(ok([]), 'sip:200@pbx.test')), { uri: 'sip:200@pbx.test', routes: [] });
});

test('dialog: loose routers: Route is the Record-Route reversed, the Request-URI stays the Contact', () => {
  const d = uacDialog(ok(['Record-Route: <sip:far.test;lr>', 'Record-Route: <sip:10.0.0.1:5061;transport=tls;lr>', 'Contact: <sip:200@10.0.0.5:5061;transport=tls>']), 'sip:200@pbx.test');
  assert.deepEqual(inDialogTarget(d), { uri: 'sip:200@10.0.0.5:5061;transport=tls', routes: ['<sip:10.0.0.1:5061;transport=tls;lr>', '<sip:far.test;lr>'] });
});

test('dialog: a strict router first: it becomes the Request-URI, the Contact goes last in Route', () => {
  const d = uacDialog(ok(['Record-Route: <sip:loose.test;lr>, <sip:strict.test>', 'Contact: <sip:200@10.0.0.5>']), 'sip:200@pbx.test');
  assert.deepEqual(inDialogTarget(d), { uri: 'sip:strict.test', routes: ['<sip:loose.test;lr>', '<sip:200@10.0.0.5>'] });
});
