/**
 * RFC 4475 torture messages, read byte-exact from the shared corpus:
 * every file gets the reaction its README lists, as a datagram and through
 * the stream framer (whole, byte by byte, random chunks), and the
 * well-formed ones parse to the fields the RFC describes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addressOfRecord, isSipUri, parseDatagram, parseSipUri, paramValue, sipUriEquals, tagOf, unescape, unescapeBinary, uriParam, validateRequest, validateResponse, type ContactList, type NameAddr, type ParseResult, type SipMessage, type SipRequest, type SipResponse, type SipUri, type Uri } from '../../src/sip/message/index.js';
import { DigestAuthenticator } from '../../src/auth/index.js';
import { StreamFramer } from '../../src/sip/transport/index.js';
import { corpus, dat, datagramOutcome, feed, prng, randInt, summarize, type EventSummary, type Outcome } from './helpers.js';

/** Reaction per file as a UAS/registrar (the README tables). */
const EXPECTED: Record<string, Outcome> = {
  // §3.1.1 well-formed
  wsinv: 'ok',
  intmeth: 501, // parses; unknown method
  esc01: 'ok',
  escnull: 'ok',
  esc02: 501, // parses; RE%47IST%45R is an unknown method
  lwsdisp: 'ok',
  longreq: 'ok',
  dblreq: 'ok',
  semiuri: 'ok',
  transports: 'ok',
  mpart01: 'ok',
  unreason: 'ok',
  noreason: 'ok',
  // §3.1.2 malformed
  badinv01: 400,
  clerr: 400,
  ncl: 400,
  scalar02: 400,
  scalarlg: 'drop',
  quotbal: 400,
  ltgtruri: 400,
  lwsruri: 400,
  lwsstart: 400, // "may reject": rejected
  trws: 400, // "may reject": rejected
  escruri: 400, // "may reject": rejected, never turned into headers
  baddate: 'ok', // "may reject": Date is never read, accepted
  regbadct: 400,
  badaspec: 400,
  baddn: 400,
  badvers: 505,
  mismatch01: 400,
  mismatch02: 501,
  bigcode: 'drop',
  // §3.2-3.4 transaction and application layer
  badbranch: 'ok', // "400 acceptable": processed
  insuf: 400,
  unkscm: 416,
  novelsc: 416,
  unksm2: 'ok', // parses; the registrar refuses the non-SIP Contact
  bext01: 420,
  invut: 415,
  regaut01: 'ok', // the authenticator then challenges (below)
  multi01: 400,
  mcl01: 400,
  bcast: 'drop',
  zeromf: 'ok', // as a UAS; 483 as a proxy (below)
  cparam01: 'ok',
  cparam02: 'ok',
  regescrt: 'ok',
  sdp01: 406,
  inv2543: 'ok',
};

const WELL_FORMED = ['wsinv', 'intmeth', 'esc01', 'escnull', 'esc02', 'lwsdisp', 'longreq', 'dblreq', 'semiuri', 'transports', 'mpart01', 'unreason', 'noreason'];

function parsed(name: string): SipMessage {
  const r = parseDatagram(dat(name));
  assert.ok(r.ok, `${name}: ${r.ok ? '' : r.reason}`);
  return r.message;
}

function request(name: string): SipRequest {
  const m = parsed(name);
  assert.equal(m.kind, 'request');
  return m as SipRequest;
}

function response(name: string): SipResponse {
  const m = parsed(name);
  assert.equal(m.kind, 'response');
  return m as SipResponse;
}

function value<T>(r: { ok: true; value: T } | { ok: false; error: string }): T {
  if (!r.ok) assert.fail(r.error);
  return r.value;
}

function sip(u: Uri): SipUri {
  assert.ok(isSipUri(u), `${u.raw} is not a SIP URI`);
  return u;
}

function contactList(m: SipMessage): readonly NameAddr[] {
  const c: ContactList = value(m.contacts());
  assert.notEqual(c, '*');
  return c as readonly NameAddr[];
}

