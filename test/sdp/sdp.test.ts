import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  answerDirection,
  direction,
  fmtp,
  getAttributes,
  mediaConnection,
  parseSdp,
  ptime,
  rtcp,
  rtcpMux,
  rtpMaps,
  serializeSdp,
  type SessionDescription,
} from '../../src/sdp/sdp.js';
import { BARESIP, BLINK, LINPHONE, sdp } from './fixtures.js';

function parsed(text: string): { sdp: SessionDescription; warnings: string[] } {
  const r = parseSdp(text);
  if (!r.ok) assert.fail(r.error);
  return { sdp: r.sdp, warnings: r.warnings };
}

function parseError(text: string): string {
  const r = parseSdp(text);
  assert.equal(r.ok, false, 'expected a parse error');
  if (r.ok) return '';
  assert.ok(!/[\r\n]/.test(r.error), 'error is one line');
  return r.error;
}

describe('parseSdp', () => {
  it('parses session-level lines and a media section', () => {
    const { sdp: s, warnings } = parsed(BARESIP);
    assert.deepEqual(warnings, []);
    assert.equal(s.version, 0);
    assert.deepEqual(s.origin, {
      username: '-',
      sessionId: '3718296164',
      sessionVersion: '2612917545',
      netType: 'IN',
      addrType: 'IP4',
      address: '127.0.0.1',
    });
    assert.equal(s.sessionName, '-');
    assert.deepEqual(s.connection, { netType: 'IN', addrType: 'IP4', address: '127.0.0.1' });
    assert.deepEqual(s.timing, [{ type: 't', value: '0 0' }]);
    assert.equal(s.media.length, 1);
    const m = s.media[0];
    assert.equal(m.media, 'audio');
    assert.equal(m.port, 20022);
    assert.equal(m.proto, 'RTP/SAVP');
    assert.deepEqual(m.formats, ['0', '101']);
    assert.deepEqual(m.bandwidths, ['AS:96']);
    assert.deepEqual(
      m.attributes.map((a) => a.name),
      ['rtpmap', 'rtpmap', 'fmtp', 'sendrecv', 'label', 'rtcp-rsize', 'ptime', 'crypto'],
    );
    assert.equal(m.attributes[3].value, null);
    assert.equal(m.attributes[4].value, '1');
  });

  it('keeps raw attribute values, including colons inside them', () => {
    const { sdp: s } = parsed(LINPHONE);
    assert.equal(
      getAttributes(s.attributes, 'rtcp-xr')[0].value,
      'rcvr-rtt=all:10000 stat-summary=loss,dup,jitt,TTL voip-metrics',
    );
    const crypto = getAttributes(s.media[0].attributes, 'crypto');
    assert.equal(crypto.length, 4);
    assert.match(crypto[0].value ?? '', /^1 AES_CM_128_HMAC_SHA1_80 inline:/);
  });

  it('accepts LF-only line ends and says so', () => {
    const { sdp: s, warnings } = parsed(BARESIP.replace(/\r\n/g, '\n'));
    assert.equal(s.media[0].port, 20022);
    assert.ok(warnings.some((w) => w.includes('LF')));
  });

  it('accepts a missing final line break and blank lines', () => {
    const { sdp: s } = parsed(BARESIP.trimEnd() + '\r\n\r\n');
    assert.equal(s.media[0].formats.length, 2);
    const { sdp: t } = parsed(BARESIP.trimEnd());
    assert.equal(t.media[0].formats.length, 2);
  });

  it('parses c= at media level, IP6, and multicast suffixes', () => {
    const text = sdp([
      'v=0',
      'o=- 1 1 IN IP6 2001:db8::1',
      's= ',
      't=0 0',
      'm=audio 5000 RTP/AVP 0',
      'c=IN IP6 2001:db8::2',
      'm=audio 5002/2 RTP/AVP 8',
      'c=IN IP4 233.252.0.1/127/3',
      'm=video 5010 RTP/AVP 96',
      'c=IN IP6 ff15::101/3',
    ]);
    const { sdp: s } = parsed(text);
    assert.equal(s.connection, undefined);
    assert.deepEqual(mediaConnection(s, s.media[0]), { netType: 'IN', addrType: 'IP6', address: '2001:db8::2' });
    assert.equal(s.media[1].portCount, 2);
    assert.deepEqual(s.media[1].connections[0], { netType: 'IN', addrType: 'IP4', address: '233.252.0.1', ttl: 127, count: 3 });
    assert.deepEqual(s.media[2].connections[0], { netType: 'IN', addrType: 'IP6', address: 'ff15::101', count: 3 });
  });

  it('media-level c= overrides the session one', () => {
    const { sdp: s } = parsed(sdp(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'm=audio 1 RTP/AVP 0', 'c=IN IP4 192.0.2.2']));
    assert.equal(mediaConnection(s, s.media[0])?.address, '192.0.2.2');
  });

  it('tolerates missing t= and empty s= with warnings, and keeps unknown line types', () => {
    const { sdp: s, warnings } = parsed(sdp(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=', 'c=IN IP4 192.0.2.1', 'x=extension', 'm=audio 1 RTP/AVP 0']));
    assert.ok(warnings.some((w) => w.includes('no t=')));
    assert.ok(warnings.some((w) => w.includes('empty s=')));
    assert.deepEqual(s.extra, [{ type: 'x', value: 'extension' }]);
  });

  const bad: ReadonlyArray<[string, string, RegExp]> = [
    ['empty body', '', /body is empty/],
    ['no v=', sdp(['o=- 1 1 IN IP4 192.0.2.1', 's=-']), /line 1: an SDP body must start with "v=0"/],
    ['v=1', sdp(['v=1']), /line 1: only SDP version 0 exists/],
    ['no o=', sdp(['v=0', 's=-', 't=0 0']), /no o= line/],
    ['short o=', sdp(['v=0', 'o=- 1 IN IP4 192.0.2.1', 's=-']), /line 2: o= needs 6 fields/],
    ['o= with letters in sess-id', sdp(['v=0', 'o=- abc 1 IN IP4 192.0.2.1', 's=-']), /line 2: o= sess-id must be digits/],
    ['garbage line', sdp(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'hello']), /line 4: expected "<letter>=<value>", got "hello"/],
    ['short m=', sdp(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 'm=audio']), /line 5: m= needs/],
    ['m= port text', sdp(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 'm=audio x RTP/AVP 0']), /line 5: m= port must be a number/],
    ['m= port too big', sdp(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 'm=audio 70000 RTP/AVP 0']), /m= port 70000 is above 65535/],
    ['m= without formats', sdp(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 'm=audio 5000 RTP/AVP']), /lists no formats/],
    ['bad c=', sdp(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4']), /line 4: c= needs/],
    ['no c= anywhere', sdp(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 't=0 0', 'm=audio 5000 RTP/AVP 0']), /has no c= line/],
    ['o= inside media', sdp(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 'm=audio 5000 RTP/AVP 0', 'o=- 1 1 IN IP4 192.0.2.1']), /line 6: o= is a session-level line/],
    ['two v=', sdp(['v=0', 'v=0']), /line 2: a second v= line/],
  ];
  for (const [name, text, expected] of bad) {
    it(`rejects ${name} with a precise one-line error`, () => {
      assert.match(parseError(text), expected);
    });
  }

  it('never lets control characters into the error line', () => {
    const err = parseError('v=0\r\no=\u0000\u0007 bad\r\n');
    assert.ok(!/[\u0000-\u001f]/.test(err));
  });

  it('refuses bodies above the size limit without scanning them', () => {
    assert.match(parseError('v=0\r\n' + 'a=x\r\n'.repeat(20000)), /above the 65536 limit/);
  });
});

