/**
 * Server-side digest: nonces (stale, replay, forgery), the authenticator
 * and its no-enumeration guarantee. Clock and randomness are injected.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRequest, type SipRequest } from '../../src/sip/message/index.js';
import { DigestAuthenticator, NonceManager, formatCredentials, parseChallenge, type AuthResult, type DigestAlgorithm, type Qop } from '../../src/auth/index.js';

const REALM = 'sipsec.example';
const USERS: Record<string, string> = { alice: 'correct horse', bob: 'battery staple' };
const lookup = (u: string, realm: string): string | undefined => (realm === REALM ? USERS[u] : undefined);

function clock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

function counterRandom(): (n: number) => Buffer {
  let i = 0;
  return (n) => Buffer.alloc(n, ++i & 0xff);
}

function register(authorization?: string, header = 'Authorization'): SipRequest {
  const h: Array<[string, string]> = [
    ['Via', 'SIP/2.0/TLS 192.0.2.4:50123;branch=z9hG4bK1'],
    ['To', '<sip:alice@sipsec.example>'],
    ['From', '<sip:alice@sipsec.example>;tag=1'],
    ['Call-ID', 'reg-1'],
    ['CSeq', '1 REGISTER'],
  ];
  if (authorization) h.push([header, authorization]);
  return createRequest('REGISTER', 'sip:sipsec.example', h);
}

interface Answer {
  user: string;
  password: string;
  nonce: string;
  nc?: string;
  algorithm?: DigestAlgorithm;
  qop?: Qop | undefined;
  uri?: string;
  realm?: string;
}

function answer(a: Answer): string {
  return formatCredentials({
    algorithm: a.algorithm ?? 'SHA-256',
    username: a.user,
    realm: a.realm ?? REALM,
    password: a.password,
    method: 'REGISTER',
    uri: a.uri ?? 'sip:sipsec.example',
    nonce: a.nonce,
    cnonce: 'c0ffee',
    nc: a.nc ?? '00000001',
    ...(a.qop === undefined && 'qop' in a ? {} : { qop: a.qop ?? 'auth' }),
  });
}

function nonceOf(r: AuthResult): string {
  assert.equal(r.outcome, 'challenge');
  assert.ok(r.outcome === 'challenge');
  const c = parseChallenge(r.headers[0]![1]);
  assert.ok(c.ok);
  return c.value.nonce;
}

function setup(opts: { lifetimeMs?: number; maxTracked?: number; algorithms?: DigestAlgorithm[]; allowMissingQop?: boolean; proxy?: boolean } = {}) {
  const c = clock();
  const nonces = new NonceManager({ now: c.now, randomBytes: counterRandom(), secret: Buffer.alloc(32, 7), lifetimeMs: opts.lifetimeMs ?? 30_000, maxTracked: opts.maxTracked ?? 1000 });
  const auth = new DigestAuthenticator({
    realm: REALM,
    nonces,
    randomBytes: counterRandom(),
    ...(opts.algorithms ? { algorithms: opts.algorithms } : {}),
    ...(opts.allowMissingQop ? { allowMissingQop: true } : {}),
    ...(opts.proxy ? { proxy: true } : {}),
  });
  return { c, nonces, auth };
}

describe('NonceManager', () => {
  it('issues nonces it recognises, stale after the lifetime, invalid when forged or rebound', () => {
    const c = clock();
    const n = new NonceManager({ now: c.now, randomBytes: counterRandom(), lifetimeMs: 1000 });
    const nonce = n.issue('realm|192.0.2.4');
    assert.match(nonce, /^[A-Za-z0-9_-]{48}$/);
    assert.equal(n.check(nonce, 'realm|192.0.2.4').state, 'valid');
    assert.equal(n.check(nonce, 'realm|192.0.2.5').state, 'invalid');
    const flipped = (nonce[10] === 'A' ? 'B' : 'A');
    assert.equal(n.check(nonce.slice(0, 10) + flipped + nonce.slice(11), 'realm|192.0.2.4').state, 'invalid');
    assert.equal(n.check('dcd98b7102dd2f0e8b11d0f600bfb0c093', '').state, 'invalid');
    assert.equal(n.check('', '').state, 'invalid');
    c.advance(1001);
    assert.equal(n.check(nonce, 'realm|192.0.2.4').state, 'stale');
    const other = new NonceManager({ now: c.now });
    assert.equal(other.check(n.issue(), '').state, 'invalid', 'another secret (a restart) does not verify');
  });

  it('tracks nonce counts: repeated or lower counts are replays', () => {
    const c = clock();
    const n = new NonceManager({ now: c.now });
    const nonce = n.issue();
    const at = c.now();
    assert.equal(n.use(nonce, 1, at), 'ok');
    assert.equal(n.use(nonce, 1, at), 'replay');
    assert.equal(n.use(nonce, 3, at), 'ok');
    assert.equal(n.use(nonce, 2, at), 'replay');
    assert.equal(n.use(nonce, 4, at), 'ok');
  });

  it('stays bounded: expired counts are pruned, evicted live ones are not trusted again', () => {
    const c = clock();
    const n = new NonceManager({ now: c.now, lifetimeMs: 1000, maxTracked: 3 });
    const first = n.issue();
    const t0 = c.now();
    n.use(first, 1, t0);
    for (let i = 0; i < 3; i++) {
      c.advance(1);
      n.use(n.issue(), 1, c.now());
    }
    assert.equal(n.tracked, 3);
    assert.equal(n.use(first, 2, t0), 'forgotten', 'evicted while live: re-challenge');
    c.advance(5000);
    n.use(n.issue(), 1, c.now());
    assert.equal(n.tracked, 1, 'expired entries pruned');
  });
});

describe('DigestAuthenticator', () => {
  it('challenges without credentials, one header per algorithm in preference order (RFC 8760)', () => {
    const { auth } = setup({ algorithms: ['SHA-512-256', 'SHA-256', 'MD5'] });
    const r = auth.verify(register(), lookup);
    assert.ok(r.outcome === 'challenge');
    assert.equal(r.status, 401);
    assert.equal(r.failure, undefined);
    const algs = r.headers.map(([name, v]) => {
      assert.equal(name, 'WWW-Authenticate');
      const c = parseChallenge(v);
      assert.ok(c.ok);
      assert.deepEqual(c.value.qop, ['auth']);
      assert.equal(c.value.realm, REALM);
      return c.value.algorithm;
    });
    assert.deepEqual(algs, ['SHA-512-256', 'SHA-256', 'MD5']);
    assert.equal(new Set(r.headers.map(([, v]) => parseChallenge(v).ok && (parseChallenge(v) as { value: { nonce: string } }).value.nonce)).size, 1);
  });

  it('authenticates a right answer with each offered algorithm, and -sess', () => {
    for (const algorithm of ['SHA-256', 'MD5', 'SHA-512-256', 'MD5-sess', 'SHA-256-sess'] as DigestAlgorithm[]) {
      const { auth } = setup({ algorithms: [algorithm] });
      const nonce = nonceOf(auth.verify(register(), lookup));
      const r = auth.verify(register(answer({ user: 'alice', password: USERS.alice!, nonce, algorithm })), lookup);
      assert.deepEqual(r, { outcome: 'authenticated', username: 'alice', algorithm }, algorithm);
    }
  });

  it('a replayed nonce count is refused; the next count is accepted', () => {
    const { auth } = setup();
    const nonce = nonceOf(auth.verify(register(), lookup));
    const creds = answer({ user: 'alice', password: USERS.alice!, nonce });
    assert.equal(auth.verify(register(creds), lookup).outcome, 'authenticated');
    const replay = auth.verify(register(creds), lookup);
    assert.ok(replay.outcome === 'challenge');
    assert.equal(replay.stale, true);
    assert.equal(replay.failure?.event, 'ChallengeResponseFailed');
    const lower = auth.verify(register(answer({ user: 'alice', password: USERS.alice!, nonce, nc: '00000001' })), lookup);
    assert.equal(lower.outcome, 'challenge');
    assert.equal(auth.verify(register(answer({ user: 'alice', password: USERS.alice!, nonce, nc: '00000002' })), lookup).outcome, 'authenticated');
  });

  it('stale=true only when the password was right and the nonce too old', () => {
    const { auth, c } = setup({ lifetimeMs: 30_000 });
    const nonce = nonceOf(auth.verify(register(), lookup));
    c.advance(30_001);
    const right = auth.verify(register(answer({ user: 'alice', password: USERS.alice!, nonce })), lookup);
    assert.ok(right.outcome === 'challenge');
    assert.equal(right.stale, true);
    assert.equal(right.failure, undefined, 'not a failure: the client knows the password');
    assert.match(right.headers[0]![1], /stale=true/);
    const wrong = auth.verify(register(answer({ user: 'alice', password: 'guess', nonce })), lookup);
    assert.ok(wrong.outcome === 'challenge');
    assert.equal(wrong.stale, false);
    assert.equal(wrong.failure?.event, 'InvalidPassword');
  });

  it('forged or foreign nonces never authenticate', () => {
    const { auth } = setup();
    const other = new DigestAuthenticator({ realm: REALM });
    const foreign = nonceOf(other.verify(register(), lookup));
    for (const nonce of [foreign, 'dcd98b7102dd2f0e8b11d0f600bfb0c093', 'A'.repeat(48)]) {
      const r = auth.verify(register(answer({ user: 'alice', password: USERS.alice!, nonce })), lookup);
      assert.ok(r.outcome === 'challenge', nonce);
      assert.equal(r.stale, true, 'right password: retry with our nonce');
      const w = auth.verify(register(answer({ user: 'alice', password: 'nope', nonce })), lookup);
      assert.ok(w.outcome === 'challenge' && w.failure?.event === 'InvalidPassword');
    }
  });

  it('unknown users get exactly the challenge a wrong password gets (no enumeration)', () => {
    const { auth } = setup();
    const shape = (r: AuthResult): unknown => {
      assert.ok(r.outcome === 'challenge');
      return { status: r.status, stale: r.stale, headers: r.headers.map(([n, v]) => [n, v.replace(/nonce="[^"]*"/, 'nonce="N"')]) };
    };
    const n1 = nonceOf(auth.verify(register(), lookup));
    const wrongPassword = auth.verify(register(answer({ user: 'alice', password: 'nope', nonce: n1 })), lookup);
    const n2 = nonceOf(auth.verify(register(), lookup));
    const unknownUser = auth.verify(register(answer({ user: 'mallory', password: 'nope', nonce: n2 })), lookup);
    assert.deepEqual(shape(unknownUser), shape(wrongPassword));
    assert.ok(unknownUser.outcome === 'challenge' && wrongPassword.outcome === 'challenge');
    assert.equal(unknownUser.failure?.event, 'InvalidAccountID');
    assert.equal(wrongPassword.failure?.event, 'InvalidPassword');
    // Even an unknown user whose "password" equals the dummy input cannot pass.
    const n3 = nonceOf(auth.verify(register(), lookup));
    assert.equal(auth.verify(register(answer({ user: 'mallory', password: '', nonce: n3 })), lookup).outcome, 'challenge');
    // Stale nonce: a known user with a wrong password and an unknown user look the same too.
    const { auth: a2, c } = setup();
    const n4 = nonceOf(a2.verify(register(), lookup));
    c.advance(60_000);
    const s1 = a2.verify(register(answer({ user: 'alice', password: 'nope', nonce: n4 })), lookup);
    const s2 = a2.verify(register(answer({ user: 'mallory', password: 'nope', nonce: n4 })), lookup);
    assert.deepEqual(shape(s1), shape(s2));
  });

  it('an unknown scheme, another realm or an algorithm not offered get a plain challenge', () => {
    const { auth } = setup({ algorithms: ['SHA-256'] });
    const nonce = nonceOf(auth.verify(register(), lookup));
    for (const creds of [
      'NoOneKnowsThisScheme opaque-data=here',
      answer({ user: 'alice', password: USERS.alice!, nonce, realm: 'elsewhere.example' }),
      answer({ user: 'alice', password: USERS.alice!, nonce, algorithm: 'MD5' }),
      answer({ user: 'alice', password: USERS.alice!, nonce, qop: undefined }),
    ]) {
      const r = auth.verify(register(creds), lookup);
      assert.ok(r.outcome === 'challenge', creds);
      assert.equal(r.failure, undefined, creds);
      assert.equal(r.stale, false);
    }
  });

  it('RFC 2069 answers without qop are allowed when configured, once per nonce', () => {
    const { auth } = setup({ allowMissingQop: true });
    const nonce = nonceOf(auth.verify(register(), lookup));
    const creds = answer({ user: 'bob', password: USERS.bob!, nonce, qop: undefined });
    assert.equal(auth.verify(register(creds), lookup).outcome, 'authenticated');
    assert.equal(auth.verify(register(creds), lookup).outcome, 'challenge');
  });

  it('400 when the digest is for another URI or nc/cnonce are missing', () => {
    const { auth } = setup();
    const nonce = nonceOf(auth.verify(register(), lookup));
    const other = auth.verify(register(answer({ user: 'alice', password: USERS.alice!, nonce, uri: 'sip:elsewhere.example' })), lookup);
    assert.deepEqual(other.outcome === 'bad-request' && other.status, 400);
    const equivalent = auth.verify(register(answer({ user: 'alice', password: USERS.alice!, nonce, uri: 'sip:SIPSEC.example' })), lookup);
    assert.equal(equivalent.outcome, 'authenticated', 'an equivalent URI (RFC 3261 §19.1.4) is the same resource');
    const noNc = `Digest username="alice", realm="${REALM}", nonce="${nonce}", uri="sip:sipsec.example", response="00", qop=auth, algorithm=SHA-256`;
    assert.equal(auth.verify(register(noNc), lookup).outcome, 'bad-request');
  });

  it('proxy mode uses 407, Proxy-Authenticate and Proxy-Authorization', () => {
    const { auth } = setup({ proxy: true });
    const r = auth.verify(register(), lookup);
    assert.ok(r.outcome === 'challenge' && r.status === 407 && r.headers[0]![0] === 'Proxy-Authenticate');
    const nonce = nonceOf(r);
    const creds = answer({ user: 'alice', password: USERS.alice!, nonce });
    assert.equal(auth.verify(register(creds, 'Authorization'), lookup).outcome, 'challenge');
    assert.equal(auth.verify(register(creds, 'Proxy-Authorization'), lookup).outcome, 'authenticated');
  });

  it('nonces can be bound to the client address', () => {
    const { auth } = setup();
    const nonce = nonceOf(auth.verify(register(), lookup, '192.0.2.4'));
    const creds = answer({ user: 'alice', password: USERS.alice!, nonce });
    const elsewhere = auth.verify(register(creds), lookup, '198.51.100.9');
    assert.ok(elsewhere.outcome === 'challenge' && elsewhere.stale);
    assert.equal(auth.verify(register(creds), lookup, '192.0.2.4').outcome, 'authenticated');
  });
});
