import { z } from 'zod';
import { HASHES, KEY_SPECS } from '../pki/keys.js';
import { REVOCATION_REASONS } from '../pki/crl.js';

/**
 * The on-disk formats of a CA home, validated with zod every time they are
 * read: a hand-edited or truncated file is reported, never trusted.
 */

export const SRTP_MODES = ['mandatory', 'optional', 'off'] as const;
export type SrtpMode = (typeof SRTP_MODES)[number];

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
  /**
   * Superseded but not yet revoked: the serial of the certificate that
   * replaced it, and until when the old one stays valid so a phone that has
   * not fetched its new files keeps working (issue 11, overlap).
   */
  supersededBy: z.string().regex(/^[0-9a-f]+$/).optional(),
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
});
export type Index = z.infer<typeof IndexSchema>;
