import { z } from 'zod';
import type { FailureCode } from './codes.js';

/**
 * Events of the TFTP server library (src/provision/tftp) to its owner.
 * They are not serve events: serve turns each into `provision.fetch`,
 * `provision.denied` or `provision.suppressed`.
 */

/**
 * ok          the client acknowledged the last block
 * not-found   lookup answered code 1
 * denied      a write request, a name refused by the gate, or lookup refused (code ≠ 1)
 * malformed   an RRQ/WRQ that does not parse or names an unsupported mode (error 4 sent)
 * busy        over maxTransfers or maxPerIp: dropped without a reply, the phone retries
 * timeout     the client stopped acknowledging (after `retries` retransmissions)
 * aborted     the client sent an ERROR (e.g. a PXE ROM ending a tsize query)
 * error       lookup threw, a socket failed, or the server was closed mid-transfer
 */
export const TFTP_RESULTS = ['ok', 'not-found', 'denied', 'malformed', 'busy', 'timeout', 'aborted', 'error'] as const;
export type TftpResult = (typeof TFTP_RESULTS)[number];

/** The failure code of each result but `ok`. */
export const TFTP_RESULT_CODES = {
  'not-found': 'tftp.not_found',
  denied: 'tftp.denied',
  malformed: 'tftp.malformed',
  busy: 'tftp.busy',
  timeout: 'tftp.timeout',
  aborted: 'tftp.aborted',
  error: 'tftp.error',
} as const satisfies Record<Exclude<TftpResult, 'ok'>, FailureCode>;
export type TftpFailureCode = (typeof TFTP_RESULT_CODES)[keyof typeof TFTP_RESULT_CODES];

const tftpCodes = Object.values(TFTP_RESULT_CODES) as [TftpFailureCode, ...TftpFailureCode[]];

export const TftpTransferEventSchema = z
  .strictObject({
    event: z.literal('tftp.transfer'),
    op: z.enum(['read', 'write']),
    /** The requested name; bytes outside printable ASCII are shown as \xNN. */
    file: z.string(),
    /** "ip:port", or "[ipv6]:port". */
    remote: z.string(),
    result: z.enum(TFTP_RESULTS),
    /** Why, for every result but "ok". */
    reason: z.string().optional(),
    /** For every result but "ok": TFTP_RESULT_CODES[result]. */
    code: z.enum(tftpCodes).optional(),
    mode: z.string(),
    /** Payload bytes the client acknowledged. */
    bytes: z.number(),
    /** Size of the file as sent (after netascii conversion), when lookup found it. */
    size: z.number().optional(),
    ms: z.number(),
    blksize: z.number(),
    windowsize: z.number(),
    timeoutMs: z.number(),
    retransmits: z.number(),
    /** The options the client asked for, as sent (RFC 2347). */
    requested: z.record(z.string(), z.string()),
    /** Passed through from lookup. */
    meta: z.record(z.string(), z.unknown()).optional(),
  })
  .superRefine((ev, ctx) => {
    if ((ev.result === 'ok') !== (ev.code === undefined)) ctx.addIssue({ code: 'custom', path: ['code'], message: 'code is required exactly when result is not ok' });
  });

/** A datagram on the server port that is not a request (short, unknown opcode, a stray ACK ...). */
export const TftpBadPacketEventSchema = z.strictObject({
  event: z.literal('tftp.bad-packet'),
  remote: z.string(),
  reason: z.string(),
  length: z.number(),
  code: z.enum(['tftp.bad_packet']),
});

/** Events held back by maxEventsPerSecond in the last second, by result or kind. */
export const TftpSuppressedEventSchema = z.strictObject({
  event: z.literal('tftp.suppressed'),
  count: z.number(),
  by: z.record(z.string(), z.number()),
});

export const TFTP_EVENTS = {
  'tftp.transfer': { schema: TftpTransferEventSchema, summary: 'one per read or write request, with its result' },
  'tftp.bad-packet': { schema: TftpBadPacketEventSchema, summary: 'a datagram that is not a request' },
  'tftp.suppressed': { schema: TftpSuppressedEventSchema, summary: 'refusals counted instead of reported (flood)' },
} as const;

export type TftpTransferEvent = z.infer<typeof TftpTransferEventSchema>;
export type TftpBadPacketEvent = z.infer<typeof TftpBadPacketEventSchema>;
export type TftpSuppressedEvent = z.infer<typeof TftpSuppressedEventSchema>;
export type TftpEvent = TftpTransferEvent | TftpBadPacketEvent | TftpSuppressedEvent;
