import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { createHash, type KeyObject } from 'node:crypto';
import { SipsecError, errnoCode, messageOf } from '../core/errors.js';
import { ensureDir, fsyncDir, writeFileAtomic } from '../core/atomic.js';
import { withLock } from '../core/lock.js';
import { X509Certificate } from 'node:crypto';
import { homePaths, HOME_ENTRIES, isScratchEntry, type HomePaths } from './paths.js';
import { assertWritable, isDenied, notReadable, notWritable } from './writable.js';
import { ConfigSchema, type CertEntry, type CertKind, type Config, type Index, type Phone } from './schema.js';
import { IndexDb, type IndexBackend, type RowChanges } from './db.js';
import { PgIndexDb } from './pg/pg-db.js';
import { SharedFiles } from './pg/shared-files.js';
import { parseStoreSpec, resolveStore, storeFromEnv, writeBinding, type StoreSpec } from './store-spec.js';
import { IndexDraft, Records, batchKeys, isEmpty, type Relevant } from './records.js';
import { migrateJsonIndex, openIndexDb } from './migrate.js';
import { readJson } from './read-json.js';

export { readJson };
import { generateKey, generateLeafKey, loadPrivateKey, privateKeyPem, type HashName, type KeySpec } from '../pki/keys.js';
import { issueCertificate, randomSerial, signerFromCert, type IssuedCert, type Signer } from '../pki/certificate.js';
import { buildCrl, type RevocationReason } from '../pki/crl.js';
import { toPem } from '../pki/pem.js';
import type { SubjectAltNames } from '../pki/profiles.js';

export type PassphraseSource = () => Promise<string | undefined>;

export interface StoreOptions {
  /** Injectable clock: certificate validity and revocation dates. */
  now?: () => Date;
  /**
   * The store: `sqlite` (default) or a postgres:// URL (store-spec.ts). A
   * home bound to a store keeps it; giving another is refused.
   */
  store?: string | undefined;
  /**
   * The store a home gets when none is given (SIPSEC_STORE): a new home is
   * created in it and an empty one attached to it, but a home that already
   * keeps its own index goes on using it.
   */
  storeDefault?: string | undefined;
}

async function hasOwnIndex(paths: HomePaths): Promise<boolean> {
  for (const f of [paths.db, paths.index, paths.config]) {
    if (await fs.access(f).then(() => true, () => false)) return true;
  }
  return false;
}

export interface InitParams {
  org: string;
  domain: string;
  cn: string;
  caKey: KeySpec;
  hash: HashName;
  caDays: number;
  leafKey: KeySpec;
  leafDays: number;
  registrar: { host: string; port: number };
  provisioningUrl?: string;
  tftpServer?: string;
  ntp?: string;
  force: boolean;
}

export interface LeafRequest {
  name: string;
  kind: Exclude<CertKind, 'ca'>;
  cn: string;
  sans: SubjectAltNames;
  keySpec: KeySpec;
  days: number;
}

/** A certificate issued and written to disk but not yet in the index. */
export interface Prepared {
  entry: CertEntry;
  files: string[];
}

const DAY = 86_400_000;
/** Validity starts an hour back: phones and PBXs with slightly slow clocks still accept a fresh certificate. */
const BACKDATE = 3_600_000;

/** Serials compare as numbers: lower-case hex without leading zeros. */
export function normSerial(serial: string): string {
  return serial.toLowerCase().replace(/^0+/, '');
}

export function sameSerial(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && normSerial(a) === normSerial(b);
}

/** Node prints serials without a leading zero nibble; the index keeps whole octets. */
function evenHex(hex: string): string {
  return hex.length % 2 === 1 ? `0${hex}` : hex;
}

function serialOfDer(der: Buffer): string {
  return normSerial(new X509Certificate(der).serialNumber);
}

export function entryFor(name: string, kind: CertKind, cert: IssuedCert, sans: SubjectAltNames, keyType: KeySpec, issuer?: string): CertEntry {
  return {
    ...(issuer ? { issuer } : {}),
    serial: cert.serial,
    name,
    kind,
    subject: cert.subject,
    sans,
    keyType,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    fingerprint: createHash('sha256').update(cert.der).digest('hex'),
    status: 'valid',
  };
}

