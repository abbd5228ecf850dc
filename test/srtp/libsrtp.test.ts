/**
 * Interop with the real libsrtp2 (Debian libsrtp2-dev): test/srtp/c/
 * srtp_interop.c is compiled with cc into a temp dir, libsrtp protects
 * packets we unprotect, and unprotects packets we protect, for each suite,
 * MKI, the `_32` SRTCP tag split, the session parameters, and a SEQ wrap.
 * One bounded peer process per case (spawnSync with a timeout).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SrtpReceiver } from '../../src/srtp/receiver.js';
import { SrtpSender } from '../../src/srtp/sender.js';
import { statusName } from '../../src/srtp/status.js';
import type { SuiteName } from '../../src/srtp/suites.js';
import type { SrtpMasterKey } from '../../src/srtp/keys.js';
import { requirePeer } from '../helpers/peers.js';
import { hex, randomKey, repoRoot, rtcp, rtp, toHex } from './helpers.js';

const PEER_TIMEOUT_MS = 20_000;

let workDir = '';
let peerBin = '';

function buildPeer(): string {
  const cc = requirePeer('cc');
  workDir = mkdtempSync(join(tmpdir(), 'sipsec-srtp-'));
  const out = join(workDir, 'srtp_interop');
  const src = join(repoRoot(), 'test', 'srtp', 'c', 'srtp_interop.c');
  const pc = spawnSync('pkg-config', ['--cflags', '--libs', 'libsrtp2'], { encoding: 'utf8', timeout: 10_000 });
  const flags = pc.status === 0 ? pc.stdout.trim().split(/\s+/).filter(Boolean) : ['-lsrtp2'];
  const r = spawnSync(cc, ['-O1', '-o', out, src, ...flags], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) {
    throw new Error(`compiling ${src} failed (${r.error?.message ?? r.stderr.trim()}); libsrtp2 headers come from: apt-get install -y --no-install-recommends libsrtp2-dev pkg-config`);
  }
  return out;
}

/** Runs one script through the peer; returns the answer lines after READY. */
function runPeer(lines: string[]): string[] {
  const r = spawnSync(peerBin, [], { input: lines.join('\n') + '\n', encoding: 'utf8', timeout: PEER_TIMEOUT_MS, maxBuffer: 16 << 20 });
  assert.equal(r.error, undefined, `libsrtp peer: ${r.error?.message}`);
  assert.equal(r.status, 0, `libsrtp peer exited ${r.status}: ${r.stderr}`);
  const out = r.stdout.trim().split('\n');
  assert.match(out[0] ?? '', /^READY libsrtp2 /);
  assert.equal(out.length - 1, lines.length, 'one answer per command');
  return out.slice(1);
}

function keySpec(keys: readonly SrtpMasterKey[]): string {
  return keys.map((k) => toHex(Buffer.concat([k.key, k.salt])) + (k.mki ? ':' + toHex(k.mki) : '')).join(',');
}

interface Case {
  name: string;
  suite: SuiteName;
  /** libsrtp's SRTCP tag for `_32`: 80 (its default RTCP policy) or 32 (Asterisk/baresip). */
  rtcpBits?: 80 | 32;
  /** e = UNENCRYPTED_SRTP, c = UNENCRYPTED_SRTCP, a = UNAUTHENTICATED_SRTP */
  flags?: string;
  mki?: boolean;
  seqs?: number[];
  /** Our side uses libsrtp's AES-192 key derivation (see src/srtp/kdf.ts). */
  libsrtpAes192Kdf?: boolean;
}