describe('RFC 4475 corpus', () => {
  it('has the 49 files and an expectation for each', () => {
    const names = [...corpus().keys()];
    assert.equal(names.length, 49);
    assert.deepEqual(names.sort(), Object.keys(EXPECTED).sort());
  });

  describe('as datagrams', () => {
    for (const [name, expected] of Object.entries(EXPECTED)) {
      it(`${name}: ${expected}`, () => {
        assert.equal(datagramOutcome(dat(name)), expected);
      });
    }

    it('well-formed messages parse', () => {
      for (const name of WELL_FORMED) assert.ok(parseDatagram(dat(name)).ok, name);
    });

    it('malformed requests carry the partial message to answer from, with Via copied', () => {
      for (const name of ['lwsruri', 'lwsstart', 'trws', 'badvers', 'clerr', 'ncl', 'mcl01']) {
        const r = parseDatagram(dat(name));
        assert.ok(!r.ok);
        assert.equal(r.partial?.kind, 'request', name);
        assert.ok(r.partial.headers.has('via'), name);
        assert.equal(r.reason.includes('\n'), false);
      }
    });
  });

  describe('through the stream framer', () => {
    /** Stream outcomes that differ from the datagram ones, and why. */
    const STREAM: Record<string, EventSummary[]> = {
      // Content-Length 9999: wait for the rest (the transport's timer closes).
      clerr: [],
      // The file ends without the empty line: still waiting for it.
      baddn: [],
      // Both messages of the datagram, then the 5 octets the INVITE's
      // Content-Length leaves ("C\r\n\r\n") are not SIP: close.
      dblreq: [
        { outcome: 'ok', close: false, method: 'REGISTER' },
        { outcome: 'ok', close: false, method: 'INVITE' },
        { outcome: 'drop', close: true },
      ],
      // Content-Length is mandatory on streams (RFC 3261 §18.3).
      inv2543: [{ outcome: 400, close: true, method: 'INVITE' }],
      ncl: [{ outcome: 400, close: true, method: 'INVITE' }],
      mcl01: [{ outcome: 400, close: true, method: 'OPTIONS' }],
    };

    function expectedStream(name: string): EventSummary[] {
      const special = STREAM[name];
      if (special) return special;
      const m = parseDatagram(dat(name));
      const s: EventSummary = { outcome: EXPECTED[name]!, close: false };
      const msg = m.ok ? m.message : m.partial;
      if (msg?.kind === 'request') s.method = msg.method;
      if (msg?.kind === 'response') s.status = msg.status;
      return [s];
    }

    for (const name of Object.keys(EXPECTED)) {
      it(`${name}: whole, byte by byte and in random chunks`, () => {
        const buf = dat(name);
        const want = expectedStream(name);
        assert.deepEqual(summarize(feed(buf, () => buf.length).events), want, 'whole');
        assert.deepEqual(summarize(feed(buf, () => 1).events), want, 'byte by byte');
        for (let seed = 1; seed <= 20; seed++) {
          const rand = prng(seed * 7919 + name.length);
          assert.deepEqual(summarize(feed(buf, () => randInt(rand, 1, 97)).events), want, `seed ${seed}`);
        }
      });
    }

    it('clerr waits mid-message for the missing body', () => {
      const { framer, events } = feed(dat('clerr'), () => 13);
      assert.equal(events.length, 0);
      assert.equal(framer.midMessage, true);
      assert.equal(framer.closed, false);
    });

    it('baddn is answered 400 once its missing empty line arrives', () => {
      const { framer } = feed(dat('baddn'), () => 1);
      const events = framer.push(Buffer.from('\r\n'));
      assert.deepEqual(summarize(events), [{ outcome: 400, close: false, method: 'OPTIONS' }]);
    });

    it('frames every well-framed file back to back, with pings between', () => {
      const skip = new Set(Object.keys(STREAM));
      const names = Object.keys(EXPECTED).filter((n) => !skip.has(n));
      const parts: Buffer[] = [];
      const want: EventSummary[] = [];
      for (const n of names) {
        parts.push(dat(n), Buffer.from('\r\n\r\n'));
        want.push(...expectedStream(n), 'ping');
      }
      const all = Buffer.concat(parts);
      for (let seed = 1; seed <= 5; seed++) {
        const rand = prng(seed);
        const { framer, events } = feed(all, () => randInt(rand, 1, 600));
        assert.deepEqual(summarize(events), want);
        assert.equal(framer.midMessage, false);
      }
    });
  });

  describe('well-formed messages have the fields RFC 4475 describes', () => {
    it('wsinv: folding, escaped quotes, empty Subject, odd LWS, unknown headers kept in order', () => {
      const m = request('wsinv');
      assert.equal(m.method, 'INVITE');
      assert.equal(m.uri, 'sip:vivekg@chair-dnrc.example.com;unknownparam');
      assert.ok(uriParam(sip(value(m.requestUri())).params, 'unknownparam'));
      assert.equal(m.headers.first('subject'), '');
      assert.equal(m.headers.first('s'), '');
      assert.equal(m.headers.first('NewFangledHeader'), 'newfangled value continued newfangled value');
      assert.equal(m.headers.first('unknownheaderwithunusualvalue'), ';;,,;;,;');
      assert.deepEqual(
        m.headers.fields().map((f) => f.name),
        ['TO', 'from', 'MaX-fOrWaRdS', 'Call-ID', 'Content-Length', 'cseq', 'Via', 's', 'NewFangledHeader', 'UnknownHeaderWithUnusualValue', 'Content-Type', 'Route', 'v', 'm'],
      );
      const to = value(m.to());
      assert.equal(tagOf(to), '1918181833n');
      assert.equal(to.bracketed, false);
      const from = value(m.from());
      assert.equal(from.displayName, 'J Rosenberg \\"');
      assert.equal(tagOf(from), '98asjd8');
      assert.equal(value(m.maxForwards()), 68);
      assert.deepEqual(value(m.cseq()), { seq: 9, method: 'INVITE' });
      const vias = value(m.vias());
      assert.deepEqual(
        vias.map((v) => [v.transport, v.host, v.branch]),
        [
          ['UDP', '192.0.2.2', '390skdjuw'],
          ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
          ['UDP', '192.168.255.111', 'z9hG4bK30239'],
        ],
      );
      const [contact] = contactList(m);
      assert.equal(contact!.displayName, 'Quoted string ""');
      assert.equal(paramValue(contact!.params, 'newparam'), 'newvalue');
      assert.equal(paramValue(contact!.params, 'secondparam'), '');
      assert.equal(paramValue(contact!.params, 'q'), '0.33');
      assert.equal(m.body.length, 150);
    });

    it('intmeth: unusual tokens, a quoted NUL in the display name, an unknown method', () => {
      const m = request('intmeth');
      assert.equal(m.method, "!interesting-Method0123456789_*+`.%indeed'~");
      const ruri = sip(value(m.requestUri()));
      assert.equal(ruri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
      assert.equal(ruri.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
      assert.equal(ruri.host, 'example.com');
      const to = value(m.to());
      assert.equal(to.displayName, 'BEL:\x07 NUL:\x00 DEL:\x7f');
      assert.equal(sip(to.uri).user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
      const from = value(m.from());
      assert.equal(from.displayName, "token1~` token2'+_ token3*%!.-");
      assert.equal(tagOf(from), "_token~1'+`*%!-.");
      assert.equal(paramValue(from.params, "fromparam''~+*_!.-%"), '\u0440\u0430\u0431\u043e\u0442\u0430\u044e\u0449\u0438\u0439');
      assert.equal(value(m.callId()), "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
      assert.equal(value(m.vias())[0]!.branch, "z9hG4bK-.!%66*_+`'~");
      assert.equal(m.headers.first("extensionHeader-!.%*+_`'~"), '\ufeff\u5927\u505c\u96fb');
      assert.equal(value(m.cseq()).method, m.method);
      const v = validateRequest(m);
      assert.ok(!v.ok && v.reaction.action === 'respond' && v.reaction.status === 501);
    });

    it('esc01: escapes kept as received, compared after one unescape, never two', () => {
      const m = request('esc01');
      const ruri = sip(value(m.requestUri()));
      assert.equal(ruri.user, 'sips%3Auser%40example.com');
      assert.equal(unescape(ruri.user!), 'sips:user@example.com');
      assert.equal(ruri.host, 'example.net');
      const to = sip(value(m.to()).uri);
      assert.ok(sipUriEquals(to, value(parseSipUri('sip:user@example.com'))));
      const from = sip(value(m.from()).uri);
      assert.equal(unescape(from.user!), 'I have spaces');
      const [contact] = contactList(m);
      const c = sip(contact!.uri);
      assert.equal(c.user, 'cal%6Cer');
      assert.ok(uriParam(c.params, 'lr'), '%6C%72 is the lr parameter');
      const name = uriParam(c.params, 'name');
      assert.equal(name?.value, 'v%61lue%25%34%31');
      assert.equal(unescape(name!.value!), 'value%41');
      assert.ok(sipUriEquals(c, value(parseSipUri('sip:caller@host5.example.net;lr;name=value%2541'))));
      assert.ok(!sipUriEquals(c, value(parseSipUri('sip:caller@host5.example.net;lr;name=valueA'))));
    });

    it('escnull: %00 kept in the user part, two distinct contacts', () => {
      const m = request('escnull');
      const to = sip(value(m.to()).uri);
      assert.equal(to.user, 'null-%00-null');
      assert.equal(unescapeBinary(to.user!), 'null-\0-null');
      const contacts = contactList(m);
      assert.equal(contacts.length, 2);
      const [a, b] = contacts.map((c) => sip(c.uri));
      assert.ok(!sipUriEquals(a!, b!));
      assert.equal(addressOfRecord(a!), 'sip:%00@host5.example.com');
      assert.equal(addressOfRecord(b!), 'sip:%00%00@host5.example.com');
      assert.equal(addressOfRecord(to), 'sip:null-%00-null@example.com');
    });

    it('esc02: % is not an escape in a method or header name', () => {
      const m = request('esc02');
      assert.equal(m.method, 'RE%47IST%45R');
      assert.deepEqual(
        contactList(m).map((c) => sip(c.uri).host),
        ['host1.example.com', 'host3.example.com'],
      );
      assert.equal(m.headers.first('C%6Fntact'), '<sip:alias2@host2.example.com>');
      assert.equal(value(m.to()).displayName, '%Z%45');
      assert.equal(value(m.vias())[0]!.branch, 'z9hG4bK209%fzsnel234');
    });

    it('lwsdisp: no space between display name and <', () => {
      const from = value(request('lwsdisp').from());
      assert.equal(from.displayName, 'caller');
      assert.equal(sip(from.uri).user, 'caller');
    });

    it('longreq: long values, 34 Vias under every spelling of Via', () => {
      const m = request('longreq');
      const vias = value(m.vias());
      assert.equal(vias.length, 34);
      assert.deepEqual(vias.slice(0, 3).map((v) => v.host), ['sip33.example.com', 'sip32.example.com', 'sip31.example.com']);
      assert.equal(vias[33]!.received, '192.0.2.5');
      assert.ok(vias[33]!.branch!.length > 200);
      const to = value(m.to());
      assert.ok(to.displayName!.includes('extremeextreme'));
      assert.equal(sip(to.uri).port, 6000);
      assert.ok(tagOf(value(m.from()))!.length > 150);
      assert.equal(m.body.length, 150);
    });

    it('dblreq: bytes after the Content-Length body of a datagram are ignored', () => {
      const r = parseDatagram(dat('dblreq'));
      assert.ok(r.ok);
      assert.equal(r.message.kind === 'request' && r.message.method, 'REGISTER');
      assert.equal(r.message.body.length, 0);
      assert.ok(r.ignoredBytes > 400);
      assert.equal(value(r.message.callId()), 'dblreq.0ha0isndaksdj99sdfafnl3lk233412');
    });

    it('semiuri: ; inside the user part', () => {
      const m = request('semiuri');
      const u = sip(value(m.requestUri()));
      assert.equal(u.user, 'user;par=u%40example.net');
      assert.equal(unescape(u.user!), 'user;par=u@example.net');
      assert.equal(u.host, 'example.com');
      assert.equal(u.params.length, 0);
      assert.equal(value(m.headers.list('accept')).length, 6);
    });

    it('transports: unknown Via transports are kept', () => {
      assert.deepEqual(
        value(request('transports').vias()).map((v) => v.transport),
        ['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP'],
      );
    });

    it('mpart01: a binary multipart body framed by Content-Length', () => {
      const buf = dat('mpart01');
      const m = request('mpart01');
      assert.equal(m.body.length, 553);
      assert.ok(m.body.equals(buf.subarray(buf.length - 553)));
      assert.ok(m.body.includes(0));
      const ct = value(m.contentType());
      assert.equal(ct?.essence, 'multipart/mixed');
      assert.equal(paramValue(ct!.params, 'boundary'), '7a9cbec02ceef655');
      assert.equal(value(m.vias())[0]!.rport, true);
    });

    it('unreason: a UTF-8 reason phrase', () => {
      const m = response('unreason');
      assert.equal(m.status, 200);
      assert.ok(m.reason.startsWith('= 2**3 * 5**2 '));
      assert.ok(/[\u0400-\u04ff]/.test(m.reason));
      assert.equal(m.body.length, 154);
    });

    it('noreason: an empty reason phrase', () => {
      const m = response('noreason');
      assert.equal(m.status, 100);
      assert.equal(m.reason, '');
    });
  });

  describe('transaction and application layer', () => {
    it('cparam01: ;unknownparam after a bare URI is a header parameter', () => {
      const [c] = contactList(request('cparam01'));
      assert.equal(c!.bracketed, false);
      assert.equal(sip(c!.uri).params.length, 0);
      assert.equal(paramValue(c!.params, 'unknownparam'), '');
    });

    it('cparam02: ;unknownparam inside <> is a URI parameter', () => {
      const [c] = contactList(request('cparam02'));
      assert.equal(c!.bracketed, true);
      assert.ok(uriParam(sip(c!.uri).params, 'unknownparam'));
      assert.equal(c!.params.length, 0);
    });

    it('regescrt: the escaped Route stays inside the Contact URI, stored as given', () => {
      const m = request('regescrt');
      const [c] = contactList(m);
      assert.equal(sip(c!.uri).headers, 'Route=%3Csip:sip.example.com%3E');
      assert.equal(c!.raw, '<sip:user@example.com?Route=%3Csip:sip.example.com%3E>');
      assert.equal(m.headers.has('route'), false);
    });

    it('unksm2: non-SIP URIs parse, so the registrar can see and refuse them', () => {
      const m = request('unksm2');
      assert.equal(value(m.to()).uri.scheme, 'isbn');
      assert.equal(value(m.from()).uri.scheme, 'http');
      const [c] = contactList(m);
      assert.equal(c!.uri.scheme, 'name');
      assert.equal(isSipUri(c!.uri), false);
    });

    it('bext01: 420 lists the unknown Require tags (UAS) or Proxy-Require tags (proxy)', () => {
      const m = request('bext01');
      const uas = validateRequest(m);
      assert.ok(!uas.ok && uas.reaction.action === 'respond');
      assert.equal(uas.reaction.status, 420);
      assert.deepEqual(uas.reaction.headers, [['Unsupported', 'nothingSupportsThis, nothingSupportsThisEither']]);
      const proxy = validateRequest(m, { proxy: true });
      assert.ok(!proxy.ok && proxy.reaction.action === 'respond');
      assert.deepEqual(proxy.reaction.headers, [['Unsupported', 'noProxiesSupportThis, norDoAnyProxiesSupportThis']]);
    });

    it('invut: 415 says what is accepted', () => {
      const v = validateRequest(request('invut'));
      assert.ok(!v.ok && v.reaction.action === 'respond');
      assert.deepEqual(v.reaction.headers, [['Accept', 'application/sdp']]);
    });

    it('zeromf: a proxy answers 483, a UAS processes it', () => {
      const m = request('zeromf');
      assert.equal(validateRequest(m).ok, true);
      const v = validateRequest(m, { proxy: true });
      assert.ok(!v.ok && v.reaction.action === 'respond' && v.reaction.status === 483);
      assert.equal(validateRequest(m, { proxy: (r) => r.method !== 'OPTIONS' }).ok, true);
    });

    it('bcast: dropped by a UAC and by a proxy that would forward to 255.255.255.255', () => {
      const m = response('bcast');
      assert.equal(validateResponse(m, { role: 'uac' }).ok, false);
      const v = validateResponse(m, { role: 'proxy' });
      assert.ok(!v.ok && v.reaction.action === 'drop');
      assert.match(v.reason, /broadcast/);
    });

    it('regaut01: an unknown auth scheme gets a challenge sipsec supports', () => {
      const m = request('regaut01');
      const auth = new DigestAuthenticator({ realm: 'example.com' });
      const r = auth.verify(m, () => 'secret');
      assert.equal(r.outcome, 'challenge');
      assert.ok(r.outcome === 'challenge');
      assert.equal(r.status, 401);
      assert.equal(r.failure, undefined);
      assert.deepEqual(r.headers.map(([n, v]) => [n, v.split(' ')[0]]), [
        ['WWW-Authenticate', 'Digest'],
        ['WWW-Authenticate', 'Digest'],
      ]);
      assert.match(r.headers[0]![1], /algorithm=SHA-256/);
      assert.match(r.headers[1]![1], /algorithm=MD5/);
    });

    it('inv2543: an RFC 2543 INVITE without Content-Length takes the rest of the datagram', () => {
      const m = request('inv2543');
      assert.equal(m.body.length, 105);
      assert.equal(value(m.vias())[0]!.branch, undefined);
      assert.equal(value(m.maxForwards()), undefined);
    });

    it('badbranch: a bare magic cookie is processed', () => {
      const m = request('badbranch');
      assert.equal(value(m.vias())[0]!.branch, 'z9hG4bK');
    });
  });

  it('never throws and always returns a result, whatever the chunking', () => {
    for (const [, buf] of corpus()) {
      const r: ParseResult = parseDatagram(buf);
      assert.equal(typeof r.ok, 'boolean');
      const f = new StreamFramer();
      for (let i = 0; i < buf.length; i += 3) f.push(buf.subarray(i, i + 3));
    }
  });
});
