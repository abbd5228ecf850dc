/**
 * Request and response validation options beyond the corpus.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRequest, parseDatagram, validateRequest, validateResponse, type SipRequest, type Verdict } from '../../src/sip/message/index.js';

const BASE: Array<[string, string]> = [
  ['Via', 'SIP/2.0/TLS 192.0.2.4:5061;branch=z9hG4bK776asdhds'],
  ['Max-Forwards', '70'],
  ['To', '<sip:bob@example.com>'],
  ['From', '"Alice" <sip:alice@example.com>;tag=1928301774'],
  ['Call-ID', 'a84b4c76e66710@pc33.example.com'],
];

function request(method: string, extra: Array<[string, string]> = [], uri = 'sip:bob@example.com', body?: string): SipRequest {
  return createRequest(method, uri, [...BASE, ['CSeq', `1 ${method}`], ...extra], body);
}

function status(v: Verdict): number | 'drop' | 'ok' {
  if (v.ok) return 'ok';
  return v.reaction.action === 'drop' ? 'drop' : v.reaction.status;
}

describe('validateRequest', () => {
  it('accepts an ordinary REGISTER and INVITE', () => {
    assert.equal(status(validateRequest(request('REGISTER', [['Contact', '<sip:alice@192.0.2.4:5061;transport=tls>;expires=3600']]))), 'ok');
    assert.equal(status(validateRequest(request('INVITE', [['Content-Type', 'application/sdp']], 'sip:bob@example.com', 'v=0\r\n'))), 'ok');
  });

  it('400 for missing or duplicated core headers and bad values', () => {
    const cases: Array<[string, Array<[string, string]>]> = [
      ['duplicate Max-Forwards', [['Max-Forwards', '70']]],
      ['Max-Forwards out of range', [['Max-Forwards', '300']]],
      ['duplicate Expires', [['Expires', '1'], ['Expires', '2']]],
      ['bad Content-Type', [['Content-Type', 'sdp']]],
      ['Contact *', [['Contact', '*']]],
    ];
    for (const [what, extra] of cases) {
      const m = request('INVITE', extra);
      assert.equal(status(validateRequest(m)), 400, what);
    }
    const noCallId = createRequest('OPTIONS', 'sip:x@example.com', BASE.filter(([n]) => n !== 'Call-ID').concat([['CSeq', '1 OPTIONS']]));
    const v = validateRequest(noCallId);
    assert.ok(!v.ok && /missing Call-ID/.test(v.reason));
    const badCallId = request('OPTIONS', []);
    badCallId.headers.set('Call-ID', 'has space');
    assert.equal(status(validateRequest(badCallId)), 400);
  });

  it('Contact * is fine in REGISTER', () => {
    assert.equal(status(validateRequest(request('REGISTER', [['Contact', '*'], ['Expires', '0']]))), 'ok');
    assert.equal(status(validateRequest(request('REGISTER', [['Contact', '*, <sip:a@b.example.com>']]))), 400);
  });

  it('416 for unhandled schemes, configurable', () => {
    assert.equal(status(validateRequest(request('OPTIONS', [], 'tel:+15551234'))), 416);
    assert.equal(status(validateRequest(request('OPTIONS', [], 'tel:+15551234'), { uriSchemes: ['sip', 'sips', 'tel'] })), 'ok');
    assert.equal(status(validateRequest(request('OPTIONS', [], 'sip:bad host'))), 400);
  });

  it('405 with Allow for a recognised but disallowed method; 501 for unknown ones', () => {
    const v = validateRequest(request('PUBLISH'), { allowedMethods: ['REGISTER', 'OPTIONS'] });
    assert.ok(!v.ok && v.reaction.action === 'respond' && v.reaction.status === 405);
    assert.deepEqual(v.reaction.headers, [['Allow', 'REGISTER, OPTIONS']]);
    assert.equal(status(validateRequest(request('invite'))), 501, 'method names are case-sensitive');
    assert.equal(status(validateRequest(request('FOO'), { knownMethods: new Set(['FOO']) })), 'ok');
  });

  it('420 only for unsupported Require tags; supported ones pass, case-insensitively', () => {
    const m = request('REGISTER', [['Require', 'outbound, path']]);
    const v = validateRequest(m, { supportedExtensions: ['path'] });
    assert.ok(!v.ok && v.reaction.action === 'respond');
    assert.deepEqual(v.reaction.headers, [['Unsupported', 'outbound']]);
    assert.equal(status(validateRequest(m, { supportedExtensions: ['Outbound', 'path'] })), 'ok');
    assert.equal(status(validateRequest(request('CANCEL', [['Require', 'foo']]))), 'ok', 'ignored on CANCEL');
  });

  it('415 and 406 follow the configured body types', () => {
    const xml = request('INVITE', [['Content-Type', 'application/xml']], 'sip:bob@example.com', '<x/>');
    assert.equal(status(validateRequest(xml)), 415);
    assert.equal(status(validateRequest(xml, { bodyTypes: { INVITE: ['application/sdp', 'application/xml'] } })), 'ok');
    const untyped = request('INVITE', [], 'sip:bob@example.com', 'v=0');
    assert.equal(status(validateRequest(untyped)), 415, 'a body without Content-Type');
    assert.equal(status(validateRequest(request('INVITE', [['Accept', 'application/sdp;q=0, */*']]))), 406);
    assert.equal(status(validateRequest(request('INVITE', [['Accept', 'application/*']]))), 'ok');
    assert.equal(status(validateRequest(request('MESSAGE', [['Content-Type', 'text/plain']], 'sip:bob@example.com', 'hi'))), 'ok');
  });

  it('483 only when forwarding, decided per request', () => {
    const m = request('INVITE');
    m.headers.set('Max-Forwards', '0');
    assert.equal(status(validateRequest(m)), 'ok');
    assert.equal(status(validateRequest(m, { proxy: true })), 483);
    assert.equal(status(validateRequest(m, { proxy: (r) => r.uri !== 'sip:bob@example.com' })), 'ok');
  });

  it('method tokens that are Object.prototype names are just methods', () => {
    for (const method of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const m = request(method, [['Content-Type', 'text/plain']], 'sip:bob@example.com', 'x');
      assert.equal(status(validateRequest(m)), 501, method);
      assert.equal(status(validateRequest(m, { knownMethods: new Set([method]) })), 'ok', method);
    }
  });

  it('never answers an ACK, even a broken one', () => {
    const ack = createRequest('ACK', 'sip:bob@example.com', [...BASE, ['CSeq', '1 INVITE']]);
    assert.equal(status(validateRequest(ack)), 'drop');
  });
});

