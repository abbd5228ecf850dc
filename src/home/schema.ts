import { z } from 'zod';
import { HASHES, KEY_SPECS } from '../pki/keys.js';
import { REVOCATION_REASONS } from '../pki/crl.js';
import { SRTP_MODES, type SrtpMode } from '../sdp/policy.js';

/**
 * The on-disk formats of a CA home, validated with zod every time they are
 * read: a hand-edited or truncated file is reported, never trusted.
 */

// Declared where the answer policy applies it (sdp/policy.ts); phone records and vendor renderers take it from here.
export { SRTP_MODES, type SrtpMode };

export const HostPortSchema = z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) });

export const ConfigSchema = z.object({
  version: z.literal(1),
  org: z.string().min(1),
  domain: z.string().min(1),
  cn: z.string().min(1),
  caKey: z.enum(KEY_SPECS),
  hash: z.enum(HASHES),
  leafKey: z.enum(KEY_SPECS),
  leafDays: z.number().int().positive(),
  /** The SIP/TLS registrar phones are told to use. */
  registrar: HostPortSchema,
  /** Base URL phones fetch their files from (HTTPS, or HTTP/TFTP for vendors that need it). */
  provisioningUrl: z.string().optional(),
  /** TFTP server address phones are pointed at (DHCP snippets, bootstrap files). */
  tftpServer: z.string().optional(),
  ntp: z.string().optional(),
  /** Whether private/ca.key is encrypted (PKCS#8 PBES2). */
  encrypted: z.boolean(),
  createdAt: z.string(),
});
export type Config = z.infer<typeof ConfigSchema>;

export const CERT_KINDS = ['ca', 'server', 'phone'] as const;
export type CertKind = (typeof CERT_KINDS)[number];

export const SansSchema = z.object({ dns: z.array(z.string()), ip: z.array(z.string()), uri: z.array(z.string()) });

export const CertEntrySchema = z.object({
  serial: z.string().regex(/^[0-9a-f]+$/),
  name: z.string(),
  kind: z.enum(CERT_KINDS),
  subject: z.string(),
  sans: SansSchema,
  keyType: z.enum(KEY_SPECS),
  notBefore: z.string(),
  notAfter: z.string(),
  fingerprint: z.string(),
  status: z.enum(['valid', 'revoked']),
  revokedAt: z.string().optional(),
  reason: z.enum(REVOCATION_REASONS).optional(),
  /** Serial of the CA that signed it (absent: the home's only CA, before any rotation). */
  issuer: z.string().regex(/^[0-9a-f]+$/).optional(),
  /**
   * Renewal overlap: the serial of the certificate that replaces this one.
   * It stays valid (accepted by the registrar, not in the CRL) until the
   * phone fetched its new files or presented the new certificate, or until
   * `graceUntil`; then it is revoked as superseded.
   */
  supersededBy: z.string().regex(/^[0-9a-f]+$/).optional(),
  supersededAt: z.string().optional(),
  /** Absent with supersededBy: no timer (a server certificate kept until `ca retire-old`). */
  graceUntil: z.string().optional(),
});
export type CertEntry = z.infer<typeof CertEntrySchema>;

/** Vendor options are validated by each vendor's own schema; here only their shape. */
export const OptionValueSchema = z.union([z.string(), z.number(), z.boolean()]);

export const PhoneSchema = z.object({
  name: z.string(),
  vendor: z.string(),
  mac: z.string().regex(/^[0-9a-f]{12}$/).optional(),
  ips: z.array(z.string()),
  dns: z.array(z.string()),
  ext: z.string().optional(),
  /** SIP digest secret. Never printed unless asked for. */
  secret: z.string(),
  displayName: z.string().optional(),
  srtp: z.enum(SRTP_MODES),
  line: z.number().int().min(1).max(99),
  options: z.record(z.string(), OptionValueSchema),
  createdAt: z.string(),
});
export type Phone = z.infer<typeof PhoneSchema>;

export const IndexSchema = z.object({
  version: z.literal(1),
  crlNumber: z.number().int().nonnegative(),
  certificates: z.array(CertEntrySchema),
  phones: z.array(PhoneSchema),
  /** A CA rotation in progress: the old CA is still trusted and signs its own CRL. */
  transition: z
    .object({
      oldCa: z.string().regex(/^[0-9a-f]+$/),
      startedAt: z.string(),
      /** The old CA's own CRL number. */
      crlNumber: z.number().int().nonnegative(),
    })
    .optional(),
});
export type Index = z.infer<typeof IndexSchema>;
