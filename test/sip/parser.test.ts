/**
 * Parser and stream framer behaviour beyond the corpus: header folding and
 * compact forms, limits and the status each one answers, keep-alives,
 * fatal framing errors.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDatagram, type ParseResult } from '../../src/sip/message/index.js';
import { PING, PONG, StreamFramer } from '../../src/sip/transport/index.js';
import { summarize } from './helpers.js';

const CRLF = '\r\n';

function msg(lines: string[], body = ''): string {
  return lines.join(CRLF) + CRLF + CRLF + body;
}

const OPTIONS = [
  'OPTIONS sip:registrar.example.com SIP/2.0',
  'Via: SIP/2.0/TLS 192.0.2.4:5061;branch=z9hG4bK776asdhds',
  'Max-Forwards: 70',
  'To: <sip:registrar.example.com>',
  'From: <sip:alice@example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.example.com',
  'CSeq: 63104 OPTIONS',
];

function failed(r: ParseResult): { status: number | 'drop'; close: boolean; reason: string } {
  assert.ok(!r.ok, 'expected a failure');
  return { status: r.reaction.action === 'drop' ? 'drop' : r.reaction.status, close: r.close, reason: r.reason };
}

describe('parseDatagram', () => {
  it('parses a request with compact headers, case-insensitive names and folding', () => {
    const r = parseDatagram(
      msg([
        'REGISTER sip:example.com SIP/2.0',
        'v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx',
        't: <sip:a@example.com>',
        'F: <sip:a@example.com>;tag=1',
        'i: abc',
        'CSEQ: 1',
        '\tREGISTER',
        'm: <sip:a@192.0.2.1>',
        'k: path, outbound',
        'l: 4',
      ], 'ab\r\n'),
    );
    assert.ok(r.ok);
    const m = r.message;
    assert.equal(m.headers.first('Via'), 'SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx');
    assert.equal(m.headers.first('CALL-ID'), 'abc');
    assert.equal(m.headers.first('cseq'), '1 REGISTER');
    assert.deepEqual(m.headers.list('supported'), { ok: true, value: ['path', 'outbound'] });
    assert.equal(m.body.toString(), 'ab\r\n');
    assert.equal(r.ignoredBytes, 0);
  });

  it('accepts bare LF line ends and leading CRLFs', () => {
    const r = parseDatagram('\r\n\r\n' + msg(OPTIONS).replaceAll('\r\n', '\n'));
    assert.ok(r.ok);
    assert.equal(r.message.headers.size, 6);
  });

  it('a datagram of only CRLFs is a keep-alive, dropped', () => {
    const r = parseDatagram('\r\n\r\n');
    assert.equal(failed(r).status, 'drop');
    assert.match(failed(r).reason, /keep-alive/);
  });

  it('refuses header lines without a colon, invalid names, a continuation first, a bare CR', () => {
    for (const bad of ['Bogus line', 'Bad Name: x', ' folded: first', 'X-A: a\rb']) {
      const lines = [...OPTIONS];
      lines.splice(1, 0, bad);
      assert.equal(failed(parseDatagram(msg(lines))).status, 400, bad);
    }
  });

  it('drops non-SIP input and responses it cannot read', () => {
    assert.equal(failed(parseDatagram('GET / HTTP/1.1\r\nHost: x\r\n\r\n')).status, 'drop');
    assert.equal(failed(parseDatagram('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03')).status, 'drop');
    assert.equal(failed(parseDatagram(msg(['SIP/2.0 99 Too Low', 'Via: SIP/2.0/UDP h']))).status, 'drop');
    assert.equal(failed(parseDatagram(msg(['SIP/3.0 200 OK', 'Via: SIP/2.0/UDP h']))).status, 'drop');
  });

  it('never answers an ACK', () => {
    const r = parseDatagram(msg(['ACK  sip:a@example.com SIP/2.0', 'Via: SIP/2.0/UDP h;branch=z9hG4bK1']));
    assert.equal(failed(r).status, 'drop');
  });

  describe('limits and the status each one answers', () => {
    it('413 when Content-Length exceeds maxBodyBytes', () => {
      const r = parseDatagram(msg([...OPTIONS, 'Content-Length: 70000']));
      assert.equal(failed(r).status, 413);
    });

    it('513 when the whole message exceeds maxMessageBytes', () => {
      const body = 'x'.repeat(900);
      const r = parseDatagram(msg([...OPTIONS, `Content-Length: ${body.length}`], body), { limits: { maxMessageBytes: 1000 } });
      assert.equal(failed(r).status, 513);
    });

    it('414 when the Request-URI exceeds maxLineBytes', () => {
      const lines = [...OPTIONS];
      lines[0] = `OPTIONS sip:${'a'.repeat(9000)}@example.com SIP/2.0`;
      assert.equal(failed(parseDatagram(msg(lines))).status, 414);
    });

    it('400 for a header field longer than maxLineBytes, even folded', () => {
      const long = ['X-Long: a', ...Array.from({ length: 100 }, () => ` ${'b'.repeat(100)}`)];
      const r = parseDatagram(msg([...OPTIONS, ...long]));
      assert.equal(failed(r).status, 400);
      assert.match(failed(r).reason, /longer than 8192/);
    });

    it('400 for more than maxHeaders header fields', () => {
      const many = Array.from({ length: 130 }, (_, i) => `X-H${i}: ${i}`);
      const r = parseDatagram(msg([...OPTIONS, ...many]));
      assert.equal(failed(r).status, 400);
      assert.match(failed(r).reason, /more than 128 header fields/);
    });

    it('limits are configurable', () => {
      const many = Array.from({ length: 130 }, (_, i) => `X-H${i}: ${i}`);
      assert.ok(parseDatagram(msg([...OPTIONS, ...many]), { limits: { maxHeaders: 200 } }).ok);
    });
  });

  it('Content-Length: duplicates, negative and non-numeric values are 400', () => {
    for (const cl of [['Content-Length: 0', 'l: 0'], ['Content-Length: -1'], ['Content-Length: five'], ['Content-Length: 1 2']]) {
      assert.equal(failed(parseDatagram(msg([...OPTIONS, ...cl]))).status, 400, cl.join());
    }
  });

  it('a header section cut short without an empty line is 400', () => {
    assert.equal(failed(parseDatagram(OPTIONS.join(CRLF))).status, 400);
  });
});

describe('StreamFramer', () => {
  const one = Buffer.from(msg([...OPTIONS, 'Content-Length: 5'], 'hello'));

  it('frames pipelined messages by Content-Length, in any chunking', () => {
    const two = Buffer.concat([one, one]);
    for (const size of [1, 2, 7, 64, two.length]) {
      const f = new StreamFramer();
      const out: ParseResult[] = [];
      for (let i = 0; i < two.length; i += size) {
        for (const e of f.push(two.subarray(i, i + size))) if (e.type === 'message') out.push(e.result);
      }
      assert.equal(out.length, 2, `chunk ${size}`);
      for (const r of out) assert.ok(r.ok && r.message.body.toString() === 'hello');
      assert.equal(f.midMessage, false);
      assert.equal(f.buffered, 0);
    }
  });

  it('answers a double-CRLF ping between messages (RFC 5626 §3.5.1), even split byte by byte', () => {
    const f = new StreamFramer();
    const events = [...PING].flatMap((b) => f.push(Buffer.from([b])));
    assert.deepEqual(events, [{ type: 'ping' }]);
    assert.equal(PONG.toString(), '\r\n');
    const mixed = Buffer.concat([one, PING, one, PING, PING]);
    assert.deepEqual(
      summarize(new StreamFramer().push(mixed)).map((e) => (typeof e === 'string' ? e : e.outcome)),
      ['ok', 'ping', 'ok', 'ping', 'ping'],
    );
  });

  it('ignores a lone CRLF before a message (RFC 3261 §7.5)', () => {
    const f = new StreamFramer();
    assert.deepEqual(f.push(Buffer.from('\r\n')), []);
    assert.equal(f.midMessage, false);
    const events = f.push(one);
    assert.equal(events.length, 1);
    assert.equal(events[0]!.type, 'message');
  });

  it('in the client role every CRLF is a pong', () => {
    const f = new StreamFramer({ role: 'client' });
    assert.deepEqual(f.push(PONG), [{ type: 'pong' }]);
    assert.deepEqual(f.push(Buffer.concat([PONG, one])).map((e) => e.type), ['pong', 'message']);
  });

  it('a CRLF inside a message is not a ping', () => {
    const f = new StreamFramer();
    const events = f.push(Buffer.from(msg([...OPTIONS, 'Content-Length: 4'], '\r\n\r\n')));
    assert.equal(events.length, 1);
    assert.equal(events[0]!.type, 'message');
  });

  it('closes on a bad, negative or duplicated Content-Length, and refuses more input', () => {
    for (const cl of [['Content-Length: -5'], ['Content-Length: x'], ['l: 1', 'l: 1']]) {
      const f = new StreamFramer();
      const events = f.push(Buffer.from(msg([...OPTIONS, ...cl])));
      assert.equal(events.length, 1);
      const r = events[0]!.type === 'message' ? events[0]!.result : undefined;
      assert.ok(r && !r.ok && r.close, cl.join());
      assert.equal(r.reaction.action === 'respond' && r.reaction.status, 400);
      assert.equal(r.partial?.kind, 'request');
      assert.equal(f.closed, true);
      assert.deepEqual(f.push(one), []);
    }
  });

  it('closes when Content-Length is missing, unless told to assume 0', () => {
    const noCl = Buffer.from(msg(OPTIONS));
    const r = new StreamFramer().push(noCl)[0];
    assert.ok(r?.type === 'message' && !r.result.ok && r.result.close);
    const lenient = new StreamFramer({ requireContentLength: false }).push(noCl)[0];
    assert.ok(lenient?.type === 'message' && lenient.result.ok);
  });

  it('closes on non-SIP input at once, without waiting for an empty line', () => {
    for (const junk of ['\x16\x03\x01\x00\xa5\x01', 'GET / HTTP/1.1\r\n', '\r\x00']) {
      const f = new StreamFramer();
      const events = f.push(Buffer.from(junk, 'latin1'));
      assert.equal(events.length, 1, JSON.stringify(junk));
      assert.ok(events[0]!.type === 'message' && !events[0]!.result.ok && events[0]!.result.close);
      assert.equal(f.closed, true);
    }
  });

  it('413 and close when Content-Length exceeds the body limit', () => {
    const f = new StreamFramer();
    const [e] = f.push(Buffer.from(msg([...OPTIONS, 'Content-Length: 100000'])));
    assert.ok(e?.type === 'message' && !e.result.ok && e.result.close);
    assert.equal(e.result.reaction.action === 'respond' && e.result.reaction.status, 413);
  });

  it('513 and close when the header section never ends within maxMessageBytes', () => {
    const f = new StreamFramer({ limits: { maxMessageBytes: 2048 } });
    const events = f.push(Buffer.from(OPTIONS.join(CRLF) + CRLF + 'X-Pad: ' + 'p'.repeat(3000)));
    assert.equal(events.length, 1);
    const r = events[0]!.type === 'message' ? events[0]!.result : undefined;
    assert.ok(r && !r.ok && r.close);
    assert.equal(r.reaction.action === 'respond' && r.reaction.status, 513);
    assert.equal(r.partial?.kind, 'request');
  });

  it('keeps the connection on errors that leave the framing intact', () => {
    const bad = Buffer.from(msg(['OPTIONS  sip:x@example.com SIP/2.0', ...OPTIONS.slice(1), 'Content-Length: 0']));
    const events = new StreamFramer().push(Buffer.concat([bad, one]));
    assert.equal(events.length, 2);
    const [a, b] = events.map((e) => (e.type === 'message' ? e.result : undefined));
    assert.ok(a && !a.ok && !a.close && a.reaction.action === 'respond' && a.reaction.status === 400);
    assert.ok(b?.ok);
  });

  it('copies bodies out of its reusable buffer', () => {
    const f = new StreamFramer();
    const [e] = f.push(one);
    assert.ok(e?.type === 'message' && e.result.ok);
    const body = e.result.message.body;
    f.push(Buffer.from(msg([...OPTIONS, 'Content-Length: 5'], 'XXXXX')));
    assert.equal(body.toString(), 'hello');
  });
});
