/**
 * Messages between the echo benchmark's orchestrator (bench/echo.ts) and
 * its two children over node's IPC channel: the sipsec side
 * (bench/echo/server.ts, pinned to one core) and the load generator
 * (bench/echo/generator.ts, pinned to the other). Keys travel as base64
 * key || salt; nothing per packet crosses this channel.
 */
export interface CallKeys {
  /** The phone's (the generator's) key: what the echo decrypts with. */
  phone: string;
  /** The echo's own key: what it encrypts with, and the generator checks with. */
  echo: string;
}

export type ToServer =
  | { type: 'open'; calls: CallKeys[]; suite: string }
  | { type: 'usage' }
  | { type: 'close' };

export type FromServer =
  | { type: 'opened'; ports: number[] }
  | { type: 'usage'; cpuMicros: number; wallMs: number }
  | { type: 'closed'; totals: EchoTotals }
  | { type: 'error'; message: string };

export interface EchoTotals {
  calls: number;
  packetsIn: number;
  packetsOut: number;
  authFailures: number;
  replays: number;
  decryptErrors: number;
}

export interface GeneratorCall {
  port: number;
  keys: CallKeys;
}

export type ToGenerator =
  | { type: 'prepare'; calls: GeneratorCall[]; suite: string; warmupMs: number; measureMs: number; graceMs: number; lateMs: number; verify: boolean }
  | { type: 'run' }
  | { type: 'quit' };

export type FromGenerator =
  | { type: 'prepared'; packetsPerCall: number; prepareMs: number }
  | { type: 'window-start' }
  | { type: 'window-end' }
  | { type: 'result'; result: GeneratorResult }
  | { type: 'error'; message: string };

export interface GeneratorResult {
  calls: number;
  /** Packets sent inside the measured window. */
  sent: number;
  /** Of those, echoed back at all (before the grace period ended). */
  received: number;
  /** Of those received, later than `lateMs` after sending (a phone's jitter buffer would drop them). */
  late: number;
  /** Round-trip times of the window's packets, ms. */
  rttP50: number;
  rttP99: number;
  rttMax: number;
  /** The first echoed packet of every call, checked against the echo's key: how many did not authenticate. */
  verifyFailures: number;
  /** Calls that got nothing back at all. */
  silentCalls: number;
  /** Generator CPU over the window, percent of one core. */
  cpuPercent: number;
  /** How far behind schedule the sender fell at worst (ms). */
  maxSendLagMs: number;
  /** Share of the window's 1-ms send slots that went out more than one packet time (20 ms) late. */
  lateSlotShare: number;
}
