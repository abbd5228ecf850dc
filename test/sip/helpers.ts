/**
 * Shared helpers of the SIP tests: the RFC 4475 corpus read from disk
 * (never copied into the repo), the parse + validate pipeline a transport
 * would run, and a seeded PRNG for chunking and fuzzing.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDatagram, validateRequest, validateResponse, type ParseResult, type ResponseValidateOptions, type ValidateOptions } from '../../src/sip/message/index.js';
import { StreamFramer, type FramerOptions } from '../../src/sip/transport/index.js';

const CANDIDATES = [process.env.SIPSEC_RFC4475_DIR, resolve(process.cwd(), '../shared/corpus/rfc4475'), '/work/shared/corpus/rfc4475'];

export function corpusDir(): string {
  for (const c of CANDIDATES) if (c && existsSync(resolve(c, 'wsinv.dat'))) return c;
  throw new Error(`RFC 4475 corpus not found (tried ${CANDIDATES.filter(Boolean).join(', ')}); set SIPSEC_RFC4475_DIR`);
}

let cache: Map<string, Buffer> | undefined;

/** Every .dat file, by name without extension, byte-exact. */
export function corpus(): Map<string, Buffer> {
  if (cache) return cache;
  const dir = corpusDir();
  cache = new Map();
  for (const f of readdirSync(dir).sort()) {
    if (f.endsWith('.dat')) cache.set(f.slice(0, -4), readFileSync(resolve(dir, f)));
  }
  return cache;
}

export function dat(name: string): Buffer {
  const b = corpus().get(name);
  if (!b) throw new Error(`no ${name}.dat in the corpus`);
  return b;
}

/** What happens to a message: accepted, answered with a status, or dropped. */
export type Outcome = 'ok' | 'drop' | number;

export interface PipelineOptions {
  request?: ValidateOptions;
  response?: ResponseValidateOptions;
}

/** parse (already done) then validate: the reaction a server shows. */
export function outcomeOf(r: ParseResult, opts: PipelineOptions = {}): Outcome {
  if (!r.ok) return r.reaction.action === 'drop' ? 'drop' : r.reaction.status;
  const m = r.message;
  const v = m.kind === 'request' ? validateRequest(m, opts.request) : validateResponse(m, opts.response);
  if (v.ok) return 'ok';
  return v.reaction.action === 'drop' ? 'drop' : v.reaction.status;
}

export function datagramOutcome(buf: Buffer, opts: PipelineOptions = {}): Outcome {
  return outcomeOf(parseDatagram(buf), opts);
}

/** One stream event, summarised for comparisons across chunkings. */
export type EventSummary = 'ping' | 'pong' | { outcome: Outcome; close: boolean; method?: string; status?: number };

export function summarize(events: ReturnType<StreamFramer['push']>, opts: PipelineOptions = {}): EventSummary[] {
  return events.map((e) => {
    if (e.type !== 'message') return e.type;
    const r = e.result;
    const m = r.ok ? r.message : r.partial;
    const s: EventSummary = { outcome: outcomeOf(r, opts), close: !r.ok && r.close };
    if (m?.kind === 'request') s.method = m.method;
    if (m?.kind === 'response') s.status = m.status;
    return s;
  });
}

/** Feeds `buf` to a fresh framer in chunks of the given sizes (cycled). */
export function feed(buf: Buffer, sizes: (i: number) => number, opts: FramerOptions = {}): { framer: StreamFramer; events: ReturnType<StreamFramer['push']> } {
  const framer = new StreamFramer(opts);
  const events: ReturnType<StreamFramer['push']> = [];
  let i = 0;
  let n = 0;
  while (i < buf.length) {
    const size = Math.max(1, sizes(n++));
    for (const e of framer.push(buf.subarray(i, i + size))) events.push(e);
    i += size;
  }
  return { framer, events };
}

/** mulberry32: small, seeded, good enough to pick mutations and chunk sizes. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randInt(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}
