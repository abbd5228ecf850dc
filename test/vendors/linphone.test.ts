import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { loadVendor } from '../../src/vendors/registry.js';
import { renderPhones } from '../../src/provision/render.js';
import type { RenderContext, RenderedFile } from '../../src/vendors/types.js';
import { requirePeer } from '../helpers/peers.js';
import { fixtureContextFor } from './fixture.js';
import { checkDescriptor, checkFiles, checkInstructions, fileNamed, goldenCase, text } from './client-checks.js';
import { iniSection, parseIni } from './wellformed.js';
import { addTestPhones, addTestServer, tempCa } from '../helpers/ca-home.js';
import { collectOutput, exitOf, outputMatches, startTlsStub, stop, within } from './peer-stubs.js';

const vendor = await loadVendor('linphone');

function rc(files: RenderedFile[], local = false): ReturnType<typeof parseIni> {
  return parseIni(text(fileNamed(files, local ? 'linphonerc' : 'linphone/telefono1/linphonerc', local)));
}

function checkReferences(ctx: RenderContext, files: RenderedFile[]): void {
  const served = files.filter((f) => !f.localOnly).map((f) => path.basename(f.path));
  const sip = iniSection(rc(files), 'sip');
  for (const key of ['root_ca', 'client_cert_chain', 'client_cert_key']) assert.ok(served.includes(sip.get(key)!), `${key}=${sip.get(key)} is not served next to linphonerc`);
  if (ctx.localDir !== undefined) {
    const local = files.filter((f) => f.localOnly).map((f) => path.join(ctx.localDir!, f.path));
    const lsip = iniSection(rc(files, true), 'sip');
    for (const key of ['root_ca', 'client_cert_chain', 'client_cert_key']) assert.ok(local.includes(lsip.get(key)!), `${key}=${lsip.get(key)} is not in the ready directory`);
  }
}

const cases: Array<{ name: string; ctx: () => RenderContext }> = [
  { name: 'default', ctx: () => fixtureContextFor(vendor) },
  {
    name: 'ready-loopback-ip',
    ctx: () =>
      fixtureContextFor(vendor, {
        registrar: { host: '127.0.0.1', port: 5061 },
        localDir: '/srv/sipsec/provision/telefono1',
        phone: { srtp: 'optional', options: { sip_tls_port: '25061', rtp_ports: '20200-20299', srtp_suites: 'AES_CM_128_HMAC_SHA1_32,AES_256_CM_HMAC_SHA1_80' } },
      }),
  },
  {
    name: 'srtp-off-options',
    ctx: () => fixtureContextFor(vendor, { registrar: { host: '10.0.1.133', port: 5061 }, phone: { srtp: 'off', displayName: undefined, options: { verify_server_cn: 'yes', realm: 'asterisk', bind_address: '10.0.1.132' } } }),
  },
];

