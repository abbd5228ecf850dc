import { SipsecError } from '../core/errors.js';
import { CaStore, type PassphraseSource } from './store.js';
import type { CertEntry, Index } from './schema.js';
import type { RevocationReason } from '../pki/crl.js';

/**
 * Replacing a certificate without an outage: the old one is not revoked
 * when its successor is issued. It is marked superseded-pending (status
 * still `valid`, `supersededBy` the new serial, `graceUntil` a date) and
 * stays valid until the phone has its new files or the grace has passed;
 * whatever enforces the end of the grace revokes it then as `superseded`.
 */

/** Default overlap: two weeks covers a desk phone that resyncs weekly or after a holiday. */
export const DEFAULT_GRACE_MS = 14 * 86_400_000;

export interface SupersedeOptions {
  /** How long the old certificate stays valid, in milliseconds (default 14 days). */
  grace?: number;
  now?: Date;
}

/** Mark `oldSerial` as superseded by `newSerial` inside an `update` (same commit as the new certificate). */
export function supersedeIn(draft: Index, oldSerial: string, newSerial: string, graceUntil: Date): CertEntry {
  const old = draft.certificates.find((c) => c.serial === oldSerial);
  if (!old) throw new SipsecError('NOT_FOUND', `no certificate with serial ${oldSerial}`, 'see sipsec cert list');
  if (!draft.certificates.some((c) => c.serial === newSerial)) throw new SipsecError('NOT_FOUND', `no certificate with serial ${newSerial}`, 'see sipsec cert list');
  // A revoked certificate has nothing left to overlap.
  if (old.status !== 'valid') return old;
  old.supersededBy = newSerial;
  old.graceUntil = graceUntil.toISOString();
  return old;
}

/** Supersede with overlap, as its own commit: for a successor already in the index. */
export async function supersedeCertificate(store: CaStore, oldSerial: string, newSerial: string, opts: SupersedeOptions = {}): Promise<CertEntry> {
  const now = opts.now ?? store.clock();
  const until = new Date(now.getTime() + (opts.grace ?? DEFAULT_GRACE_MS));
  return store.update((draft) => supersedeIn(draft, oldSerial, newSerial, until));
}

/**
 * Whether a phone may still present this certificate: it is the name's
 * current one, or one superseded whose overlap has not ended yet.
 */
export function inUse(store: Pick<CaStore, 'current'>, entry: CertEntry, now: Date): boolean {
  if (entry.status !== 'valid') return false;
  if (store.current(entry.name)?.serial === entry.serial) return true;
  return entry.supersededBy !== undefined && entry.graceUntil !== undefined && new Date(entry.graceUntil).getTime() > now.getTime();
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
