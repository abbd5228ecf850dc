/**
 * A flow (RFC 5626 §3.1): one connection between a phone and sipsec,
 * identified by the connection itself, not by the addresses in the SIP
 * messages. Requests to a phone go back over the flow it registered on
 * (RFC 5626 §5.3, and RFC 3261 §18.2.2 for responses), so a phone behind
 * NAT, or one advertising its listening port in Contact (Grandstream,
 * vendors.md §9 item 6), is reached without sipsec ever dialling it.
 *
 * Every transport (TLS, and the diagnostic TCP/UDP listeners) hands the
 * core a Flow; the core never touches sockets.
 */

import type { CertFailureCode } from '../../events/index.js';

/** What the TLS handshake established about the peer. */
export interface TlsPeer {
  /** `TLSv1.3`, `TLSv1.2`, ... */
  readonly version: string;
  /** OpenSSL cipher name, e.g. `TLS_AES_256_GCM_SHA384`. */
  readonly cipher: string;
  /** The client certificate's serial (lower-case hex, as in the CA index), if one was presented. */
  readonly certSerial: string | undefined;
  readonly certSubject: string | undefined;
  /**
   * Why the presented certificate is not accepted (OpenSSL verify code and
   * a readable reason), or undefined when it verified (or none was sent).
   */
  readonly certError: string | undefined;
  /** certError as a failure code (src/events/codes.ts). */
  readonly certErrorCode?: CertFailureCode | undefined;
  /** True for the phone's current certificate, false for an older one in its renewal overlap. */
  readonly certCurrent?: boolean | undefined;
  /** The phone the verified certificate belongs to (current, valid, not revoked). */
  readonly certPhone: string | undefined;
}

export type FlowTransport = 'tls' | 'tcp' | 'udp';

/** How a flow's phone was identified, strongest first. */
export type FlowIdentityVia = 'certificate' | 'registration' | 'digest';

export interface Flow {
  /** Unguessable token (it appears in Record-Route, RFC 5626 §5.3 flow tokens). */
  readonly id: string;
  readonly transport: FlowTransport;
  /** Peer address and port as seen on the socket (IPv4-mapped IPv6 unwrapped). */
  readonly remoteAddress: string;
  readonly remotePort: number;
  /** `1.2.3.4:5678` or `[::1]:5678`, for events. */
  readonly remote: string;
  /** Our address and port on this connection: what the phone dialled, used in Via and Record-Route. */
  readonly localAddress: string;
  readonly localPort: number;
  readonly tls: TlsPeer | undefined;
  /** The phone this flow speaks for, once known (certificate, registration or digest). */
  phone: string | undefined;
  identifiedBy: FlowIdentityVia | undefined;
  /** False once the connection closed: nothing can be sent any more. */
  readonly open: boolean;
  send(data: Buffer): boolean;
  close(reason: string): void;
  /** Called once when the connection is gone. */
  onClose(listener: (reason: string) => void): void;
  /**
   * Keeps the connection open at least until `untilMs`, however long it
   * stays silent: bindings live on it (RFC 5626 §5.3, requests to the
   * phone go over this very flow). Absent on a flow that never closes
   * for idleness.
   */
  hold?(untilMs: number): void;
}

/** host:port as SIP writes it (IPv6 in brackets). */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
