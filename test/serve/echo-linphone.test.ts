import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, tmpDir } from '../helpers/cli.js';
import { requirePeer } from '../helpers/peers.js';
import { ServeProcess, type ServeEventLike } from '../helpers/serve.js';
import { cli, initHome } from '../helpers/registrar-home.js';
import { rtpPortRange, waitForEchoCall } from '../helpers/echo.js';
import { startLinphonec } from '../helpers/linphone.js';
import { readWav, scanTone, writeToneWav } from '../helpers/wav.js';
import { freePort } from '../vendors/peer-stubs.js';

/**
 * linphonec 5.1 (libsrtp2 inside mediastreamer2) calls the SRTP echo three
 * times, with three `srtp_crypto_suites` lists rendered by the vendor
 * option srtp_suites: its default (_80, _32, AES-256 _80, _32), only
 * AES_CM_128_HMAC_SHA1_32, only AES_256_CM_HMAC_SHA1_80. Each plays a WAV
 * tone of its own frequency (`play`) and records what it hears (`record`,
 * file mode): the recording must be its own tone (not silence, not
 * another call's), and sipsec must count no authentication failure and
 * packets both ways. The three calls run at once, which also shows the
 * echo keeps concurrent calls apart.
 */
interface Case {
  phone: string;
  ext: string;
  suites: string | undefined;
  offered: string[];
  chosen: string;
  toneHz: number;
}

const CASES: Case[] = [
  {
    phone: 'linphone-default',
    ext: '111',
    suites: undefined,
    // linphonec 5.1.65's default list (peers.md §5): the echo takes the first.
    offered: ['1 AES_CM_128_HMAC_SHA1_80', '2 AES_CM_128_HMAC_SHA1_32', '3 AES_256_CM_HMAC_SHA1_80', '4 AES_256_CM_HMAC_SHA1_32'],
    chosen: '1 AES_CM_128_HMAC_SHA1_80',
    toneHz: 600,
  },
  { phone: 'linphone-32', ext: '112', suites: 'AES_CM_128_HMAC_SHA1_32', offered: ['1 AES_CM_128_HMAC_SHA1_32'], chosen: '1 AES_CM_128_HMAC_SHA1_32', toneHz: 800 },
  { phone: 'linphone-256', ext: '113', suites: 'AES_256_CM_HMAC_SHA1_80', offered: ['1 AES_256_CM_HMAC_SHA1_80'], chosen: '1 AES_256_CM_HMAC_SHA1_80', toneHz: 1000 },
];

interface Outcome {
  start: ServeEventLike;
  end: ServeEventLike;
  heard: ReturnType<typeof scanTone>;
  others: Array<{ hz: number; toneSeconds: number }>;
  /** linphonec's own SRTP failure lines (libsrtp2 status codes), from its debug log. */
  srtpFailures: string[];
}

async function oneCall(bin: string, home: string, serve: ServeProcess, c: Case): Promise<Outcome> {
  const work = path.join(home, 'work', c.phone);
  mkdirSync(work, { recursive: true });
  const toneFile = path.join(work, `tone-${c.toneHz}.wav`);
  writeToneWav(toneFile, { freq: c.toneHz, rate: 8000, seconds: 30 });
  const recording = path.join(work, 'heard.wav');
  const rc = path.join(home, 'provision', c.phone, 'linphonerc');
  const lin = startLinphonec(bin, rc, work);
  try {
    await serve.waitFor((e) => e.event === 'register.ok' && e.phone === c.phone, 40_000);
    lin.send('call sip:200@pbx.test');
    const start = await serve.waitFor((e) => e.event === 'call.start' && e.phone === c.phone, 30_000);
    await lin.waitFor((s) => s.includes('Media streams established with sip:200@pbx.test'), 20_000, `${c.phone}: media streams`);
    lin.send(`record ${recording}`);
    lin.send(`play ${toneFile}`);
    // 4 s of audio both ways and one SRTCP report from linphone (its first SR comes ~3.7 s in).
    await waitForEchoCall(home, (x) => x.callId === start.callId && Number(x.packetsIn) >= 200 && Number(x.rtcpIn) >= 1, 40_000, `${c.phone}: 4 s of echo and an SRTCP report`);
    lin.send('terminate');
    const end = await serve.waitFor((e) => e.event === 'call.end' && e.callId === start.callId, 20_000);
    await lin.waitFor((s) => /Call \d+ with sip:200@pbx\.test ended/.test(s), 10_000, `${c.phone}: call ended`);
    await lin.quit();
    assert.ok(existsSync(recording), `${c.phone}: linphonec wrote ${recording}`);
    const wav = readWav(recording);
    const others = CASES.filter((o) => o.toneHz !== c.toneHz).map((o) => ({ hz: o.toneHz, toneSeconds: scanTone(wav, o.toneHz).toneSeconds }));
    const srtpFailures = readFileSync(lin.log, 'utf8').split('\n').filter((l) => /srtp_unprotect\w*\(\) failed/.test(l));
    return { start, end, heard: scanTone(wav, c.toneHz), others, srtpFailures };
  } catch (e) {
    const log = existsSync(lin.log) ? readFileSync(lin.log, 'utf8').split('\n').filter((l) => /srtp|crypto|error/i.test(l)).slice(-30).join('\n') : '';
    throw new Error(`${c.phone}: ${e instanceof Error ? e.message : String(e)}\n--- linphonec output ---\n${lin.output.text().slice(-2000)}\n--- log (srtp/crypto/error lines) ---\n${log}`);
  } finally {
    await lin.quit();
  }
}

