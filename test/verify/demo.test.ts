import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, tmpDir } from '../helpers/cli.js';
import { cleanupStack, sipsecAsync } from '../helpers/verify.js';
import type { DemoResult } from '../../src/verify/demo.js';

/**
 * `sipsec demo`, the README's main command, end to end as a user runs it:
 * a demo CA and phone in the home given, serve on free local ports, the
 * phone's files fetched over HTTPS, probe as that phone (TLS, register,
 * a call to the echo with a tone over SRTP) and the verify report, which
 * must be all PASS, plus the HTML page in the home.
 */
test('sipsec demo --json: exits 0, probe and verify all PASS, the report page written', { timeout: 120_000 }, async (t) => {
  const defer = cleanupStack(t);
  const dir = tmpDir('sipsec-demo-');
  defer(() => cleanup(dir));
  const home = path.join(dir, 'home');
  const r = await sipsecAsync(['--home', home, 'demo', '--json'], 90_000);
  assert.equal(r.code, '0', `demo failed:\n${r.stdout}\n${r.stderr}`);
  const result = JSON.parse(r.stdout) as DemoResult;
  assert.equal(result.ok, true);
  assert.equal(result.home, path.resolve(home), 'an explicit --home is used as given');

  assert.deepEqual(
    result.probe.steps.map((s) => `${s.step}:${s.result}`),
    ['tls:PASS', 'register:PASS', 'call:PASS', 'media:PASS', 'unregister:PASS'],
    JSON.stringify(result.probe.steps, null, 2),
  );
  assert.equal(result.probe.ok, true);

  assert.equal(result.verify.ok, true);
  assert.equal(result.verify.phones.length, 1);
  const phone = result.verify.phones[0]!;
  assert.equal(phone.phone, 'demo-phone');
  assert.deepEqual(
    phone.steps.map((s) => `${s.step}:${s.state}`),
    ['provisioning:PASS', 'tls:PASS', 'registration:PASS', 'call:PASS'],
    phone.steps.map((s) => `${s.step} ${s.state} ${s.summary}`).join('\n'),
  );
  const call = phone.steps.find((s) => s.step === 'call')!.data as { suite: string; packetsIn: number; authFailures: number };
  assert.equal(call.suite, 'AES_CM_128_HMAC_SHA1_80');
  assert.ok(call.packetsIn > 0);
  assert.equal(call.authFailures, 0);

  assert.equal(result.html, path.join(path.resolve(home), 'demo-report.html'));
  assert.ok(existsSync(result.html));
  assert.match(readFileSync(result.html, 'utf8'), /demo-phone[\s\S]*<td class="pass"><b>PASS<\/b>/);
  // Run again in the same home: the demo CA and phone are reused, and it still passes.
  const again = await sipsecAsync(['--home', home, 'demo', '--json'], 90_000);
  assert.equal(again.code, '0', again.stderr);
  assert.equal((JSON.parse(again.stdout) as DemoResult).ok, true);
});
