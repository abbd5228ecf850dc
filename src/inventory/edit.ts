import { SipsecError } from '../core/errors.js';
import { checkIp } from '../pki/names.js';
import type { CaStore, PassphraseSource, Prepared } from '../home/store.js';
import type { CertEntry, Index, Phone } from '../home/schema.js';
import { DEFAULT_GRACE_MS, supersedeIn } from '../home/supersede.js';
import { findConflicts, othersThan, parseDays, parseKeySpec, phoneSans, validatePhone, type Conflict, type PhoneInput } from './phones.js';
import { generateSecret } from './secret.js';
import { batchKeys } from '../home/records.js';

/**
 * Changing a phone in place (`phone edit`, `phone import --update`): the
 * record is re-validated as `phone add` would validate it; the certificate
 * is re-issued only when a name in it changes (IPs, DNS names, the SIP
 * user in `sip:<ext>@<domain>`), and the old one then overlaps with the new
 * one instead of being revoked, so the phone keeps registering until it
 * has fetched its new files.
 */

/** What to change; a field left undefined is kept. `null` clears an optional field. */
export interface PhoneEdit {
  /** Replace the phone's IP addresses. */
  ips?: string[];
  addIps?: string[];
  removeIps?: string[];
  /** Replace the phone's DNS names. */
  dns?: string[];
  ext?: string | null;
  displayName?: string | null;
  srtp?: string;
  line?: number | string;
  /** Set these vendor options (validated by the vendor's schema with the ones kept). */
  options?: Record<string, string>;
  unsetOptions?: string[];
  mac?: string | null;
  secret?: string;
  rotateSecret?: boolean;
  /** Key type and validity of a re-issued certificate (default: the old key type, the CA's leaf days). */
  key?: string;
  days?: number | string;
}

/** Fields of a phone record an edit can change, in the order they are reported. */
export const EDITABLE = ['mac', 'ips', 'dns', 'ext', 'displayName', 'srtp', 'line', 'options', 'secret'] as const;
export type EditableField = (typeof EDITABLE)[number];

export interface PlannedEdit {
  before: Phone;
  phone: Phone;
  changed: EditableField[];
  /** The certificate the phone has now (none when it was revoked). */
  current: CertEntry | undefined;
  /** A name in the certificate changes: a new one is issued, the old one overlaps. */
  reissue: boolean;
  key: ReturnType<typeof parseKeySpec>;
  days: number;
}

export interface EditResult {
  phone: Phone;
  changed: EditableField[];
  reissued: boolean;
  certificate: CertEntry | undefined;
  /** The certificate replaced, kept valid until `graceUntil`. */
  superseded: CertEntry | undefined;
}

/** Flags that contradict each other are refused before anything is read or issued. */
export function checkEdit(edit: PhoneEdit): void {
  const bad = (message: string, hint: string) => new SipsecError('BAD_INPUT', message, hint);
  if (edit.secret !== undefined && edit.rotateSecret) throw bad('--secret and --rotate-secret contradict each other', 'give a secret with --secret S, or let sipsec generate one with --rotate-secret');
  if (edit.secret !== undefined && edit.secret === '') throw bad('--secret is empty', 'give the new secret, or use --rotate-secret for a generated one');
  if (edit.ips !== undefined && (edit.addIps?.length || edit.removeIps?.length)) {
    throw bad('--ip replaces the addresses; it cannot be combined with --add-ip or --remove-ip', 'use --ip alone to give the full list, or --add-ip/--remove-ip to change it');
  }
  const added = new Set((edit.addIps ?? []).map(checkIp));
  const both = (edit.removeIps ?? []).map(checkIp).find((ip) => added.has(ip));
  if (both) throw bad(`--add-ip and --remove-ip both name ${both}`, 'give each address once');
  const unset = new Set(edit.unsetOptions ?? []);
  const clash = Object.keys(edit.options ?? {}).find((k) => unset.has(k));
  if (clash) throw bad(`--option ${clash}=... and --unset-option ${clash} contradict each other`, 'set the option or unset it, not both');
}

function sameSet(a: string[], b: string[]): boolean {
  const x = [...new Set(a)].sort();
  const y = [...new Set(b)].sort();
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** Whether a certificate names exactly these SANs (order and case of DNS names aside). */
export function namesMatch(cert: CertEntry, sans: { dns: string[]; ip: string[]; uri: string[] }): boolean {
  const lower = (l: string[]) => l.map((s) => s.toLowerCase());
  return sameSet(lower(cert.sans.dns), lower(sans.dns)) && sameSet(cert.sans.ip, sans.ip) && sameSet(cert.sans.uri, sans.uri);
}

/** JSON with object keys sorted: options parsed in another order are the same options (any fixed order: localeCompare would load ICU's collator, ~8 ms a command). */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x));
}

function differs(a: unknown, b: unknown): boolean {
  return canonical(a) !== canonical(b);
}

function nextIps(before: Phone, edit: PhoneEdit): string[] {
  let ips = edit.ips !== undefined ? edit.ips.filter((s) => s.trim() !== '').map(checkIp) : [...before.ips];
  for (const ip of (edit.removeIps ?? []).map(checkIp)) {
    if (!ips.includes(ip)) throw new SipsecError('BAD_INPUT', `--remove-ip ${ip}: ${before.name} has no such address`, `its addresses: ${before.ips.join(', ') || '(none)'}`);
    ips = ips.filter((x) => x !== ip);
  }
  for (const ip of (edit.addIps ?? []).map(checkIp)) if (!ips.includes(ip)) ips.push(ip);
  return [...new Set(ips)];
}

