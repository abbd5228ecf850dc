/**
 * Writing messages and building responses (RFC 3261 §7, §8.2.6).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SipRequest, SipResponse, buildResponse, createRequest, parseDatagram, responseFor, serialize, tagOf, validateRequest, type Result, type SipMessage } from '../../src/sip/message/index.js';
import { corpus, dat } from './helpers.js';

function value<T>(r: Result<T>): T {
  if (!r.ok) assert.fail(r.error);
  return r.value;
}

function reparse(m: SipMessage): SipMessage {
  const r = parseDatagram(serialize(m));
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r.message;
}

function req(name: string): SipRequest {
  const r = parseDatagram(dat(name));
  assert.ok(r.ok && r.message.kind === 'request');
  return r.message;
}

describe('serialize', () => {
  it('round-trips every parsable corpus message: same start line, headers and body', () => {
    for (const [name, buf] of corpus()) {
      const r = parseDatagram(buf);
      if (!r.ok) continue;
      const again = reparse(r.message);
      assert.equal(again.kind, r.message.kind, name);
      const fields = (m: SipMessage): string[][] => m.headers.fields().filter((f) => f.key !== 'content-length').map((f) => [f.name, f.value]);
      assert.deepEqual(fields(again), fields(r.message), name);
      assert.ok(again.body.equals(r.message.body), name);
      assert.equal(again.headers.first('content-length'), String(r.message.body.length), name);
    }
  });

  it('always writes the real Content-Length, once', () => {
    const m = createRequest('MESSAGE', 'sip:bob@example.com', [['Content-Length', '999'], ['l', '3'], ['Content-Type', 'text/plain']], 'hello');
    const text = serialize(m).toString();
    assert.match(text, /\r\nContent-Length: 5\r\n/);
    assert.equal(text.match(/Content-Length|\r\nl:/g)?.length, 1);
    assert.ok(text.endsWith('\r\n\r\nhello'));
    const empty = serialize(createRequest('OPTIONS', 'sip:x@example.com', [])).toString();
    assert.equal(empty, 'OPTIONS sip:x@example.com SIP/2.0\r\nContent-Length: 0\r\n\r\n');
  });

  it('cannot be made to inject header lines', () => {
    const m = createRequest('OPTIONS', 'sip:x@example.com', [['Subject', 'a\r\nVia: SIP/2.0/UDP evil']]);
    const again = reparse(m);
    assert.equal(again.headers.count('via'), 0);
    assert.equal(again.headers.first('subject'), 'a Via: SIP/2.0/UDP evil');
    assert.throws(() => createRequest('OPTIONS', 'sip:x@example.com', [['Bad Name', 'x']]), /invalid SIP header name/);
    assert.throws(() => createRequest('OPT IONS', 'sip:x@example.com', []), /invalid SIP method/);
  });

  it('writes responses with a three-digit status and the reason', () => {
    const r = new SipResponse({ status: 200, reason: 'OK', headers: [['Via', 'SIP/2.0/UDP h;branch=z9hG4bK1']] });
    assert.equal(serialize(r).toString(), 'SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n');
  });
});

describe('buildResponse (RFC 3261 §8.2.6.2)', () => {
  it('copies every Via in order, From, Call-ID and CSeq; tags To', () => {
    const m = req('longreq');
    const res = buildResponse(m, 486, undefined, { toTag: 'abc123' });
    assert.equal(res.reason, 'Busy Here');
    assert.deepEqual(res.headers.all('via'), m.headers.all('via'));
    assert.equal(res.headers.first('from'), m.headers.first('from'));
    assert.equal(res.headers.first('call-id'), m.headers.first('call-id'));
    assert.equal(res.headers.first('cseq'), m.headers.first('cseq'));
    assert.equal(res.headers.first('to'), `${m.headers.first('to')};tag=abc123`);
    assert.equal(res.headers.fields()[0]!.name, 'To', 'canonical names in responses');
    const again = reparse(res);
    assert.equal(again.kind === 'response' && again.status, 486);
    assert.equal(tagOf(value(again.to())), 'abc123');
  });

  it('keeps an existing To tag, adds none to 100 Trying, echoes Timestamp on 100', () => {
    const withTag = req('wsinv');
    assert.equal(buildResponse(withTag, 404).headers.first('to'), withTag.headers.first('to'));
    const m = createRequest('INVITE', 'sip:bob@example.com', [
      ['Via', 'SIP/2.0/UDP h;branch=z9hG4bK1'],
      ['To', '<sip:bob@example.com>'],
      ['From', '<sip:a@example.com>;tag=1'],
      ['Call-ID', 'x'],
      ['CSeq', '1 INVITE'],
      ['Timestamp', '54'],
    ]);
    const trying = buildResponse(m, 100);
    assert.equal(trying.headers.first('to'), '<sip:bob@example.com>');
    assert.equal(trying.headers.first('timestamp'), '54');
    const ringing = buildResponse(m, 180);
    assert.match(ringing.headers.first('to')!, /^<sip:bob@example\.com>;tag=[0-9a-f]{16}$/);
    assert.equal(ringing.headers.has('timestamp'), false);
  });

  it('adds extra headers and a body with its type and length', () => {
    const m = req('cparam02');
    const res = buildResponse(m, 200, 'OK', {
      headers: [['Contact', '<sip:+19725552222@gw1.example.net;unknownparam>;expires=3600'], ['Date', 'Sat, 13 Nov 2010 23:29:00 GMT']],
      body: 'x=1',
      contentType: 'text/plain',
    });
    const text = serialize(res).toString();
    assert.match(text, /\r\nContent-Type: text\/plain\r\nContent-Length: 3\r\n\r\nx=1$/);
    assert.match(text, /\r\nDate: Sat, 13 Nov 2010 23:29:00 GMT\r\n/);
  });

  it('answers validation failures with the headers they ask for', () => {
    const m = req('bext01');
    const v = validateRequest(m);
    assert.ok(!v.ok);
    const res = responseFor(m, v.reaction, { toTag: 't' });
    assert.ok(res);
    assert.equal(res.status, 420);
    assert.equal(res.reason, 'Bad Extension');
    assert.equal(res.headers.first('unsupported'), 'nothingSupportsThis, nothingSupportsThisEither');
    assert.equal(responseFor(m, { action: 'drop' }), undefined);
  });

  it('answers a parse failure from its partial message', () => {
    const r = parseDatagram(dat('lwsstart'));
    assert.ok(!r.ok && r.partial?.kind === 'request' && r.reaction.action === 'respond');
    const res = responseFor(r.partial, r.reaction, { toTag: 'x' });
    assert.equal(res?.status, 400);
    assert.equal(res?.headers.first('via'), 'SIP/2.0/UDP host1.example.com;branch=z9hG4bKkdjuw3923');
    assert.equal(res?.headers.first('to'), 'sip:user@example.com;tag=x');
  });

  it('copies an unparsable To unchanged', () => {
    const m = req('quotbal');
    assert.equal(buildResponse(m, 400).headers.first('to'), m.headers.first('to'));
  });

  it('SipHeaders editing keeps order and invalidates cached views', () => {
    const m = req('cparam02');
    assert.equal(tagOf(value(m.to())), undefined);
    m.headers.set('To', '<sip:watson@example.com>;tag=99');
    assert.equal(tagOf(value(m.to())), '99');
    m.headers.prepend('Via', 'SIP/2.0/TLS proxy.example.com;branch=z9hG4bKp');
    const vias = m.vias();
    assert.ok(vias.ok && vias.value[0]!.host === 'proxy.example.com' && vias.value.length === 2);
    assert.equal(m.headers.delete('via'), 2);
    assert.equal(m.vias().ok, false);
  });
});
