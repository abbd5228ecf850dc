/**
 * The boot storm: P phones, each fetching its F config files one after
 * another, C phones at a time, each phone from its own loopback address.
 * Failures are counted, not thrown, so a storm that loses phones still
 * reports how many (issue 14's target is a storm "with no timeouts").
 */
import { fetchFile } from './client.js';

/** Phones per /24 of 127.1.0.0/16: .1 to .250, leaving .0 and .251-.255 alone. */
const PER_SUBNET = 250;
/** 127.1.0.1 .. 127.1.255.250: the most phones with distinct addresses. */
export const MAX_PHONES = 256 * PER_SUBNET;

/**
 * Phone p's address. Linux routes all of 127.0.0.0/8 to lo, so any of these
 * can be bound without configuration, and each phone looks like its own
 * host to the server (per-address limits and state behave as on a LAN).
 */
export function phoneAddress(p: number): string {
  if (!Number.isInteger(p) || p < 0 || p >= MAX_PHONES) throw new Error(`phone ${p} has no address in 127.1.0.0/16 (at most ${MAX_PHONES} phones)`);
  return `127.1.${Math.floor(p / PER_SUBNET)}.${(p % PER_SUBNET) + 1}`;
}

export function configName(phone: number, file: number): string {
  return `p${phone}-${file}.cfg`;
}

export interface StormPlan {
  port: number;
  phones: number;
  files: number;
  concurrency: number;
  /** RFC 2347 options every request carries ({} = RFC 1350 lock-step at 512 B). */
  options: Record<string, number>;
}

export interface StormResult {
  ms: number;
  /** Files received whole and byte-identical. */
  ok: number;
  /** Files not received (error, timeout after the client's retries, or different bytes). */
  failed: number;
  firstError: string | undefined;
  bytes: number;
  /** Client-side retransmissions (RRQ or ACK resent after 1 s of silence). */
  timeouts: number;
  /** Transfers that needed at least one of those. */
  filesWithTimeouts: number;
  p50: number;
  p99: number;
  max: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export async function bootStorm(plan: StormPlan, expect: (name: string) => Buffer | undefined): Promise<StormResult> {
  let next = 0;
  const r: StormResult = { ms: 0, ok: 0, failed: 0, firstError: undefined, bytes: 0, timeouts: 0, filesWithTimeouts: 0, p50: 0, p99: 0, max: 0 };
  const lat: number[] = [];
  const t0 = performance.now();
  const phone = async (): Promise<void> => {
    for (let p = next++; p < plan.phones; p = next++) {
      const localAddress = phoneAddress(p);
      for (let k = 0; k < plan.files; k++) {
        const name = configName(p, k);
        const f0 = performance.now();
        const got = await fetchFile({ port: plan.port, name, options: plan.options, localAddress });
        lat.push(performance.now() - f0);
        r.timeouts += got.timeouts;
        if (got.timeouts > 0) r.filesWithTimeouts++;
        const good = got.ok && got.data.equals(expect(name) ?? Buffer.alloc(0));
        if (good) {
          r.ok++;
          r.bytes += got.data.length;
          continue;
        }
        r.failed++;
        r.firstError ??= `${name} from ${localAddress}: ${got.ok ? 'bytes differ' : got.error ?? 'failed'}`;
      }
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, phone));
  r.ms = performance.now() - t0;
  lat.sort((a, b) => a - b);
  r.p50 = percentile(lat, 50);
  r.p99 = percentile(lat, 99);
  r.max = lat[lat.length - 1] ?? 0;
  return r;
}