function nextOptions(before: Phone, edit: PhoneEdit): Record<string, string | number | boolean> {
  const options: Record<string, string | number | boolean> = { ...before.options };
  for (const key of edit.unsetOptions ?? []) {
    if (!Object.hasOwn(options, key)) throw new SipsecError('BAD_INPUT', `--unset-option ${key}: ${before.name} has no such option`, `its options: ${Object.keys(before.options).join(', ') || '(none)'}`);
    delete options[key];
  }
  return { ...options, ...edit.options };
}

/** The phone after the edit, validated; nothing is written. */
export async function planEdit(store: CaStore, before: Phone, edit: PhoneEdit): Promise<PlannedEdit> {
  checkEdit(edit);
  const keep = <T>(v: T | null | undefined, old: T | undefined): T | undefined => (v === undefined ? old : (v ?? undefined));
  const input: PhoneInput = {
    name: before.name,
    vendor: before.vendor,
    mac: keep(edit.mac, before.mac),
    ips: nextIps(before, edit),
    dns: edit.dns ?? before.dns,
    ext: keep(edit.ext, before.ext),
    secret: edit.rotateSecret ? generateSecret() : (edit.secret ?? before.secret),
    displayName: keep(edit.displayName, before.displayName),
    srtp: edit.srtp ?? before.srtp,
    line: edit.line ?? before.line,
    options: nextOptions(before, edit),
  };
  const current = store.current(before.name);
  const valid = await validatePhone(input, { key: current?.keyType ?? store.config.leafKey, days: store.config.leafDays, now: store.clock() });
  const phone: Phone = { ...valid.phone, dns: [...new Set(valid.phone.dns)], createdAt: before.createdAt };
  const changed = EDITABLE.filter((f) => differs(before[f], phone[f]));
  const reissue = current !== undefined && !namesMatch(current, phoneSans(phone, store.config.domain));
  return {
    before,
    phone,
    changed,
    current,
    reissue,
    key: parseKeySpec(edit.key, current?.keyType ?? store.config.leafKey),
    days: parseDays(edit.days, store.config.leafDays),
  };
}

/** Clashes of the edited phones with each other and with the rest of the inventory. */
export function editConflicts(index: Pick<Index, 'phones' | 'certificates'>, plans: PlannedEdit[]): Conflict[] {
  return findConflicts(
    plans.map((p) => p.phone),
    othersThan(
      index,
      plans.map((p) => p.before.name),
    ),
  );
}

/**
 * Commit planned edits: new certificates for those whose names changed are
 * issued first, then records, certificates and the overlap marks enter the
 * index in one commit. A phone someone else changed meanwhile stops it.
 */
export async function applyEdits(store: CaStore, plans: PlannedEdit[], passphrase: PassphraseSource, opts: { grace?: number } = {}): Promise<EditResult[]> {
  const todo = plans.filter((p) => p.changed.length > 0);
  if (todo.length === 0) return [];
  // A few phones are checked against the rows that could clash (by index); a sheet against the whole inventory.
  const few = todo.length <= 64;
  const conflicts = editConflicts(few ? store.relevantTo(todo.map((p) => p.phone)) : store.index, todo);
  if (conflicts.length > 0) throw new SipsecError('DUPLICATE', conflicts[0]!.message, 'pick another MAC or extension');
  const reissue = todo.filter((p) => p.reissue);
  let prepared: Prepared[] = [];
  if (reissue.length > 0) {
    const signer = await store.signer(passphrase);
    prepared = await store.prepare(
      reissue.map((p) => ({ name: p.phone.name, kind: 'phone', cn: p.phone.name, sans: phoneSans(p.phone, store.config.domain), keySpec: p.key, days: p.days })),
      signer,
    );
  }
  const at = store.clock();
  const fresh = new Map(reissue.map((p, i) => [p.phone.name, prepared[i]!.entry]));
  try {
    await store.update((draft) => {
      for (const plan of todo) {
        const now = draft.phone(plan.before.name);
        if (!now || differs(now, plan.before)) {
          throw new SipsecError('BUSY', `${plan.before.name} was changed or removed by another sipsec meanwhile; nothing was changed`, 'run the command again');
        }
        draft.putPhone(plan.phone);
      }
      const again = editConflicts(draft.relevantTo(batchKeys(todo.map((p) => p.phone))), todo);
      if (again.length > 0) throw new SipsecError('DUPLICATE', again[0]!.message, 'another sipsec changed the inventory meanwhile; nothing was changed');
      for (const plan of reissue) {
        const entry = fresh.get(plan.phone.name)!;
        draft.putCert(entry);
        supersedeIn(draft, plan.current!.serial, entry.serial, at, { graceMs: opts.grace ?? DEFAULT_GRACE_MS });
      }
    });
  } catch (e) {
    await store.discard(prepared);
    throw e;
  }
  return todo.map((plan) => ({
    phone: plan.phone,
    changed: plan.changed,
    reissued: plan.reissue,
    certificate: store.current(plan.phone.name),
    superseded: plan.reissue ? store.bySerial(plan.current!.serial) : undefined,
  }));
}

/** `phone edit NAME ...`: plan, check and commit one phone's change. */
export async function editPhone(store: CaStore, before: Phone, edit: PhoneEdit, passphrase: PassphraseSource, opts: { grace?: number } = {}): Promise<EditResult & { plan: PlannedEdit }> {
  const plan = await planEdit(store, before, edit);
  const [result] = await applyEdits(store, [plan], passphrase, opts);
  return { plan, ...(result ?? { phone: plan.phone, changed: [], reissued: false, certificate: plan.current, superseded: undefined }) };
}
