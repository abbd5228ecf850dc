/**
 * sipsec's SRTP engine (RFC 3711, RFC 6188, RFC 7714), public surface.
 *
 *   SrtpSender / SrtpReceiver     contexts: protectRtp/Rtcp, unprotectRtp/Rtcp → length or SrtpStatus
 *   reprotectRtp / reprotectRtcp  the echo path: phone's key in, ours out
 *   SrtpStatus, statusName        per-packet result codes
 *   SUITES, SUITE_NAMES, ...      the suite table
 *   splitKeySalt                  SDES inline: material → { key, salt }
 *   deriveSessionKeys, prf, aesCmKeystream   building blocks (tests, tools)
 *
 * Buffer contract (both contexts): the input is never written; the result
 * is `ctx.out[0, n)` until the next call on that context, or copied to an
 * optional `dst`.
 *
 * May import: core, events. Never the application.
 */
export { SrtpSender } from './sender.js';
export { SrtpReceiver } from './receiver.js';
export { reprotectRtp, reprotectRtcp, type PlaintextEdit } from './relay.js';
export type { SrtpOptions } from './policy.js';
export { splitKeySalt, type SrtpMasterKey } from './keys.js';
export { SrtpStatus, statusName, type SrtpStatusCode, type SrtpStatusName, type SrtpCounters } from './status.js';
export { SUITES, SUITE_NAMES, SUITE_ALIASES, isSuiteName, masterLength, type SuiteInfo, type SuiteName } from './suites.js';
export { deriveSessionKeys, prf, prfInput, LABEL, type SessionKeys } from './kdf.js';
export { aesCmKeystream } from './aes-cm.js';
export { estimateRoc } from './rollover.js';
export { ReplayWindow } from './replay.js';
export { MAX_PACKET } from './workspace.js';
