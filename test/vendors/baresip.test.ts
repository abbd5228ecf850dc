import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { isSipsecError } from '../../src/core/errors.js';
import { loadVendor } from '../../src/vendors/registry.js';
import { renderPhones } from '../../src/provision/render.js';
import type { RenderContext, RenderedFile } from '../../src/vendors/types.js';
import { requirePeer } from '../helpers/peers.js';
import { fixtureContextFor } from './fixture.js';
import { checkDescriptor, checkFiles, checkInstructions, fileNamed, goldenCase, text } from './client-checks.js';
import { addTestPhones, addTestServer, tempCa } from '../helpers/ca-home.js';
import { collectOutput, ctrlTcp, exitOf, freePort, outputMatches, startTlsStub, stop, within } from './peer-stubs.js';

const vendor = await loadVendor('baresip');

/** `key value` lines of a baresip config (comments and blank lines skipped). */
function configMap(s: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const raw of s.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(\S+)\s+(.+)$/.exec(line);
    assert.ok(m, `malformed config line: ${line}`);
    map.set(m[1]!, [...(map.get(m[1]!) ?? []), m[2]!]);
  }
  return map;
}

function accountLines(s: string): string[] {
  return s.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
}

/** Every file the config names exists in the same copy (served: by bare name next to it; ready: by absolute path). */
function checkReferences(ctx: RenderContext, files: RenderedFile[]): void {
  const served = files.filter((f) => !f.localOnly).map((f) => path.basename(f.path));
  const cfg = configMap(text(fileNamed(files, `baresip/${ctx.phone.name}/config`)));
  for (const key of ['sip_certificate', 'sip_cafile']) assert.ok(served.includes(cfg.get(key)![0]!), `${key} ${cfg.get(key)} is not served next to config`);
  if (ctx.localDir !== undefined) {
    const local = files.filter((f) => f.localOnly).map((f) => path.join(ctx.localDir!, f.path));
    const lcfg = configMap(text(fileNamed(files, 'config', true)));
    for (const key of ['sip_certificate', 'sip_cafile']) assert.ok(local.includes(lcfg.get(key)![0]!), `${key} ${lcfg.get(key)} is not in the ready directory`);
  }
}

const cases: Array<{ name: string; ctx: () => RenderContext }> = [
  { name: 'default', ctx: () => fixtureContextFor(vendor) },
  {
    name: 'ready-loopback',
    ctx: () =>
      fixtureContextFor(vendor, {
        registrar: { host: '127.0.0.1', port: 5061 },
        localDir: '/srv/sipsec/provision/telefono1',
        phone: { srtp: 'optional', options: { ctrl_port: '4501', rtp_ports: '20000-20099', sip_listen: '127.0.0.1:15060', record_dir: '/srv/sipsec/recordings' } },
      }),
  },
  {
    name: 'srtp-off-alsa',
    ctx: () => fixtureContextFor(vendor, { phone: { srtp: 'off', displayName: undefined, ext: undefined, options: { audio: 'alsa', answermode: 'auto', net_interface: '10.0.1.132' } } }),
  },
];

test('baresip: descriptor facts are complete', () => {
  checkDescriptor(vendor, 'baresip', 'test-client');
  assert.equal(vendor.descriptor.srtp.suites[0], 'AES_CM_128_HMAC_SHA1_80', 'baresip offers _80 only, so it leads the list');
  assert.deepEqual(vendor.descriptor.certDelivery, ['bundle-pem']);
});

for (const c of cases) {
  test(`baresip: ${c.name} renders its golden files, well-formed and self-consistent`, () => {
    const ctx = c.ctx();
    const files = vendor.renderPhone(ctx);
    checkFiles(vendor, ctx, files);
    checkReferences(ctx, files);
    checkInstructions(vendor, ctx, files);
    goldenCase(vendor, c.name, ctx, files);
  });
}

