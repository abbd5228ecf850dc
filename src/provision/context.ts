import { readFileSync } from 'node:fs';
import { SipsecError } from '../core/errors.js';
import { legacyPrivateKeyPem, loadPrivateKey } from '../pki/keys.js';
import type { KeyObject } from 'node:crypto';
import { buildPkcs12 } from '../pki/pkcs12.js';
import { legacyPemFromPkcs8 } from '../pki/pkcs8.js';
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
  const entry = currentOf(store, phone);
  const [certPem, keyPem, ca] = await Promise.all([store.readCertPem(entry.serial), store.readKeyPem(entry.serial), caPem ? Promise.resolve(caPem) : store.caCertPem()]);
  return buildContext(store, phone, vendor, localDir, { cert: certPem, key: keyPem, ca, serial: entry.serial });
}

/**
 * The same, read synchronously: serve renders a phone's files the moment
 * the phone first asks for one (TFTP and HTTPS lookups are synchronous),
 * not all of them at start; a full render reads 20,000 small files at
 * 10,000 phones, where a promise read's four thread-pool round trips cost
 * more than the reads.
 */
export function phoneContextSync(store: CaStore, phone: Phone, vendor: VendorModule, caPem: string, localDir?: string): RenderContext {
  const entry = currentOf(store, phone);
  return buildContext(store, phone, vendor, localDir, { cert: readFileSync(store.paths.cert(entry.serial), 'utf8'), key: readFileSync(store.paths.key(entry.serial), 'utf8'), ca: caPem, serial: entry.serial });
}

const NOT_READ = '-----BEGIN NOT READ-----\n-----END NOT READ-----\n';

/**
 * A context without the phone's certificate and key (placeholders): what
 * its files are called, their types and whether they hold a key depend on
 * the phone's record, not on its key material, so serve learns every
 * route at start from this and renders the content on first request.
 */
export function phoneContextDry(store: CaStore, phone: Phone, vendor: VendorModule, caPem: string): RenderContext {
  const ctx = buildContext(store, phone, vendor, undefined, { cert: NOT_READ, key: NOT_READ, ca: caPem, serial: '' });
  return { ...ctx, pem: { cert: NOT_READ, key: NOT_READ, keyLegacy: NOT_READ, ca: caPem, p12: () => Buffer.alloc(0) } };
}

let lastCa: { pem: string; der: Buffer } | undefined;

/** The CA certificate (the bundle's first) as DER, parsed once for all the PKCS#12 files of a render. */
function caDer(pem: string): Buffer {
  if (lastCa?.pem !== pem) lastCa = { pem, der: new X509Certificate(pem).raw };
  return lastCa.der;
}

function currentOf(store: CaStore, phone: Phone) {
  const entry = store.current(phone.name);
  if (!entry) {
    throw new SipsecError('NOT_FOUND', `phone '${phone.name}' has no valid certificate`, `issue one with sipsec cert renew ${phone.name}`);
  }
  return entry;
}

function buildContext(store: CaStore, phone: Phone, vendor: VendorModule, localDir: string | undefined, m: { cert: string; key: string; ca: string; serial: string }): RenderContext {
  const { cert: certPem, key: keyPem, ca } = m;
  // Parsed only for the vendors that need it (the legacy key form, PKCS#12): at fleet size, parsing every
  // phone's key for every route table was most of the time.
  let key: KeyObject | undefined;
  const keyObject = () => (key ??= loadPrivateKey(keyPem, undefined, `key of ${m.serial}`));
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
        // Re-wrapped from the PKCS#8 DER when it is laid out as sipsec writes it: no OpenSSL decode per phone.
        return (keyLegacy ??= legacyPemFromPkcs8(keyPem) ?? legacyPrivateKeyPem(keyObject()));
      },
      ca,
      p12: (profile) =>
        buildPkcs12({
          key: keyObject(),
          certs: [new X509Certificate(certPem).raw, caDer(ca)],
          password: phone.secret,
          friendlyName: phone.name,
          profile,
        }),
    },
    localDir,
  };
}
