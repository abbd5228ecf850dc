import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { cleanup, sipsec, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';

/**
 * End to end through the CLI as a person runs it: a CA, a server
 * certificate, softphones added (which renders them into <home>/provision,
 * ready directories included), then the PBX configs.
 */

function ok(args: string[]): { stdout: string; stderr: string } {
  const r = sipsec(args);
  assert.equal(r.code, 0, `sipsec ${args.join(' ')} failed:\n${r.stderr}`);
  return r;
}

function mode(file: string): number {
  return statSync(file).mode & 0o777;
}

test('cli: phone add --vendor baresip/linphone renders served files and a ready directory; keys 0600; secrets never in output', { timeout: 180_000 }, () => {
  const dir = tmpDir('sipsec-softcli-');
  const home = path.join(dir, 'ca');
  try {
    ok(['--home', home, 'ca', 'init', '--no-passphrase', '--org', 'Acme', '--domain', 'pbx.test', '--registrar', '127.0.0.1:5061', '--key', 'p256']);
    ok(['--home', home, 'server', 'add', 'pbx.test', '--ip', '127.0.0.1']);
    const added = ok(['--home', home, 'phone', 'add', 'softphone1', '--vendor', 'baresip', '--ext', '201', '--option', 'ctrl_port=4999', '--option', 'rtp_ports=20000-20099']);
    const added2 = ok(['--home', home, 'phone', 'add', 'softphone2', '--vendor', 'linphone', '--ext', '202']);
    const secret1 = (JSON.parse(ok(['--home', home, 'phone', 'show', 'softphone1', '--json', '--show-secret']).stdout) as { secret: string }).secret;
    const secret2 = (JSON.parse(ok(['--home', home, 'phone', 'show', 'softphone2', '--json', '--show-secret']).stdout) as { secret: string }).secret;
    for (const r of [added, added2]) {
      for (const s of [secret1, secret2]) assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), 'phone add printed a secret');
    }
    const provision = path.join(home, 'provision');
    const ready = path.join(provision, 'softphone1');
    assert.ok(added.stderr.includes(`baresip -f ${ready}`), added.stderr);
    assert.deepEqual(readdirSync(ready).sort(), ['accounts', 'ca.crt', 'cert.pem', 'config']);
    assert.equal(mode(path.join(ready, 'cert.pem')), 0o600);
    assert.equal(mode(path.join(provision, 'baresip', 'softphone1', 'cert.pem')), 0o600);
    assert.equal(mode(path.join(ready, 'config')) & 0o022, 0, 'configs are not writable by others');
    const config = readFileSync(path.join(ready, 'config'), 'utf8');
    assert.match(config, new RegExp(`^sip_certificate\\s+${ready.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/cert\\.pem$`, 'm'));
    assert.match(config, /^ctrl_tcp_listen\s+127\.0\.0\.1:4999$/m);
    assert.match(config, /^rtp_ports\s+20000-20099$/m);
    assert.ok(readFileSync(path.join(ready, 'accounts'), 'utf8').includes(`auth_pass=${secret1};`));
    const lready = path.join(provision, 'softphone2');
    assert.deepEqual(readdirSync(lready).sort(), ['ca.crt', 'cert.pem', 'key.pem', 'linphonerc']);
    assert.equal(mode(path.join(lready, 'key.pem')), 0o600);
    assert.match(readFileSync(path.join(lready, 'linphonerc'), 'utf8'), new RegExp(`^client_cert_key=${lready.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/key\\.pem$`, 'm'));

    // A typo in a vendor option is refused with the known ones, and nothing is added.
    const typo = sipsec(['--home', home, 'phone', 'add', 'softphone3', '--vendor', 'baresip', '--option', 'ctrlport=1']);
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /unknown baresip option 'ctrlport'; known: .*ctrl_port/);
    assert.ok(!existsSync(path.join(provision, 'softphone3')));

    // Removing the phone removes its ready directory and served files.
    ok(['--home', home, 'phone', 'remove', 'softphone1']);
    assert.ok(!existsSync(ready));
    assert.ok(!existsSync(path.join(provision, 'baresip', 'softphone1', 'cert.pem')));
  } finally {
    cleanup(dir);
  }
});

