/**
 * fail2ban-style lockout with an injected clock, and the security log line.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailureTracker, formatSecurityEvent } from '../../src/auth/index.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('FailureTracker', () => {
  it('blocks after N failures within the window, for the block period', () => {
    const c = clock();
    const t = new FailureTracker({ maxFailures: 3, windowMs: 60_000, blockMs: 300_000, now: c.now });
    assert.deepEqual(t.recordFailure('192.0.2.9'), { blocked: false, failures: 1, blockedUntil: undefined });
    c.advance(10_000);
    assert.equal(t.recordFailure('192.0.2.9').blocked, false);
    assert.equal(t.isBlocked('192.0.2.9'), false);
    c.advance(10_000);
    const third = t.recordFailure('192.0.2.9');
    assert.equal(third.blocked, true);
    assert.equal(third.blockedUntil, c.now() + 300_000);
    assert.equal(t.isBlocked('192.0.2.9'), true);
    assert.equal(t.isBlocked('192.0.2.10'), false, 'other addresses are unaffected');
    c.advance(299_999);
    assert.equal(t.isBlocked('192.0.2.9'), true);
    assert.equal(t.recordFailure('192.0.2.9').blocked, true, 'failures while blocked do not extend it');
    assert.equal(t.blockedUntil('192.0.2.9'), c.now() + 1);
    c.advance(1);
    assert.equal(t.isBlocked('192.0.2.9'), false);
    assert.equal(t.recordFailure('192.0.2.9').failures, 1, 'counting starts over after a block');
  });

  it('failures spread wider than the window never add up', () => {
    const c = clock();
    const t = new FailureTracker({ maxFailures: 3, windowMs: 60_000, now: c.now });
    for (let i = 0; i < 10; i++) {
      assert.equal(t.recordFailure('198.51.100.1').blocked, false, `failure ${i}`);
      c.advance(30_001);
    }
  });

  it('defaults follow the fail2ban asterisk jail: 10 in 10 minutes, banned 10 minutes', () => {
    const c = clock();
    const t = new FailureTracker({ now: c.now });
    for (let i = 0; i < 9; i++) assert.equal(t.recordFailure('a').blocked, false);
    assert.equal(t.recordFailure('a').blocked, true);
    c.advance(600_000);
    assert.equal(t.isBlocked('a'), false);
    t.recordFailure('b');
    assert.equal(t.tracked, 1, "'a' expired and was pruned");
    t.reset('b');
    assert.equal(t.tracked, 0);
  });

  it('stays bounded under address spraying', () => {
    const c = clock();
    const t = new FailureTracker({ maxTracked: 100, now: c.now });
    for (let i = 0; i < 1000; i++) t.recordFailure(`10.0.${i >> 8}.${i & 255}`);
    assert.ok(t.tracked <= 100);
  });
});

describe('formatSecurityEvent', () => {
  const base = {
    event: 'InvalidPassword' as const,
    accountId: 'alice',
    sessionId: 'a84b4c76e66710@pc33.example.com',
    transport: 'TLS' as const,
    local: { address: '192.0.2.1', port: 5061 },
    remote: { address: '198.51.100.7', port: 50123 },
    time: new Date(2025, 0, 2, 3, 4, 5, 678),
    pid: 4242,
  };

  it('writes the Asterisk res_security_log shape that fail2ban matches', () => {
    const line = formatSecurityEvent({ ...base, challenge: 'n1', receivedChallenge: 'n1', receivedHash: 'abc' });
    assert.match(
      line,
      /^\[2025-01-02 03:04:05\] SECURITY\[4242\] sipsec: SecurityEvent="InvalidPassword",EventTV="2025-01-02T03:04:05\.678[+-]\d{4}",Severity="Error",Service="SIP",EventVersion="2",AccountID="alice",SessionID="a84b4c76e66710@pc33\.example\.com",LocalAddress="IPV4\/TLS\/192\.0\.2\.1\/5061",RemoteAddress="IPV4\/TLS\/198\.51\.100\.7\/50123",Challenge="n1",ReceivedChallenge="n1",ReceivedHash="abc"$/,
    );
    // The essence of the stock failregex: the event name, then only
    // well-formed Key="value" fields, one RemoteAddress with the host.
    const fields = line.slice(line.indexOf('SecurityEvent=')).split(',');
    for (const f of fields) assert.match(f, /^\w+="[^"]*"$/);
  });

  it('writes IPv6 and unwraps IPv4-mapped addresses', () => {
    assert.match(formatSecurityEvent({ ...base, remote: { address: '2001:db8::7', port: 5060 } }), /RemoteAddress="IPV6\/TLS\/2001:db8::7\/5060"/);
    assert.match(formatSecurityEvent({ ...base, remote: { address: '::ffff:198.51.100.7', port: 5060 } }), /RemoteAddress="IPV4\/TLS\/198\.51\.100\.7\/5060"/);
    assert.match(formatSecurityEvent({ ...base, event: 'InvalidAccountID' }), /EventVersion="1",AccountID="alice"/);
  });

  it('cannot be made to name another address (log injection)', () => {
    const line = formatSecurityEvent({ ...base, accountId: 'x",RemoteAddress="IPV4/UDP/203.0.113.66/5060', sessionId: 'a\nb\\"', receivedHash: '"' });
    assert.equal(line.split('RemoteAddress="').length, 2);
    assert.ok(!line.includes('\n'));
    assert.match(line, /AccountID="x%22%2CRemoteAddress=%22IPV4\/UDP\/203\.0\.113\.66\/5060"/);
    for (const f of line.slice(line.indexOf('SecurityEvent=')).split(',')) assert.match(f, /^\w+="[^"]*"$/);
  });
});
