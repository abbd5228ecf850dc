import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { requirePeer } from '../helpers/peers.js';
import { registrarCa } from '../helpers/registrar-ca.js';
import { ServeProcess } from '../helpers/serve.js';
import { screenshot } from '../helpers/chromium.js';
import { decodePng, pngStats } from '../helpers/png.js';
import { cleanupStack, fetchOverHttps, phoneOf, probeJson, startVerify, stepOf } from '../helpers/verify.js';

/**
 * The page `sipsec verify --html FILE` writes, for people who would rather
 * look than read: one self-contained file (no scripts, no external
 * assets) with the per-phone table and the timeline. It is opened in
 * headless Chromium and the screenshot is decoded and checked: not blank,
 * several colours, the green PASS and red FAIL cells visible.
 *
 * The events come from real traffic: one phone fetches its files over
 * HTTPS (curl) and is probed end to end (all PASS); the other is probed
 * with a suite the echo was told to refuse (call FAIL, with its hint).
 */
test('verify --html: a self-contained page that headless Chromium renders with the green and red table', { timeout: 120_000 }, async (t) => {
  const defer = cleanupStack(t);
  const chromium = requirePeer('chromium');
  const curl = requirePeer('curl');
  const ca = await registrarCa([
    { name: 'telefono1', vendor: 'baresip', ext: '101' },
    { name: 'telefono2', vendor: 'baresip', ext: '102' },
  ]);
  defer(() => ca.cleanup());
  const serve = await ServeProcess.start(ca.home, ['--tftp-port', 'off', '--https-port', '0', '--sip-port', '0', '--diagnostic-port', 'off', '--echo-suites', 'AES_CM_128_HMAC_SHA1_80,AES_CM_128_HMAC_SHA1_32']);
  defer(() => serve.stop());
  const html = path.join(ca.dir, 'report.html');
  const verify = startVerify(ca.home, ['--all', '--json', '--html', html, '--timeout', '120s']);
  defer(() => verify.kill());
  await verify.progress(/watching serve \(pid \d+\) for every phone/, 20_000, 'verify to attach');

  const pair = await ca.pair('telefono1');
  const pem = path.join(ca.dir, 'telefono1.pem');
  writeFileSync(pem, pair.cert + pair.key, { mode: 0o600 });
  fetchOverHttps(curl, { port: serve.ports.https!, basePath: '/provision/', vendor: 'baresip', phone: 'telefono1', files: ['config', 'accounts', 'cert.pem', 'ca.crt'], caFile: path.join(ca.home, 'ca.crt'), certKeyPem: pem, dest: path.join(ca.dir, 'fetched') });
  const target = `sips:127.0.0.1:${serve.ports.sip}`;
  const good = await probeJson(ca.home, [target, '--as', 'telefono1', '--duration', '1s']);
  assert.equal(good.code, '0', JSON.stringify(good.report.steps));
  const refused = await probeJson(ca.home, [target, '--as', 'telefono2', '--suite', 'AEAD_AES_256_GCM', '--duration', '1s']);
  assert.equal(refused.code, '1');
  await verify.progress(/telefono1: call PASS/, 20_000, 'verify to see telefono1\'s call');
  await verify.progress(/telefono2: call FAIL/, 20_000, 'verify to see telefono2\'s refused call');
  const { code, report } = await verify.interrupt();
  assert.equal(code, '1', 'not every phone passes');
  assert.equal(phoneOf(report, 'telefono1').ok, true);
  assert.equal(stepOf(phoneOf(report, 'telefono2'), 'call').failure, 'suite-mismatch');

  // Self-contained: no scripts, no external resources, no links off the page.
  const page = readFileSync(html, 'utf8');
  assert.doesNotMatch(page, /<script/i);
  assert.doesNotMatch(page, /\ssrc\s*=/i);
  assert.doesNotMatch(page, /href\s*=\s*["']?(?:https?:)?\/\//i);
  assert.doesNotMatch(page, /@import|url\(/i);
  assert.doesNotMatch(page, /<link\b/i);
  for (const h of page.matchAll(/href\s*=\s*"([^"]*)"/g)) assert.match(h[1]!, /^#/, `in-page links only: ${h[1]}`);
  assert.match(page, /<table class="main">/);
  assert.match(page, /telefono1[\s\S]*telefono2/);
  assert.match(page, /<td class="fail"><b>FAIL<\/b>/);
  assert.match(page, /no common SRTP suite/);
  // The timeline: each phone's events.
  assert.match(page, /<h2 id="telefono1">/);
  assert.match(page, /<code>call\.end<\/code>/);

  // What a person sees.
  const png = path.join(ca.dir, 'report.png');
  await screenshot(chromium, html, png, path.join(ca.dir, 'chromium-profile'));
  const img = decodePng(readFileSync(png));
  assert.equal(img.width, 1200);
  assert.equal(img.height, 800);
  // #dafbe1 is the PASS cell background, #ffebe9 the FAIL one, #fff8c5 a hint (html.ts).
  const stats = pngStats(img, { pass: '#dafbe1', fail: '#ffebe9', hint: '#fff8c5' });
  assert.ok(stats.colours >= 8, `several distinct colours, got ${stats.colours}`);
  assert.ok(stats.nonWhite / stats.total > 0.05, `not blank: ${stats.nonWhite} of ${stats.total} pixels are not white`);
  assert.ok(stats.near.pass! > 5000, `green PASS cells visible: ${stats.near.pass} pixels`);
  assert.ok(stats.near.fail! > 1000, `a red FAIL cell visible: ${stats.near.fail} pixels`);
  assert.ok(stats.near.hint! > 500, `a hint box visible: ${stats.near.hint} pixels`);
});