test('cli: pbx asterisk / pbx kamailio print or write configs; secrets only in the config itself', { timeout: 180_000 }, () => {
  const dir = tmpDir('sipsec-pbxcli-');
  const home = path.join(dir, 'ca');
  try {
    ok(['--home', home, 'ca', 'init', '--no-passphrase', '--org', 'Acme', '--domain', 'pbx.test', '--registrar', '127.0.0.1:25061', '--key', 'p256']);
    const noServer = sipsec(['--home', home, 'pbx', 'asterisk']);
    assert.equal(noServer.code, 1);
    assert.match(noServer.stderr, /error: the CA has no server certificate .*sipsec server add 127\.0\.0\.1/);
    ok(['--home', home, 'server', 'add', 'pbx.test', '--ip', '127.0.0.1']);
    ok(['--home', home, 'phone', 'add', 'telefono1', '--vendor', 'baresip', '--ext', '101', '--secret', 'Fx7kQ2mZp9RtW4vYc8Hn3s']);

    const printed = ok(['--home', home, 'pbx', 'asterisk']);
    assert.match(printed.stdout, /^\[transport-tls\]$/m);
    assert.match(printed.stdout, /^password=Fx7kQ2mZp9RtW4vYc8Hn3s$/m, 'the printed config is the config');
    assert.ok(!printed.stderr.includes('Fx7kQ2mZp9RtW4vYc8Hn3s'), 'status lines never hold the secret');

    const astOut = path.join(dir, 'ast');
    const json = ok(['--home', home, 'pbx', 'asterisk', '--chan-sip', '--out', astOut, '--install-dir', '/etc/asterisk/sipsec', '--json']);
    assert.ok(!json.stdout.includes('Fx7kQ2mZp9RtW4vYc8Hn3s'));
    const summary = JSON.parse(json.stdout) as { driver: string; endpoints: string[]; files: Array<{ file: string; mode: string }> };
    assert.equal(summary.driver, 'chan_sip');
    assert.deepEqual(summary.endpoints, ['101']);
    assert.equal(summary.files.find((f) => f.file.endsWith('sip.conf'))?.mode, '0600');
    assert.equal(mode(path.join(astOut, 'sip.conf')), 0o600);
    assert.equal(mode(path.join(astOut, 'keys', 'pbx.test.key')), 0o600);
    assert.match(readFileSync(path.join(astOut, 'sip.conf'), 'utf8'), /^tlsprivatekey=\/etc\/asterisk\/sipsec\/keys\/pbx\.test\.key$/m);

    const both = sipsec(['--home', home, 'pbx', 'asterisk', '--pjsip', '--chan-sip']);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /contradict/);
    const installOnly = sipsec(['--home', home, 'pbx', 'kamailio', '--install-dir', '/etc/kamailio']);
    assert.equal(installOnly.code, 2);

    const tlsCfg = ok(['--home', home, 'pbx', 'kamailio']);
    assert.match(tlsCfg.stdout, /^\[server:default\]$/m);
    const kamOut = path.join(dir, 'kam');
    const wrote = ok(['--home', home, 'pbx', 'kamailio', '--out', kamOut]);
    assert.match(wrote.stderr, /wrote .*kamailio\.cfg/);
    assert.equal(mode(path.join(kamOut, 'keys', 'pbx.test.key')), 0o600);
    const kamailio = requirePeer('kamailio');
    const check = spawnSync(kamailio, ['-c', '-f', path.join(kamOut, 'kamailio.cfg')], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(check.status, 0, check.stdout + check.stderr);
    assert.match(readFileSync(path.join(kamOut, 'kamailio.cfg'), 'utf8'), /^listen=tls:127\.0\.0\.1:25061$/m);
  } finally {
    cleanup(dir);
  }
});
