import { promises as fs } from 'node:fs';
import { SipsecError, isSipsecError } from '../core/errors.js';
import { CaStore, sameSerial, type PassphraseSource } from './store.js';
import type { CertEntry, Index } from './schema.js';
import type { IndexDraft } from './records.js';
import type { RevocationReason } from '../pki/crl.js';

/**
 * Renewal without an outage. A replaced certificate stays valid (accepted
 * by the registrar and HTTPS, absent from the CRL) until the phone shows it
 * has its replacement: it fetched a file of its own carrying its new key,
 * or presented the new certificate in a TLS handshake; or until its grace
 * period ends. Then it is revoked as `superseded` (RFC 5280 §5.3.1) and the
 * CRL rewritten. `serve` settles these as it sees the events and on a
 * timer; any later command settles them from serve's log (serve.log).
 */

export const DEFAULT_GRACE_MS = 14 * 86_400_000;

/** `14d`, `36h`, `90m`, `30s`; a bare number is days (--grace, --expiring). */
export function parseSpan(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(value.trim());
  if (!m) throw new SipsecError('BAD_INPUT', `invalid ${flag} '${value}'`, 'write it as 14d, 36h or 90m');
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 'd') as 'ms' | 's' | 'm' | 'h' | 'd'];
  const ms = Math.round(Number(m[1]) * factor);
  if (!Number.isFinite(ms) || ms > 36_500 * 86_400_000) throw new SipsecError('BAD_INPUT', `invalid ${flag} '${value}'`, 'give at most 36500d');
  return ms;
}


export interface SupersedeOptions {
  /** How long the old certificate stays valid at most (ms). Default 14 days. 0 = revoke now. */
  graceMs?: number;
  /** The same as a span (`14d`, `36h`) or ms; graceMs wins when both are given. */
  grace?: string | number;
  /** Revoke at once (a compromised key): same as graceMs 0. */
  now?: boolean;
  /**
   * No timer: the old certificate stays valid until the evidence or
   * `ca retire-old` (server certificates during a CA rotation).
   */
  untilRetire?: boolean;
  /** The CA passphrase, needed to rewrite the CRL when revoking now. */
  passphrase?: PassphraseSource;
}

/** Record, inside an `update`, that `oldSerial` is replaced by `newSerial` (revoked now when graceMs is 0). */
export function supersedeIn(draft: IndexDraft, oldSerial: string, newSerial: string, at: Date, o: SupersedeOptions = {}): CertEntry {
  const old = draft.cert(oldSerial);
  if (!old) throw new SipsecError('NOT_FOUND', `no certificate with serial ${oldSerial}`, 'see sipsec cert list --all');
  const replacement = draft.cert(newSerial);
  if (!replacement) throw new SipsecError('NOT_FOUND', `no certificate with serial ${newSerial}`, 'issue the replacement first');
  if (old.status === 'revoked') return old;
  const graceMs = o.now ? 0 : (o.graceMs ?? (typeof o.grace === 'string' ? parseSpan(o.grace, 'grace') : o.grace) ?? DEFAULT_GRACE_MS);
  old.supersededBy = replacement.serial;
  old.supersededAt = at.toISOString();
  if (o.untilRetire) delete old.graceUntil;
  else if (graceMs > 0) old.graceUntil = new Date(at.getTime() + graceMs).toISOString();
  draft.putCert(old);
  if (graceMs <= 0) return CaStore.revokeIn(draft, old.serial, 'superseded', at);
  return old;
}

/**
 * The library entry point other changes use (`phone edit` when a name in
 * the certificate changes, `cert renew`, `ca rotate`): `oldSerial` is
 * replaced by the already committed `newSerial`. With `{ now: true }` or
 * `{ graceMs: 0 }` the old one is revoked and the CRL rewritten at once
 * (needs the passphrase); otherwise it stays valid for the overlap.
 */
export async function supersedeCertificate(store: CaStore, oldSerial: string, newSerial: string, o: SupersedeOptions = {}): Promise<CertEntry> {
  const entry = await store.update((draft) => supersedeIn(draft, oldSerial, newSerial, store.clock(), o));
  if (entry.status === 'revoked') await writeCrlIfPossible(store, o.passphrase ?? (async () => undefined), true);
  return entry;
}

/** Certificates in their overlap: replaced but not yet revoked. */
export function pendingSupersedes(index: Index): CertEntry[] {
  return index.certificates.filter((c) => c.status === 'valid' && c.supersededBy !== undefined);
}

