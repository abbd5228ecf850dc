/**
 * What the registrar asks about phones, as an interface the application
 * passes in (serve/identity.ts implements it over the CA home): which
 * phone a digest user or a verified certificate is, what AOR it may
 * register (RFC 3261 §10.3 steps 3-5), and whether it must present its
 * certificate. The SIP layer never reads the CA home itself.
 */
import type { SipUri } from '../message/uri.js';

/** A phone as the registrar needs it: its name (events, flows) and vendor (the certificate rule's reason). */
export interface RegistrarPhone {
  readonly name: string;
  readonly vendor: string;
}

/** `--client-cert`: required, optional, or per the phone's vendor. */
export type ClientCertMode = 'required' | 'optional' | 'vendor';

/**
 * The registrar hands back only phones it got from the same resolver, so
 * an implementation may declare its methods over its own phone record.
 */
export interface IdentityResolver {
  /** The SIP domain: digest realm and the host of every AOR. */
  readonly domain: string;
  readonly mode: ClientCertMode;
  /** The phone of this name (a verified certificate names its phone). */
  phone(name: string): RegistrarPhone | undefined;
  /** The phone whose SIP user (digest username) this is. */
  byUser(user: string): RegistrarPhone | undefined;
  /** The digest password of a SIP user; undefined for anyone else. */
  secretOf(user: string): string | undefined;
  aorOf(phone: RegistrarPhone): string;
  /** Whether `uri` (a To or From URI) is this phone's AOR. */
  isAorOf(phone: RegistrarPhone, uri: SipUri): boolean;
  /** The SIP domain or the registrar host phones are provisioned with. */
  isOurHost(host: string): boolean;
  /** Whether this phone must present its client certificate to register. */
  certRequired(phone: RegistrarPhone): boolean;
}
