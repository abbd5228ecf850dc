/**
 * Digest computation known-answer tests (shared/sip-srtp.md §7.1) and the
 * Authorization / WWW-Authenticate grammar.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Result } from '../../src/sip/message/index.js';
import { computeDigestResponse, computeHA1, digestEquals, digestHash, formatChallenge, formatCredentials, parseAlgorithm, parseChallenge, parseCredentials, parseNonceCount } from '../../src/auth/index.js';

function value<T>(r: Result<T>): T {
  if (!r.ok) assert.fail(r.error);
  return r.value;
}

describe('digest known answers', () => {
  it('RFC 2617 §3.5 (MD5, qop=auth)', () => {
    const response = computeDigestResponse({
      algorithm: 'MD5',
      username: 'Mufasa',
      realm: 'testrealm@host.com',
      password: 'Circle Of Life',
      method: 'GET',
      uri: '/dir/index.html',
      nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
      qop: 'auth',
      nc: '00000001',
      cnonce: '0a4f113b',
    });
    assert.equal(response, '6629fae49393a05397450978507c4ef1');
  });

  const rfc7616 = {
    username: 'Mufasa',
    realm: 'http-auth@example.org',
    password: 'Circle of Life',
    method: 'GET',
    uri: '/dir/index.html',
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    nc: '00000001',
    qop: 'auth' as const,
  };

  it('RFC 7616 §3.9.1 MD5', () => {
    assert.equal(computeDigestResponse({ ...rfc7616, algorithm: 'MD5' }), '8ca523f5e9506fed4657c9700eebdbec');
  });

  it('RFC 7616 §3.9.1 SHA-256', () => {
    assert.equal(computeDigestResponse({ ...rfc7616, algorithm: 'SHA-256' }), '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
  });

  it('SHA-512-256 is SHA-512/256, not truncated SHA-512', () => {
    assert.equal(digestHash('SHA-512-256', 'abc'), '53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23');
  });

  it('RFC 7616 §3.9.2 inputs (SHA-512-256): matches the independent recomputation in sip-srtp.md', () => {
    // The RFC's printed values are under erratum 4897; these two values were
    // recomputed by the research notes with true SHA-512/256 and are
    // marked unconfirmed there. Agreement here is between two independent
    // implementations, not with the RFC text.
    const realm = 'api@example.org';
    assert.equal(digestHash('SHA-512-256', `J\u00e4s\u00f8n Doe:${realm}`), '793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b');
    const response = computeDigestResponse({
      algorithm: 'SHA-512-256',
      username: 'J\u00e4s\u00f8n Doe',
      realm,
      password: 'Secret, or not?',
      method: 'GET',
      uri: '/doe.json',
      nonce: '5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK',
      cnonce: 'NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v',
      nc: '00000001',
      qop: 'auth',
    });
    assert.equal(response, '3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5');
  });

  it('-sess, auth-int and no-qop follow the RFC 7616 §3.4 formulas', () => {
    const h = (s: string | Buffer): string => digestHash('SHA-256', s);
    const base = { ...rfc7616, algorithm: 'SHA-256-sess' as const };
    const ha1 = h(`${h('Mufasa:http-auth@example.org:Circle of Life')}:${base.nonce}:${base.cnonce}`);
    assert.equal(computeDigestResponse(base), h(`${ha1}:${base.nonce}:00000001:${base.cnonce}:auth:${h('GET:/dir/index.html')}`));
    const body = Buffer.from('v=0\r\n');
    const int = computeDigestResponse({ ...rfc7616, algorithm: 'MD5', qop: 'auth-int', body });
    const md5 = (s: string | Buffer): string => digestHash('MD5', s);
    const ha1md5 = md5('Mufasa:http-auth@example.org:Circle of Life');
    assert.equal(int, md5(`${ha1md5}:${rfc7616.nonce}:00000001:${rfc7616.cnonce}:auth-int:${md5(`GET:/dir/index.html:${md5(body)}`)}`));
    const legacy = computeDigestResponse({ ...rfc7616, algorithm: 'MD5', qop: undefined });
    assert.equal(legacy, md5(`${ha1md5}:${rfc7616.nonce}:${md5('GET:/dir/index.html')}`));
    assert.equal(computeHA1('MD5', 'Mufasa', 'http-auth@example.org', 'Circle of Life'), ha1md5);
    assert.equal(computeDigestResponse({ ...rfc7616, algorithm: 'MD5', password: undefined, ha1: ha1md5 }), '8ca523f5e9506fed4657c9700eebdbec');
  });

  it('compares digests in constant time, hex case-insensitively', () => {
    assert.equal(digestEquals('6629fae49393a05397450978507c4ef1', '6629FAE49393A05397450978507C4EF1'), true);
    assert.equal(digestEquals('6629fae49393a05397450978507c4ef1', '6629fae49393a05397450978507c4ef2'), false);
    assert.equal(digestEquals('6629', '6629fae4'), false);
  });
});

describe('Authorization and WWW-Authenticate grammar', () => {
  it('parses RFC 2617 §3.5 credentials, in any order, ignoring unknown parameters', () => {
    const c = value(
      parseCredentials(
        'Digest username="Mufasa",\trealm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41", x-vendor="a, b"',
      ),
    );
    assert.equal(c.username, 'Mufasa');
    assert.equal(c.realm, 'testrealm@host.com');
    assert.equal(c.qop, 'auth');
    assert.equal(c.nc, '00000001');
    assert.equal(c.opaque, '5ccc069c403ebaf9f0171e9517f40e41');
    assert.equal(c.algorithm, undefined);
    const reordered = value(parseCredentials('digest response="r", uri=sip:example.com, nonce="n", realm="x", username="a\\"b", qop="auth", nc="00000002"'));
    assert.equal(reordered.username, 'a"b');
    assert.equal(reordered.uri, 'sip:example.com');
    assert.equal(reordered.qop, 'auth');
  });

  it('decodes username* (RFC 7616 §3.4.4)', () => {
    const c = value(parseCredentials(`Digest username*=UTF-8''J%C3%A4s%C3%B8n%20Doe, realm="r", nonce="n", uri="/", response="x"`));
    assert.equal(c.username, 'J\u00e4s\u00f8n Doe');
  });

  it('refuses other schemes, missing and duplicate parameters', () => {
    assert.match((parseCredentials('NoOneKnowsThisScheme opaque-data=here') as { error: string }).error, /unsupported auth scheme/);
    assert.equal(parseCredentials('Digest username="a", realm="r", nonce="n", uri="/"').ok, false);
    assert.equal(parseCredentials('Digest username="a", username="b", realm="r", nonce="n", uri="/", response="x"').ok, false);
    assert.equal(parseCredentials('Digest username="a, realm="r"').ok, false);
    assert.equal(parseCredentials('').ok, false);
  });

  it('writes challenges RFC 7616 §3.3 style and reads them back', () => {
    const text = formatChallenge({ realm: 'example.com', nonce: 'abc', algorithm: 'SHA-512-256', qop: ['auth', 'auth-int'], stale: true, opaque: 'o' });
    assert.equal(text, 'Digest realm="example.com", nonce="abc", opaque="o", stale=true, algorithm=SHA-512-256, qop="auth,auth-int"');
    const c = value(parseChallenge(text));
    assert.equal(c.algorithm, 'SHA-512-256');
    assert.deepEqual(c.qop, ['auth', 'auth-int']);
    assert.equal(c.stale, true);
    assert.equal(value(parseChallenge('Digest realm="r", nonce="n"')).algorithm, 'MD5');
  });

  it('formats credentials a server verifies', () => {
    const header = formatCredentials({ algorithm: 'MD5', username: 'Mufasa', realm: 'testrealm@host.com', password: 'Circle Of Life', method: 'GET', uri: '/dir/index.html', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093', qop: 'auth', cnonce: '0a4f113b' });
    const c = value(parseCredentials(header));
    assert.equal(c.response, '6629fae49393a05397450978507c4ef1');
    assert.equal(c.nc, '00000001');
  });

  it('algorithm tokens and nonce counts', () => {
    assert.equal(parseAlgorithm(undefined), 'MD5');
    assert.equal(parseAlgorithm('sha-256-SESS'), 'SHA-256-sess');
    assert.equal(parseAlgorithm('SHA-1'), undefined);
    assert.equal(parseNonceCount('0000000a'), 10);
    assert.equal(parseNonceCount('1'), undefined);
    assert.equal(parseNonceCount('0000000g'), undefined);
  });
});
