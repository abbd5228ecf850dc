/**
 * Seeded mutation fuzzing of the corpus: thousands of damaged messages go
 * through everything a server runs on input (parse, validate, every typed
 * view, authentication, response building, serialization, the stream
 * framer). Nothing may throw; every result must be well-formed; whatever
 * parses must survive a serialize/parse round trip unchanged.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accepts, buildResponse, parseCSeq, parseDatagram, parseMediaType, parseNameAddr, parseNameAddrList, parseUri, parseVia, parseViaList, responseFor, serialize, splitList, validateRequest, validateResponse, type ParseResult, type SipMessage } from '../../src/sip/message/index.js';
import { DigestAuthenticator, NonceManager, parseCredentials } from '../../src/auth/index.js';
import { StreamFramer } from '../../src/sip/transport/index.js';
import { corpus, prng, randInt } from './helpers.js';

const INTERESTING = ['\r', '\n', '\r\n', ' ', '\t', ':', ';', ',', '<', '>', '"', '\\', '%', '@', '\0', '\xff', '=', '?', '[', ']', '0', '9', '\r\n ', '\r\n\r\n', 'sip:', 'SIP/2.0', '%00', '99999999999999999999', '-1', '*', '/'];

type Rand = () => number;

function pick<T>(rand: Rand, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)]!;
}

function lines(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (;;) {
    const i = buf.indexOf('\r\n', start);
    if (i < 0) {
      out.push(buf.subarray(start));
      return out;
    }
    out.push(buf.subarray(start, i + 2));
    start = i + 2;
  }
}

function mutate(rand: Rand, input: Buffer, others: readonly Buffer[]): Buffer {
  let buf = Buffer.from(input);
  const n = randInt(rand, 1, 6);
  for (let k = 0; k < n && buf.length > 0; k++) {
    const at = randInt(rand, 0, buf.length - 1);
    switch (randInt(rand, 0, 8)) {
      case 0: // flip a byte
        buf[at] = randInt(rand, 0, 255);
        break;
      case 1: // insert an interesting token
        buf = Buffer.concat([buf.subarray(0, at), Buffer.from(pick(rand, INTERESTING), 'latin1'), buf.subarray(at)]);
        break;
      case 2: // delete a range
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(Math.min(buf.length, at + randInt(rand, 1, 40)))]);
        break;
      case 3: // truncate
        buf = buf.subarray(0, at);
        break;
      case 4: {
        // duplicate a line
        const ls = lines(buf);
        const i = randInt(rand, 0, ls.length - 1);
        ls.splice(i, 0, ls[i]!);
        buf = Buffer.concat(ls);
        break;
      }
      case 5: {
        // swap two lines
        const ls = lines(buf);
        const i = randInt(rand, 0, ls.length - 1);
        const j = randInt(rand, 0, ls.length - 1);
        [ls[i], ls[j]] = [ls[j]!, ls[i]!];
        buf = Buffer.concat(ls);
        break;
      }
      case 6: {
        // a line from another message
        const ls = lines(buf);
        const donor = lines(pick(rand, others));
        ls[randInt(rand, 0, ls.length - 1)] = pick(rand, donor);
        buf = Buffer.concat(ls);
        break;
      }
      case 7: // replace a digit run with a huge or negative number
        for (let i = at; i < buf.length; i++) {
          if (buf[i]! >= 0x30 && buf[i]! <= 0x39) {
            buf = Buffer.concat([buf.subarray(0, i), Buffer.from(pick(rand, ['99999999999999999999', '-1', '4294967296', '0'])), buf.subarray(i + 1)]);
            break;
          }
        }
        break;
      default: // repeat a slice many times (long lines, many headers)
        {
          const slice = buf.subarray(at, Math.min(buf.length, at + randInt(rand, 1, 12)));
          buf = Buffer.concat([buf.subarray(0, at), ...Array.from({ length: randInt(rand, 2, 400) }, () => slice), buf.subarray(at)]);
        }
        break;
    }
  }
  return buf;
}

/** Re-parsing checks serialization, not limits: a message at the header limit gains a Content-Length. */
const RELAXED = { limits: { maxHeaders: 1000 } };

const auth = new DigestAuthenticator({ realm: 'example.com', nonces: new NonceManager({ now: () => 1_700_000_000_000 }) });

function checkShape(r: ParseResult): void {
  assert.equal(typeof r.ok, 'boolean');
  if (r.ok) return;
  assert.equal(typeof r.reason, 'string');
  assert.ok(r.reason.length > 0 && !r.reason.includes('\n'));
  assert.equal(typeof r.close, 'boolean');
  if (r.reaction.action === 'respond') {
    assert.ok(r.reaction.status >= 400 && r.reaction.status <= 599);
    assert.equal(r.partial?.kind === 'response', false, 'responses are never answered');
  }
}