describe('validateResponse', () => {
  const res = (vias: string[]): ReturnType<typeof parseDatagram> =>
    parseDatagram(
      ['SIP/2.0 200 OK', ...vias.map((v) => `Via: ${v}`), 'To: <sip:b@example.com>;tag=2', 'From: <sip:a@example.com>;tag=1', 'Call-ID: c', 'CSeq: 1 INVITE', 'Content-Length: 0', '', ''].join('\r\n'),
    );

  it('a UAC accepts one Via and drops more', () => {
    const one = res(['SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1']);
    assert.ok(one.ok && one.message.kind === 'response');
    assert.equal(validateResponse(one.message).ok, true);
    const two = res(['SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1', 'SIP/2.0/UDP 192.0.2.2;branch=z9hG4bK2']);
    assert.ok(two.ok && two.message.kind === 'response');
    assert.equal(validateResponse(two.message).ok, false);
    assert.equal(validateResponse(two.message, { role: 'proxy' }).ok, true);
  });

  it('a proxy drops responses that would go to multicast without maddr or to broadcast', () => {
    for (const next of ['SIP/2.0/UDP 239.1.2.3;branch=z9hG4bK2', 'SIP/2.0/UDP [ff02::1];branch=z9hG4bK2', 'SIP/2.0/UDP h.example.com;received=255.255.255.255;branch=z9hG4bK2']) {
      const r = res(['SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1', next]);
      assert.ok(r.ok && r.message.kind === 'response');
      assert.equal(validateResponse(r.message, { role: 'proxy' }).ok, false, next);
    }
    const maddr = res(['SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1', 'SIP/2.0/UDP h.example.com;maddr=239.1.2.3;ttl=1;branch=z9hG4bK2']);
    assert.ok(maddr.ok && maddr.message.kind === 'response');
    assert.equal(validateResponse(maddr.message, { role: 'proxy' }).ok, true);
  });

  it('drops responses with broken core headers', () => {
    const r = parseDatagram('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n');
    assert.ok(r.ok && r.message.kind === 'response');
    const v = validateResponse(r.message);
    assert.ok(!v.ok && v.reaction.action === 'drop');
  });
});
