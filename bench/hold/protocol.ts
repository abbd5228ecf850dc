/**
 * Messages between the hold benchmark's orchestrator (bench/hold.ts) and
 * its load-generator workers (bench/hold/worker.ts) over node's IPC
 * channel. Each side parses what it receives (zod): a worker is another
 * process, and a half-sent message must fail loudly, not count as zero.
 */
import { z } from 'zod';

export const HeldPhoneSchema = z.object({
  user: z.string(),
  cert: z.string(),
  key: z.string(),
  /** The loopback address this phone connects from (127.1.x.y, or 127.0.0.1). */
  localAddress: z.string(),
});
export type HeldPhoneCreds = z.infer<typeof HeldPhoneSchema>;

export const StartSchema = z.object({
  type: z.literal('start'),
  host: z.string(),
  port: z.number().int().positive(),
  ca: z.string(),
  domain: z.string(),
  phones: z.array(HeldPhoneSchema),
  /** New TLS connections this worker opens per second during the ramp. */
  ratePerS: z.number().positive(),
  /** Handshakes this worker keeps in flight at most (the server's --max-handshakes is shared by all). */
  maxInFlight: z.number().int().positive(),
  keepaliveMs: z.number().positive(),
  refreshMs: z.number().positive(),
  expires: z.number().int().positive(),
  /** A REGISTER not answered this long after it was sent counts as unanswered (64*T1, Timer F). */
  answerTimeoutMs: z.number().positive(),
});
export type Start = z.infer<typeof StartSchema>;

export const ToWorkerSchema = z.discriminatedUnion('type', [StartSchema, z.object({ type: z.literal('stop') })]);
export type ToWorker = z.infer<typeof ToWorkerSchema>;

const count = z.number().int().nonnegative();

export const CountersSchema = z.object({
  attempted: count,
  established: count,
  connectFailed: count,
  /** Open now. */
  open: count,
  /** Closed by the server or errored after the handshake, before the stop. */
  dropped: count,
  registersSent: count,
  registersOk: count,
  /** Answered with a final status other than 200. */
  registersFailed: count,
  registersUnanswered: count,
  refreshesSent: count,
  refreshesOk: count,
  pingsSent: count,
  pongs: count,
  /** Pongs that came more than 10 s after their ping (RFC 5626 §4.4.1: the phone would give up on the flow). */
  pongsLate: count,
  /** Why connections failed or dropped, and which non-200 statuses came: name -> count. */
  reasons: z.record(z.string(), count),
});
export type Counters = z.infer<typeof CountersSchema>;

export const LatenciesSchema = z.object({
  handshakeMs: z.array(z.number()),
  registerMs: z.array(z.number()),
  pongMs: z.array(z.number()),
});
export type Latencies = z.infer<typeof LatenciesSchema>;

export const FromWorkerSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('progress'), counters: CountersSchema }),
  /** Every connection of this worker was attempted and has settled (established or failed). */
  z.object({ type: z.literal('ramped'), counters: CountersSchema }),
  z.object({ type: z.literal('final'), counters: CountersSchema, latencies: LatenciesSchema }),
  z.object({ type: z.literal('error'), message: z.string() }),
]);
export type FromWorker = z.infer<typeof FromWorkerSchema>;

export function emptyCounters(): Counters {
  return {
    attempted: 0,
    established: 0,
    connectFailed: 0,
    open: 0,
    dropped: 0,
    registersSent: 0,
    registersOk: 0,
    registersFailed: 0,
    registersUnanswered: 0,
    refreshesSent: 0,
    refreshesOk: 0,
    pingsSent: 0,
    pongs: 0,
    pongsLate: 0,
    reasons: {},
  };
}

/** The fleet's counters: every worker's summed. */
export function sumCounters(all: readonly Counters[]): Counters {
  const total = emptyCounters();
  for (const c of all) {
    for (const k of Object.keys(total) as Array<keyof Counters>) {
      if (k === 'reasons') continue;
      total[k] += c[k];
    }
    for (const [r, n] of Object.entries(c.reasons)) total.reasons[r] = (total.reasons[r] ?? 0) + n;
  }
  return total;
}
