/**
 * Who a phone is, and what it may register (RFC 3261 §10.3 steps 3-5,
 * with sipsec's own certificates).
 *
 * - A verified client certificate maps to exactly one phone: its serial
 *   must be in the CA index, of kind phone, valid (not revoked) and the
 *   phone's current certificate, or its previous one during the renewal
 *   overlap (home/supersede.ts: until the phone has its new files, or the
 *   grace period ends; `current` says which one was used), or is a server
 *   certificate of this CA (a TLS edge in front: no phone, digest decides).
 *   OpenSSL has already checked the chain, dates and the
 *   CRL; the index catches what the CRL cannot yet say (a revocation not
 *   yet picked up, a superseded certificate).
 * - The digest username is the phone's SIP user (its extension, else its
 *   name), exactly what sipsec renders into every vendor config. The
 *   phone name is deliberately not accepted as a second username: one
 *   identity per phone, and a guessable name does not become a login.
 * - A phone registers only its own AOR, sip:<user>@<domain> (the URI SAN
 *   its certificate carries). sips: is the same AOR (RFC 5630; vendors.md
 *   §9 item 6: some phones use sips:); the host may be the SIP domain or
 *   the registrar host the phones are provisioned with.
 * - Whether a phone must present its certificate: `--client-cert
 *   required|optional`, else per vendor: required when its descriptor says
 *   the device can present one (descriptor.tls.clientCert), optional for
 *   the others (Cisco SPA, Snom, Polycom, Bria, Acrobits).
 */
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { sipUser } from '../inventory/phones.js';
import type { Phone } from '../home/schema.js';
import type { CaStore } from '../home/store.js';
import { loadAllVendors } from '../vendors/registry.js';
import { describeCertError, type CertVerdict } from '../sip/transport/tls.js';
import { certFailureCode } from '../core/tls-failure.js';
import type { CertFailureCode } from '../events/index.js';
import { unescapeBinary, type SipUri } from '../sip/message/uri.js';
import type { ClientCertMode, IdentityResolver } from '../sip/registrar/identity.js';

export type { ClientCertMode };

/** What the TLS transport asks of this module (sip/transport/tls.ts). */
export type CertJudgement = CertVerdict;

function subjectText(cert: PeerCertificate): string | undefined {
  const s = cert.subject as unknown as Record<string, string | string[] | undefined> | undefined;
  if (!s || typeof s !== 'object') return undefined;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(s)) if (v !== undefined) parts.push(`${k}=${Array.isArray(v) ? v.join('+') : v}`);
  return parts.join(', ').slice(0, 200);
}

/** The registrar's identity questions, answered from the CA home. */
export class Identities implements IdentityResolver {
  readonly #store: CaStore;
  readonly mode: ClientCertMode;
  #vendorCert = new Map<string, boolean>();
  #byUser = new Map<string, Phone>();
  #byName = new Map<string, Phone>();
  #ca: X509Certificate | undefined;

  constructor(store: CaStore, mode: ClientCertMode) {
    this.#store = store;
    this.mode = mode;
    this.reload();
  }

  /** Load the vendor descriptors (what decides the per-vendor default). */
  async init(): Promise<void> {
    this.#ca = await this.#store.caCertificate();
    for (const v of await loadAllVendors()) this.#vendorCert.set(v.descriptor.id, v.descriptor.tls.clientCert);
  }

  /** Re-read the phones from the store (after `serve` reloaded the CA home). */
  reload(): void {
    this.#byUser = new Map();
    this.#byName = new Map();
    for (const p of this.#store.index.phones) {
      this.#byUser.set(sipUser(p), p);
      this.#byName.set(p.name, p);
    }
  }

  get domain(): string {
    return this.#store.config.domain;
  }

  phone(name: string): Phone | undefined {
    return this.#byName.get(name);
  }

  /** The phone whose SIP user (digest username) this is. */
  byUser(user: string): Phone | undefined {
    return this.#byUser.get(user);
  }

