/**
 * Stamping the top Via with the packet source (RFC 3261 §18.2.1, RFC 3581).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRequest, type SipRequest } from '../../src/sip/message/index.js';
import { stampReceived } from '../../src/sip/transport/index.js';

function req(...vias: string[]): SipRequest {
  return createRequest('REGISTER', 'sip:example.com', [
    ...vias.map((v): [string, string] => ['Via', v]),
    ['To', '<sip:a@example.com>'],
    ['From', '<sip:a@example.com>;tag=1'],
    ['Call-ID', 'c'],
    ['CSeq', '1 REGISTER'],
  ]);
}

describe('stampReceived', () => {
  it('adds received when the source differs from sent-by', () => {
    const m = req('SIP/2.0/UDP phone.example.com:5060;branch=z9hG4bK1');
    const v = stampReceived(m, '198.51.100.7', 5060);
    assert.ok(v.ok);
    assert.equal(v.value.received, '198.51.100.7');
    assert.equal(m.headers.first('via'), 'SIP/2.0/UDP phone.example.com:5060;branch=z9hG4bK1;received=198.51.100.7');
  });

  it('leaves a matching sent-by alone unless rport was asked for', () => {
    const m = req('SIP/2.0/TLS 192.0.2.4:5061;branch=z9hG4bK1');
    assert.ok(stampReceived(m, '192.0.2.4', 5061).ok);
    assert.equal(m.headers.first('via'), 'SIP/2.0/TLS 192.0.2.4:5061;branch=z9hG4bK1');
  });

  it('fills rport and received for RFC 3581 clients behind NAT, top Via only', () => {
    const m = req('SIP/2.0/UDP 10.0.0.5:5060;rport;branch=z9hG4bK1, SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK0', 'SIP/2.0/UDP other.example.com;branch=z9hG4bKx');
    const v = stampReceived(m, '203.0.113.9', 40312);
    assert.ok(v.ok);
    assert.equal(v.value.rport, 40312);
    assert.deepEqual(m.headers.all('via'), [
      'SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK1;received=203.0.113.9;rport=40312, SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK0',
      'SIP/2.0/UDP other.example.com;branch=z9hG4bKx',
    ]);
    const vias = m.vias();
    assert.ok(vias.ok && vias.value.length === 3 && vias.value[0]!.received === '203.0.113.9');
  });

  it('writes IPv6 sources without brackets and compares them bracket-insensitively', () => {
    const m = req('SIP/2.0/TCP [2001:db8::9]:5060;branch=z9hG4bK1;rport');
    const v = stampReceived(m, '2001:db8::9', 5070);
    assert.ok(v.ok);
    assert.equal(m.headers.first('via'), 'SIP/2.0/TCP [2001:db8::9]:5060;branch=z9hG4bK1;received=2001:db8::9;rport=5070');
  });

  it('fails on a request without a usable Via', () => {
    assert.equal(stampReceived(req('garbage'), '192.0.2.1', 1).ok, false);
  });
});
