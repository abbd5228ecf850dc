/**
 * Small builders shared by the SRTP tests: hex in and out, RTP/RTCP
 * packets, a key pair per suite, and the repository root (the compiled
 * tests live in dist/ or .build/, the C sources stay in test/srtp/c/).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SUITES, type SuiteName } from '../../src/srtp/suites.js';
import type { SrtpMasterKey } from '../../src/srtp/keys.js';

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex');
}

export function toHex(b: Uint8Array, n: number = b.length): string {
  return Buffer.from(b.buffer, b.byteOffset, n).toString('hex');
}

export interface RtpFields {
  seq: number;
  ssrc?: number;
  ts?: number;
  pt?: number;
  payload?: Uint8Array;
  csrcs?: number[];
  /** Header extension words (after the 4-octet extension header). */
  extWords?: number;
}

/** An RTP packet (RFC 3550 §5.1). */
export function rtp(f: RtpFields): Buffer {
  const csrcs = f.csrcs ?? [];
  const ext = f.extWords === undefined ? 0 : 4 + 4 * f.extWords;
  const payload = f.payload ?? Buffer.alloc(20, 0x5a);
  const p = Buffer.alloc(12 + 4 * csrcs.length + ext + payload.length);
  p[0] = 0x80 | (ext ? 0x10 : 0) | csrcs.length;
  p[1] = f.pt ?? 0;
  p.writeUInt16BE(f.seq & 0xffff, 2);
  p.writeUInt32BE((f.ts ?? f.seq * 160) >>> 0, 4);
  p.writeUInt32BE((f.ssrc ?? 0x11223344) >>> 0, 8);
  csrcs.forEach((c, i) => p.writeUInt32BE(c >>> 0, 12 + 4 * i));
  let at = 12 + 4 * csrcs.length;
  if (ext) {
    p.writeUInt16BE(0xbede, at);
    p.writeUInt16BE(f.extWords ?? 0, at + 2);
    at += ext;
  }
  p.set(payload, at);
  return p;
}

/** A sender report with `extra` octets of body after the SSRC (RFC 3550 §6.4.1). */
export function rtcp(ssrc = 0x11223344, extra = 20): Buffer {
  const len = 8 + extra;
  const p = Buffer.alloc(len, 0x77);
  p[0] = 0x80;
  p[1] = 200;
  p.writeUInt16BE(len / 4 - 1, 2);
  p.writeUInt32BE(ssrc >>> 0, 4);
  return p;
}

export function randomKey(suite: SuiteName, mki?: Uint8Array): SrtpMasterKey {
  const s = SUITES[suite];
  return mki ? { key: randomBytes(s.keyLen), salt: randomBytes(s.saltLen), mki } : { key: randomBytes(s.keyLen), salt: randomBytes(s.saltLen) };
}

/** The repository root: the nearest ancestor of this file with a package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 12; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'test', 'srtp'))) return dir;
    dir = dirname(dir);
  }
  throw new Error('repository root not found above ' + fileURLToPath(import.meta.url));
}
