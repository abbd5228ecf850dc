import { SipsecError } from '../core/errors.js';
import { legacyPrivateKeyPem, loadPrivateKey } from '../pki/keys.js';
import type { KeyObject } from 'node:crypto';
import { buildPkcs12 } from '../pki/pkcs12.js';
import { X509Certificate } from 'node:crypto';
import type { CaStore } from '../home/store.js';
import type { Phone } from '../home/schema.js';
import { sipUser } from '../inventory/phones.js';
import type { RenderContext, SharedRenderContext, VendorModule } from '../vendors/types.js';

/** Where phones are pointed, from the CA config (never hard-coded). */
export function addresses(store: CaStore) {
  const c = store.config;
  const provisioningUrl = c.provisioningUrl ?? `https://${c.registrar.host}/`;
  return {
    domain: c.domain,
    org: c.org,
    registrar: c.registrar,
    provisioningUrl: provisioningUrl.endsWith('/') ? provisioningUrl : `${provisioningUrl}/`,
    tftpServer: c.tftpServer ?? c.registrar.host,
    ntp: c.ntp,
  };
}

export async function sharedContext(store: CaStore, phones: Phone[]): Promise<SharedRenderContext> {
  return { ...addresses(store), caPem: await store.caCertPem(), phones };
}

/** Everything a vendor module needs to render one phone; pure data, read from the store once. */
export async function phoneContext(store: CaStore, phone: Phone, vendor: VendorModule, localDir: string | undefined, caPem?: string): Promise<RenderContext> {
  const entry = store.current(phone.name);
  if (!entry) {
    throw new SipsecError('NOT_FOUND', `phone '${phone.name}' has no valid certificate`, `issue one with sipsec cert renew ${phone.name}`);
  }
  const [certPem, keyPem, ca] = await Promise.all([store.readCertPem(entry.serial), store.readKeyPem(entry.serial), caPem ? Promise.resolve(caPem) : store.caCertPem()]);
  // Parsed only for the vendors that need it (the legacy key form, PKCS#12): at fleet size, parsing every
  // phone's key for every route table was most of the time.
  let key: KeyObject | undefined;
  const keyObject = () => (key ??= loadPrivateKey(keyPem, undefined, `key of ${entry.serial}`));
  let keyLegacy: string | undefined;
  const options = vendor.optionsSchema.parse(phone.options);
  return {
    phone,
    options,
    sipUser: sipUser(phone),
    ...addresses(store),
    pem: {
      cert: certPem,
      key: keyPem,
      get keyLegacy() {
        return (keyLegacy ??= legacyPrivateKeyPem(keyObject()));
      },
      ca,
      p12: (profile) =>
        buildPkcs12({
          key: keyObject(),
          certs: [new X509Certificate(certPem).raw, new X509Certificate(ca).raw],
          password: phone.secret,
          friendlyName: phone.name,
          profile,
        }),
    },
    localDir,
  };
}
