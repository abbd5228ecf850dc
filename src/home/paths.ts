import * as path from 'node:path';

/**
 * The layout of a CA home (like easy-rsa's pki/): plain files a person can
 * inspect. Certificates and keys are stored by serial, so replacing one
 * never overwrites a file the index still points to; the index database
 * (sipsec.db) is the commit point of every change.
 */
export function homePaths(home: string) {
  const root = path.resolve(home);
  return {
    root,
    config: path.join(root, 'config.json'),
    /** The certificate index and inventory (SQLite). */
    db: path.join(root, 'sipsec.db'),
    /** Which store holds the index when it is not sipsec.db (a PostgreSQL URL), see store-spec.ts. */
    storeBinding: path.join(root, 'store.json'),
    /** How far this home's copies of the shared files (PostgreSQL mode) are up to date. */
    storeFiles: path.join(root, 'store-files.json'),
    /** Where the index lived before the database: read once to migrate, then kept as `index.json.pre-db`. */
    index: path.join(root, 'index.json'),
    indexBackup: path.join(root, 'index.json.pre-db'),
    lock: path.join(root, '.lock'),
    caCert: path.join(root, 'ca.crt'),
    caKey: path.join(root, 'private', 'ca.key'),
    crl: path.join(root, 'crl.pem'),
    certsDir: path.join(root, 'certs'),
    privateDir: path.join(root, 'private'),
    provisionDir: path.join(root, 'provision'),
    /** What the renders of provision/ rendered, phone by phone: `provision routes` lists from it (src/provision/route-cache.ts). */
    routeCache: path.join(root, 'routes-cache.jsonl'),
    /** The `--out` trees `provision render` wrote (doctor checks they are up to date). */
    outs: path.join(root, 'outs.json'),
    serveLog: path.join(root, 'serve.log'),
    serveState: path.join(root, 'serve.json'),
    servePid: path.join(root, 'serve.pid'),
    cert: (serial: string) => path.join(root, 'certs', `${serial}.crt`),
    key: (serial: string) => path.join(root, 'private', `${serial}.key`),
  };
}

export type HomePaths = ReturnType<typeof homePaths>;

/**
 * What sipsec itself puts at the top of a CA home. `ca init` refuses a
 * folder holding anything else (another tool's ca.crt/ca.key, as
 * ast_tls_cert leaves in /etc/asterisk/keys) unless --force moves it aside.
 */
export const HOME_ENTRIES: ReadonlySet<string> = new Set([
  'config.json',
  'index.json',
  'index.json.pre-db',
  'sipsec.db',
  'sipsec.db-wal',
  'sipsec.db-shm',
  'store.json',
  'store-files.json',
  'ca.crt',
  'crl.pem',
  'certs',
  'private',
  'provision',
  'routes-cache.jsonl',
  'serve.log',
  'security.log',
  'serve.json',
  'serve.pid',
  'outs.json',
  'serve.sock',
  'demo-report.html',
  '.lock',
  '.gitkeep',
]);

/** Entries that never count as content: the lock, a placeholder, our own temp files. */
export function isScratchEntry(name: string): boolean {
  return name === '.lock' || name === '.gitkeep' || name.startsWith('.sipsec-write-probe.') || /^\..+\.\d+\.[0-9a-f]{8}\.tmp$/.test(name);
}

export function defaultHome(): string {
  return process.env.SIPSEC_HOME && process.env.SIPSEC_HOME.length > 0 ? process.env.SIPSEC_HOME : './ca';
}
