/**
 * A hold-benchmark load-generator process (forked by bench/hold.ts): its
 * share of the phones, connected at a steady rate (TLS handshakes are the
 * CPU-heavy part, for the server and for us), then held until `stop`.
 * Reports its counters every 2 s, once when its ramp is done, and with
 * every latency at the end.
 */
import { emptyCounters, FromWorkerSchema, ToWorkerSchema, type FromWorker, type Latencies, type Start } from './protocol.js';
import { HeldPhone, type PhoneEnv } from './phone.js';

const TICK_MS = 20;
/** How long a stopping worker waits for answers still in flight. */
const DRAIN_MS = 10_000;

function send(m: FromWorker): void {
  process.send?.(FromWorkerSchema.parse(m));
}

const latencies: Latencies = { handshakeMs: [], registerMs: [], pongMs: [] };
const counters = emptyCounters();
let phones: HeldPhone[] = [];
let progress: NodeJS.Timeout | undefined;

/** Opens `start.phones` at `ratePerS`, never more than `maxInFlight` handshakes at once. */
async function ramp(start: Start): Promise<void> {
  const env: PhoneEnv = { start, counters, latencies };
  phones = start.phones.map((c) => new HeldPhone(env, c));
  const t0 = performance.now();
  let next = 0;
  let inFlight = 0;
  const settled: Array<Promise<boolean>> = [];
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(phones.length, Math.floor(((performance.now() - t0) * start.ratePerS) / 1000));
      while (next < due && inFlight < start.maxInFlight) {
        inFlight++;
        settled.push(phones[next++]!.connect().finally(() => inFlight--));
      }
      if (next >= phones.length) {
        clearInterval(tick);
        resolve();
      }
    }, TICK_MS);
  });
  await Promise.all(settled);
}

async function stop(): Promise<void> {
  for (const p of phones) p.quiesce();
  const end = Date.now() + DRAIN_MS;
  while (Date.now() < end && phones.some((p) => p.awaiting)) await new Promise((r) => setTimeout(r, 100));
  for (const p of phones) p.close();
  clearInterval(progress);
  // The orchestrator disconnects once it has this (a report of a few MB must not race our exit).
  send({ type: 'final', counters, latencies });
}

process.on('message', (raw: unknown) => {
  const m = ToWorkerSchema.parse(raw);
  if (m.type === 'stop') {
    void stop();
    return;
  }
  progress = setInterval(() => send({ type: 'progress', counters }), 2000);
  ramp(m).then(
    () => send({ type: 'ramped', counters }),
    (e: unknown) => send({ type: 'error', message: e instanceof Error ? e.message : String(e) }),
  );
});