/** What serve saw: the events that end an overlap (serve.log lines or live events). */
export interface Evidence {
  event: string;
  time?: string | undefined;
  phone?: string | undefined;
  ok?: unknown;
  result?: unknown;
  certSerial?: unknown;
  holdsKey?: unknown;
  file?: unknown;
}

export interface Settled {
  serial: string;
  name: string;
  supersededBy: string;
  why: 'grace' | 'fetched' | 'presented';
}

/**
 * Why an overlap ends, if it does: the phone presented its new
 * certificate, or fetched one of its files carrying its new key (those
 * come with the new certificate), or the grace period is over.
 */
export function settleReason(entry: CertEntry, events: Evidence[], now: Date, keyFiles?: (phone: string) => boolean, newer?: (serial: string) => boolean): Settled['why'] | undefined {
  if (entry.status !== 'valid' || !entry.supersededBy) return undefined;
  const since = Date.parse(entry.supersededAt ?? '1970-01-01T00:00:00Z');
  for (const ev of events) {
    const t = ev.time ? Date.parse(ev.time) : now.getTime();
    if (!(t >= since)) continue;
    // Its replacement, or a later one still (renewed twice before the phone resynced).
    if (ev.event === 'tls.handshake' && ev.ok === true && typeof ev.certSerial === 'string' && (sameSerial(ev.certSerial, entry.supersededBy) || newer?.(ev.certSerial) === true)) return 'presented';
    if (entry.kind === 'phone' && ev.event === 'provision.fetch' && ev.result === 'ok' && ev.phone === entry.name) {
      // A vendor that delivers no key (Snom, Polycom by default) has only its config to fetch.
      if (ev.holdsKey === true || (keyFiles && !keyFiles(entry.name))) return 'fetched';
    }
  }
  if (entry.graceUntil && Date.parse(entry.graceUntil) <= now.getTime()) return 'grace';
  return undefined;
}

/**
 * Rewrite the CRL with whatever signer can be had without asking: one
 * already unlocked, an unencrypted key, the given source, or
 * SIPSEC_CA_PASSPHRASE. Returns false when none could (the index already
 * says revoked, so sipsec's own servers refuse the certificate; the CRL
 * follows at the next `sipsec ca crl`).
 */
export async function writeCrlIfPossible(store: CaStore, passphrase: PassphraseSource, mustSucceed = false): Promise<boolean> {
  const remembered = store.rememberedPassphrase();
  const source: PassphraseSource = async () => (remembered ? await remembered() : undefined) ?? (await passphrase()) ?? (process.env.SIPSEC_CA_PASSPHRASE || undefined);
  try {
    const signer = store.unlockedSigner() ?? (!store.config.encrypted || (await source()) !== undefined ? await store.signer(source) : undefined);
    if (!signer) {
      if (mustSucceed) throw new SipsecError('PASSPHRASE_REQUIRED', 'the CA key is encrypted and no passphrase was given', 'use --passphrase-file F or set SIPSEC_CA_PASSPHRASE');
      return false;
    }
    await store.writeCrl(signer);
    return true;
  } catch (e) {
    if (mustSucceed || !isSipsecError(e)) throw e;
    return false;
  }
}

/**
 * Revoke every overlap that has ended, given the events seen. Returns what
 * was revoked and whether the CRL was rewritten.
 */
export async function settleSupersedes(store: CaStore, events: Evidence[], o: { passphrase?: PassphraseSource; keyFiles?: (phone: string) => boolean } = {}): Promise<{ settled: Settled[]; crlWritten: boolean }> {
  const now = store.clock();
  // A certificate of the same name issued after `e`: presenting it proves the phone moved past `e`.
  const newerThan = (e: CertEntry) => (serial: string) => {
    const history = store.history(e.name);
    const i = history.findIndex((c) => sameSerial(c.serial, serial));
    return i >= 0 && i > history.findIndex((c) => c.serial === e.serial);
  };
  const due = store
    .overlapCerts()
    .map((e) => ({ e, why: settleReason(e, events, now, o.keyFiles, newerThan(e)) }))
    .filter((x): x is { e: CertEntry; why: Settled['why'] } => x.why !== undefined);
  if (due.length === 0) return { settled: [], crlWritten: false };
  const settled = await store.update((draft) => {
    const out: Settled[] = [];
    for (const { e, why } of due) {
      const cur = draft.cert(e.serial);
      if (!cur || cur.status !== 'valid') continue;
      CaStore.revokeIn(draft, e.serial, 'superseded', now);
      out.push({ serial: e.serial, name: e.name, supersededBy: e.supersededBy!, why });
    }
    return out;
  });
  if (settled.length === 0) return { settled, crlWritten: false };
  const crlWritten = await writeCrlIfPossible(store, o.passphrase ?? (async () => undefined));
  return { settled, crlWritten };
}