/** Top-level entries of a CA home that count as content (not our lock or temp files), sorted. */
export async function homeEntries(root: string): Promise<string[]> {
  try {
    return (await fs.readdir(root)).filter((e) => !isScratchEntry(e)).sort();
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return [];
    if (isDenied(e)) throw await notReadable(root, e);
    throw e;
  }
}

function listNames(names: string[]): string {
  return names.length > 8 ? `${names.slice(0, 8).join(', ')} and ${names.length - 8} more` : names.join(', ');
}

export class CaStore {
  readonly paths: HomePaths;
  private cfg: Config;
  private readonly db: IndexBackend;
  private readonly records: Records;
  /** PostgreSQL mode: the home's files that live in the store too. */
  private readonly shared: SharedFiles | undefined;
  private readonly now: () => Date;
  private caCert: X509Certificate | undefined;
  private cachedSigner: Signer | undefined;
  private writable = false;
  private cachedOldSigner: Signer | undefined;
  private passphrase: PassphraseSource | undefined;

  private constructor(paths: HomePaths, cfg: Config, db: IndexBackend, opts: StoreOptions, shared?: SharedFiles) {
    this.paths = paths;
    this.cfg = cfg;
    this.db = db;
    this.shared = shared;
    this.records = new Records(db);
    this.now = opts.now ?? (() => new Date());
  }

  static async exists(home: string): Promise<boolean> {
    try {
      await fs.access(homePaths(home).config);
      return true;
    } catch {
      return false;
    }
  }

  static async open(home: string, opts: StoreOptions = {}): Promise<CaStore> {
    const paths = homePaths(home);
    const given = opts.store ?? (opts.storeDefault !== undefined && !(await hasOwnIndex(paths)) ? opts.storeDefault : undefined);
    const { spec, text, bound } = await resolveStore(paths, given);
    if (spec.kind === 'postgres') return CaStore.openShared(paths, spec, text, bound, opts);
    const cfg = await readJson(paths.config, ConfigSchema, 'config');
    // A home written before the database: moved into it once, index.json kept as the backup.
    await migrateJsonIndex(paths);
    return new CaStore(paths, cfg, await openIndexDb(paths), opts);
  }