function runCase(c: Case): void {
  const mkiA = c.mki ? [hex('0a0b0c01'), hex('0a0b0c02')] : [undefined, undefined];
  const theirKeys = mkiA.map((m) => randomKey(c.suite, m)).slice(0, c.mki ? 2 : 1);
  const ourKeys = mkiA.map((m) => randomKey(c.suite, m)).slice(0, c.mki ? 2 : 1);
  const flags = c.flags ?? '';
  const opts = {
    suite: c.suite,
    unencryptedSrtp: flags.includes('e'),
    unencryptedSrtcp: flags.includes('c'),
    unauthenticatedSrtp: flags.includes('a'),
    libsrtpAes192Kdf: c.libsrtpAes192Kdf ?? false,
  };
  const rtcp32 = c.rtcpBits === 32;
  const rx = new SrtpReceiver({ ...opts, keys: theirKeys });
  const tx = new SrtpSender({ ...opts, keys: ourKeys, srtcpTagLen: rtcp32 ? 4 : undefined });
  if (c.mki) tx.selectKey(1);

  const seqs = c.seqs ?? [100, 101, 102, 104, 103, 105, 106, 107];
  const plainRtp = seqs.map((seq, i) =>
    rtp({ seq, ssrc: 0xdecafbad, payload: Buffer.alloc([20, 160, 1, 0, 333, 1024, 17, 64][i % 8], i + 1), csrcs: i % 3 === 1 ? [7, 8] : [], extWords: i % 4 === 2 ? 1 : undefined }),
  );
  const plainRtcp = [rtcp(0xdecafbad, 20), rtcp(0xdecafbad, 52), rtcp(0xdecafbad, 4)];

  const ours = plainRtp.map((p) => {
    const n = tx.protectRtp(p);
    assert.ok(n > 0, statusName(n));
    return toHex(tx.out, n);
  });
  const oursRtcp = plainRtcp.map((p) => {
    const n = tx.protectRtcp(p);
    assert.ok(n > 0, statusName(n));
    return toHex(tx.out, n);
  });

  const mkiIdx = c.mki ? 1 : -1;
  const useMki = c.mki ? 1 : 0;
  const script = [
    `S 0 ${c.suite} tx ${c.rtcpBits ?? 80} ${flags || '-'} ${keySpec(theirKeys)}`,
    `S 1 ${c.suite} rx ${c.rtcpBits ?? 80} ${flags || '-'} ${keySpec(ourKeys)}`,
    ...plainRtp.map((p) => `P 0 rtp ${mkiIdx} ${toHex(p)}`),
    ...plainRtcp.map((p) => `P 0 rtcp ${mkiIdx} ${toHex(p)}`),
    ...ours.map((h) => `U 1 rtp ${useMki} ${h}`),
    ...oursRtcp.map((h) => `U 1 rtcp ${useMki} ${h}`),
  ];
  const answers = runPeer(script);
  assert.deepEqual(answers.slice(0, 2), ['OK', 'OK'], 'sessions created');
  let at = 2;
  const packetOf = (answer: string, what: string): Buffer => {
    assert.match(answer, /^OK [0-9a-f]+$/, `${what}: libsrtp said ${answer}`);
    return hex(answer.slice(3));
  };

  // libsrtp → sipsec
  for (let i = 0; i < plainRtp.length; i++) {
    const theirs = packetOf(answers[at++], `libsrtp protect RTP ${i}`);
    const n = rx.unprotectRtp(theirs);
    assert.equal(toHex(rx.out, Math.max(n, 0)), toHex(plainRtp[i]), `sipsec unprotect of libsrtp RTP ${i}: ${statusName(n)}`);
  }
  for (let i = 0; i < plainRtcp.length; i++) {
    const theirs = packetOf(answers[at++], `libsrtp protect RTCP ${i}`);
    const n = rx.unprotectRtcp(theirs);
    assert.equal(toHex(rx.out, Math.max(n, 0)), toHex(plainRtcp[i]), `sipsec unprotect of libsrtp RTCP ${i}: ${statusName(n)}`);
  }
  if (c.suite.endsWith('_32')) assert.equal(rx.srtcpTagBits, c.rtcpBits ?? 80, 'reported SRTCP tag length');
  assert.equal(rx.srtcpEncrypted, !flags.includes('c'));
  if (c.mki) assert.equal(rx.lastKey, 1);

  // sipsec → libsrtp
  for (let i = 0; i < plainRtp.length; i++) {
    assert.equal(toHex(packetOf(answers[at++], `libsrtp unprotect of sipsec RTP ${i}`)), toHex(plainRtp[i]));
  }
  for (let i = 0; i < plainRtcp.length; i++) {
    assert.equal(toHex(packetOf(answers[at++], `libsrtp unprotect of sipsec RTCP ${i}`)), toHex(plainRtcp[i]));
  }
}

