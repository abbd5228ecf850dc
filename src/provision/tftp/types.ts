/**
 * The public shapes of the TFTP server: its options, what `lookup` answers,
 * and the plain-object events it reports to the operator.
 */

export interface TftpRemote {
  address: string;
  port: number;
}

/**
 * What the route table answers for a requested name. `meta` (a phone's
 * name, its MAC, the route that matched) is copied into the event.
 * On refusal, `code` is a TFTP error code (RFC 1350: 1 file not found,
 * 2 access violation, 0 other) and `message` is sent to the phone.
 */
export type TftpLookupResult =
  | { ok: true; data: Buffer; meta?: Record<string, unknown> }
  | { ok: false; code: number; message: string; meta?: Record<string, unknown> };

export type TftpLookup = (
  name: string,
  remote: TftpRemote,
) => Promise<TftpLookupResult> | TftpLookupResult;

export interface TftpServerOptions {
  /** IP literal to bind. Default "0.0.0.0" (phones find the server on the LAN); "::" for IPv6. */
  host?: string;
  /** UDP port. Default 69 (RFC 1350 §4); 0 picks a free port (tests). */
  port?: number;
  /** The route table: names here have passed the file-name gate (filename.ts). */
  lookup: TftpLookup;
  /** Receives one plain object per request and per refused packet. Must not throw. */
  onEvent?: (ev: TftpEvent) => void;
  /**
   * Largest RFC 2348 blksize granted. Default 1468: a 1500-byte Ethernet MTU
   * minus IPv4 (20), UDP (8) and TFTP (4) headers, so no DATA is fragmented.
   */
  maxBlksize?: number;
  /**
   * Largest RFC 7440 windowsize granted. Default 64: 64 × 1468 B ≈ 92 KiB in
   * flight, under Linux's default 208 KiB receive buffer. At most 1024, so an
   * ACK's 16-bit block number is never ambiguous across a window.
   */
  maxWindowsize?: number;
  /**
   * Retransmission timeout when the client did not choose one (RFC 2349).
   * Default 1000 ms, doubling on consecutive losses up to 4 s, as
   * RFC 1123 §4.2.3.2 asks for an adaptive timeout with backoff.
   */
  timeoutMs?: number;
  /** Retransmissions of one window (or the OACK) before the transfer is dropped. Default 5. */
  retries?: number;
  /** Transfers at once, including requests waiting on `lookup`. Default 512. */
  maxTransfers?: number;
  /** Transfers at once from one IP address. Default 64. */
  maxPerIp?: number;
  /**
   * Refusal and failure events (everything but result "ok") per second
   * before they are counted instead of reported, so a flood of junk cannot
   * flood the log. The count arrives in a `tftp.suppressed` event. Default 200.
   */
  maxEventsPerSecond?: number;
  /** See NameRules.stripLeadingSlash in filename.ts. Default false. */
  stripLeadingSlash?: boolean;
}

// The events are in the catalog (src/events/tftp.ts), with their zod schemas.
export type { TftpBadPacketEvent, TftpEvent, TftpResult, TftpSuppressedEvent, TftpTransferEvent } from '../../events/index.js';
import type { TftpEvent } from '../../events/index.js';

export interface TftpServer {
  /** The bound address (useful with port 0). */
  address(): { address: string; family: string; port: number };
  /** Transfers in progress, including requests waiting on lookup. */
  readonly activeTransfers: number;
  /** Stops listening and aborts every transfer (clients get ERROR 0). */
  close(): Promise<void>;
}
