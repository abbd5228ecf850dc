import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanup, tmpDir } from '../helpers/cli.js';
import { ServeProcess } from '../helpers/serve.js';
import { cli, initHome } from '../helpers/registrar-home.js';
import { rtpPortRange } from '../helpers/echo.js';
import { EchoCaller, MediaSocket, echoedOf, freshKey, offerSdp, phoneCreds, protectedPackets, srtpRoundTrip } from '../helpers/echo-caller.js';
import { freePort } from '../vendors/peer-stubs.js';
import { getAttributes, parseSdp } from '../../src/sdp/sdp.js';
import { parseCryptoAttribute } from '../../src/sdp/sdes.js';
import type { SrtpMasterKey, SuiteName } from '../../src/srtp/index.js';

/**
 * The SDP offers the talk's phones sent, each in its own INVITE to the
 * echo over TLS from a registered phone, against `sipsec serve`: the
 * answer (status, tag, suite, key, Warning) and then the media, SRTP
 * protected with the offered key and checked to come back under the
 * answer's key with the same audio.
 */

interface Answered {
  port: number;
  proto: string;
  /** The one a=crypto line of the answer, as written. */
  crypto: string | undefined;
  tag: string | undefined;
  suite: string | undefined;
  key: SrtpMasterKey | undefined;
}

function readAnswer(sdp: string): Answered {
  const parsed = parseSdp(sdp);
  assert.ok(parsed.ok, `the answer parses: ${sdp}`);
  assert.equal(parsed.sdp.media.length, 1, 'one m= line, as offered (RFC 3264 §6)');
  const m = parsed.sdp.media[0]!;
  const lines = getAttributes(m.attributes, 'crypto').map((a) => a.value ?? '');
  assert.ok(lines.length <= 1, 'at most one a=crypto line in an answer (RFC 4568 §7.1.2)');
  const c = lines[0] === undefined ? undefined : parseCryptoAttribute(lines[0]);
  const k = c?.keys[0];
  return { port: m.port, proto: m.proto, crypto: lines[0], tag: c?.tagText, suite: c?.suite, key: k ? { key: k.key, salt: k.salt } : undefined };
}

function line(tag: number, suite: string, inline: string, extra = ''): string {
  return `a=crypto:${tag} ${suite} inline:${inline}${extra}`;
}