  /** The digest password lookup: only SIP users of phones. */
  secretOf(user: string): string | undefined {
    return this.#byUser.get(user)?.secret;
  }

  aorOf(phone: Phone): string {
    return `sip:${sipUser(phone)}@${this.domain}`;
  }

  /** Whether `uri` (a To or From URI) is this phone's AOR. */
  isAorOf(phone: Phone, uri: SipUri): boolean {
    if (uri.user === undefined || unescapeBinary(uri.user) !== sipUser(phone)) return false;
    return this.isOurHost(uri.host);
  }

  /** The SIP domain or the registrar host phones are provisioned with. */
  isOurHost(host: string): boolean {
    const h = host.toLowerCase();
    return h === this.domain.toLowerCase() || h === this.#store.config.registrar.host.toLowerCase();
  }

  /** Whether this phone must present its client certificate to register. */
  certRequired(phone: Phone): boolean {
    if (this.mode === 'required') return true;
    if (this.mode === 'optional') return false;
    return this.#vendorCert.get(phone.vendor) ?? false;
  }

  /**
   * OpenSSL finds the issuer by name: a certificate from another CA that
   * happens to carry the same CA name (two `sipsec ca init` with the same
   * --org) fails as UNABLE_TO_GET_CRL or a signature error, which would
   * mislead. Checking the signature against our CA key says what it is.
   */
  #explain(cert: PeerCertificate, code: string): { error: string; code: CertFailureCode } {
    if (this.#ca && code !== 'CERT_REVOKED' && code !== 'CERT_HAS_EXPIRED' && code !== 'CERT_NOT_YET_VALID' && cert.raw) {
      try {
        if (!new X509Certificate(cert.raw).verify(this.#ca.publicKey)) {
          return { error: `the certificate was not issued by this CA (issuer "${String(cert.issuer?.CN ?? '?').slice(0, 60)}": the signature does not verify with the sipsec CA key) (${code})`, code: 'tls.cert_foreign' };
        }
      } catch {
        // an unparsable certificate: OpenSSL's reason stands
      }
    }
    return { error: describeCertError(code), code: certFailureCode(code) };
  }

  /** The transport's question: whose certificate is this, and is it acceptable? */
  judge(cert: PeerCertificate | undefined, authorizationError: string | undefined): CertJudgement {
    if (!cert) return { serial: undefined, subject: undefined, error: undefined, phone: undefined };
    const raw = String(cert.serialNumber ?? '').toLowerCase();
    const subject = subjectText(cert);
    if (authorizationError) return { serial: raw || undefined, subject, ...this.#explain(cert, authorizationError), phone: undefined };
    const entry = this.#store.bySerial(raw);
    const serial = entry?.serial ?? (raw || undefined);
    const refuse = (code: CertFailureCode, error: string): CertJudgement => ({ serial, subject, error, code, phone: undefined });
    if (!entry) return refuse('tls.cert_not_in_index', `serial ${raw} is not in this CA's index`);
    if (entry.status === 'revoked') return refuse('tls.cert_revoked', `the certificate of ${entry.name} is revoked (CA index)`);
    // A server certificate of this CA is a SIP server in front of sipsec (the Kamailio TLS edge,
    // sipsec pbx kamailio --upstream): it names no phone, so what comes through it needs digest.
    if (entry.kind === 'server') return { serial, subject, error: undefined, phone: undefined };
    if (entry.kind !== 'phone') return refuse('tls.cert_not_phone', `a ${entry.kind} certificate (${entry.name}), not a phone's`);
    const role = this.#store.roleOf(entry.serial);
    if (!role) return refuse('tls.cert_superseded', `a superseded certificate of ${entry.name} (it was renewed)`);
    if (!this.#byName.has(entry.name)) return refuse('tls.cert_phone_removed', `${entry.name} is no longer a phone of this CA`);
    return { serial, subject, error: undefined, phone: entry.name, current: role === 'current' };
  }
}
