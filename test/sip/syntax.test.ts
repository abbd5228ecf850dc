/**
 * The header-value grammars: URIs (RFC 3261 §19.1, RFC 5118 IPv6 cases),
 * name-addr, Via, CSeq, parameter lists, comma lists and media types.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accepts, addressOfRecord, escapeUser, formatNameAddr, formatSipUri, headerKey, canonicalName, isRfc3261Branch, parseCSeq, parseDeltaSeconds, parseMediaType, parseNameAddr, parseNameAddrList, parseSipUri, parseUri, parseVia, parseViaList, paramValue, schemeOf, sipUriEquals, splitList, tagOf, uriEquals, type Result, type SipUri } from '../../src/sip/message/index.js';

function value<T>(r: Result<T>): T {
  if (!r.ok) assert.fail(r.error);
  return r.value;
}

function sipUri(s: string): SipUri {
  return value(parseSipUri(s));
}

describe('headers', () => {
  it('expands compact forms and folds case', () => {
    assert.equal(headerKey('v'), 'via');
    assert.equal(headerKey('V'), 'via');
    assert.equal(headerKey('I'), 'call-id');
    assert.equal(headerKey('k'), 'supported');
    assert.equal(headerKey('o'), 'event');
    assert.equal(headerKey('x'), 'session-expires');
    assert.equal(headerKey('ViA'), 'via');
    assert.equal(headerKey('C%6Fntact'), 'c%6fntact');
    assert.equal(canonicalName('call-id'), 'Call-ID');
    assert.equal(canonicalName('www-authenticate'), 'WWW-Authenticate');
    assert.equal(canonicalName('proxy-require'), 'Proxy-Require');
  });

  it('splits lists on commas outside quotes and angle brackets', () => {
    assert.deepEqual(value(splitList('"a, b" <sip:x@y;p=1,2>, <sip:z@w> ,c')), ['"a, b" <sip:x@y;p=1,2>', '<sip:z@w>', 'c']);
    assert.deepEqual(value(splitList('')), []);
    assert.deepEqual(value(splitList('"a \\" , b", c')), ['"a \\" , b"', 'c']);
    for (const bad of ['a,,b', 'a,', '"open, b', '<sip:x, y', 'a>b']) assert.equal(splitList(bad).ok, false, bad);
  });
});

describe('URIs', () => {
  it('parses SIP URIs with user, password, port, params and headers', () => {
    const u = sipUri('sips:alice:pw@Example.COM:5061;transport=tls;lr?Subject=hi&Priority=urgent');
    assert.equal(u.scheme, 'sips');
    assert.equal(u.user, 'alice');
    assert.equal(u.password, 'pw');
    assert.equal(u.host, 'Example.COM');
    assert.equal(u.hostKind, 'name');
    assert.equal(u.port, 5061);
    assert.deepEqual(u.params.map((p) => [p.key, p.value]), [['transport', 'tls'], ['lr', null]]);
    assert.equal(u.headers, 'Subject=hi&Priority=urgent');
    assert.equal(schemeOf('SIP:x@y'), 'sip');
  });

  it('handles IPv6 references and ports (RFC 5118)', () => {
    const a = sipUri('sip:[2001:db8::10]:5070');
    assert.equal(a.hostKind, 'ipv6');
    assert.equal(a.host, '[2001:db8::10]');
    assert.equal(a.port, 5070);
    const b = sipUri('sip:alice@[2001:db8::10:5070]');
    assert.equal(b.port, undefined, 'the whole bracket is the address');
    assert.equal(sipUri('sip:[::ffff:192.0.2.2]').hostKind, 'ipv6');
    assert.equal(parseSipUri('sip:2001:db8::10').ok, false, 'IPv6 without brackets');
    assert.equal(parseSipUri('sip:[2001:db8:::192.0.2.1]').ok, false, 'three colons (RFC 5954)');
  });

  it('refuses malformed SIP URIs', () => {
    for (const bad of [
      'sip:',
      'sip:@example.com',
      'sip:user@',
      'sip:user@exa mple.com',
      'sip:user@example.com:99999',
      'sip:user@example.com:',
      'sip:us"er@example.com',
      'sip:user%4@example.com',
      'sip:user@example.com;;lr',
      'sip:user@example.com;=x',
      'sip:user@-bad.example.com',
      'sip:user@example.123',
      'sip:user@example.com?noequals',
      '<sip:user@example.com>',
    ]) {
      assert.equal(parseSipUri(bad).ok, false, bad);
    }
    assert.equal(parseUri('<sip:x@y>').ok, false);
  });

  it('keeps tel and unknown schemes', () => {
    const t = value(parseUri('tel:+1-201-555-0123;phone-context=example.com'));
    assert.equal(t.scheme, 'tel');
    assert.ok('number' in t && t.number === '+1-201-555-0123');
    const o = value(parseUri('urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6'));
    assert.equal(o.scheme, 'urn');
    assert.ok('opaque' in o && o.opaque === 'uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6');
    assert.ok(uriEquals(value(parseUri('tel:+1-201-555-0123')), value(parseUri('tel:+12015550123'))));
  });

  it('compares per RFC 3261 §19.1.4 (its own examples)', () => {
    const eq = (a: string, b: string): boolean => sipUriEquals(sipUri(a), sipUri(b));
    assert.ok(eq('sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp'));
    assert.ok(eq('sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'));
    assert.ok(eq('sip:carol@chicago.com;security=on', 'sip:carol@chicago.com;newparam=5'));
    assert.ok(eq('sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com', 'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com'));
    assert.ok(eq('sip:alice@atlanta.com?subject=project%20x&priority=urgent', 'sip:alice@atlanta.com?priority=urgent&subject=project%20x'));
    assert.ok(!eq('SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'), 'user is case-sensitive');
    assert.ok(!eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'), 'explicit default port');
    assert.ok(!eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com;user=phone'));
    assert.ok(!eq('sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'));
    assert.ok(!eq('sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'));
  });

  it('gives a canonical address-of-record (RFC 3261 §10.3)', () => {
    assert.equal(addressOfRecord(sipUri('sip:%61lice@AtLanta.com;transport=tcp')), 'sip:alice@atlanta.com');
    assert.equal(addressOfRecord(sipUri('sips:bob@Example.com:5061;lr')), 'sips:bob@example.com:5061');
    assert.equal(addressOfRecord(sipUri('sip:user%40x@example.com')), 'sip:user%40x@example.com');
    assert.equal(escapeUser('al ice@x'), 'al%20ice%40x');
    assert.equal(formatSipUri({ user: 'alice', host: 'example.com', port: 5061, params: [['transport', 'tls']] }), 'sip:alice@example.com:5061;transport=tls');
  });
});

describe('name-addr', () => {
  it('reads quoted and token display names, bracketed and bare URIs', () => {
    const a = value(parseNameAddr('"Alice \\"A\\"" <sip:alice@example.com>;tag=88sja8x'));
    assert.equal(a.displayName, 'Alice "A"');
    assert.equal(a.displayNameQuoted, true);
    assert.equal(tagOf(a), '88sja8x');
    const b = value(parseNameAddr('Bob  Smith <sip:bob@example.com;transport=tcp> ; expires = 60'));
    assert.equal(b.displayName, 'Bob  Smith');
    assert.equal(paramValue(b.params, 'expires'), '60');
    const c = value(parseNameAddr('sip:carol@example.com;tag=1'));
    assert.equal(c.bracketed, false);
    assert.equal(tagOf(c), '1');
    const d = value(parseNameAddr('<sip:dave@example.com>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1'));
    assert.equal(paramValue(d.params, '+sip.instance'), '<urn:uuid:00000000-0000-1000-8000-000A95A0E128>');
    assert.equal(value(parseNameAddr('""<sip:e@example.com>')).displayName, '');
  });

  it('refuses what RFC 4475 calls malformed', () => {
    for (const bad of [
      'Bell, Alexander <sip:a@example.com>',
      '"Mr. J. User <sip:j.user@example.com>',
      '< sip:t.watson@example.org >',
      'sip:user@example.com?Route=%3Csip:x%3E',
      '"Joe" <sip:joe@example.org>;;;;',
      '<sip:a@example.com',
      '"x" sip:a@example.com',
      'sip:a @example.com',
      '<>',
      '',
    ]) {
      assert.equal(parseNameAddr(bad).ok, false, bad);
    }
  });

  it('lists and formatting', () => {
    const list = value(parseNameAddrList('<sip:a@x>;q=0.5, "B, b" <sip:b@y>'));
    assert.deepEqual(list.map((n) => n.displayName), [undefined, 'B, b']);
    assert.equal(formatNameAddr({ displayName: 'A "x"', uri: 'sip:a@x' }), '"A \\"x\\"" <sip:a@x>');
  });
});

describe('Via', () => {
  it('reads sent-protocol, sent-by and the parameters a transaction needs', () => {
    const v = value(parseVia('SIP / 2.0 / tcp  [2001:db8::9] : 5062 ;branch=z9hG4bK74bf9;received=[2001:db8::9:255];rport=5062;maddr=224.2.0.1'));
    assert.equal(v.transport, 'TCP');
    assert.equal(v.host, '[2001:db8::9]');
    assert.equal(v.port, 5062);
    assert.equal(v.branch, 'z9hG4bK74bf9');
    assert.equal(v.received, '[2001:db8::9:255]');
    assert.equal(v.rport, 5062);
    assert.equal(v.maddr, '224.2.0.1');
    assert.equal(value(parseVia('SIP/2.0/UDP 192.0.2.1;rport')).rport, true);
    assert.equal(value(parseVia('SIP/2.0/UDP 192.0.2.1;received=2001:db8::9:255')).received, '2001:db8::9:255');
    assert.equal(value(parseViaList('SIP/2.0/UDP a.example.com, SIP/2.0/TLS b.example.com:5061')).length, 2);
  });

  it('refuses broken Vias', () => {
    for (const bad of ['SIP/2.0/UDP', 'SIP/2.0 192.0.2.1', 'SIP/2.0/UDP192.0.2.1', 'SIP/2.0/UDP 192.0.2.15;;', 'SIP/2.0/UDP host:port', 'SIP/2.0/UDP h;rport=x', 'SIP/2.0/UDP h junk']) {
      assert.equal(parseVia(bad).ok, false, bad);
    }
    assert.equal(parseViaList('SIP/2.0/UDP 192.0.2.15;;,;,,').ok, false);
  });

  it('tells RFC 3261 branches from bare cookies', () => {
    assert.equal(isRfc3261Branch('z9hG4bK776'), true);
    assert.equal(isRfc3261Branch('z9hG4bK'), false);
    assert.equal(isRfc3261Branch('390skdjuw'), false);
    assert.equal(isRfc3261Branch(undefined), false);
  });
});

describe('CSeq and numbers', () => {
  it('parses CSeq within 32 bits', () => {
    assert.deepEqual(value(parseCSeq('0009 INVITE')), { seq: 9, method: 'INVITE' });
    assert.deepEqual(value(parseCSeq('4294967295 ACK')), { seq: 4294967295, method: 'ACK' });
    for (const bad of ['4294967296 ACK', '36893488147419103232 REGISTER', 'INVITE', '1', '1INVITE', '-1 INVITE', '1 IN VITE', '']) {
      assert.equal(parseCSeq(bad).ok, false, bad);
    }
  });

  it('clamps overlarge delta-seconds instead of overflowing', () => {
    assert.equal(parseDeltaSeconds('3600'), 3600);
    assert.equal(parseDeltaSeconds('1'.padEnd(100, '0')), 0xffffffff);
    assert.equal(parseDeltaSeconds('soon'), undefined);
    assert.equal(parseDeltaSeconds(undefined), undefined);
  });
});

describe('media types and Accept', () => {
  it('parses Content-Type', () => {
    const t = value(parseMediaType('Application/SDP ; charset=utf-8'));
    assert.equal(t.essence, 'application/sdp');
    assert.equal(paramValue(t.params, 'charset'), 'utf-8');
    assert.equal(parseMediaType('sdp').ok, false);
  });

  it('matches Accept with wildcards and q=0', () => {
    const sdp = 'application/sdp';
    assert.equal(value(accepts([], sdp)), true, 'no Accept means application/sdp');
    assert.equal(value(accepts([''], sdp)), false, 'an empty Accept accepts nothing');
    assert.equal(value(accepts(['text/nobodyKnowsThis'], sdp)), false);
    assert.equal(value(accepts(['*/*'], sdp)), true);
    assert.equal(value(accepts(['application/*'], sdp)), true);
    assert.equal(value(accepts(['application/*, application/sdp;q=0'], sdp)), false);
    assert.equal(value(accepts(['text/plain', 'application/sdp'], sdp)), true);
  });
});