test('SDP offers as the talk’s phones sent them get correct answers, and the media under each answer is echoed', { timeout: 120_000 }, async (t) => {
  const home = tmpDir('sipsec-echo-offers-');
  t.after(() => cleanup(home));
  const sipPort = await freePort();
  initHome(home, sipPort);
  // Two softphone entries only for their certificates and secrets; the SIP and SDP are this test's.
  cli(home, ['phone', 'add', 'mand', '--vendor', 'baresip', '--ext', '301', '--srtp', 'mandatory']);
  cli(home, ['phone', 'add', 'opt', '--vendor', 'baresip', '--ext', '302', '--srtp', 'optional']);
  const rtpPorts = await rtpPortRange();
  const serveArgs = ['--tftp-port', 'off', '--https-port', 'off', '--sip-port', String(sipPort), '--diagnostic-port', 'off', '--rtp-ports', rtpPorts];
  let serve = await ServeProcess.start(home, serveArgs);
  t.after(() => serve.stop());
  const mand = await EchoCaller.register(sipPort, await phoneCreds(home, 'mand'));
  t.after(() => mand.close());
  const opt = await EchoCaller.register(sipPort, await phoneCreds(home, 'opt'));
  t.after(() => opt.close());
  const sockets: MediaSocket[] = [];
  t.after(() => sockets.forEach((s) => s.close()));
  const media = async () => {
    const s = await MediaSocket.open();
    sockets.push(s);
    return s;
  };

  /**
   * One accepted offer: the answer's tag and suite, a fresh key of the
   * right length, no lifetime or MKI in what sipsec writes (sip-srtp.md §4),
   * media both ways, then BYE and the call's final report.
   */
  const accepted = async (
    name: string,
    o: { caller?: EchoCaller; proto?: string; lines: (port: number) => string[]; tag: string; suite: SuiteName; phoneKey: SrtpMasterKey; more?: (port: number, m: MediaSocket, answerKey: SrtpMasterKey) => Promise<void> },
  ) => {
    const m = await media();
    const res = await (o.caller ?? mand).invite(offerSdp({ port: m.port, proto: o.proto ?? 'RTP/SAVP', lines: o.lines(m.port) }));
    assert.equal(res.status, 200, `${name}: ${res.status} ${res.reason} ${res.warning ?? ''}`);
    await res.ack();
    const a = readAnswer(res.answer);
    assert.equal(a.proto, o.proto ?? 'RTP/SAVP', `${name}: the answer keeps the offered transport`);
    assert.equal(a.tag, o.tag, `${name}: answer tag`);
    assert.equal(a.suite, o.suite, `${name}: answer suite (same tag, same suite: RFC 4568 §5.1.2)`);
    assert.doesNotMatch(a.crypto ?? '', /\|/, `${name}: no lifetime or MKI in the answer`);
    assert.ok(a.key && !Buffer.from(a.key.key).equals(Buffer.from(o.phoneKey.key)), `${name}: the answer has its own key (RFC 4568 §7.1.2)`);
    const start = await serve.waitFor((e) => e.event === 'call.start' && e.callId === res.callId);
    assert.equal(start.chosen, `${o.tag} ${o.suite}`);
    const rt = await srtpRoundTrip(m, a.port, { suite: o.suite, phoneKey: o.phoneKey, answerKey: a.key! });
    assert.deepEqual(rt, { sent: 20, back: 20, intact: 20, failed: 0 }, `${name}: every packet back, decrypting with the answer's key, same audio`);
    await o.more?.(a.port, m, a.key!);
    assert.equal(await res.bye(), 200);
    const end = await serve.waitFor((e) => e.event === 'call.end' && e.callId === res.callId);
    return { start, end };
  };

  // Aastra (2011): _32 first, then _80. The echo follows the offer's order and answers _32 under tag 1.
  {
    const k32 = freshKey('AES_CM_128_HMAC_SHA1_32');
    const k80 = freshKey('AES_CM_128_HMAC_SHA1_80');
    const { end } = await accepted('Aastra _32 first', {
      lines: () => [line(1, 'AES_CM_128_HMAC_SHA1_32', k32.inline), line(2, 'AES_CM_128_HMAC_SHA1_80', k80.inline)],
      tag: '1',
      suite: 'AES_CM_128_HMAC_SHA1_32',
      phoneKey: k32,
    });
    assert.equal(end.authFailures, 0);
    assert.equal(end.packetsIn, 20);
  }

  // Blink: _80 and _32 with different keys. Tag 1 wins; a packet under the tag-2 key is not the phone's key for this call.
  {
    const k80 = freshKey('AES_CM_128_HMAC_SHA1_80');
    const k32 = freshKey('AES_CM_128_HMAC_SHA1_32');
    const { end } = await accepted('Blink _80 + _32', {
      lines: () => [line(1, 'AES_CM_128_HMAC_SHA1_80', k80.inline), line(2, 'AES_CM_128_HMAC_SHA1_32', k32.inline)],
      tag: '1',
      suite: 'AES_CM_128_HMAC_SHA1_80',
      phoneKey: k80,
      more: async (port, m, answerKey) => {
        const wrong = protectedPackets('AES_CM_128_HMAC_SHA1_80', k32, 3);
        const back = await echoedOf(m, port, wrong, () => srtpRoundTrip(m, port, { suite: 'AES_CM_128_HMAC_SHA1_80', phoneKey: k80, answerKey }, 2));
        assert.equal(back, 0, 'packets under the other line’s key are not echoed');
      },
    });
    assert.equal(end.authFailures, 3, 'the three packets under the tag-2 key');
    assert.equal(end.packetsIn, 22);
  }

  // Grandstream: a lifetime of 2^32 (above SRTCP's 2^31, still valid: RFC 4568 §6.1 counts each separately).
  {
    const k = freshKey('AES_CM_128_HMAC_SHA1_80');
    const { start } = await accepted('Grandstream |2^32', { lines: () => [line(1, 'AES_CM_128_HMAC_SHA1_80', k.inline, '|2^32')], tag: '1', suite: 'AES_CM_128_HMAC_SHA1_80', phoneKey: k });
    assert.equal((start.negotiation as { chosen: { remoteLifetime?: string } }).chosen.remoteLifetime, '2^32');
  }

  // An MKI (RFC 4568 §9.2 example form |2^20|1:4): every packet carries the 4-octet MKI 1; the echo's answer has none.
  {
    const k = freshKey('AES_CM_128_HMAC_SHA1_80');
    const mki = Buffer.from([0, 0, 0, 1]);
    const { start, end } = await accepted('MKI 1:4', {
      lines: () => [line(1, 'AES_CM_128_HMAC_SHA1_80', k.inline, '|2^20|1:4')],
      tag: '1',
      suite: 'AES_CM_128_HMAC_SHA1_80',
      phoneKey: { key: k.key, salt: k.salt, mki },
      more: async (port, m, answerKey) => {
        // Without the MKI the packets name no key of this call (RFC 3711 §3.1): dropped and counted.
        const bare = protectedPackets('AES_CM_128_HMAC_SHA1_80', { key: k.key, salt: k.salt }, 2);
        const back = await echoedOf(m, port, bare, () => srtpRoundTrip(m, port, { suite: 'AES_CM_128_HMAC_SHA1_80', phoneKey: { key: k.key, salt: k.salt, mki }, answerKey }, 2));
        assert.equal(back, 0);
      },
    });
    assert.equal((start.negotiation as { chosen: { remoteMki?: string } }).chosen.remoteMki, '1:4');
    assert.equal(Number(end.authFailures) + Number(end.decryptErrors), 2, 'the two packets without the MKI');
    assert.equal(end.packetsIn, 22);
  }

  // Best effort (Snom's "optional crypto"): RTP/AVP with a=crypto is answered on RTP/AVP with SRTP.
  {
    const k = freshKey('AES_CM_128_HMAC_SHA1_32');
    await accepted('RTP/AVP + crypto', { proto: 'RTP/AVP', lines: () => [line(1, 'AES_CM_128_HMAC_SHA1_32', k.inline)], tag: '1', suite: 'AES_CM_128_HMAC_SHA1_32', phoneKey: k });
  }

  // GCM only (RFC 7714): no peer here offers it, the echo still answers and echoes it.
  for (const suite of ['AEAD_AES_128_GCM', 'AEAD_AES_256_GCM'] as const) {
    const k = freshKey(suite);
    const { end } = await accepted(`${suite} only`, { lines: () => [line(1, suite, k.inline)], tag: '1', suite, phoneKey: k });
    assert.equal(end.suite, suite);
  }

  // AES-256 first (Zoiper): unlike baresip, which answers the first 128-bit line, the echo takes the offer's first.
  {
    const k256 = freshKey('AES_256_CM_HMAC_SHA1_80');
    const k128 = freshKey('AES_CM_128_HMAC_SHA1_80');
    await accepted('AES-256 first', {
      lines: () => [line(1, 'AES_256_CM_HMAC_SHA1_80', k256.inline), line(2, 'AES_CM_128_HMAC_SHA1_80', k128.inline)],
      tag: '1',
      suite: 'AES_256_CM_HMAC_SHA1_80',
      phoneKey: k256,
    });
  }

  // Nothing acceptable: 488 with a Warning naming what was offered and what the echo accepts (RFC 3261 §21.4.26, §20.43).
  {
    const m = await media();
    const res = await mand.invite(offerSdp({ port: m.port, lines: [line(1, 'F8_128_HMAC_SHA1_80', freshKey('AES_CM_128_HMAC_SHA1_80').inline), line(2, 'NULL_HMAC_SHA1_80', freshKey('AES_CM_128_HMAC_SHA1_80').inline)] }));
    assert.equal(res.status, 488);
    assert.match(res.warning ?? '', /^306 sipsec "/);
    assert.match(res.warning ?? '', /F8_128_HMAC_SHA1_80/);
    assert.match(res.warning ?? '', /NULL_HMAC_SHA1_80/);
    assert.match(res.warning ?? '', /accepts .*AES_CM_128_HMAC_SHA1_80/);
    const rej = await serve.waitFor((e) => e.event === 'call.reject' && e.callId === res.callId);
    assert.equal(rej.status, 488);
    assert.equal(rej.warning, res.warning);
  }

  // srtp=mandatory and plain RTP/AVP: 488, Warning 302 (incompatible transport); RTP/SAVP without a=crypto: 306.
  {
    const m = await media();
    const avp = await mand.invite(offerSdp({ port: m.port, proto: 'RTP/AVP', lines: [] }));
    assert.equal(avp.status, 488);
    assert.match(avp.warning ?? '', /^302 sipsec ".*requires SRTP/);
    const savp = await mand.invite(offerSdp({ port: m.port, proto: 'RTP/SAVP', lines: [] }));
    assert.equal(savp.status, 488);
    assert.match(savp.warning ?? '', /^306 sipsec ".*without a=crypto/);
  }

  // srtp=optional and plain RTP/AVP: answered in clear, and the echo still echoes.
  {
    const m = await media();
    const res = await opt.invite(offerSdp({ port: m.port, proto: 'RTP/AVP', lines: [] }));
    assert.equal(res.status, 200, `${res.status} ${res.warning ?? ''}`);
    await res.ack();
    const a = readAnswer(res.answer);
    assert.equal(a.proto, 'RTP/AVP');
    assert.equal(a.crypto, undefined);
    const rt = await srtpRoundTrip(m, a.port, { plain: true });
    assert.deepEqual(rt, { sent: 20, back: 20, intact: 20, failed: 0 });
    assert.equal(await res.bye(), 200);
    const end = await serve.waitFor((e) => e.event === 'call.end' && e.callId === res.callId);
    assert.equal(end.suite, null);
    assert.equal(end.packetsIn, 20);
  }

  // 2011 again: a server that knows only _80 (--echo-suites), a phone that offers only _32: 488 + 306 naming both.
  mand.close();
  opt.close();
  await serve.stop();
  serve = await ServeProcess.start(home, [...serveArgs, '--echo-suites', 'AES_CM_128_HMAC_SHA1_80']);
  const again = await EchoCaller.register(sipPort, await phoneCreds(home, 'mand'));
  t.after(() => again.close());
  {
    const m = await media();
    const res = await again.invite(offerSdp({ port: m.port, lines: [line(1, 'AES_CM_128_HMAC_SHA1_32', freshKey('AES_CM_128_HMAC_SHA1_32').inline)] }));
    assert.equal(res.status, 488);
    assert.equal(res.warning, '306 sipsec "offered AES_CM_128_HMAC_SHA1_32; accepts AES_CM_128_HMAC_SHA1_80"');
    const rej = await serve.waitFor((e) => e.event === 'call.reject' && e.callId === res.callId);
    assert.equal((rej.offered as string[]).length, 1);
    assert.match((rej.offered as string[])[0]!, /^1 AES_CM_128_HMAC_SHA1_32 \(refused: .*AES_CM_128_HMAC_SHA1_80/);
  }
  // The same server still takes the _80 line when the phone offers both (the Blink order).
  {
    const k80 = freshKey('AES_CM_128_HMAC_SHA1_80');
    const k32 = freshKey('AES_CM_128_HMAC_SHA1_32');
    await accepted('_32 then _80 against an _80-only echo', {
      caller: again,
      lines: () => [line(1, 'AES_CM_128_HMAC_SHA1_32', k32.inline), line(2, 'AES_CM_128_HMAC_SHA1_80', k80.inline)],
      tag: '2',
      suite: 'AES_CM_128_HMAC_SHA1_80',
      phoneKey: k80,
    });
  }
});