  /**
   * A home whose index is in PostgreSQL. The first time on a machine it
   * attaches: the folder is created, every shared file is copied from the
   * store, and the home is bound to it. Each open then brings the copies
   * up to date.
   */
  private static async openShared(paths: HomePaths, spec: Extract<StoreSpec, { kind: 'postgres' }>, text: string, bound: boolean, opts: StoreOptions): Promise<CaStore> {
    if (!bound) {
      for (const own of [paths.db, paths.index]) {
        if (await fs.access(own).then(() => true, () => false)) {
          throw new SipsecError('BAD_INPUT', `the CA home ${paths.root} keeps its own index (${path.basename(own)}); it cannot also use the store ${spec.label}`, 'give another --home to attach to the shared store');
        }
      }
    }
    const db = PgIndexDb.open(spec.url, spec.schema, spec.label);
    try {
      if (!db.hasCa()) throw new SipsecError('CA_MISSING', `no CA in ${paths.root}, nor in the store ${spec.label}`, 'create one with: sipsec ca init --org ORG --domain DOMAIN, on the machine that will sign');
      const shared = new SharedFiles(paths, db);
      if (!bound) {
        await ensureDir(paths.root);
        await assertWritable(paths.root);
        await shared.catchUp();
        await writeBinding(paths, text);
      } else {
        // A copy this user may only read (a listing) is read as it is.
        await shared.catchUp().catch((e: unknown) => {
          if (!isDenied(e)) throw e;
        });
      }
      const cfg = await readJson(paths.config, ConfigSchema, 'config');
      return new CaStore(paths, cfg, db, opts, shared);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  /**
   * Create a CA. config.json is written last: until it exists there is no
   * CA, so a crash half-way leaves nothing that pretends to be one.
   */
  static async init(home: string, p: InitParams, passphrase: string | undefined, opts: StoreOptions = {}): Promise<{ store: CaStore; replaced?: string }> {
    const paths = homePaths(home);
    let replaced: string | undefined;
    try {
      await ensureDir(paths.root);
    } catch (e) {
      if (isDenied(e)) throw notWritable(paths.root, `its parent ${path.dirname(paths.root)} refuses new folders; pick a --home this user may create`);
      if (errnoCode(e) === 'EEXIST') throw new SipsecError('BAD_INPUT', `--home ${paths.root} is a file, not a folder`, 'give a folder for the CA home');
      if (errnoCode(e) === 'ENOTDIR') throw new SipsecError('BAD_INPUT', `--home ${paths.root} cannot be created: a part of its path is a file`, 'give a folder for the CA home');
      throw e;
    }
    await assertWritable(paths.root);
    const wanted = opts.store ?? opts.storeDefault ?? storeFromEnv();
    const { spec, text } = await resolveStore(paths, wanted).catch((e: unknown) => {
      // --force replaces whatever home is there, its binding too.
      if (p.force) return { spec: parseStoreSpec(wanted ?? '', paths.root), text: wanted ?? '' };
      throw e;
    });
    return withLock(paths.lock, async () => {
      const exists = await CaStore.exists(home);
      const entries = await homeEntries(paths.root);
      if (!p.force) {
        if (exists) {
          const foreign = entries.filter((e) => !HOME_ENTRIES.has(e));
          const also = foreign.length > 0 ? ` beside files sipsec did not create: ${listNames(foreign)}` : '';
          throw new SipsecError('CA_EXISTS', `a CA already exists in ${paths.root}${also}`, 'use it, pick another --home, or replace it with --force (the old one is kept aside)');
        }
        if (entries.length > 0) {
          // ast_tls_cert's /etc/asterisk/keys: replacing its ca.crt and leaving its ca.key beside ours breaks both tools.
          throw new SipsecError('FOREIGN_FILES', `${paths.root} holds files that are not a sipsec CA: ${listNames(entries)}`, `pick an empty or new --home such as ${path.join(path.dirname(paths.root), 'sipsec')}, or give --force to move them to ${paths.root}.replaced-<time>`);
        }
      }
      if (entries.length > 0) {
        replaced = `${paths.root}.replaced-${new Date().toISOString().replace(/[:.]/g, '-')}`;
        await fs.mkdir(replaced, { mode: 0o700 });
        for (const entry of entries) {
          await fs.rename(`${paths.root}/${entry}`, `${replaced}/${entry}`);
        }
      }
      // Only now, once the folder is known to be ours: a refused folder keeps its mode.
      await fs.chmod(paths.root, 0o700);
      await ensureDir(paths.certsDir);
      await ensureDir(paths.privateDir);
      const now = (opts.now ?? (() => new Date()))();
      const key = await generateKey(p.caKey);
      const cert = await issueCertificate(
        {
          profile: 'ca',
          cn: p.cn,
          org: p.org,
          sans: { dns: [], ip: [], uri: [] },
          subjectKey: key,
          notBefore: new Date(now.getTime() - BACKDATE),
          notAfter: new Date(now.getTime() + p.caDays * DAY),
        },
        undefined,
      );
      await writeFileAtomic(paths.caKey, privateKeyPem(key, passphrase), { mode: 0o600 });
      const certPem = toPem('CERTIFICATE', cert.der);
      await writeFileAtomic(paths.caCert, certPem, { mode: 0o644 });
      await writeFileAtomic(paths.cert(cert.serial), certPem, { mode: 0o644 });
      const caEntry = entryFor('ca', 'ca', cert, { dns: [], ip: [], uri: [] }, p.caKey);
      let db: IndexBackend;
      let shared: SharedFiles | undefined;
      if (spec.kind === 'postgres') {
        const pg = PgIndexDb.open(spec.url, spec.schema, spec.label);
        if (pg.hasCa()) {
          pg.close();
          throw new SipsecError('CA_EXISTS', `the store ${spec.label} already holds a CA`, 'attach this home to it (any command with --store), or give a new database or ?schema=NAME for a new CA');
        }
        await writeBinding(paths, text);
        db = pg;
        shared = new SharedFiles(paths, pg);
      } else {
        // Created 0600 before SQLite opens it: its -wal and -shm files take the database file's mode.
        await fs.writeFile(paths.db, '', { mode: 0o600, flag: 'wx' });
        db = IndexDb.open(paths.db, { create: true });
      }
      const config: Config = {
        version: 1,
        org: p.org,
        domain: p.domain,
        cn: p.cn,
        caKey: p.caKey,
        hash: p.hash,
        leafKey: p.leafKey,
        leafDays: p.leafDays,
        registrar: p.registrar,
        ...(p.provisioningUrl ? { provisioningUrl: p.provisioningUrl } : {}),
        ...(p.tftpServer ? { tftpServer: p.tftpServer } : {}),
        ...(p.ntp ? { ntp: p.ntp } : {}),
        encrypted: passphrase !== undefined,
        createdAt: now.toISOString(),
      };
      const writeConfig = () => writeFileAtomic(paths.config, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
      const first: RowChanges = { phones: new Map(), certs: new Map([[caEntry.serial, caEntry]]), meta: { crlNumber: 0, transition: undefined } };
      if (shared) {
        // Shared: the commit that puts the CA in the store carries its config.json too, so another machine
        // never finds a CA it cannot read. (A crash before it leaves only this home, which --force replaces.)
        await writeConfig();
        first.files = shared.collect(first);
        db.commit(first, now);
        shared.committed(first.files);
      } else {
        db.commit(first, now);
        await writeConfig();
      }
      const store = new CaStore(paths, config, db, opts, shared);
      const signer = signerFromCert(cert.der, key, p.hash);
      store.caCert = new X509Certificate(cert.der);
      store.cachedSigner = signer;
      await store.writeCrlLocked(signer, paths.crl);
      return replaced ? { store, replaced } : { store };
    });
  }

  /**
   * Every write starts here: a read-only or foreign-owned home is refused
   * with one line before anything is written (checked once per process).
   */
  async assertWritable(): Promise<void> {
    if (this.writable) return;
    await assertWritable(this.paths.root);
    this.writable = true;
  }

  get config(): Config {
    return this.cfg;
  }

  /** The whole index; its lists are read from the database when first touched. */
  get index(): Index {
    return this.records.view();
  }

  /** A phone by its exact name, without reading the rest of the inventory. */
  phone(name: string): Phone | undefined {
    return this.records.phone(name);
  }

  /** A phone whose name matches case-insensitively (the first added, if several). */
  phoneAnyCase(name: string): Phone | undefined {
    return this.records.relevantTo({ names: [name], macs: [], sipusers: [] }).phones.find((p) => p.name.toLowerCase() === name.toLowerCase());
  }

  phoneCount(): number {
    return this.records.phoneCount();
  }

  /** The phones of one vendor (a vendor's rules across its own phones). */
  phonesOfVendor(vendor: string): Phone[] {
    return this.records.phonesOfVendor(vendor);
  }

  /** Every certificate of one kind (the CA or CAs, the servers), oldest first, read by index. */
  certsOfKind(kind: CertKind): CertEntry[] {
    return this.records.certsOfKind(kind);
  }

  /** The phones of a vendor with a valid certificate (something to fetch), read by index. */
  livePhoneNames(vendor: string): string[] {
    return this.records.livePhoneNames(vendor);
  }

  /** Certificates in a renewal overlap (valid, replaced, waiting for their phone), read by index. */
  overlapCerts(): CertEntry[] {
    return this.records.overlapCerts();
  }

  /** What a batch of phones could clash with (same name, MAC, SIP user, address), read by index. */
  relevantTo(batch: readonly Phone[]): Relevant {
    return this.records.relevantTo(batchKeys(batch));
  }

  /** The index's database (backup copies it while serve runs). */
  get database(): IndexBackend {
    return this.db;
  }

  /** The shared store, in PostgreSQL mode (serve registers itself and its registrations there). */
  get sharedStore(): PgIndexDb | undefined {
    return this.db instanceof PgIndexDb ? this.db : undefined;
  }

  /**
   * The store lock: the home's lock file, and in PostgreSQL mode also the
   * store's advisory lock, so writers on different machines take turns.
   */
  async locked<T>(fn: () => Promise<T>): Promise<T> {
    return withLock(this.paths.lock, async () => {
      const pg = this.sharedStore;
      if (!pg) return fn();
      const deadline = Date.now() + 60_000;
      while (!pg.tryLock()) {
        if (Date.now() > deadline) throw new SipsecError('LOCKED', `another sipsec has held the store ${pg.file} for a minute`, 'wait for it to finish, or find it in pg_locks');
        await new Promise((r) => setTimeout(r, 25));
      }
      try {
        return await fn();
      } finally {
        pg.unlock();
      }
    });
  }

  /** Close the database (tests and long-running callers that open many stores). */
  close(): void {
    this.db.close();
  }

  clock(): Date {
    return this.now();
  }

  /** The current CA's index entry (the newest valid one: after `ca rotate`, the new CA). */
  currentCa(): CertEntry | undefined {
    return this.current('ca');
  }

  /** The CA being phased out by a rotation, if one is in progress. */
  oldCa(): CertEntry | undefined {
    const t = this.records.meta.transition;
    return t ? this.bySerial(t.oldCa) : undefined;
  }

  /** Which CA signed a certificate (entries made before any rotation carry no issuer: the first CA). */
  issuerOf(entry: CertEntry): string | undefined {
    if (entry.kind === 'ca') return entry.serial;
    return entry.issuer ?? this.records.certsOfKind('ca')[0]?.serial;
  }

  /** The current CA certificate, parsed by Node (native). */
  async caCertificate(): Promise<X509Certificate> {
    if (!this.caCert) {
      const ca = this.currentCa();
      const file = ca ? this.paths.cert(ca.serial) : this.paths.caCert;
      this.caCert = new X509Certificate(await fs.readFile(file).catch(() => fs.readFile(this.paths.caCert)));
    }
    return this.caCert;
  }

  /**
   * What phones and servers must trust: the current CA, and during a
   * rotation also the old one (current first). This is what `ca.crt` holds
   * and what every rendered file that carries the CA gets.
   */
  async caCertPem(): Promise<string> {
    const cur = this.currentCa();
    if (!cur) return fs.readFile(this.paths.caCert, 'utf8');
    const pems = [await fs.readFile(this.paths.cert(cur.serial), 'utf8')];
    const old = this.oldCa();
    if (old && old.serial !== cur.serial) pems.push(await fs.readFile(this.paths.cert(old.serial), 'utf8'));
    return pems.map((p) => (p.endsWith('\n') ? p : p + '\n')).join('');
  }

  /** The key file of a CA: `private/ca-<serial>.key` once a rotation happened, else `private/ca.key`. */
  async caKeyFile(serial: string): Promise<string> {
    const byId = path.join(this.paths.privateDir, `ca-${serial}.key`);
    try {
      await fs.access(byId);
      return byId;
    } catch {
      return this.paths.caKey;
    }
  }

  private async loadSigner(ca: CertEntry | undefined, passphrase: PassphraseSource): Promise<Signer> {
    const file = ca ? await this.caKeyFile(ca.serial) : this.paths.caKey;
    let pem: string;
    try {
      pem = await fs.readFile(file, 'utf8');
    } catch (e) {
      if (this.shared && errnoCode(e) === 'ENOENT') {
        throw new SipsecError('UNREADABLE', `the CA key is not on this machine: ${this.paths.root} is a copy of the shared store ${this.db.file}`, 'run commands that sign (ca init, phone add/renew/revoke/remove, server add, import, ca crl, ca rotate) on the machine that holds the CA key');
      }
      throw new SipsecError('UNREADABLE', `cannot read the CA key ${file}: ${messageOf(e)}`, 'run sipsec as the user that owns the CA home');
    }
    const pass = this.cfg.encrypted ? await passphrase() : undefined;
    const key = loadPrivateKey(pem, pass, 'CA key');
    const der = ca ? await fs.readFile(this.paths.cert(ca.serial)).then((b) => new X509Certificate(b).raw) : (await this.caCertificate()).raw;
    return signerFromCert(der, key, this.cfg.hash);
  }

  /** The CA's signing key; the passphrase is asked for only when the key is encrypted. */
  async signer(passphrase: PassphraseSource): Promise<Signer> {
    if (this.cachedSigner) return this.cachedSigner;
    // Whatever is signed is then written: refuse a read-only home before asking for the passphrase.
    await this.assertWritable();
    this.passphrase = passphrase;
    this.cachedSigner = await this.loadSigner(this.currentCa(), passphrase);
    return this.cachedSigner;
  }

  /** The passphrase source last used to unlock the CA key in this process, if any. */
  rememberedPassphrase(): PassphraseSource | undefined {
    return this.passphrase;
  }

  /** The signer already unlocked in this process, if any (never prompts). */
  unlockedSigner(): Signer | undefined {
    return this.cachedSigner;
  }

  /** The old CA's signing key during a rotation (same passphrase as the current one): it signs its own CRL. */
  async oldSigner(passphrase?: PassphraseSource): Promise<Signer | undefined> {
    const old = this.oldCa();
    if (!old) return undefined;
    if (this.cachedOldSigner && sameSerial(serialOfDer(this.cachedOldSigner.certDer), old.serial)) return this.cachedOldSigner;
    const source = passphrase ?? this.passphrase;
    if (!source) throw new SipsecError('PASSPHRASE_REQUIRED', 'the old CA key is needed to sign its CRL', 'give the CA passphrase');
    this.cachedOldSigner = await this.loadSigner(old, source);
    return this.cachedOldSigner;
  }

  /** Rewrite ca.crt: the certificate(s) phones and servers must trust (both CAs during a rotation). */
  async writeTrustFile(): Promise<void> {
    await writeFileAtomic(this.paths.caCert, await this.caCertPem(), { mode: 0o644 });
  }

  /** Forget cached CA material (after a rotation switched the current CA). */
  resetCa(): void {
    this.caCert = undefined;
    this.cachedSigner = undefined;
    this.cachedOldSigner = undefined;
  }

  /** The current (valid, newest) certificate of a name. */
  current(name: string): CertEntry | undefined {
    const list = this.records.certsOf(name);
    for (let i = list.length - 1; i >= 0; i--) if (list[i]!.status === 'valid') return list[i];
    return undefined;
  }

  /**
   * The certificate a server name presents (serve, a PBX). During a CA
   * rotation it is the one under the old CA (kept valid until `ca
   * retire-old`): phones that have not fetched the two-CA bundle yet trust
   * only the old CA, and those that have trust both. Otherwise the name's
   * current certificate.
   */
  servedCert(name: string): CertEntry | undefined {
    const old = this.oldCa();
    if (old) {
      const underOld = this.records.certsOf(name).filter((c) => c.kind === 'server' && c.status === 'valid' && this.issuerOf(c) === old.serial);
      if (underOld.length > 0) return underOld[underOld.length - 1];
    }
    return this.current(name);
  }

  /** Every certificate a name has had, oldest first. */
  history(name: string): CertEntry[] {
    return [...this.records.certsOf(name)];
  }

  bySerial(serial: string): CertEntry | undefined {
    return this.records.certBySerial(serial);
  }

  /**
   * Whether the registrar and HTTPS accept a certificate for its name:
   * `current` (the name's newest valid one) or `overlap` (an older one
   * kept valid while its replacement reaches the phone); else undefined.
   */
  roleOf(serial: string): 'current' | 'overlap' | undefined {
    const e = this.bySerial(serial);
    if (!e || e.status !== 'valid') return undefined;
    if (this.current(e.name)?.serial === e.serial) return 'current';
    // Past its grace period an old certificate no longer counts, even before a sweep revokes it.
    if (e.graceUntil !== undefined && Date.parse(e.graceUntil) <= this.now().getTime()) return undefined;
    return e.supersededBy ? 'overlap' : undefined;
  }

  async readCertPem(serial: string): Promise<string> {
    return fs.readFile(this.paths.cert(serial), 'utf8');
  }

  async readKeyPem(serial: string): Promise<string> {
    return fs.readFile(this.paths.key(serial), 'utf8');
  }

  async readKey(serial: string): Promise<KeyObject> {
    return loadPrivateKey(await this.readKeyPem(serial), undefined, `key of ${serial}`);
  }

  /**
   * Issue leaf certificates: keys are generated concurrently on the thread
   * pool, certificates and keys written by serial. Nothing is committed:
   * the caller adds the entries to the index inside `update`.
   */
  async prepare(reqs: LeafRequest[], signer: Signer, onDone?: (n: number) => void): Promise<Prepared[]> {
    await this.assertWritable();
    const now = this.now();
    const signerSerial = serialOfDer(signer.certDer);
    // The CA's serial as its index entry spells it (a new CA's entry may not be committed yet).
    const issuer = this.records.certsOfKind('ca').find((c) => normSerial(c.serial) === signerSerial)?.serial ?? evenHex(new X509Certificate(signer.certDer).serialNumber.toLowerCase());
    const out: Prepared[] = new Array(reqs.length);
    let next = 0;
    let done = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= reqs.length) return;
        const r = reqs[i]!;
        const key = await generateLeafKey(r.keySpec);
        const cert = await issueCertificate(
          {
            profile: r.kind,
            cn: r.cn,
            org: this.cfg.org,
            sans: r.sans,
            subjectKey: key,
            serial: randomSerial(),
            notBefore: new Date(now.getTime() - BACKDATE),
            notAfter: new Date(now.getTime() + r.days * DAY),
          },
          signer,
        );
        const entry = entryFor(r.name, r.kind, cert, r.sans, r.keySpec, issuer);
        const keyFile = this.paths.key(entry.serial);
        const certFile = this.paths.cert(entry.serial);
        await writeFileAtomic(keyFile, key.pem, { mode: 0o600, syncDir: false });
        await writeFileAtomic(certFile, toPem('CERTIFICATE', cert.der), { mode: 0o644, syncDir: false });
        out[i] = { entry, files: [keyFile, certFile] };
        onDone?.(++done);
      }
    };
    // Key generation and signing run on the thread pool: enough requests in flight keep both cores
    // busy while the main thread encodes and writes (16 measured best for P-256 batches here).
    await Promise.all(Array.from({ length: Math.min(reqs.length, 16) }, worker));
    // The renames must be durable before an index entry may point at them.
    await this.syncDirs();
    return out;
  }

