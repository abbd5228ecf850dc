/**
 * Context options (what SDES negotiated) and their validation. A bad
 * option is a configuration error: SipsecError('BAD_INPUT') at
 * construction, never a per-packet surprise.
 *
 * Session parameters (RFC 4568 §6.3): UNENCRYPTED_SRTP / UNENCRYPTED_SRTCP
 * (§6.3.2; SRTCP then sends E = 0, RFC 3711 §3.4), UNAUTHENTICATED_SRTP
 * (§6.3.3; no SRTP tag; SRTCP stays authenticated, RFC 3711 §3.4 "REQUIRED"),
 * KDR (§6.3.1, given here as the rate, not the exponent).
 *
 * Exports: SrtpOptions, Policy, resolvePolicy(opts).
 */
import { SipsecError } from '../core/errors.js';
import { validateKdr } from './kdf.js';
import { MasterKeyState, validateMasterKeys, type SrtpMasterKey } from './keys.js';
import { DEFAULT_REPLAY_WINDOW, validateWindowSize } from './replay.js';
import { SUITES, isSuiteName, type SuiteInfo, type SuiteName } from './suites.js';

export interface SrtpOptions {
  /** One of SUITE_NAMES. */
  suite: SuiteName;
  /** One master key, or several told apart by MKI; the sender starts with the first. */
  keys: readonly SrtpMasterKey[];
  /** Session parameter UNENCRYPTED_SRTP: payloads in clear, still authenticated. Default false. */
  unencryptedSrtp?: boolean;
  /** Session parameter UNENCRYPTED_SRTCP: E flag 0 on send. Receivers follow each packet's E flag. Default false. */
  unencryptedSrtcp?: boolean;
  /** Session parameter UNAUTHENTICATED_SRTP: no SRTP tag (not allowed with GCM). Default false. */
  unauthenticatedSrtp?: boolean;
  /** Key derivation rate: 0 (default, derive once) or a power of two up to 2^24. */
  kdr?: number;
  /** SRTP replay window in packets: multiple of 32, 64..32736. Default 128 (libsrtp's). */
  replayWindow?: number;
  /** SRTCP replay window, same rules. Default 128. */
  srtcpReplayWindow?: number;
  /**
   * SRTCP tag length the *sender* uses, in octets. Default: the RFC value
   * (10 for HMAC suites, 16 for GCM). `_32` suites may choose 4, which is
   * what Asterisk and baresip send; receivers accept either for `_32`.
   */
  srtcpTagLen?: 4 | 10 | 16;
  /** SSRCs tracked per context before new ones are refused (STREAM_LIMIT). Default 256. */
  maxStreams?: number;
  /**
   * Sender only: allow protecting the same packet index twice. Off by
   * default because it reuses keystream (and breaks GCM completely); this
   * mirrors libsrtp's allow_repeat_tx for retransmissions of identical packets.
   */
  allowRepeatTx?: boolean;
  /**
   * AES-192 suites only: derive session keys the way libsrtp <= 2.7 does
   * (see kdf.ts), to talk to Asterisk/pjsip builds linking it. Default
   * false: RFC 6188, which those builds cannot read.
   */
  libsrtpAes192Kdf?: boolean;
}

export interface Policy {
  readonly suite: SuiteInfo;
  readonly keys: readonly MasterKeyState[];
  readonly mkiLen: number;
  readonly encryptSrtp: boolean;
  readonly encryptSrtcp: boolean;
  /** SRTP tag length in use: 0 when UNAUTHENTICATED_SRTP. */
  readonly rtpTagLen: number;
  readonly srtcpTagLen: number;
  readonly kdr: number;
  readonly replayWindow: number;
  readonly srtcpReplayWindow: number;
  readonly maxStreams: number;
  readonly allowRepeatTx: boolean;
}

export function validateSrtcpTagLen(suite: SuiteInfo, len: number): number {
  const ok = suite.aead ? len === 16 : len === 10 || (len === 4 && suite.tagLen === 4);
  if (!ok) {
    const allowed = suite.aead ? '16' : suite.tagLen === 4 ? '10 (RFC 4568) or 4 (Asterisk, baresip)' : '10';
    throw new SipsecError('BAD_INPUT', `SRTCP tag length ${len} does not fit ${suite.name}`, `use ${allowed}`);
  }
  return len;
}

export function resolvePolicy(opts: SrtpOptions): Policy {
  if (!isSuiteName(opts.suite)) {
    throw new SipsecError('BAD_INPUT', `unknown SRTP suite '${String(opts.suite)}'`, 'see SUITE_NAMES in src/srtp/suites.ts');
  }
  const suite = SUITES[opts.suite];
  const kdr = validateKdr(opts.kdr ?? 0);
  const mkiLen = validateMasterKeys(suite, opts.keys);
  if (suite.aead && opts.unauthenticatedSrtp) {
    throw new SipsecError('BAD_INPUT', `${suite.name} cannot be UNAUTHENTICATED_SRTP`, 'an AEAD always authenticates (RFC 7714); drop the session parameter');
  }
  const maxStreams = opts.maxStreams ?? 256;
  if (!Number.isInteger(maxStreams) || maxStreams < 1) {
    throw new SipsecError('BAD_INPUT', `maxStreams is ${maxStreams}`, 'use a positive integer');
  }
  return {
    suite,
    keys: opts.keys.map((k, i) => new MasterKeyState(suite, k, i, kdr, opts.libsrtpAes192Kdf ?? false)),
    mkiLen,
    encryptSrtp: !opts.unencryptedSrtp,
    encryptSrtcp: !opts.unencryptedSrtcp,
    rtpTagLen: opts.unauthenticatedSrtp ? 0 : suite.tagLen,
    srtcpTagLen: validateSrtcpTagLen(suite, opts.srtcpTagLen ?? suite.srtcpTagLen),
    kdr,
    replayWindow: validateWindowSize(opts.replayWindow ?? DEFAULT_REPLAY_WINDOW, 'replayWindow'),
    srtcpReplayWindow: validateWindowSize(opts.srtcpReplayWindow ?? DEFAULT_REPLAY_WINDOW, 'srtcpReplayWindow'),
    maxStreams,
    allowRepeatTx: opts.allowRepeatTx ?? false,
  };
}
