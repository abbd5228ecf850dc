import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, repoRoot, sipsec, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';

/** Run the CLI on a pseudo-terminal (util-linux `script`), answering each prompt once it shows. */
function onTty(script: string, args: string[], answers: Array<[prompt: RegExp, text: string]>): Promise<{ code: number; out: string }> {
  const cmd = [process.execPath, path.join(repoRoot(), 'bin', 'sipsec'), ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn(script, ['-qec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, SIPSEC_CA_PASSPHRASE: '' } });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  let i = 0;
  let from = 0;
  const timer = setInterval(() => {
    const next = answers[i];
    if (next && next[0].test(out.slice(from))) {
      from = out.length;
      child.stdin.write(next[1]);
      i++;
    }
  }, 50);
  const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.on('exit', (code) => {
      clearInterval(timer);
      clearTimeout(kill);
      resolve({ code: code ?? -1, out });
    }),
  );
}

test('on a terminal, missing values are asked for; without one they are errors naming the flag', async (t) => {
  const script = requirePeer('script');
  const home = tmpDir();
  t.after(() => cleanup(home));
  const init = await onTty(script, ['--home', home, 'ca', 'init', '--key', 'p256'], [
    [/Organisation/, 'My Super Company\r'],
    [/SIP domain/, 'pbx.mycompany.com\r'],
    [/CA passphrase/, 'a long passphrase\r'],
    [/Repeat it/, 'a long passphrase\r'],
  ]);
  assert.equal(init.code, 0, init.out);
  assert.match(init.out, /Organisation/);
  assert.match(init.out, /CA passphrase/);
  const config = JSON.parse(readFileSync(path.join(home, 'config.json'), 'utf8')) as { org: string; domain: string; encrypted: boolean };
  assert.deepEqual([config.org, config.domain, config.encrypted], ['My Super Company', 'pbx.mycompany.com', true]);

  // Vendor from a list (first entry: aastra), then its MAC, then the CA passphrase.
  const add = await onTty(script, ['--home', home, 'phone', 'add', 'telefono1'], [
    [/Vendor/, '\r'],
    [/MAC address/, '00:08:5d:12:34:56\r'],
    [/CA passphrase/, 'a long passphrase\r'],
  ]);
  assert.equal(add.code, 0, add.out);
  assert.ok(existsSync(path.join(home, 'provision', '00085D123456.cfg')));

  const noTty = sipsec(['--home', home, 'phone', 'add', 'telefono2']);
  assert.equal(noTty.code, 2);
  assert.match(noTty.stderr, /^error: missing --vendor \(the phone or softphone type\) \(give --vendor, one of: aastra, /);
});