  async discard(prepared: Prepared[]): Promise<void> {
    await Promise.all(prepared.flatMap((p) => p.files.map((f) => fs.rm(f, { force: true }))));
  }

  /**
   * The only way the index changes: under the store lock, on what is in
   * the database now (another sipsec may have committed meanwhile), the
   * changed records written in one transaction. If `fn` throws, nothing is
   * written.
   */
  async update<T>(fn: (draft: IndexDraft, config: Config) => T | Promise<T>): Promise<T> {
    await this.assertWritable();
    return this.locked(async () => {
      this.records.refresh();
      await this.shared?.catchUp();
      const draft = this.records.draft();
      const result = await fn(draft, this.cfg);
      this.commit(draft.changes());
      return result;
    });
  }

  private commit(rows: RowChanges): void {
    if (this.shared) rows.files = this.shared.collect(rows);
    if (isEmpty(rows) && !rows.files?.length) return;
    const seq = this.db.commit(rows, this.now());
    if (rows.files) this.shared?.committed(rows.files);
    this.records.applyCommitted(rows, seq);
  }

  async updateConfig(patch: Partial<Config>): Promise<Config> {
    await this.assertWritable();
    return this.locked(async () => {
      await this.shared?.catchUp();
      const fresh = await readJson(this.paths.config, ConfigSchema, 'config');
      const next = ConfigSchema.parse({ ...fresh, ...patch });
      await writeFileAtomic(this.paths.config, JSON.stringify(next, null, 2) + '\n', { mode: 0o600 });
      this.cfg = next;
      // Followers learn of it from the change log like any other change.
      this.commit({ phones: new Map(), certs: new Map(), notes: [{ kind: 'config', key: 'config.json' }] });
      return next;
    });
  }