test('baresip: the account line carries TLS, outbound, credentials and mediaenc per SRTP mode', () => {
  const want = { mandatory: ';mediaenc=srtp-mand', optional: ';mediaenc=srtp', off: undefined } as const;
  for (const mode of ['mandatory', 'optional', 'off'] as const) {
    const ctx = fixtureContextFor(vendor, { phone: { srtp: mode } });
    const [line, ...rest] = accountLines(text(fileNamed(vendor.renderPhone(ctx), 'baresip/telefono1/accounts')));
    assert.equal(rest.length, 0, 'one account');
    assert.match(line!, /^"Telefono Uno" <sip:101@pbx\.mycompany\.com;transport=tls>;/);
    assert.ok(line!.includes(';auth_user=101;auth_pass=Fx7kQ2mZp9RtW4vYc8Hn3s;'));
    assert.ok(line!.includes(';outbound="sip:pbx.mycompany.com:5061;transport=tls"'));
    const mediaenc = /;mediaenc=[a-z-]+/.exec(line!)?.[0];
    assert.equal(mediaenc, want[mode]);
  }
});

test('baresip: an IPv6 registrar is bracketed in the outbound URI', () => {
  const ctx = fixtureContextFor(vendor, { registrar: { host: '2001:db8::5', port: 5061 } });
  const accounts = text(fileNamed(vendor.renderPhone(ctx), 'baresip/telefono1/accounts'));
  assert.ok(accounts.includes('outbound="sip:[2001:db8::5]:5061;transport=tls"'));
});

test('baresip: net_interface defaults to 127.0.0.1 only for a loopback registrar', () => {
  const loop = configMap(text(fileNamed(vendor.renderPhone(fixtureContextFor(vendor, { registrar: { host: '127.0.0.1', port: 5061 } })), 'baresip/telefono1/config')));
  assert.deepEqual(loop.get('net_interface'), ['127.0.0.1']);
  const remote = configMap(text(fileNamed(vendor.renderPhone(fixtureContextFor(vendor)), 'baresip/telefono1/config')));
  assert.equal(remote.get('net_interface'), undefined);
  const modules = remote.get('module')!.concat(remote.get('module_tmp')!, remote.get('module_app')!);
  for (const m of ['g711.so', 'ausine.so', 'alsa.so', 'srtp.so', 'account.so', 'menu.so', 'ctrl_tcp.so']) assert.ok(modules.includes(m), `module ${m} missing`);
  assert.ok(!modules.includes('stdio.so'), 'stdio needs a terminal');
});

test('baresip: a ready directory whose path has a space gets bare names (baresip cuts config values at a space)', () => {
  const ctx = fixtureContextFor(vendor, { localDir: '/home/ana/My Phones/telefono1' });
  const files = vendor.renderPhone(ctx);
  const cfg = configMap(text(fileNamed(files, 'config', true)));
  assert.deepEqual(cfg.get('sip_certificate'), ['cert.pem']);
  const lines = checkInstructions(vendor, ctx, files);
  assert.ok(lines.some((l) => l.includes("cd '/home/ana/My Phones/telefono1' && baresip -f .")));
});

test('baresip: options are strict, validated, and re-read their own stored values', () => {
  const parsed = vendor.optionsSchema.parse({ ctrl_port: '4501', rtp_ports: ' 20000 - 20099 ', sip_listen: '[::1]:5070', net_interface: '127.0.0.1' });
  assert.deepEqual(parsed, { ctrl_port: 4501, rtp_ports: '20000-20099', sip_listen: '[::1]:5070', net_interface: '127.0.0.1' });
  assert.deepEqual(vendor.optionsSchema.parse(parsed), parsed);
  for (const bad of [{ ctrl_port: '0' }, { ctrl_port: 'x' }, { rtp_ports: '2000-1000' }, { rtp_ports: '5' }, { sip_listen: 'host:5060' }, { net_interface: 'lo' }, { module_path: 'relative/dir' }, { audio: 'speaker' }]) {
    assert.equal(vendor.optionsSchema.safeParse(bad).success, false, JSON.stringify(bad));
  }
  const unknown = vendor.optionsSchema.safeParse({ ctrlport: '1' });
  assert.equal(unknown.success, false);
  assert.match(unknown.error!.issues[0]!.message, /unknown baresip option 'ctrlport'; known: .*ctrl_port/);
});

