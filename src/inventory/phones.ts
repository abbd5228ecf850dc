import { SipsecError } from '../core/errors.js';
import { checkDns, checkIp, checkName, checkNameSyntax, isDnsName, normalizeMac } from '../pki/names.js';
import { CaStore, type LeafRequest, type PassphraseSource, type Prepared } from '../home/store.js';
import { batchKeys } from '../home/records.js';
import { KEY_SPECS, type KeySpec } from '../pki/keys.js';
import { SRTP_MODES, type CertEntry, type Phone, type SrtpMode } from '../home/schema.js';
import { isVendorId, loadVendor, vendorIds } from '../vendors/registry.js';
import { generateSecret } from './secret.js';
import { nameClash } from '../vendors/reserved.js';

/** What a person or a CSV row gives for one phone, before validation. */
export interface PhoneInput {
  name: string;
  vendor: string;
  mac?: string | undefined;
  ips?: string[];
  dns?: string[];
  ext?: string | undefined;
  secret?: string | undefined;
  displayName?: string | undefined;
  srtp?: string | undefined;
  line?: number | string | undefined;
  key?: string | undefined;
  days?: number | string | undefined;
  /** Strings from flags and CSV cells; stored values (numbers, booleans) when an edit re-validates a phone. */
  options?: Record<string, string | number | boolean>;
}

export interface ValidPhone {
  phone: Phone;
  key: KeySpec;
  days: number;
}

const EXT_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,31}$/;

export function parseKeySpec(input: string | undefined, fallback: KeySpec): KeySpec {
  if (input === undefined || input === '') return fallback;
  if ((KEY_SPECS as readonly string[]).includes(input)) return input as KeySpec;
  throw new SipsecError('BAD_INPUT', `unknown key type '${input}'`, `use one of ${KEY_SPECS.join(', ')}`);
}

export function parseDays(input: number | string | undefined, fallback: number): number {
  if (input === undefined || input === '') return fallback;
  const n = typeof input === 'number' ? input : Number(input);
  if (!Number.isInteger(n) || n < 1 || n > 36_500) {
    throw new SipsecError('BAD_INPUT', `invalid --days '${input}'`, 'give a whole number of days between 1 and 36500');
  }
  return n;
}

/** The SIP user a phone registers as: its extension, else its name. */
export function sipUser(phone: Phone): string {
  return phone.ext ?? phone.name;
}

