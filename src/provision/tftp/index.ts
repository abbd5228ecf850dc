/**
 * sipsec's read-only TFTP server: RFC 1350 reads (octet, netascii), RFC 2347
 * option negotiation, RFC 2348 blksize, RFC 2349 timeout and tsize, RFC 7440
 * windowsize. Writes are refused (error 2).
 *
 *   const tftp = await createTftpServer({
 *     port: 69,                                   // default; 0 = any free port
 *     lookup: (name, remote) => {                 // the route table
 *       const r = routes.lookup(name);
 *       return r ? { ok: true, data: r.body, meta: { phone: r.phone } }
 *                : { ok: false, code: 1, message: 'file not found' };
 *     },
 *     onEvent: (ev) => log(ev),                   // plain objects, see types.ts
 *   });
 *   tftp.address();      // { address, family, port }
 *   await tftp.close();  // aborts transfers in flight
 *
 * Layers, one file each: packet.ts (wire format), filename.ts (the name
 * gate before lookup), options.ts (negotiation), netascii.ts, transfer.ts
 * (one read transfer: windowing, retransmission, RFC 1123 duplicate-ACK
 * rule), server.ts (server port, caps, events, bind errors), event-gate.ts
 * (rate limit for refusal events).
 *
 * Events for the serve layer (TftpEvent): `tftp.transfer` once per request,
 * with `result` ok → provision.fetch; not-found / denied / malformed / busy
 * → provision.denied (with `reason`); timeout / aborted / error → a failed
 * fetch. `meta` from lookup is passed through. `tftp.bad-packet` is junk on
 * the server port; `tftp.suppressed` counts refusal events held back by
 * maxEventsPerSecond.
 *
 * Why not the npm `tftp` package: test/provision/tftp-loss.test.ts shows its
 * retransmission storm after one lost packet (gagle/node-tftp #27).
 *
 * A protocol library. May import: core, events. Never the application
 * (provision/, its parent, included): routes come in through `lookup`.
 */
export { createTftpServer, bindFailure } from './server.js';
export { MAX_NAME_BYTES } from './filename.js';
export type {
  TftpBadPacketEvent,
  TftpEvent,
  TftpLookup,
  TftpLookupResult,
  TftpRemote,
  TftpResult,
  TftpServer,
  TftpServerOptions,
  TftpSuppressedEvent,
  TftpTransferEvent,
} from './types.js';