test('baresip: a secret baresip cannot read is refused with a way out, not rendered broken', () => {
  const ctx = fixtureContextFor(vendor, { phone: { secret: 'abc;defgh12' } });
  assert.throws(
    () => vendor.renderPhone(ctx),
    (e: unknown) => isSipsecError(e) && e.code === 'UNSUPPORTED' && !e.message.includes('abc;defgh12') && /--secret/.test(e.hint ?? ''),
  );
});

// ---------------------------------------------------------------- real baresip

interface ReadyBaresip {
  ca: Awaited<ReturnType<typeof tempCa>>;
  stub: Awaited<ReturnType<typeof startTlsStub>>;
  out: string;
  ctrlPort: number;
}

/** A CA home whose registrar is a TLS stub, with phone telefono1 (ext 101) rendered by provision render. */
async function readyBaresip(): Promise<ReadyBaresip> {
  const ca = await tempCa({ registrar: { host: '127.0.0.1', port: 5061 } });
  try {
    await addTestServer(ca.store, 'pbx.test', ['127.0.0.1']);
    const server = ca.store.current('pbx.test')!;
    const stub = await startTlsStub({ cert: await ca.store.readCertPem(server.serial), key: await ca.store.readKeyPem(server.serial), ca: await ca.store.caCertPem() });
    await ca.store.updateConfig({ registrar: { host: '127.0.0.1', port: stub.port } });
    const ctrlPort = await freePort();
    await addTestPhones(ca.store, [{ name: 'telefono1', vendor: 'baresip', ext: '101', options: { ctrl_port: String(ctrlPort) } }]);
    const out = path.join(ca.dir, 'provision');
    await renderPhones(ca.store, ['telefono1'], out);
    return { ca, stub, out, ctrlPort };
  } catch (e) {
    ca.cleanup();
    throw e;
  }
}

/** Run baresip until it has loaded everything and registered over TLS with its certificate; then reginfo, quit. */
async function exerciseBaresip(child: ChildProcess, r: ReadyBaresip, certPathShown: string): Promise<string> {
  const output = collectOutput(child);
  try {
    await outputMatches(child, output, (s) => s.includes('baresip is ready'), 20_000, 'baresip to start');
    const seen = await within(r.stub.firstRequest, 20_000, 'the REGISTER over TLS');
    assert.match(seen.requestLine, /^REGISTER sip:pbx\.test(;transport=tls)? SIP\/2\.0$/);
    assert.match(seen.headers, /^(From|f):.*<sip:101@pbx\.test>/im);
    assert.equal(seen.peerCn, 'telefono1', 'baresip presented the phone certificate');
    assert.equal(seen.authorized, true, `the client certificate chains to the sipsec CA (${seen.authError ?? ''})`);
    const reginfo = await ctrlTcp(r.ctrlPort, 'reginfo');
    assert.equal(reginfo.ok, true);
    assert.match(reginfo.data ?? '', /sip:101@pbx\.test/);
    const quit = await ctrlTcp(r.ctrlPort, 'quit').catch(() => undefined);
    assert.ok(quit === undefined || quit.ok === true);
    await exitOf(child, 10_000);
    const log = output.text();
    assert.ok(log.includes(`SIP Certificate: ${certPathShown}`), log);
    assert.ok(log.includes('Populated 1 account'), log);
    assert.ok(log.includes("Using media encryption 'srtp-mand'"), log);
    // The stub's 200 OK came back over the TLS transport (a stub, not a registrar: registration proper is tested with sipsec's registrar).
    assert.match(log, /101@pbx\.test: \{0\/TLS\/v4\} 200 OK/);
    for (const line of log.split('\n')) assert.doesNotMatch(line, /failed|No such file|could not|error/i, `baresip complained: ${line}`);
    return log;
  } finally {
    await stop(child);
  }
}