/** The events in serve.log (JSON lines) from `since` on; a missing or unreadable log is no evidence. */
export async function readServeLog(file: string, since: Date, kinds: readonly string[] = ['tls.handshake', 'provision.fetch']): Promise<Evidence[]> {
  const text = await tailSince(file, since.getTime());
  const out: Evidence[] = [];
  const from = since.getTime();
  for (const line of text.split('\n')) {
    if (!kinds.some((k) => line.includes(`"${k}"`))) continue;
    let ev: unknown;
    try {
      ev = JSON.parse(line);
    } catch {
      continue;
    }
    if (!ev || typeof ev !== 'object') continue;
    const e = ev as Evidence;
    if (typeof e.event !== 'string' || !kinds.includes(e.event)) continue;
    if (typeof e.time === 'string' && Date.parse(e.time) < from) continue;
    out.push(e);
  }
  return out;
}

const TAIL_CHUNK = 1 << 20;

/**
 * The end of serve.log back to the first line older than `from`: the log
 * only grows (a fleet writes it for weeks) and lines are in time order, so
 * every command that settles an overlap reads the overlap's days, not the
 * log's life.
 */
async function tailSince(file: string, from: number): Promise<string> {
  let fh: Awaited<ReturnType<typeof fs.open>>;
  try {
    fh = await fs.open(file, 'r');
  } catch {
    return '';
  }
  try {
    const chunks: Buffer[] = [];
    let pos = (await fh.stat()).size;
    while (pos > 0) {
      const n = Math.min(TAIL_CHUNK, pos);
      pos -= n;
      const buf = Buffer.alloc(n);
      await fh.read(buf, 0, n, pos);
      chunks.unshift(buf);
      // The first whole line of this chunk: once it is older than `from`, nothing before it counts.
      const nl = buf.indexOf(10);
      const end = nl >= 0 ? buf.indexOf(10, nl + 1) : -1;
      if (end < 0) continue;
      const time = /"time":"([^"]+)"/.exec(buf.subarray(nl + 1, end).toString('utf8'))?.[1];
      if (time !== undefined && Date.parse(time) < from) break;
    }
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    await fh.close();
  }
}

/**
 * What every CLI command does when it opens the store: settle the overlaps
 * that ended while no serve was watching (from serve.log and the clock).
 */
export async function sweepSupersedes(store: CaStore, o: { passphrase?: PassphraseSource; keyPhones?: (names: string[]) => Promise<Set<string>> } = {}): Promise<{ settled: Settled[]; crlWritten: boolean }> {
  const pending = store.overlapCerts();
  if (pending.length === 0) return { settled: [], crlWritten: false };
  const since = new Date(Math.min(...pending.map((p) => Date.parse(p.supersededAt ?? '1970-01-01T00:00:00Z'))));
  const events = await readServeLog(store.paths.serveLog, since);
  const fetched = [...new Set(events.filter((e) => e.event === 'provision.fetch' && e.result === 'ok' && typeof e.phone === 'string' && pending.some((p) => p.name === e.phone)).map((e) => e.phone as string))];
  const withKeys = fetched.length > 0 && o.keyPhones ? await o.keyPhones(fetched) : undefined;
  return settleSupersedes(store, events, { ...(o.passphrase ? { passphrase: o.passphrase } : {}), ...(withKeys ? { keyFiles: (phone: string) => withKeys.has(phone) } : {}) });
}

/**
 * Revoke every certificate of a name that is still valid: the current one
 * and any superseded one in its overlap (a removed phone keeps none), then
 * publish a fresh CRL. Returns the revoked entries, current one last.
 */
export async function revokeAllOf(store: CaStore, name: string, reason: RevocationReason, passphrase: PassphraseSource): Promise<CertEntry[]> {
  const valid = store.history(name).filter((c) => c.status === 'valid' && c.kind !== 'ca');
  if (valid.length === 0) return [];
  const signer = await store.signer(passphrase);
  const at = store.clock();
  const revoked = await store.update((draft) => valid.map((c) => ({ ...CaStore.revokeIn(draft, c.serial, reason, at) })));
  await store.writeCrl(signer);
  return revoked;
}