  /**
   * Follow the database (a long-running serve): apply what other processes
   * committed since the last look, and re-read the config. Returns what
   * changed ('all' when everything must be taken as changed).
   */
  async reload(): Promise<ReturnType<Records['refresh']>> {
    const changed = this.records.refresh();
    // Rows first, then files: a commit landing in between brings files no row names yet, never the reverse.
    await this.shared?.catchUp();
    this.cfg = await readJson(this.paths.config, ConfigSchema, 'config');
    return changed;
  }

  /** The change number this process has applied up to (serve compares it to the database's). */
  changeSeq(): number {
    return this.records.seq;
  }

  /** The database's latest change number (one indexed read: cheap enough to poll). */
  latestChange(): number {
    return this.db.lastSeq();
  }

  /** Mark a certificate revoked inside an `update`. */
  static revokeIn(draft: IndexDraft, serial: string, reason: RevocationReason, at: Date): CertEntry {
    const entry = draft.cert(serial);
    if (!entry) throw new SipsecError('NOT_FOUND', `no certificate with serial ${serial}`, 'see sipsec cert list');
    if (entry.status === 'revoked') return entry;
    entry.status = 'revoked';
    entry.revokedAt = at.toISOString();
    entry.reason = reason;
    draft.putCert(entry);
    return entry;
  }

