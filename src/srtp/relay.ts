/**
 * The echo path in one call: verify + decrypt a packet from the phone with
 * its key, re-encrypt it with ours, and leave it ready to send.
 *
 *   sock.on('message', (msg, rinfo) => {
 *     const n = reprotectRtp(rx, tx, msg);
 *     if (n >= 0) sock.send(tx.out, 0, n, rinfo.port, rinfo.address);
 *     else drops[statusName(n)]++;
 *   });
 *
 * The plaintext never leaves the two contexts' workspaces: rx decrypts into
 * rx.out, tx reads rx.out and writes tx.out (one copy each, no allocation
 * of ours). `edit`, if given, may rewrite the plaintext in place (e.g. a
 * new SSRC or payload type) and returns its (possibly new) length.
 *
 * Exports: reprotectRtp(rx, tx, packet, length?, edit?),
 * reprotectRtcp(rx, tx, packet, length?, edit?), PlaintextEdit.
 */
import type { SrtpReceiver } from './receiver.js';
import type { SrtpSender } from './sender.js';

/** Rewrites plain[0, len) in place and returns the new length (<= plain.length). */
export type PlaintextEdit = (plain: Buffer, len: number) => number;

export function reprotectRtp(rx: SrtpReceiver, tx: SrtpSender, packet: Uint8Array, length: number = packet.length, edit?: PlaintextEdit): number {
  let n = rx.unprotectRtp(packet, length);
  if (n < 0) return n;
  if (edit) n = edit(rx.out, n);
  return tx.protectRtp(rx.out, n);
}

export function reprotectRtcp(rx: SrtpReceiver, tx: SrtpSender, packet: Uint8Array, length: number = packet.length, edit?: PlaintextEdit): number {
  let n = rx.unprotectRtcp(packet, length);
  if (n < 0) return n;
  if (edit) n = edit(rx.out, n);
  return tx.protectRtcp(rx.out, n);
}