test('baresip (real): `baresip -f <out>/<name>` loads the ready directory as it is, registers over TLS with its certificate, answers ctrl_tcp', { timeout: 120_000 }, async () => {
  const bin = requirePeer('baresip');
  const r = await readyBaresip();
  try {
    const dir = path.join(r.out, 'telefono1');
    assert.deepEqual(readdirSync(dir).sort(), ['accounts', 'ca.crt', 'cert.pem', 'config']);
    // Run from elsewhere: the ready directory's paths are absolute.
    const child = spawn(bin, ['-f', dir], { cwd: r.ca.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    await exerciseBaresip(child, r, path.join(dir, 'cert.pem'));
  } finally {
    await r.stub.close();
    r.ca.cleanup();
  }
});

test('baresip (real): the served files, fetched into any directory, run with `cd dir && baresip -f .`', { timeout: 120_000 }, async () => {
  const bin = requirePeer('baresip');
  const r = await readyBaresip();
  try {
    const fetched = path.join(r.ca.dir, 'fetched');
    mkdirSync(fetched);
    for (const name of ['config', 'accounts', 'cert.pem', 'ca.crt']) copyFileSync(path.join(r.out, 'baresip', 'telefono1', name), path.join(fetched, name));
    const child = spawn(bin, ['-f', '.'], { cwd: fetched, stdio: ['ignore', 'pipe', 'pipe'] });
    await exerciseBaresip(child, r, 'cert.pem');
  } finally {
    await r.stub.close();
    r.ca.cleanup();
  }
});

test('baresip: phone add refuses a sip_listen port next to another baresip phone\'s (TLS binds port+1); 2 apart, another address, or another vendor is fine', async () => {
  const ca = await tempCa({ registrar: { host: '127.0.0.1', port: 5061 } });
  try {
    await addTestPhones(ca.store, [{ name: 'bare1', vendor: 'baresip', ext: '101', options: { sip_listen: '127.0.0.1:15060' } }]);
    for (const [name, listen] of [['bare2', '127.0.0.1:15061'], ['bare3', '127.0.0.1:15059'], ['bare4', '0.0.0.0:15061'], ['bare5', '127.0.0.1:15060']] as const) {
      await assert.rejects(
        addTestPhones(ca.store, [{ name, vendor: 'baresip', options: { sip_listen: listen } }]),
        (e: unknown) => isSipsecError(e) && e.code === 'BAD_INPUT' && e.message.includes(`clashes with bare1's 15060`) && /port\+1/.test(e.message),
        `${listen} next to 127.0.0.1:15060`,
      );
    }
    assert.deepEqual(ca.store.index.phones.map((p) => p.name), ['bare1'], 'nothing was added');
    // Within one batch too.
    await assert.rejects(
      addTestPhones(ca.store, [
        { name: 'b6', vendor: 'baresip', options: { sip_listen: '127.0.0.1:16000' } },
        { name: 'b7', vendor: 'baresip', options: { sip_listen: '127.0.0.1:16001' } },
      ]),
      (e: unknown) => isSipsecError(e) && /b7: .*clashes with b6's 16000/.test(e.message),
    );
    await addTestPhones(ca.store, [
      { name: 'bare8', vendor: 'baresip', options: { sip_listen: '127.0.0.1:15062' } },
      { name: 'bare9', vendor: 'baresip', options: { sip_listen: '127.0.0.2:15061' } },
      { name: 'lin1', vendor: 'linphone', ext: '109' },
    ]);
    assert.deepEqual(ca.store.index.phones.map((p) => p.name).sort(), ['bare1', 'bare8', 'bare9', 'lin1']);
  } finally {
    ca.cleanup();
  }
});
