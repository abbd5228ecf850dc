import { existsSync, readFileSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { SipsecError, errnoCode } from '../../core/errors.js';
import { ensureDir, writeFileAtomic } from '../../core/atomic.js';
import type { HomePaths } from '../paths.js';
import type { RowChanges, SharedFile } from '../db.js';
import type { PgIndexDb } from './pg-db.js';

/**
 * The files every machine's copy of a shared (PostgreSQL) home needs,
 * kept in the store beside the rows that name them: certificates and the
 * phone and server keys by serial, ca.crt, the CRL and config.json. A CA
 * key never leaves the machine that signs: nothing outside this list is
 * uploaded, and nothing outside it is written when copies catch up.
 */

const TOP = ['config.json', 'ca.crt', 'crl.pem'] as const;
const MODES: Record<(typeof TOP)[number], number> = { 'config.json': 0o600, 'ca.crt': 0o644, 'crl.pem': 0o644 };
// Serials are 128-bit random hex (older or imported ones at least 64-bit): never `ca`, which is hex too
// and names the CA key (private/ca.key) that must never come from the store.
const SERIAL_FILE = /^(certs\/[0-9a-fA-F]{16,64}\.crt|private\/[0-9a-fA-F]{16,64}\.key)$/;

/** Whether a path from the store may be written into the home (and which mode it gets). */
export function sharedMode(rel: string): number | undefined {
  if ((TOP as readonly string[]).includes(rel)) return MODES[rel as (typeof TOP)[number]];
  if (!SERIAL_FILE.test(rel)) return undefined;
  return rel.startsWith('private/') ? 0o600 : 0o644;
}

export class SharedFiles {
  /** What the store holds for the top-level files, as far as this process knows. */
  private known: Map<string, Buffer> | undefined;
  private seq: number | undefined;

  constructor(
    private readonly paths: HomePaths,
    private readonly db: PgIndexDb,
  ) {}

  /**
   * The files a commit must carry: the certificate and key of every
   * certificate row it writes, and any top-level file that differs from
   * the store's copy.
   */
  collect(rows: RowChanges): SharedFile[] {
    const out: SharedFile[] = [];
    const bySerial = [...rows.certs].filter(([, e]) => e !== null).flatMap(([serial]) => [`certs/${serial}.crt`, `private/${serial}.key`]);
    // Files named by serial never change: one the store holds already (a revocation, a renewal's old
    // certificate) is not read or sent again.
    const held = bySerial.length > 0 ? this.db.filesPresent(bySerial) : new Set<string>();
    for (const rel of bySerial) {
      if (held.has(rel)) continue;
      const abs = path.join(this.paths.root, rel);
      if (existsSync(abs)) out.push({ path: rel, mode: sharedMode(rel)!, data: readFileSync(abs) });
    }
    this.known ??= this.db.fileContents([...TOP]);
    for (const rel of TOP) {
      let data: Buffer;
      try {
        data = readFileSync(path.join(this.paths.root, rel));
      } catch (e) {
        if (errnoCode(e) === 'ENOENT') continue;
        throw e;
      }
      if (this.known.get(rel)?.equals(data)) continue;
      out.push({ path: rel, mode: MODES[rel], data });
    }
    return out;
  }

  /** The commit carrying `files` is in: the store now holds them. */
  committed(files: SharedFile[]): void {
    for (const f of files) if ((TOP as readonly string[]).includes(f.path)) this.known?.set(f.path, f.data);
  }

  /** Bring this machine's copies up to date with the store; returns how many files were written. */
  async catchUp(): Promise<number> {
    this.seq ??= await this.readMarker();
    const files = this.db.filesSince(this.seq);
    if (files.length === 0) return 0;
    await ensureDir(this.paths.certsDir);
    await ensureDir(this.paths.privateDir);
    let written = 0;
    for (const f of files) {
      const mode = sharedMode(f.path);
      if (mode === undefined) throw new SipsecError('CA_CORRUPT', `the store holds a file sipsec never shares: ${JSON.stringify(f.path)}`, 'someone wrote into the store by hand: check it, then remove that row');
      const abs = path.join(this.paths.root, f.path);
      const cur = await fs.readFile(abs).catch(() => undefined);
      if (!cur?.equals(f.data)) {
        await writeFileAtomic(abs, f.data, { mode, syncDir: false });
        written++;
      }
      if ((TOP as readonly string[]).includes(f.path)) this.known?.set(f.path, f.data);
    }
    this.seq = files[files.length - 1]!.seq;
    await writeFileAtomic(this.paths.storeFiles, JSON.stringify({ seq: this.seq }) + '\n', { mode: 0o600 });
    return written;
  }

  private async readMarker(): Promise<number> {
    try {
      const v = JSON.parse(await fs.readFile(this.paths.storeFiles, 'utf8')) as { seq?: unknown };
      return typeof v.seq === 'number' && Number.isSafeInteger(v.seq) && v.seq >= 0 ? v.seq : 0;
    } catch {
      return 0;
    }
  }
}