/** Validate one phone without touching the store (pure apart from the vendor schema load). */
export async function validatePhone(input: PhoneInput, defaults: { key: KeySpec; days: number; now: Date }): Promise<ValidPhone> {
  const name = checkName(input.name.trim(), 'phone name');
  // The phone's ready directory <out>/<name>/ sits beside every vendor-wide file and folder.
  const clash = await nameClash(name);
  if (clash !== undefined) {
    throw new SipsecError('BAD_NAME', `phone name '${name}' would collide with ${clash} in the provisioning tree`, 'pick another name');
  }
  const vendorId = input.vendor.trim().toLowerCase();
  if (!isVendorId(vendorId)) {
    throw new SipsecError('UNKNOWN_VENDOR', `unknown vendor '${input.vendor}'`, `choose one of: ${vendorIds().join(', ')}`);
  }
  const vendor = await loadVendor(vendorId);
  const mac = input.mac && input.mac.trim() !== '' ? normalizeMac(input.mac) : undefined;
  if (!mac && vendor.descriptor.macRequired) {
    throw new SipsecError('BAD_MAC', `--mac is required for ${vendor.descriptor.name}`, 'hardware phones fetch their files by MAC address: give --mac 00:08:5d:12:34:56');
  }
  const ext = input.ext && input.ext.trim() !== '' ? input.ext.trim() : undefined;
  if (ext !== undefined && !EXT_RE.test(ext)) {
    throw new SipsecError('BAD_INPUT', `invalid extension '${ext}'`, 'use digits or a SIP user name (letters, digits, . _ + -)');
  }
  const srtpIn = input.srtp && input.srtp !== '' ? input.srtp.toLowerCase() : 'mandatory';
  if (!(SRTP_MODES as readonly string[]).includes(srtpIn)) {
    throw new SipsecError('BAD_INPUT', `invalid --srtp '${input.srtp}'`, `use one of ${SRTP_MODES.join(', ')}`);
  }
  const line = input.line === undefined || input.line === '' ? 1 : Number(input.line);
  if (!Number.isInteger(line) || line < 1 || line > 99) {
    throw new SipsecError('BAD_INPUT', `invalid --line '${input.line}'`, 'give the account/line number on the phone, 1 to 99');
  }
  const secret = input.secret && input.secret !== '' ? input.secret : generateSecret();
  if (secret.length < 8 || /[\s"'\\&<>]/.test(secret)) {
    throw new SipsecError('BAD_INPUT', 'the SIP secret must be at least 8 characters without spaces, quotes, \\, &, < or >', 'these break vendor config formats; leave --secret out to get a strong generated one');
  }
  const displayName = input.displayName && input.displayName.trim() !== '' ? input.displayName.trim() : undefined;
  if (displayName !== undefined && (displayName.length > 64 || /["\\<>&\u0000-\u001f]/.test(displayName))) {
    throw new SipsecError('BAD_INPUT', `invalid display name '${displayName.slice(0, 40)}'`, 'up to 64 characters without quotes, \\, <, >, & or control characters');
  }
  const parsedOptions = vendor.optionsSchema.safeParse(input.options ?? {});
  if (!parsedOptions.success) {
    const issue = parsedOptions.error.issues[0];
    const key = issue?.path.join('.') || '(options)';
    throw new SipsecError('BAD_INPUT', `invalid ${vendorId} option ${key}: ${issue?.message ?? ''}`, `see sipsec phone add --help and the ${vendorId} section of the README`);
  }
  const options: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(parsedOptions.data)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') options[k] = v;
  }
  const phone: Phone = {
    name,
    vendor: vendorId,
    ...(mac ? { mac } : {}),
    ips: (input.ips ?? []).filter((s) => s.trim() !== '').map(checkIp),
    dns: (input.dns ?? []).filter((s) => s.trim() !== '').map(checkDns),
    ...(ext ? { ext } : {}),
    secret,
    ...(displayName ? { displayName } : {}),
    srtp: srtpIn as SrtpMode,
    line,
    options,
    createdAt: defaults.now.toISOString(),
  };
  return { phone, key: parseKeySpec(input.key, defaults.key), days: parseDays(input.days, defaults.days) };
}

/** Names in a phone certificate: its name (when a valid host label), DNS names, IPs, and its AOR as a sip: URI. */
export function phoneSans(phone: Phone, domain: string): { dns: string[]; ip: string[]; uri: string[] } {
  const dns = [...new Set([...(isDnsName(phone.name) ? [phone.name.toLowerCase()] : []), ...phone.dns])];
  return { dns, ip: [...new Set(phone.ips)], uri: [`sip:${sipUser(phone)}@${domain}`] };
}

export function phoneRequest(v: ValidPhone, domain: string): LeafRequest {
  return { name: v.phone.name, kind: 'phone', cn: v.phone.name, sans: phoneSans(v.phone, domain), keySpec: v.key, days: v.days };
}

/** A clash of a phone in a batch: `at` is its index in the batch (the later of two clashing rows). */
export interface Conflict {
  at: number;
  phone: string;
  message: string;
}

/**
 * Conflicts of a batch with itself and with the store: names, MACs, SIP
 * users. Within the batch the later phone is the one reported, so a sheet's
 * duplicate row is named, not the first.
 */
export function findConflicts(batch: Phone[], existing: { phones: Phone[]; certificates: CertEntry[] }): Conflict[] {
  const problems: Conflict[] = [];
  const names = new Map<string, string>();
  const macs = new Map<string, string>();
  const exts = new Map<string, string>();
  for (const p of existing.phones) {
    if (p.mac) macs.set(p.mac, p.name);
    exts.set(p.ext ?? p.name, p.name);
  }
  for (const c of existing.certificates) if (c.status === 'valid') names.set(c.name.toLowerCase(), c.name);
  for (const p of existing.phones) names.set(p.name.toLowerCase(), p.name);
  batch.forEach((p, at) => {
    const clash = (message: string) => problems.push({ at, phone: p.name, message: `${p.name}: ${message}` });
    const lower = p.name.toLowerCase();
    if (names.has(lower)) clash(`the name is already used by ${names.get(lower)}`);
    names.set(lower, p.name);
    if (p.mac) {
      if (macs.has(p.mac)) clash(`MAC ${p.mac} is already used by ${macs.get(p.mac)}`);
      macs.set(p.mac, p.name);
    }
    const user = p.ext ?? p.name;
    if (exts.has(user)) clash(`SIP user '${user}' is already used by ${exts.get(user)}`);
    exts.set(user, p.name);
  });
  return problems;
}

/** The store without these phones (and their certificates): what a changed batch must not clash with. */
export function othersThan(index: { phones: Phone[]; certificates: CertEntry[] }, names: string[]): { phones: Phone[]; certificates: CertEntry[] } {
  const set = new Set(names);
  return { phones: index.phones.filter((p) => !set.has(p.name)), certificates: index.certificates.filter((c) => !(c.kind === 'phone' && set.has(c.name))) };
}

export interface AddResult {
  phones: Phone[];
  certificates: CertEntry[];
}

/** Vendor rules across the inventory (VendorModule.inventoryConflicts): each new phone against the store's and the batch's. */
/** `existing` holds at least the store's phones of the batch's vendors (a vendor's rules concern its own phones). */
export async function vendorConflicts(batch: Phone[], existing: { phones: Phone[] }): Promise<string[]> {
  const problems: string[] = [];
  const seen = [...existing.phones];
  for (const p of batch) {
    const check = (await loadVendor(p.vendor)).inventoryConflicts;
    if (check) problems.push(...check(p, seen));
    seen.push(p);
  }
  return problems;
}

/**
 * Add phones: everything is validated first, certificates are issued, and
 * the phones and their certificates enter the index together, in chunks,
 * so a crash in a large import leaves whole phones or none.
 */
export async function addPhones(
  store: CaStore,
  valid: ValidPhone[],
  passphrase: PassphraseSource,
  opts: { chunk?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<AddResult> {
  const batch = valid.map((v) => v.phone);
  // A small batch is checked against the rows that could clash (by index); a sheet against the whole inventory.
  const conflicts = findConflicts(batch, batch.length <= 64 ? store.relevantTo(batch) : store.index);
  if (conflicts.length > 0) {
    throw new SipsecError('DUPLICATE', conflicts[0]!.message, conflicts.length > 1 ? `and ${conflicts.length - 1} more conflict(s); nothing was issued` : 'pick another name, MAC or extension');
  }
  const clashes = await vendorConflicts(batch, { phones: batch.length <= 64 ? [...new Set(batch.map((p) => p.vendor))].flatMap((v) => store.phonesOfVendor(v)) : store.index.phones });
  if (clashes.length > 0) {
    throw new SipsecError('BAD_INPUT', clashes[0]!, clashes.length > 1 ? `and ${clashes.length - 1} more; nothing was issued` : 'change that vendor option (--option) and add the phone again');
  }
  const signer = await store.signer(passphrase);
  // Whole phones are committed per chunk: a crash loses at most one chunk of work, never half a phone.
  const chunk = opts.chunk ?? 100;
  const result: AddResult = { phones: [], certificates: [] };
  for (let start = 0; start < valid.length; start += chunk) {
    const part = valid.slice(start, start + chunk);
    const prepared: Prepared[] = await store.prepare(
      part.map((v) => phoneRequest(v, store.config.domain)),
      signer,
      (n) => opts.onProgress?.(start + n, valid.length),
    );
    try {
      await store.update((draft) => {
        const phones = part.map((v) => v.phone);
        // Against the rows that could clash, read by index: a chunk of a 10,000-row sheet costs its own rows, not the inventory.
        const again = findConflicts(phones, draft.relevantTo(batchKeys(phones)));
        if (again.length > 0) throw new SipsecError('DUPLICATE', again[0]!.message, 'another sipsec added it meanwhile; nothing of this chunk was committed');
        for (let i = 0; i < part.length; i++) {
          draft.putPhone(part[i]!.phone);
          draft.putCert(prepared[i]!.entry);
        }
      });
    } catch (e) {
      await store.discard(prepared);
      throw e;
    }
    result.phones.push(...part.map((v) => v.phone));
    result.certificates.push(...prepared.map((p) => p.entry));
  }
  return result;
}

export function findPhone(store: CaStore, name: string): Phone {
  checkNameSyntax(name, 'phone name');
  const phone = store.phone(name) ?? store.phoneAnyCase(name);
  if (!phone) throw new SipsecError('NOT_FOUND', `no phone named '${name}'`, 'see sipsec phone list');
  return phone;
}

/** A copy of a phone without its secret, for listings and logs. */
export function redact(phone: Phone): Omit<Phone, 'secret'> & { secret?: string } {
  const { secret: _secret, ...rest } = phone;
  return rest;
}
