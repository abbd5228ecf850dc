/**
 * Per-packet result codes of the SRTP engine.
 *
 * protect/unprotect never throw because of what is *in* a packet: a phone
 * (or an attacker) controls those bytes, and an echo loop must keep running
 * and count what went wrong. Every call returns a number:
 *   >= 0  the length of the resulting packet;
 *   <  0  one of the `SrtpStatus` codes below.
 * Construction errors (wrong key length, bad options) are programming or
 * configuration errors and throw `SipsecError('BAD_INPUT')` instead.
 *
 * Exports: SrtpStatus, SrtpStatusCode, SrtpStatusName, statusName(code),
 * SrtpCounters, Counters (the per-context tally behind `counters()`).
 */

export const SrtpStatus = {
  OK: 0,
  /** Shorter than header + trailer (MKI, tag, SRTCP index) for the suite. */
  TOO_SHORT: -1,
  /** RTP/RTCP version field is not 2 (RFC 3550 §5.1, §6.4.1). */
  BAD_VERSION: -2,
  /** CSRC list or header extension runs past the end of the packet. */
  BAD_HEADER: -3,
  /** Tag mismatch: tampered, wrong key, or (for GCM) wrong IV/AAD. */
  AUTH_FAIL: -4,
  /** Index already received inside the replay window (RFC 3711 §3.3.2). */
  REPLAY: -5,
  /** Index left of the replay window, or before the stream's start. */
  REPLAY_OLD: -6,
  /** MKI in the packet matches none of the context's master keys (RFC 3711 §3.1). */
  BAD_MKI: -7,
  /** The caller's output buffer is too small for the result. */
  NO_ROOM: -8,
  /** Master key used up: 2^48 SRTP / 2^31 SRTCP packets (RFC 3711 §9.2). */
  KEY_LIMIT: -9,
  /** A new SSRC arrived but the context already tracks `maxStreams`. */
  STREAM_LIMIT: -10,
  /** Input longer than the largest RTP/RTCP packet the engine handles (65535). */
  TOO_LONG: -11,
} as const;

export type SrtpStatusName = keyof typeof SrtpStatus;
export type SrtpStatusCode = (typeof SrtpStatus)[SrtpStatusName];

const NAMES: readonly SrtpStatusName[] = (() => {
  const byIndex: SrtpStatusName[] = [];
  for (const name of Object.keys(SrtpStatus) as SrtpStatusName[]) byIndex[-SrtpStatus[name]] = name;
  return byIndex;
})();

/** `statusName(-4)` → 'AUTH_FAIL'; any length (>= 0) → 'OK'. */
export function statusName(code: number): SrtpStatusName | 'UNKNOWN' {
  if (code >= 0) return 'OK';
  return NAMES[-code] ?? 'UNKNOWN';
}

export type SrtpCounters = Record<SrtpStatusName, number>;

/**
 * One slot per status, bumped on every call. A typed array keeps the hot
 * path to one indexed increment; `snapshot()` builds the readable object.
 */
export class Counters {
  private readonly slots = new Float64Array(NAMES.length);

  /** Records `result` (a length or a status) and returns it unchanged. */
  count(result: number): number {
    this.slots[result >= 0 ? 0 : -result]++;
    return result;
  }

  snapshot(): SrtpCounters {
    const out = {} as SrtpCounters;
    for (let i = 0; i < NAMES.length; i++) out[NAMES[i]] = this.slots[i];
    return out;
  }

  reset(): void {
    this.slots.fill(0);
  }
}
