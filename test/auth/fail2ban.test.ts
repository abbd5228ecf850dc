import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { formatSecurityEvent, type SecurityEvent } from '../../src/auth/lockout.js';
import { cleanup, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';

/**
 * security.log is written for fail2ban's stock `asterisk` filter (README:
 * "logpath = <home>/security.log"). The real fail2ban-regex reads every
 * kind of line sipsec writes (SIP and HTTPS, EventVersion 1 and 2, with and
 * without a Challenge, IPv4 and IPv6) and finds the attacker's address in
 * each, never sipsec's own.
 */

const FILTER = '/etc/fail2ban/filter.d/asterisk.conf';

test('fail2ban-regex with the stock asterisk filter bans the right address for every security line sipsec writes', (t) => {
  const bin = requirePeer('fail2ban-regex');
  const dir = tmpDir('sipsec-f2b-');
  t.after(() => cleanup(dir));
  const local = { address: '192.0.2.1', port: 5061 };
  const base = { sessionId: 'a84b4c76e66710@pc33', transport: 'TLS', local } as const;
  const events: SecurityEvent[] = [
    { ...base, event: 'InvalidAccountID', accountId: 'nobody', remote: { address: '198.51.100.1', port: 40001 } },
    { ...base, event: 'InvalidPassword', accountId: '201', remote: { address: '198.51.100.2', port: 40002 }, challenge: '5b1a', receivedChallenge: '5b1a', receivedHash: '9f0e' },
    // A replayed or foreign nonce: no Challenge of ours to quote.
    { ...base, event: 'ChallengeResponseFailed', accountId: '201', remote: { address: '198.51.100.3', port: 40003 }, receivedChallenge: 'old', receivedHash: '9f0e' },
    // HTTPS provisioning: the same secret, the same lockout, the same log.
    { ...base, event: 'InvalidPassword', accountId: '201', service: 'HTTPS', local: { address: '192.0.2.1', port: 8443 }, remote: { address: '198.51.100.4', port: 40004 } },
    { ...base, event: 'FailedACL', accountId: '201', remote: { address: '198.51.100.5', port: 40005 } },
    { ...base, event: 'InvalidAccountID', accountId: 'nobody', local: { address: '2001:db8::1', port: 5061 }, remote: { address: '2001:db8::66', port: 40006 } },
  ];
  const log = path.join(dir, 'security.log');
  writeFileSync(log, events.map((e) => formatSecurityEvent({ ...e, time: new Date() })).join('\n') + '\n');

  const r = spawnSync(bin, ['-r', '-o', 'ip', log, FILTER], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(
    r.stdout.trim().split('\n'),
    events.map((e) => e.remote.address),
    'one ban candidate per line, the remote address, never our own',
  );
});