  /** Write a fresh CRL (next update in 30 days) with a new CRL number. */
  async writeCrl(signer: Signer, out?: string): Promise<string> {
    await this.assertWritable();
    return this.locked(async () => {
      this.records.refresh();
      await this.shared?.catchUp();
      return this.writeCrlLocked(signer, out ?? this.paths.crl);
    });
  }

  /**
   * Each CA signs its own CRL, listing the certificates it issued (RFC 5280
   * §5: a CRL's scope is its issuer). During a rotation the file holds both
   * CRLs, current first: OpenSSL (serve, Kamailio, `openssl verify
   * -crl_check_all`) then finds a CRL for whichever CA a phone's chain uses.
   */
  private async crlsFor(index: { crlNumber: number; transition?: Index['transition'] | undefined; revoked: CertEntry[]; firstCa: string | undefined }, signer: Signer, oldSigner: Signer | undefined): Promise<{ pem: string; crlNumber: number; transition: Index['transition'] }> {
    const now = this.now();
    const number = index.crlNumber + 1;
    const firstCa = index.firstCa;
    const issuerOf = (c: CertEntry) => c.issuer ?? firstCa;
    const revokedBy = (ca: string) =>
      index.revoked
        .filter((c) => c.kind !== 'ca' && c.status === 'revoked' && sameSerial(issuerOf(c), ca))
        .map((c) => ({ serial: c.serial, revokedAt: new Date(c.revokedAt ?? now.toISOString()), reason: c.reason ?? 'unspecified' }));
    const nextUpdate = new Date(now.getTime() + 30 * DAY);
    const crl = await buildCrl(signer, revokedBy(serialOfDer(signer.certDer)), BigInt(number), now, nextUpdate);
    // RFC 7468 §5 label; @peculiar/x509 writes `CRL`, which OpenSSL cannot read.
    let pem = toPem('X509 CRL', crl);
    let transition = index.transition;
    if (transition && oldSigner) {
      const oldNumber = transition.crlNumber + 1;
      pem += toPem('X509 CRL', await buildCrl(oldSigner, revokedBy(transition.oldCa), BigInt(oldNumber), now, nextUpdate));
      transition = { ...transition, crlNumber: oldNumber };
    }
    return { pem, crlNumber: number, transition };
  }

