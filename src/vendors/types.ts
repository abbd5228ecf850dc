import type { z } from 'zod';
import type { Phone } from '../home/schema.js';
import type { SuiteName } from '../srtp/suites.js';

/**
 * What every vendor module declares and does. A vendor module is a
 * descriptor (facts with their sources) plus a pure render function over a
 * RenderContext; templates live in templates/<id>/.
 */

export type Transport = 'tftp' | 'http' | 'https';
export type TlsVersion = '1.0' | '1.1' | '1.2' | '1.3';

/** How a device receives its certificate, key and trusted CA. */
export type CertDelivery =
  | 'files' // separate PEM files the config names (Aastra)
  | 'inline-pem' // PEM text inside the config (Grandstream P280/P279)
  | 'bundle-pem' // certificate + key in one PEM file (baresip, Blink)
  | 'pkcs12' // a PKCS#12 file to import
  | 'url' // the config points at URLs the device downloads (Yealink)
  | 'os-store'; // the product trusts only its OS certificate store (Bria): the user imports

/** Where a fact comes from, and how sure we are (vendors.md tags). */
export interface Quirk {
  text: string;
  source: string;
  confidence: 'verified' | 'community' | 'unverified';
}

export interface VendorDescriptor {
  id: string;
  /** Human name with the models it covers. */
  name: string;
  kind: 'hardware' | 'softphone' | 'test-client';
  /** Hardware is provisioned by MAC; softphones by name. */
  macRequired: boolean;
  /** How the MAC appears in file names. */
  macCase: 'upper' | 'lower' | 'none';
  /** Protocols the device fetches its files with, preferred first. */
  transports: Transport[];
  certDelivery: CertDelivery[];
  srtp: {
    /** Suites the device supports, in the order to offer or prefer them. */
    suites: SuiteName[];
    /** Whether the device puts a key lifetime (`|2^31`) in its offers. */
    sendsLifetime?: boolean;
    /** Whether sipsec may offer it SRTP on RTP/AVP (best effort). */
    avpCrypto?: boolean;
  };
  tls: {
    /** Oldest/newest TLS versions the firmware is known to speak, when known. */
    min?: TlsVersion;
    max?: TlsVersion;
    /** Whether the device can present a client certificate sipsec issued. */
    clientCert: boolean;
    /** Whether the device verifies the server certificate. */
    verifiesServer: boolean | 'unknown';
  };
  /** Boot file names the device asks for (documentation and `provision routes`). */
  bootFiles: string[];
  /** Where a person changes each thing `verify` may point at, in this device's own words. */
  settings?: {
    caTrust?: string;
    transport?: string;
    srtp?: string;
    clock?: string;
    clientCert?: string;
  };
  quirks: Quirk[];
  /**
   * The unsolicited NOTIFY that makes the device fetch its files again
   * (`sipsec phone resync`). Absent: the device has no such event; sipsec
   * sends the generic `check-sync` and reports whatever it answers.
   */
  resync?: ResyncSpec;
}

/** A vendor's resync NOTIFY: the Event header values, with the source of the fact. */
export interface ResyncSpec {
  /** Event header value that makes the device re-read its configuration. */
  event: string;
  /** Event header value that makes it re-read and reboot; absent when the device has none. */
  rebootEvent?: string;
  source: string;
  confidence: Quirk['confidence'];
}

export interface RenderedFile {
  /** Route path relative to the provisioning root, no leading slash. */
  path: string;
  content: Buffer;
  contentType: string;
  /** The file contains private key material: served only under the key rules. */
  holdsKey: boolean;
  /** The phone it belongs to; undefined for a vendor-wide file shared by all its phones. */
  phone?: string;
  /** Protocols that may serve it; default: the vendor's transports. */
  transports?: Transport[];
  /** Also answered under these paths (e.g. Grandstream `cfg<mac>.bin`). */
  aliases?: string[];
  /** Written to the phone's ready directory instead of the served tree. */
  localOnly?: boolean;
}

export interface PemSet {
  /** Phone certificate, PEM. */
  cert: string;
  /** Phone private key, PKCS#8 PEM, unencrypted. */
  key: string;
  /** The same key in the traditional PKCS#1/SEC1 form some firmware needs. */
  keyLegacy: string;
  /** The CA certificate, PEM: what the phone must trust. */
  ca: string;
  /** PKCS#12 of key + cert + CA, password = the phone's SIP secret. */
  p12: (profile: 'modern' | 'legacy') => Buffer;
}

export interface RenderContext {
  phone: Phone;
  /** The phone's vendor options after its schema parsed them. */
  options: Record<string, unknown>;
  /** SIP identity: user (extension, or the name) @ domain. */
  sipUser: string;
  domain: string;
  org: string;
  registrar: { host: string; port: number };
  /** Base URL of HTTPS/HTTP provisioning, ending in '/'. */
  provisioningUrl: string;
  /** Host (or host:port) of the TFTP server phones use. */
  tftpServer: string;
  ntp: string | undefined;
  pem: PemSet;
  /** Set when rendering the phone's ready directory (absolute path): local paths in configs point there. */
  localDir: string | undefined;
}

export interface SharedRenderContext {
  domain: string;
  org: string;
  registrar: { host: string; port: number };
  provisioningUrl: string;
  tftpServer: string;
  ntp: string | undefined;
  caPem: string;
  /** All phones of this vendor (e.g. for a directory or an index file). */
  phones: Phone[];
}

export interface VendorModule {
  descriptor: VendorDescriptor;
  /** Vendor options (`--option key=value`, CSV extra columns), validated on input. */
  optionsSchema: z.ZodType<Record<string, unknown>>;
  renderPhone(ctx: RenderContext): RenderedFile[];
  renderShared?(ctx: SharedRenderContext): RenderedFile[];
  /** One line telling a person what to do with the files (import a PKCS#12, scan, ...). */
  instructions?(ctx: RenderContext): string[];
  /**
   * Vendor rules across the inventory, checked at `phone add`/`import`: why
   * `phone` cannot join `others` (e.g. two clients on one machine binding
   * the same port); empty when it can.
   */
  inventoryConflicts?(phone: Phone, others: readonly Phone[]): string[];
}