describe('serializeSdp', () => {
  it('round-trips a parsed description', () => {
    for (const text of [BARESIP, BLINK, LINPHONE]) {
      const { sdp: s } = parsed(text);
      const again = serializeSdp(s);
      assert.deepEqual(parsed(again).sdp, s);
    }
  });

  it('writes CRLF and "s= " for an empty session name', () => {
    const { sdp: s } = parsed(sdp(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=', 'c=IN IP4 192.0.2.1', 't=0 0']));
    const out = serializeSdp(s);
    assert.ok(out.endsWith('\r\n'));
    assert.ok(!/[^\r]\n/.test(out));
    assert.match(out, /\r\ns= \r\n/);
  });
});

describe('accessors', () => {
  it('rtpMaps: explicit rtpmap first, static payload table otherwise', () => {
    const { sdp: s } = parsed(BLINK);
    const maps = rtpMaps(s.media[0]);
    assert.deepEqual(maps.get('113'), { payloadType: 113, encoding: 'opus', clockRate: 48000, channels: 2 });
    assert.deepEqual(maps.get('9'), { payloadType: 9, encoding: 'G722', clockRate: 8000 });
    const { sdp: l } = parsed(LINPHONE);
    // LINPHONE lists 0, 8 and 18 without rtpmap: the static table fills them in (RFC 3551 §6).
    assert.equal(rtpMaps(l.media[0]).get('18')?.encoding, 'G729');
    assert.equal(rtpMaps(l.media[0]).get('0')?.encoding, 'PCMU');
  });

  it('fmtp, ptime, rtcp, rtcp-mux, direction', () => {
    const { sdp: s } = parsed(BLINK);
    const m = s.media[0];
    assert.equal(fmtp(m, '101'), '0-16');
    assert.equal(fmtp(m, '113'), 'useinbandfec=1');
    assert.equal(fmtp(m, '0'), undefined);
    assert.equal(ptime(m), undefined);
    assert.deepEqual(rtcp(m), { port: 50001 });
    assert.equal(rtcpMux(m), false);
    assert.equal(direction(m, s), 'sendrecv');
    const { sdp: b } = parsed(BARESIP);
    assert.equal(ptime(b.media[0], b), 20);
  });

  it('direction: media overrides session; default sendrecv; answer mirrors (RFC 3264 §6.1)', () => {
    const { sdp: s } = parsed(
      sdp(['v=0', 'o=- 1 1 IN IP4 192.0.2.1', 's=-', 'c=IN IP4 192.0.2.1', 't=0 0', 'a=sendonly', 'm=audio 1 RTP/AVP 0', 'm=audio 2 RTP/AVP 0', 'a=inactive', 'a=rtcp-mux', 'a=rtcp:9 IN IP4 192.0.2.9']),
    );
    assert.equal(direction(s.media[0], s), 'sendonly');
    assert.equal(direction(s.media[1], s), 'inactive');
    assert.equal(direction(s.media[0]), 'sendrecv');
    assert.equal(rtcpMux(s.media[1]), true);
    assert.deepEqual(rtcp(s.media[1]), { port: 9, connection: { netType: 'IN', addrType: 'IP4', address: '192.0.2.9' } });
    assert.equal(answerDirection('sendonly'), 'recvonly');
    assert.equal(answerDirection('recvonly'), 'sendonly');
    assert.equal(answerDirection('inactive'), 'inactive');
    assert.equal(answerDirection('sendrecv'), 'sendrecv');
  });
});