  private async writeCrlLocked(signer: Signer, out: string): Promise<string> {
    const meta = this.records.meta;
    const index = { crlNumber: meta.crlNumber, transition: meta.transition, revoked: this.db.revokedCerts(), firstCa: this.records.certsOfKind('ca')[0]?.serial };
    const { pem, crlNumber, transition } = await this.crlsFor(index, signer, meta.transition ? await this.oldSigner() : undefined);
    await writeFileAtomic(out, pem, { mode: 0o644 });
    this.commit({ phones: new Map(), certs: new Map(), meta: { crlNumber, transition: transition ?? meta.transition } });
    return out;
  }

  /**
   * Inside an `update`: publish the CRLs of the draft before the index
   * commits (a CA rotation), so a server that follows the index never
   * trusts a CA whose CRL it cannot find yet.
   */
  async writeCrlFor(draft: IndexDraft, signer: Signer, oldSigner: Signer | undefined): Promise<void> {
    const certs = draft.certificates;
    const index = { crlNumber: draft.crlNumber, transition: draft.transition, revoked: certs.filter((c) => c.status === 'revoked'), firstCa: certs.find((c) => c.kind === 'ca')?.serial };
    const { pem, crlNumber, transition } = await this.crlsFor(index, signer, oldSigner);
    await writeFileAtomic(this.paths.crl, pem, { mode: 0o644 });
    draft.crlNumber = crlNumber;
    if (transition) draft.transition = transition;
  }

  /** Sync the certs/ and private/ directories once per batch (each file was fsynced already). */
  async syncDirs(): Promise<void> {
    await fsyncDir(this.paths.certsDir);
    await fsyncDir(this.paths.privateDir);
  }
}

