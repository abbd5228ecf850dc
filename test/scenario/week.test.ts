import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { cleanup, run, tmpDir } from '../helpers/cli.js';
import { rtpPortRange } from '../helpers/echo.js';
import { after, BaresipPhone, Home, LinphonePhone, listTree, type FleetPhone } from '../helpers/fleet.js';
import { requirePeer } from '../helpers/peers.js';
import { baresipPorts } from '../helpers/registrar-home.js';
import { ServeProcess } from '../helpers/serve.js';
import { describeVerdict, phoneOf, startVerify } from '../helpers/verify.js';
import { freePort } from '../vendors/peer-stubs.js';

/**
 * The issue's "Done means": a week in a fleet's life, all from the CLI,
 * with the real peers. One baresip and one linphonec phone are
 * provisioned and verified; then their IP and extension change, every
 * certificate is renewed with --expiring, the CA is rotated and the old
 * one retired, the registrar moves to another address, and the phones are
 * told to resync. After every step both phones register over TLS with the
 * certificate they should hold and call the SRTP echo with audio both
 * ways; `doctor` reports exactly what it should; a `--out` TFTP root keeps
 * the firmware image that was there before sipsec.
 *
 * baresip and linphonec do not refetch their files on a NOTIFY: their
 * "resync" is a restart from the re-rendered ready directory, after
 * `phone resync` (whose answer per phone is checked) told them.
 */

interface ResyncJson {
  schema: number;
  results: Array<{ phone: string; vendor: string; event: string | null; status: number | string; reason: string }>;
}

interface CaStatusJson {
  schema: number;
  old: { serial: string } | null;
  phones: Array<{ name: string; certCa: string; usesOldCa: boolean; lastTls: { ca: string; certSerial: string } | null }>;
  usingOldCa: string[];
}

