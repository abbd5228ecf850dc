import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { isIP } from 'node:net';
import { SipsecError, errnoCode } from '../core/errors.js';
import { writeFileAtomic } from '../core/atomic.js';
import { X509Certificate } from 'node:crypto';
import { generateKey, loadPrivateKey, privateKeyPem, type KeySpec } from './keys.js';
import { issueCertificate, signerFromCert, type Signer } from './certificate.js';
import { checkDns } from './names.js';
import { toPem } from './pem.js';

/**
 * Asterisk's contrib/scripts/ast_tls_cert, with its options and file names,
 * so the secure-calling tutorial's commands work unchanged, but issuing what
 * the script meant to: X.509 v3, basicConstraints on the CA, CN and SAN on
 * the leaf, server+client EKU, random serials (the script gives every leaf
 * serial 01 and no extensions at all; anchors.md §A.2).
 */
export interface AstTlsCertOptions {
  mode: 'server' | 'client';
  cn: string;
  org: string;
  dir: string;
  caCert?: string;
  caKey?: string;
  name: string;
  bits: number;
  days: number;
  /** -e: do not encrypt a newly created CA key. */
  noCaPassphrase: boolean;
  passphrase: () => Promise<string | undefined>;
  now?: Date;
}

export interface AstTlsCertResult {
  createdCa: boolean;
  files: string[];
  serial: string;
}

const DAY = 86_400_000;

function specForBits(bits: number): KeySpec {
  if (bits === 2048 || bits === 3072 || bits === 4096) return `rsa${bits}` as KeySpec;
  throw new SipsecError('BAD_INPUT', `-b ${bits} is not supported`, 'use 2048 (default), 3072 or 4096; 1024-bit RSA is no longer safe');
}

async function readFileOr(file: string, what: string): Promise<string> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    throw new SipsecError('UNREADABLE', `cannot read ${what} ${file}`, errnoCode(e) === 'ENOENT' ? 'check the path given with -c/-k' : 'check its permissions');
  }
}

export async function astTlsCert(o: AstTlsCertOptions): Promise<AstTlsCertResult> {
  const now = o.now ?? new Date();
  const leafSpec = specForBits(o.bits);
  if (!Number.isInteger(o.days) || o.days < 1) throw new SipsecError('BAD_INPUT', `invalid -v '${o.days}'`, 'give the validity in days');
  const isIp = isIP(o.cn) !== 0;
  if (!isIp) checkDns(o.cn);
  await fs.mkdir(o.dir, { recursive: true, mode: 0o700 });
  const files: string[] = [];
  let signer: Signer;
  let createdCa = false;
  if (o.caCert) {
    if (!o.caKey) throw new SipsecError('BAD_INPUT', '-c needs -k', 'give the CA key with -k ca.key');
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(await readFileOr(o.caCert, 'the CA certificate'));
    } catch (e) {
      if (e instanceof SipsecError) throw e;
      throw new SipsecError('UNREADABLE', `${o.caCert} is not a PEM certificate`, 'give the CA certificate with -c');
    }
    const keyPem = await readFileOr(o.caKey, 'the CA key');
    const key = loadPrivateKey(keyPem, /ENCRYPTED/.test(keyPem) ? await o.passphrase() : undefined, 'CA key');
    signer = signerFromCert(cert.raw, key, 'sha256');
  } else {
    const caKeyFile = path.join(o.dir, 'ca.key');
    const caCrtFile = path.join(o.dir, 'ca.crt');
    const key = await generateKey('rsa4096');
    // The script gave the CA the leaf's validity; a CA outliving its leaves is the point of one.
    const caDays = Math.max(o.days, 3650);
    const cert = await issueCertificate(
      { profile: 'ca', cn: `${o.org} Private CA`, org: o.org, sans: { dns: [], ip: [], uri: [] }, subjectKey: key, notBefore: new Date(now.getTime() - 3_600_000), notAfter: new Date(now.getTime() + caDays * DAY) },
      undefined,
    );
    const pass = o.noCaPassphrase ? undefined : await o.passphrase();
    if (!o.noCaPassphrase && pass === undefined) {
      throw new SipsecError('PASSPHRASE_REQUIRED', 'no passphrase for the new CA key', 'set SIPSEC_CA_PASSPHRASE, run on a terminal, or pass -e for an unencrypted CA key');
    }
    await writeFileAtomic(caKeyFile, privateKeyPem(key, pass), { mode: 0o600 });
    await writeFileAtomic(caCrtFile, toPem('CERTIFICATE', cert.der), { mode: 0o644 });
    files.push(caKeyFile, caCrtFile);
    signer = signerFromCert(cert.der, key, 'sha256');
    createdCa = true;
  }
  const key = await generateKey(leafSpec);
  const cert = await issueCertificate(
    {
      profile: o.mode === 'server' ? 'server' : 'phone',
      cn: o.cn,
      org: o.org,
      sans: { dns: isIp ? [] : [o.cn.toLowerCase()], ip: isIp ? [o.cn] : [], uri: [] },
      subjectKey: key,
      notBefore: new Date(now.getTime() - 3_600_000),
      notAfter: new Date(now.getTime() + o.days * DAY),
    },
    signer,
  );
  const keyPem = privateKeyPem(key);
  const certPem = toPem('CERTIFICATE', cert.der);
  const base = path.join(o.dir, o.name);
  await writeFileAtomic(`${base}.key`, keyPem, { mode: 0o600 });
  await writeFileAtomic(`${base}.crt`, certPem, { mode: 0o644 });
  await writeFileAtomic(`${base}.pem`, keyPem + certPem, { mode: 0o600 });
  files.push(`${base}.key`, `${base}.crt`, `${base}.pem`);
  return { createdCa, files, serial: cert.serial };
}