test('linphonec (real) calls the SRTP echo 200 with three suite lists and hears its own file back each time', { timeout: 150_000 }, async (t) => {
  const bin = requirePeer('linphonec');
  const home = tmpDir('sipsec-echo-linphone-');
  t.after(() => cleanup(home));
  const sipPort = await freePort();
  initHome(home, sipPort);
  for (const c of CASES) {
    const rtp = await rtpPortRange(20);
    const opts = ['--option', `sip_tls_port=${await freePort()}`, '--option', `rtp_ports=${rtp}`, ...(c.suites ? ['--option', `srtp_suites=${c.suites}`] : [])];
    cli(home, ['phone', 'add', c.phone, '--vendor', 'linphone', '--ext', c.ext, ...opts]);
    const rc = readFileSync(path.join(home, 'provision', c.phone, 'linphonerc'), 'utf8');
    if (c.suites) assert.match(rc, new RegExp(`^srtp_crypto_suites=${c.suites}$`, 'm'));
    else assert.doesNotMatch(rc, /srtp_crypto_suites/);
  }
  const serve = await ServeProcess.start(home, ['--tftp-port', 'off', '--https-port', 'off', '--sip-port', String(sipPort), '--diagnostic-port', 'off', '--rtp-ports', await rtpPortRange()]);
  t.after(() => serve.stop());

  const outcomes = await Promise.all(CASES.map((c) => oneCall(bin, home, serve, c)));

  CASES.forEach((c, i) => {
    const { start, end, heard, others, srtpFailures } = outcomes[i]!;
    t.diagnostic(`${c.phone}: linphonec SRTP failures: ${srtpFailures.length} ${srtpFailures.slice(0, 3).join(' | ')}`);
    t.diagnostic(`${c.phone}: chosen ${String(start.chosen)}, codec ${String(start.codec)}, srtcpTagBits ${String(end.srtcpTagBits)}, in/out ${String(end.packetsIn)}/${String(end.packetsOut)}, stunIn ${String(end.stunIn)}, decryptErrors ${String(end.decryptErrors)}, heard ${JSON.stringify(heard)}`);
    assert.deepEqual(start.offered, c.offered, `${c.phone}: what linphonec offered`);
    assert.equal(start.chosen, c.chosen, `${c.phone}: the echo's choice`);
    assert.equal(end.suite, c.chosen.split(' ')[1]);
    assert.equal(end.authFailures, 0, `${c.phone}: no SRTP authentication failure`);
    assert.equal(end.rtcpAuthFailures, 0, `${c.phone}: no SRTCP authentication failure`);
    assert.equal(end.replays, 0);
    assert.ok(Number(end.packetsIn) >= 200 && Number(end.packetsOut) >= 200, `${c.phone}: packets both ways`);
    assert.equal(Number(end.packetsOut) + Number(end.heardBeforeAck), end.packetsIn, `${c.phone}: every authentic packet echoed once (but those heard before the ACK)`);
    assert.equal(end.oneWayAudio, false);
    assert.ok(Number(end.rtcpIn) >= 1);
    // mediastreamer2 gives libsrtp2 the same policy for SRTCP as for SRTP: a 32-bit SRTCP tag with
    // _32, like baresip and Asterisk, not the 80 bits RFC 4568 §6.2.2 asks for. The echo accepts both.
    assert.equal(end.srtcpTagBits, c.chosen.endsWith('_32') ? 32 : 80, `${c.phone}: SRTCP tag length`);
    // linphonec's own log: libsrtp2 authenticated every SRTP and SRTCP packet the echo sent.
    assert.deepEqual(srtpFailures, [], `${c.phone}: linphonec rejected nothing sipsec sent`);
    // linphone's RTCP receiver reports about the echo's stream: it hears it.
    const hears = end.phoneHears as { fractionLost: number } | null;
    if (hears) assert.ok(hears.fractionLost < 0.5, `${c.phone}: linphone reports losing ${hears.fractionLost} of the echo`);
    assert.ok(heard.toneSeconds >= 2, `${c.phone}: at least 2 s of its ${c.toneHz} Hz tone heard back (got ${heard.toneSeconds} s of ${heard.totalSeconds} s)`);
    assert.ok(heard.ratio > 0.6, `${c.phone}: what it heard is its tone (Goertzel ratio ${heard.ratio.toFixed(3)})`);
    for (const o of others) assert.equal(o.toneSeconds, 0, `${c.phone}: never heard another call's ${o.hz} Hz tone`);
  });
});