test('a week in a fleet: edit, renew --expiring, CA rotation, registrar move and resync; every step keeps both real phones on TLS + SRTP, doctor and a --out TFTP root follow', { timeout: 300_000 }, async (t) => {
  const baresipBin = requirePeer('baresip');
  const linphonecBin = requirePeer('linphonec');
  const curl = requirePeer('curl');
  const dir = tmpDir('sipsec-week-');
  t.after(() => cleanup(dir));
  const home = new Home(path.join(dir, 'ca'), { SIPSEC_CA_PASSPHRASE: 'a week in the life of a fleet' });

  // --- Monday: a CA with an encrypted key, certificates for 45 days (renewed below with --expiring 60d).
  let sipPort = await freePort();
  home.ok(['ca', 'init', '--org', 'Week Test', '--domain', 'pbx.test', '--key', 'p256', '--leaf-key', 'p256', '--leaf-days', '45', '--registrar', `127.0.0.1:${sipPort}`, '--provisioning-url', 'https://localhost/prov/', '--tftp-server', '127.0.0.1']);
  home.ok(['server', 'add', 'registrar', '--dns', 'localhost', '--ip', '127.0.0.1']);
  const bp = await baresipPorts();
  home.ok(['phone', 'add', 'desk', '--vendor', 'baresip', '--ext', '101', '--option', `ctrl_port=${bp.ctrl}`, '--option', `sip_listen=127.0.0.1:${bp.sip}`, '--option', `rtp_ports=${bp.rtp}`, '--option', 'answermode=auto']);
  home.ok(['phone', 'add', 'soft', '--vendor', 'linphone', '--ext', '111', '--ip', '127.0.0.1', '--option', `sip_tls_port=${await freePort()}`, '--option', `rtp_ports=${await rtpPortRange(20)}`]);
  const desk = new BaresipPhone('desk', baresipBin, home.dir, bp.ctrl);
  const soft = new LinphonePhone('soft', linphonecBin, home.dir, path.join(dir, 'soft-work'), () => {
    // linphonec wrote its in-memory configuration back over linphonerc as it quit: the full rebuild restores sipsec's.
    const r = home.json<{ written: string[] }>(['provision', 'render']);
    assert.ok(r.written.every((f) => f === 'soft/linphonerc'), `only what linphonec rewrote is restored: ${r.written.join(', ')}`);
  });
  const phones: FleetPhone[] = [desk, soft];
  t.after(async () => {
    for (const p of phones) await p.stop();
  });

  // No NTP yet, and desk has no recorded address (baresip files go over plain HTTP too): warnings, exit 1.
  let doc = home.doctor();
  assert.deepEqual(doc.findings, ['warning:ntp.missing', 'warning:phone.secret_exposed:desk']);
  assert.equal(doc.code, 1);
  assert.equal(doc.status, 'warnings');
  home.ok(['ca', 'config', '--ntp', '127.0.0.1']);
  doc = home.doctor();
  assert.deepEqual(doc.findings, ['warning:phone.secret_exposed:desk']);
  assert.equal(doc.code, 1);

  // A TFTP root that already holds a firmware image: sipsec renders beside it and never touches it.
  const tftp = path.join(dir, 'tftproot');
  mkdirSync(tftp);
  const firmware = randomBytes(4096);
  writeFileSync(path.join(tftp, 'firmware-6.4.1.bin'), firmware);
  const staleOut = `warning:out.stale:${tftp}`;
  const renderOut = (step: string, changed = true) => {
    // doctor --out compares the tree with what the store would render (writing nothing there).
    const before = home.doctor(['--out', tftp]).findings;
    assert.equal(before.includes(staleOut), changed, `${step}: doctor --out says the tree is ${changed ? 'out of date' : 'up to date'}: ${before.join(', ')}`);
    assert.ok(!listTree(tftp).some((f) => f.includes('.lock')), `${step}: doctor left nothing in ${tftp}`);
    const r = home.json<{ schema: number; out: string; files: string[] }>(['provision', 'render', '--out', tftp]);
    assert.equal(r.schema, 1);
    assert.deepEqual(readFileSync(path.join(tftp, 'firmware-6.4.1.bin')), firmware, `${step}: the firmware image is untouched`);
    const files = listTree(tftp);
    assert.ok(files.includes('firmware-6.4.1.bin'), `${step}: still listed`);
    const manifest = JSON.parse(readFileSync(path.join(tftp, '.sipsec-manifest.json'), 'utf8')) as { files: Record<string, string> };
    assert.equal(manifest.files['firmware-6.4.1.bin'], undefined, `${step}: never sipsec's`);
    // The --out tree carries what the store says now: each phone's current certificate.
    for (const p of ['desk', 'soft']) {
      const pem = readFileSync(path.join(home.dir, 'provision', p, 'cert.pem'), 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/)![0];
      assert.ok(readFileSync(path.join(tftp, p, 'cert.pem'), 'utf8').includes(pem), `${step}: ${p}'s current certificate in ${tftp}`);
    }
    assert.equal(readFileSync(path.join(tftp, 'soft', 'ca.crt'), 'utf8'), readFileSync(path.join(home.dir, 'provision', 'soft', 'ca.crt'), 'utf8'), `${step}: the trust in ${tftp} is the store's`);
    if (step === 'monday') assert.ok(!home.doctor(['--out', tftp]).findings.includes(staleOut), `${step}: up to date once rendered`);
    return files;
  };
  doc = home.doctor(['--out', tftp]);
  assert.deepEqual(doc.findings, [staleOut, 'warning:phone.secret_exposed:desk'].sort(), 'nothing rendered there yet');
  assert.equal(doc.code, 1);
  const monday = renderOut('monday');
  assert.ok(monday.includes('baresip/desk/config') && monday.includes('linphone/soft/linphonerc'), monday.join(', '));

  const serveArgs = (port: number) => ['--tftp-port', 'off', '--https-port', '0', '--sip-port', String(port), '--diagnostic-port', 'off', '--rtp-ports'];
  let serve = await ServeProcess.start(home.dir, [...serveArgs(sipPort), await rtpPortRange()], home.env);
  t.after(() => serve.stop());

  /**
   * After a step: each phone (restarted from its re-rendered ready directory
   * when `restart`) registers over TLS with the serial it should present,
   * and calls the echo: SDES-SRTP, audio both ways, nothing refused.
   */
  const checkFleet = async (step: string, restart: FleetPhone[], expect: Record<string, { serial: string; aor: string; address?: string }>, callers: FleetPhone[] = phones) => {
    const mark = serve.events.length;
    try {
      await fleetStep(step, restart, expect, mark, callers);
    } catch (e) {
      const seen = serve.events.slice(Math.max(0, mark - 10)).map((x) => JSON.stringify(x).slice(0, 600));
      throw new Error(`${step}: ${e instanceof Error ? e.message : String(e)}\n--- serve events ---\n${seen.join('\n')}`);
    }
  };
  const fleetStep = async (step: string, restart: FleetPhone[], expect: Record<string, { serial: string; aor: string; address?: string }>, mark: number, callers: FleetPhone[]) => {
    await Promise.all(restart.map((p) => p.restart()));
    for (const p of restart) {
      const e = expect[p.name]!;
      const reg = await serve.waitFor(after(serve, mark, (ev) => ev.event === 'register.ok' && ev.phone === p.name), 40_000);
      assert.equal(reg.transport, 'tls', `${step}: ${p.name} over TLS`);
      assert.equal(reg.certSerial, e.serial, `${step}: ${p.name} presents the certificate it should`);
      assert.equal(reg.aor, e.aor, `${step}: ${p.name}'s AOR`);
      // baresip binds its listener and media to the address; its outgoing TLS connection comes from the OS's choice.
      if (e.address) assert.match(String(reg.contact), new RegExp(`@${e.address.replace(/\./g, '\\.')}:`), `${step}: ${p.name} registers its new address`);
    }
    for (const p of callers) {
      const { start, end } = await p.call(serve);
      assert.equal(start.srtp, 'sdes', `${step}: ${p.name} SDES`);
      assert.equal(start.suite, 'AES_CM_128_HMAC_SHA1_80', `${step}: ${p.name} suite`);
      assert.equal(end.suite, 'AES_CM_128_HMAC_SHA1_80');
      assert.ok(Number(end.packetsIn) > 0 && Number(end.packetsOut) > 0, `${step}: ${p.name} SRTP both ways (${String(end.packetsIn)}/${String(end.packetsOut)})`);
      assert.equal(end.authFailures, 0, `${step}: ${p.name} no SRTP authentication failure`);
      assert.equal(end.oneWayAudio, false, `${step}: ${p.name} two-way audio`);
    }
    // No step leaves a phone locked out or refused.
    const refused = serve.events.slice(mark).filter((e) => e.event === 'register.fail' || e.event === 'security.block' || (e.event === 'tls.handshake' && e.ok === false));
    assert.deepEqual(refused, [], `${step}: nothing refused`);
  };
  const resyncAll = (step: string): ResyncJson => {
    const r = home.run(['phone', 'resync', '--all', '--json']);
    const j = JSON.parse(r.stdout) as ResyncJson;
    assert.equal(j.schema, 1);
    assert.deepEqual(j.results.map((x) => x.phone).sort(), ['desk', 'soft']);
    // Each phone is registered and answered the NOTIFY itself (a final SIP status, whatever it is).
    for (const x of j.results) assert.equal(typeof x.status, 'number', `${step}: ${x.phone} answered the NOTIFY (${String(x.status)} ${x.reason})`);
    assert.equal(r.code, j.results.every((x) => Number(x.status) < 300) ? 0 : 1, `${step}: exit code follows the answers`);
    t.diagnostic(`${step}: resync ${j.results.map((x) => `${x.phone} ${x.event} -> ${String(x.status)} ${x.reason}`).join('; ')}`);
    return j;
  };

  // --- Verify both phones: files fetched over HTTPS with their certificates, TLS, registration, call.
  const verify = startVerify(home.dir, ['--all', '--json', '--timeout', '90s']);
  t.after(() => verify.kill());
  await verify.progress(/watching serve \(pid \d+\)/, 20_000, 'verify to attach to serve');
  const routes = home.json<Array<{ path: string; phone: string | null }>>(['provision', 'routes']);
  for (const [name, cert, key] of [['desk', 'cert.pem', 'cert.pem'], ['soft', 'cert.pem', 'key.pem']] as const) {
    const mine = routes.filter((r) => r.phone === name);
    assert.ok(mine.length > 0, `${name} has routes`);
    for (const r of mine) {
      const got = run(curl, ['-sS', '--fail', '--max-time', '20', '--cacert', path.join(home.dir, 'ca.crt'), '--cert', path.join(home.dir, 'provision', name, cert), '--key', path.join(home.dir, 'provision', name, key), '-o', '/dev/null', '-w', '%{http_code}', `https://localhost:${serve.ports.https}/prov/${r.path}`]);
      assert.equal(got.stdout.trim(), '200', `${name} fetches ${r.path}: ${got.stderr}`);
    }
  }
  let serials = { desk: home.serialOf('desk'), soft: home.serialOf('soft') };
  await checkFleet('monday', phones, { desk: { serial: serials.desk, aor: 'sip:101@pbx.test' }, soft: { serial: serials.soft, aor: 'sip:111@pbx.test' } });
  const verdict = await verify.result(60_000);
  for (const name of ['desk', 'soft']) assert.equal(phoneOf(verdict.report, name).ok, true, describeVerdict(phoneOf(verdict.report, name)));
  assert.equal(verdict.code, '0');

  // --- Tuesday: desk moves to 127.0.0.5 and extension 102. A name in its certificate changes: re-issued, the old one overlaps.
  const mark1 = serve.events.length;
  const edit = home.run(['phone', 'edit', 'desk', '--ip', '127.0.0.5', '--ext', '102', '--option', `sip_listen=127.0.0.5:${bp.sip}`, '--option', 'net_interface=127.0.0.5', '--resync', '--json']);
  assert.equal(edit.code, 0, edit.stderr); // the change stands whatever the phone answers; the answer is a note
  const edited = JSON.parse(edit.stdout) as { schema: number; ips: string[]; ext: string; reissued: boolean; superseded: { serial: string; graceUntil: string } | null; changed: string[] };
  assert.deepEqual([edited.ips, edited.ext, edited.reissued, edited.superseded?.serial], [['127.0.0.5'], '102', true, serials.desk]);
  // The phone was told over its own (old-extension) registration, and what baresip answered is reported.
  const told = await serve.waitFor(after(serve, mark1, (e) => e.event === 'phone.resync' && e.phone === 'desk'), 20_000);
  assert.equal(typeof told.status, 'number', `desk answered the NOTIFY: ${JSON.stringify(told)}`);
  assert.match(edit.stderr, new RegExp(`resync desk: check-sync -> ${String(told.status)} `));
  t.diagnostic(`tuesday: edit --resync exited ${edit.code}; desk answered ${String(told.status)} ${String(told.reason)}`);
  const oldDesk = serials.desk;
  serials = { desk: home.serialOf('desk'), soft: serials.soft };
  assert.notEqual(serials.desk, oldDesk);
  // serve took the change in before it told the phone (a phone that refetches at once gets the new files).
  const changedAt = serve.events.findIndex((e, i) => i >= mark1 && e.event === 'phone.changed' && e.phone === 'desk');
  const toldAt = serve.events.findIndex((e, i) => i >= mark1 && e.event === 'phone.resync' && e.phone === 'desk');
  assert.ok(changedAt >= 0 && changedAt < toldAt, 'phone.changed before phone.resync');
  // Until it restarts, desk still holds its old files: its registration stands (its INVITEs as sip:101 are refused
  // as not its AOR any more); soft is untouched.
  const stillThere = home.json<{ registrations: Array<{ phone: string; certSerial: string }> }>(['status']);
  assert.ok(stillThere.registrations.some((r) => r.phone === 'desk' && r.certSerial === oldDesk), 'desk still registered with its old certificate');
  await checkFleet('tuesday (desk not restarted yet)', [], {}, [soft]);
  // The old files un-register the old extension as desk stops: refused (403, not its AOR any more), never a lockout.
  const mark1b = serve.events.length;
  await desk.stop();
  const unreg = await serve.waitFor(after(serve, mark1b, (e) => e.event === 'register.fail' && e.phone === 'desk'), 20_000);
  assert.deepEqual([unreg.aor, unreg.status, unreg.code], ['sip:101@pbx.test', 403, 'register.aor_mismatch']);
  await checkFleet('tuesday', [desk], { desk: { serial: serials.desk, aor: 'sip:102@pbx.test', address: '127.0.0.5' } });
  await serve.waitFor(after(serve, mark1, (e) => e.event === 'cert.superseded' && e.serial === oldDesk), 20_000);
  // Every phone has an address now, NTP is set: a clean bill, but for the --out tree (recorded by
  // provision render --out, so doctor checks it unasked) that has not followed the edit yet.
  doc = home.doctor();
  assert.deepEqual(doc.findings, [staleOut]);
  assert.equal(doc.code, 1);
  assert.equal(doc.status, 'warnings');
  renderOut('tuesday');
  doc = home.doctor();
  assert.deepEqual(doc.findings, []);
  assert.equal(doc.code, 0);
  assert.equal(doc.status, 'ok');

  // --- Wednesday: renew everything that expires within 60 days: both phones and the registrar's certificate.
  const expiring = home.json<Array<{ name: string; kind: string }>>(['cert', 'list', '--expiring', '60d']);
  assert.deepEqual(expiring.map((c) => `${c.kind}:${c.name}`).sort(), ['phone:desk', 'phone:soft', 'server:registrar']);
  const mark2 = serve.events.length;
  const renew = home.run(['cert', 'renew', '--expiring', '60d', '--resync', '--json']);
  assert.ok(renew.code === 0 || renew.code === 1, renew.stderr);
  const renewed = JSON.parse(renew.stdout) as { schema: number; renewals: Array<{ old: { serial: string; name: string; graceUntil: string | null }; renewed: { serial: string } }> };
  assert.deepEqual(renewed.renewals.map((r) => r.old.name).sort(), ['desk', 'registrar', 'soft']);
  for (const r of renewed.renewals) assert.ok(r.old.graceUntil, `${r.old.name}: the old certificate overlaps`);
  await serve.waitFor(after(serve, mark2, (e) => e.event === 'serve.reload'), 20_000);
  // --resync told both phones (over their registrations), and serve presents its renewed certificate.
  for (const name of ['desk', 'soft']) {
    const told2 = await serve.waitFor(after(serve, mark2, (e) => e.event === 'phone.resync' && e.phone === name), 20_000);
    assert.equal(typeof told2.status, 'number', `wednesday: ${name} answered ${String(told2.status)}`);
  }
  const presented = await serve.waitFor(after(serve, mark2, (e) => e.event === 'serve.certificate'), 20_000);
  assert.equal(presented.serial, renewed.renewals.find((r) => r.old.name === 'registrar')!.renewed.serial);
  const before2 = serials;
  serials = { desk: home.serialOf('desk'), soft: home.serialOf('soft') };
  assert.ok(serials.desk !== before2.desk && serials.soft !== before2.soft);
  await checkFleet('wednesday', phones, { desk: { serial: serials.desk, aor: 'sip:102@pbx.test' }, soft: { serial: serials.soft, aor: 'sip:111@pbx.test' } });
  for (const old of [before2.desk, before2.soft]) await serve.waitFor(after(serve, mark2, (e) => e.event === 'cert.superseded' && e.serial === old), 20_000);
  assert.deepEqual(home.doctor().findings, [staleOut]);
  renderOut('wednesday');

  // --- Thursday: rotate the CA. Trust bundles first, then new-CA certificates; the old CA is retired once nobody uses it.
  const mark3 = serve.events.length;
  home.ok(['ca', 'rotate', '--key', 'p256']);
  await serve.waitFor(after(serve, mark3, (e) => e.event === 'serve.reload'), 20_000);
  const bundle = readFileSync(path.join(home.dir, 'provision', 'soft', 'ca.crt'), 'utf8');
  assert.equal(bundle.match(/BEGIN CERTIFICATE/g)?.length, 2, 'the phones get both CAs');
  let status = home.json<CaStatusJson>(['ca', 'status']);
  assert.ok(status.old, 'a rotation in progress');
  assert.deepEqual([...status.usingOldCa].sort(), ['desk', 'soft'], 'both phones still on the old CA');
  // Refused while phones use the old CA: nobody is cut off.
  const early = home.run(['ca', 'retire-old']);
  assert.equal(early.code, 1, early.stderr);
  assert.deepEqual(home.doctor().findings, [staleOut]);
  renderOut('thursday (rotated)');
  const before3 = serials;
  serials = { desk: home.serialOf('desk'), soft: home.serialOf('soft') };
  assert.ok(serials.desk !== before3.desk && serials.soft !== before3.soft);
  await checkFleet('thursday (rotated)', phones, { desk: { serial: serials.desk, aor: 'sip:102@pbx.test' }, soft: { serial: serials.soft, aor: 'sip:111@pbx.test' } });
  for (const old of [before3.desk, before3.soft]) await serve.waitFor(after(serve, mark3, (e) => e.event === 'cert.superseded' && e.serial === old), 20_000);
  status = home.json<CaStatusJson>(['ca', 'status']);
  assert.deepEqual(status.usingOldCa, [], JSON.stringify(status.phones));
  for (const p of status.phones) assert.equal(p.certCa, 'current', `${p.name}: its certificate is under the new CA`);
  const mark4 = serve.events.length;
  home.ok(['ca', 'retire-old']);
  await serve.waitFor(after(serve, mark4, (e) => e.event === 'serve.reload'), 20_000);
  assert.equal(readFileSync(path.join(home.dir, 'provision', 'soft', 'ca.crt'), 'utf8').match(/BEGIN CERTIFICATE/g)?.length, 1, 'the old CA left the phones\' files');
  assert.equal(home.json<CaStatusJson>(['ca', 'status']).old, null);
  await checkFleet('thursday (retired)', phones, { desk: { serial: serials.desk, aor: 'sip:102@pbx.test' }, soft: { serial: serials.soft, aor: 'sip:111@pbx.test' } });
  assert.deepEqual(home.doctor().findings, [staleOut]);
  renderOut('thursday (retired)');

  // --- Friday: the registrar moves to 127.0.0.3. doctor says at once that no server certificate names it.
  const newPort = await freePort();
  const moved = home.run(['ca', 'config', '--registrar', `127.0.0.3:${newPort}`]);
  assert.equal(moved.code, 0, moved.stderr);
  assert.match(moved.stderr, /no valid server certificate names the registrar 127\.0\.0\.3/);
  doc = home.doctor();
  assert.deepEqual(doc.findings, ['error:registrar.name_unmatched:127.0.0.3', staleOut]);
  assert.equal(doc.code, 2);
  assert.equal(doc.status, 'errors');
  home.ok(['server', 'add', 'edge', '--ip', '127.0.0.3']);
  assert.deepEqual(home.doctor().findings, [staleOut]);
  assert.match(readFileSync(path.join(home.dir, 'provision', 'desk', 'accounts'), 'utf8'), new RegExp(`127\\.0\\.0\\.3:${newPort}`));
  assert.match(readFileSync(path.join(tftp, 'desk', 'accounts'), 'utf8'), new RegExp(`127\\.0\\.0\\.1:${sipPort}`), 'the --out tree changes only when rendered');
  renderOut('friday');
  assert.match(readFileSync(path.join(tftp, 'desk', 'accounts'), 'utf8'), new RegExp(`127\\.0\\.0\\.3:${newPort}`));
  await serve.stop();
  sipPort = newPort;
  serve = await ServeProcess.start(home.dir, ['--bind', '127.0.0.3', '--cert', 'edge', ...serveArgs(sipPort), await rtpPortRange()], home.env);
  const listen = await serve.waitFor((e) => e.event === 'sip.listen');
  assert.equal(listen.port, sipPort);
  await checkFleet('friday', phones, { desk: { serial: serials.desk, aor: 'sip:102@pbx.test' }, soft: { serial: serials.soft, aor: 'sip:111@pbx.test' } });

  // --- Saturday: tell everyone to resync; they fetch (restart from) their files and carry on.
  const resync = resyncAll('saturday');
  assert.ok(resync.results.every((x) => x.event !== null));
  await checkFleet('saturday', phones, { desk: { serial: serials.desk, aor: 'sip:102@pbx.test' }, soft: { serial: serials.soft, aor: 'sip:111@pbx.test' } });
  assert.deepEqual(home.doctor().findings, []);
  const sunday = renderOut('saturday', false);
  assert.ok(existsSync(path.join(tftp, 'firmware-6.4.1.bin')));
  t.diagnostic(`TFTP root at the end of the week: ${sunday.length} files`);
});
