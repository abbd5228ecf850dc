import { promises as fs } from 'node:fs';
import { SipsecError, messageOf } from '../core/errors.js';
import { writeFileAtomic } from '../core/atomic.js';
import { withLock } from '../core/lock.js';
import { loadPrivateKey, privateKeyPem } from '../pki/keys.js';
import type { CaStore, PassphraseSource } from './store.js';

/**
 * Set, change or remove the passphrase of the CA key (PKCS#8 PBES2 at
 * rest). The key file is replaced atomically under the store lock; the
 * config's `encrypted` flag follows it.
 */
export async function changeCaPassphrase(store: CaStore, current: PassphraseSource, next: string | undefined): Promise<{ encrypted: boolean }> {
  if (next !== undefined && next.length < 8) throw new SipsecError('BAD_INPUT', 'the new CA passphrase is shorter than 8 characters', 'choose a longer one');
  return withLock(store.paths.lock, async () => {
    let pem: string;
    try {
      pem = await fs.readFile(store.paths.caKey, 'utf8');
    } catch (e) {
      throw new SipsecError('UNREADABLE', `cannot read the CA key ${store.paths.caKey}: ${messageOf(e)}`, 'run sipsec as the user that owns the CA home');
    }
    const encrypted = pem.includes('ENCRYPTED PRIVATE KEY');
    const key = loadPrivateKey(pem, encrypted ? await current() : undefined, 'CA key');
    await writeFileAtomic(store.paths.caKey, privateKeyPem(key, next), { mode: 0o600 });
    return { encrypted: next !== undefined };
  }).then(async (r) => {
    await store.updateConfig({ encrypted: r.encrypted });
    return r;
  });
}