describe('interop with libsrtp2', () => {
  before(() => {
    peerBin = buildPeer();
  });
  after(() => {
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  const cases: Case[] = [
    { name: 'AES_CM_128_HMAC_SHA1_80', suite: 'AES_CM_128_HMAC_SHA1_80' },
    { name: 'AES_CM_128_HMAC_SHA1_32, SRTCP tag 80 (RFC 4568, libsrtp default)', suite: 'AES_CM_128_HMAC_SHA1_32', rtcpBits: 80 },
    { name: 'AES_CM_128_HMAC_SHA1_32, SRTCP tag 32 (Asterisk/baresip style)', suite: 'AES_CM_128_HMAC_SHA1_32', rtcpBits: 32 },
    { name: 'AES_192_CM_HMAC_SHA1_80 (libsrtp AES-192 KDF)', suite: 'AES_192_CM_HMAC_SHA1_80', libsrtpAes192Kdf: true },
    { name: 'AES_192_CM_HMAC_SHA1_32, SRTCP tag 32 (libsrtp AES-192 KDF)', suite: 'AES_192_CM_HMAC_SHA1_32', rtcpBits: 32, libsrtpAes192Kdf: true },
    { name: 'AES_256_CM_HMAC_SHA1_80', suite: 'AES_256_CM_HMAC_SHA1_80' },
    { name: 'AES_256_CM_HMAC_SHA1_32, SRTCP tag 80', suite: 'AES_256_CM_HMAC_SHA1_32', rtcpBits: 80 },
    { name: 'AEAD_AES_128_GCM', suite: 'AEAD_AES_128_GCM' },
    { name: 'AEAD_AES_256_GCM', suite: 'AEAD_AES_256_GCM' },
    { name: 'MKI, two master keys, second in use: AES_CM_128_HMAC_SHA1_80', suite: 'AES_CM_128_HMAC_SHA1_80', mki: true },
    { name: 'MKI, two master keys: AES_256_CM_HMAC_SHA1_32 with SRTCP tag 32', suite: 'AES_256_CM_HMAC_SHA1_32', rtcpBits: 32, mki: true },
    { name: 'MKI, two master keys: AEAD_AES_128_GCM (MKI after the tag)', suite: 'AEAD_AES_128_GCM', mki: true },
    { name: 'UNENCRYPTED_SRTCP (E = 0): AES_CM_128_HMAC_SHA1_80', suite: 'AES_CM_128_HMAC_SHA1_80', flags: 'c' },
    { name: 'UNENCRYPTED_SRTCP (E = 0): AEAD_AES_256_GCM', suite: 'AEAD_AES_256_GCM', flags: 'c' },
    { name: 'UNENCRYPTED_SRTP: AES_CM_128_HMAC_SHA1_80', suite: 'AES_CM_128_HMAC_SHA1_80', flags: 'e' },
    { name: 'UNAUTHENTICATED_SRTP: AES_CM_128_HMAC_SHA1_80', suite: 'AES_CM_128_HMAC_SHA1_80', flags: 'a' },
    { name: 'SEQ wrap 65535 → 0 with a late packet: AES_CM_128_HMAC_SHA1_80', suite: 'AES_CM_128_HMAC_SHA1_80', seqs: [65532, 65533, 65535, 0, 65534, 1, 2, 3] },
    { name: 'SEQ wrap 65535 → 0 with a late packet: AEAD_AES_128_GCM', suite: 'AEAD_AES_128_GCM', seqs: [65532, 65533, 65535, 0, 65534, 1, 2, 3] },
  ];
  for (const c of cases) it(c.name, () => runCase(c));

  it('AES-192 key derivation: this libsrtp matches RFC 6188 or its known <= 2.7 quirk, nothing else', () => {
    const key = { key: hex('73edc66c4fa15776fb57f9505c17136550ffda71f3e8e5f1'), salt: hex('c8522f3acd4ce86d5add78edbb11') };
    const plain = hex('800f0000decafbad00000000' + 'ab'.repeat(16));
    const rfc = new SrtpSender({ suite: 'AES_192_CM_HMAC_SHA1_80', keys: [key] });
    const quirk = new SrtpSender({ suite: 'AES_192_CM_HMAC_SHA1_80', keys: [key], libsrtpAes192Kdf: true });
    const rfcHex = toHex(rfc.out, rfc.protectRtp(plain));
    const quirkHex = toHex(quirk.out, quirk.protectRtp(plain));
    const r = spawnSync(peerBin, [], {
      input: `S 0 AES_192_CM_HMAC_SHA1_80 tx 80 - ${keySpec([key])}\nP 0 rtp -1 ${toHex(plain)}\n`,
      encoding: 'utf8',
      timeout: PEER_TIMEOUT_MS,
    });
    const [ready, , answer] = r.stdout.trim().split('\n');
    const theirs = (answer ?? '').slice(3);
    const version = /libsrtp2 (\d+)\.(\d+)/.exec(ready ?? '');
    assert.ok(version, `version line: ${ready}`);
    const [major, minor] = [Number(version[1]), Number(version[2])];
    if (major === 2 && minor <= 7) {
      assert.equal(theirs, quirkHex, `libsrtp ${major}.${minor} is expected to use the AES-256-keyed AES-192 KDF`);
    } else {
      assert.ok(theirs === rfcHex || theirs === quirkHex, `libsrtp ${major}.${minor}: neither RFC 6188 nor the known quirk`);
    }
    assert.notEqual(rfcHex, quirkHex);
  });
});