/** `parsed`: m parsed cleanly (a partial may exceed limits, and so may a response copying its Vias). */
function exercise(m: SipMessage, parsed: boolean): void {
  m.vias();
  m.topVia();
  m.from();
  m.to();
  m.callId();
  m.cseq();
  m.maxForwards();
  m.contacts();
  m.contentType();
  m.nameAddrs('route');
  m.nameAddrs('record-route');
  for (const f of m.headers) m.headers.list(f.name);
  accepts(m.headers.all('accept'), 'application/sdp');
  if (m.kind === 'request') {
    m.requestUri();
    const v = validateRequest(m);
    validateRequest(m, { proxy: true, supportedExtensions: ['path'] });
    auth.verify(m, () => 'pw');
    const reaction = v.ok ? undefined : v.reaction;
    const res = reaction ? responseFor(m, reaction, { toTag: 't' }) : buildResponse(m, 200, 'OK', { toTag: 't' });
    if (res) {
      // Relaxed limits: serialize adds Content-Length and the reaction's headers.
      const back = parseDatagram(serialize(res), RELAXED);
      if (parsed) assert.ok(back.ok, `a built response parses: ${back.ok ? '' : back.reason}`);
    }
  } else {
    validateResponse(m);
    validateResponse(m, { role: 'proxy' });
  }
}

function roundTrip(m: SipMessage): void {
  const again = parseDatagram(serialize(m), RELAXED);
  assert.ok(again.ok, again.ok ? '' : `re-parse failed: ${again.reason}`);
  const fields = (x: SipMessage): string[] => x.headers.fields().filter((f) => f.key !== 'content-length').map((f) => `${f.name}: ${f.value}`);
  assert.deepEqual(fields(again.message), fields(m));
  assert.ok(again.message.body.equals(m.body));
  if (m.kind === 'request') assert.ok(again.message.kind === 'request' && again.message.method === m.method && again.message.uri === m.uri);
  else assert.ok(again.message.kind === 'response' && again.message.status === m.status);
}

describe('fuzzing', () => {
  const inputs = [...corpus().values()];

  it('5000 mutated corpus messages: no throw, well-formed results, stable round trips', () => {
    const rand = prng(0x5195ec);
    let parsed = 0;
    for (let i = 0; i < 5000; i++) {
      const input = mutate(rand, pick(rand, inputs), inputs);
      const r = parseDatagram(input);
      checkShape(r);
      if (r.ok) {
        parsed++;
        exercise(r.message, true);
        roundTrip(r.message);
      } else if (r.partial) {
        exercise(r.partial, false);
      }
      const framer = new StreamFramer();
      for (let at = 0; at < input.length && !framer.closed; ) {
        const size = randInt(rand, 1, 200);
        for (const e of framer.push(input.subarray(at, at + size))) {
          if (e.type === 'message') {
            checkShape(e.result);
            if (e.result.ok) exercise(e.result.message, true);
          }
        }
        at += size;
      }
    }
    // The mutations must leave enough parsable messages to exercise the rest.
    assert.ok(parsed > 1000, `only ${parsed} parsed`);
  });

  it('20000 random header values through every sub-parser', () => {
    const rand = prng(42);
    const alphabet = ['a', 'Z', '0', '9', ' ', '\t', ':', ';', ',', '<', '>', '"', '\\', '%', '@', '=', '?', '[', ']', '/', '.', '-', '*', 'sip:', 'sips:', 'tel:', 'SIP/2.0/UDP ', 'Digest ', 'tag=', 'branch=', '%4', '\0', 'é', '\u{1F600}'];
    for (let i = 0; i < 20000; i++) {
      let s = '';
      const len = randInt(rand, 0, 24);
      for (let k = 0; k < len; k++) s += pick(rand, alphabet);
      for (const fn of [parseNameAddr, parseNameAddrList, parseVia, parseViaList, parseUri, parseCSeq, parseMediaType, splitList, parseCredentials]) {
        const r = fn(s);
        assert.equal(typeof r.ok, 'boolean');
        if (!r.ok) assert.equal(typeof r.error, 'string');
      }
    }
  });

  it('pathological inputs end with a result', () => {
    const big = (unit: string, n = 60000): string => unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
    for (const s of [big('<'), big('"'), big('\\'), big(';'), big(','), big('%'), big('a;b='), big('sip:'), big('[')]) {
      for (const fn of [parseNameAddrList, parseViaList, parseUri, splitList, parseCredentials, parseMediaType]) assert.equal(typeof fn(s).ok, 'boolean');
    }
    const many = Buffer.from(`OPTIONS sip:a@b SIP/2.0\r\n${big('X: y\r\n', 60000)}\r\n`);
    checkShape(parseDatagram(many));
    const folded = Buffer.from(`OPTIONS sip:a@b SIP/2.0\r\nX: y\r\n${big(' z\r\n', 60000)}\r\n`);
    checkShape(parseDatagram(folded));
    // Shapes that would make a naive scanner quadratic (colon-less lines,
    // bare LFs with one CR at the end, parameters without '=').
    checkShape(parseDatagram(`OPTIONS sip:a@b SIP/2.0\r\n${big('x\r\n', 60000)}a: b\r\n\r\n`));
    checkShape(parseDatagram(`OPTIONS sip:a@b SIP/2.0\n${big('X: y\n', 60000)}A: b\r\n\n`));
    assert.equal(parseUri(`sip:a@b${big(';p', 60000)}`).ok, true);
    const f = new StreamFramer();
    for (let i = 0; i < 200; i++) f.push(Buffer.from(big('\r\n\r\n', 400)));
    assert.equal(f.closed, false);
  });
});