test('linphone: descriptor facts are complete', () => {
  checkDescriptor(vendor, 'linphone', 'test-client');
  // linphonec 5.1.65's default offer (peers.md §5).
  assert.deepEqual(vendor.descriptor.srtp.suites, ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AES_256_CM_HMAC_SHA1_80', 'AES_256_CM_HMAC_SHA1_32']);
});

for (const c of cases) {
  test(`linphone: ${c.name} renders its golden files, a well-formed linphonerc, and only files it has`, () => {
    const ctx = c.ctx();
    const files = vendor.renderPhone(ctx);
    checkFiles(vendor, ctx, files);
    const sections = rc(files).map((s) => s.name);
    for (const s of ['sip', 'proxy_0', 'auth_info_0']) assert.ok(sections.includes(s), `[${s}] missing`);
    for (const s of sections) iniSection(rc(files), s); // no section or key twice
    checkReferences(ctx, files);
    checkInstructions(vendor, ctx, files);
    goldenCase(vendor, c.name, ctx, files);
  });
}

test('linphone: TLS only, CA pinned, client certificate, SRTP per mode', () => {
  for (const [mode, enc, mandatory] of [['mandatory', 'srtp', '1'], ['optional', 'srtp', '0'], ['off', 'none', '0']] as const) {
    const files = vendor.renderPhone(fixtureContextFor(vendor, { phone: { srtp: mode } }));
    const sip = iniSection(rc(files), 'sip');
    assert.equal(sip.get('sip_port'), '0', 'UDP off (-1 would be a random port)');
    assert.equal(sip.get('sip_tcp_port'), '0');
    assert.equal(sip.get('verify_server_certs'), '1');
    assert.equal(sip.get('media_encryption'), enc);
    assert.equal(sip.get('media_encryption_mandatory'), mandatory);
    const proxy = iniSection(rc(files), 'proxy_0');
    assert.equal(proxy.get('reg_proxy'), '<sip:pbx.mycompany.com:5061;transport=tls>');
    assert.equal(proxy.get('reg_identity'), '"Telefono Uno" <sip:101@pbx.mycompany.com>');
    const auth = iniSection(rc(files), 'auth_info_0');
    assert.equal(auth.get('username'), '101');
    assert.equal(auth.get('passwd'), 'Fx7kQ2mZp9RtW4vYc8Hn3s');
  }
});

test('linphone: verify_server_cn follows pitfall L1 (off for an IP registrar, on for a name) unless set', () => {
  const cn = (ctx: RenderContext) => iniSection(rc(vendor.renderPhone(ctx)), 'sip').get('verify_server_cn');
  assert.equal(cn(fixtureContextFor(vendor)), '1');
  assert.equal(cn(fixtureContextFor(vendor, { registrar: { host: '10.0.1.133', port: 5061 } })), '0');
  assert.equal(cn(fixtureContextFor(vendor, { registrar: { host: '10.0.1.133', port: 5061 }, phone: { options: { verify_server_cn: 'yes' } } })), '1');
  assert.equal(cn(fixtureContextFor(vendor, { phone: { options: { verify_server_cn: 'no' } } })), '0');
});

test('linphone: options are strict and validated', () => {
  assert.deepEqual(vendor.optionsSchema.parse({ sip_tls_port: '25061', verify_server_cn: 'no' }), { sip_tls_port: 25061, verify_server_cn: false });
  for (const bad of [{ sip_tls_port: '70000' }, { rtp_ports: 'a-b' }, { verify_server_cn: 'maybe' }, { realm: 'has space' }, { bind_address: 'localhost' }, { sip_port: '5060' }]) {
    assert.equal(vendor.optionsSchema.safeParse(bad).success, false, JSON.stringify(bad));
  }
});

// ---------------------------------------------------------------- real linphonec

async function readyLinphone() {
  const ca = await tempCa({ registrar: { host: '127.0.0.1', port: 5061 } });
  try {
    await addTestServer(ca.store, 'pbx.test', ['127.0.0.1']);
    const server = ca.store.current('pbx.test')!;
    const stub = await startTlsStub({ cert: await ca.store.readCertPem(server.serial), key: await ca.store.readKeyPem(server.serial), ca: await ca.store.caCertPem() });
    await ca.store.updateConfig({ registrar: { host: '127.0.0.1', port: stub.port } });
    await addTestPhones(ca.store, [{ name: 'telefono2', vendor: 'linphone', ext: '102' }]);
    const out = path.join(ca.dir, 'provision');
    await renderPhones(ca.store, ['telefono2'], out);
    // Pitfall L2: linphonec hangs without its database folder.
    const home = path.join(ca.dir, 'home');
    mkdirSync(path.join(home, '.local', 'share', 'linphone'), { recursive: true });
    return { ca, stub, out, home };
  } catch (e) {
    ca.cleanup();
    throw e;
  }
}

/** linphonec -c RC: it must load the CA, present the phone certificate over TLS, REGISTER, and report the registration. */
async function exerciseLinphonec(bin: string, r: Awaited<ReturnType<typeof readyLinphone>>, rcArg: string, cwd: string, caShown: string): Promise<void> {
  const logFile = path.join(r.ca.dir, `linphonec-${path.basename(cwd)}.log`);
  const child = spawn(bin, ['-c', rcArg, '-d', '6', '-l', logFile], { cwd, env: { ...process.env, HOME: r.home }, stdio: ['pipe', 'pipe', 'pipe'] });
  const output = collectOutput(child);
  try {
    child.stdin!.on('error', () => undefined);
    child.stdin!.write('soundcard use files\n');
    const seen = await within(r.stub.firstRequest, 30_000, 'linphonec\'s REGISTER over TLS');
    assert.match(seen.requestLine, /^REGISTER sip:pbx\.test(;transport=tls)? SIP\/2\.0$/);
    assert.match(seen.headers, /^(From|f):.*<sip:102@pbx\.test>/im);
    assert.equal(seen.peerCn, 'telefono2', 'linphonec presented the phone certificate');
    assert.equal(seen.authorized, true, `the client certificate chains to the sipsec CA (${seen.authError ?? ''})`);
    // Answered 200 by the stub: linphonec reports the account registered.
    const probe = setInterval(() => child.stdin!.write('status register\n'), 500);
    try {
      await outputMatches(child, output, (s) => /registered, identity=sip:102@pbx\.test/.test(s), 30_000, 'linphonec to report the registration');
    } finally {
      clearInterval(probe);
    }
    child.stdin!.write('quit\n');
    await exitOf(child, 20_000);
    const log = readFileSync(logFile, 'utf8');
    assert.ok(log.includes(`Root ca path set to ${caShown}`), 'root_ca was loaded');
    assert.match(log, /Creating listening point .*transport=TLS\]/);
    assert.doesNotMatch(log, /Creating listening point .*transport=(UDP|TCP)\]/, 'plain transports stay off');
  } finally {
    await stop(child);
  }
}

test('linphonec (real): `linphonec -c <out>/<name>/linphonerc` works as rendered: TLS with the client certificate, REGISTER, registered', { timeout: 120_000 }, async () => {
  const bin = requirePeer('linphonec');
  const r = await readyLinphone();
  try {
    const dir = path.join(r.out, 'telefono2');
    await exerciseLinphonec(bin, r, path.join(dir, 'linphonerc'), r.ca.dir, path.join(dir, 'ca.crt'));
  } finally {
    await r.stub.close();
    r.ca.cleanup();
  }
});

test('linphonec (real): the served files, fetched into any directory, run with `cd dir && linphonec -c linphonerc`', { timeout: 120_000 }, async () => {
  const bin = requirePeer('linphonec');
  const r = await readyLinphone();
  try {
    const fetched = path.join(r.ca.dir, 'fetched');
    mkdirSync(fetched);
    for (const name of ['linphonerc', 'cert.pem', 'key.pem', 'ca.crt']) copyFileSync(path.join(r.out, 'linphone', 'telefono2', name), path.join(fetched, name));
    await exerciseLinphonec(bin, r, 'linphonerc', fetched, 'ca.crt');
  } finally {
    await r.stub.close();
    r.ca.cleanup();
  }
});
