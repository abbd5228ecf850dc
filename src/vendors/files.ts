import { SipsecError } from '../core/errors.js';
import type { RenderContext, RenderedFile, Transport } from './types.js';

/**
 * Small constructors shared by the hardware vendor modules, so each module
 * states per file only what differs: path, content, type and whether it
 * holds the private key (always said explicitly, never guessed from the
 * content: the tests check the flag against the content).
 */

export const TEXT = 'text/plain; charset=utf-8';
export const XML = 'application/xml; charset=utf-8';
export const PEM = 'application/x-pem-file';
export const BINARY = 'application/octet-stream';

export interface FileOptions {
  holdsKey: boolean;
  /** Owner; leave out for a vendor-wide file. */
  phone?: string;
  aliases?: string[];
  transports?: Transport[];
}

export function file(path: string, content: string | Buffer, contentType: string, o: FileOptions): RenderedFile {
  return {
    path,
    content: typeof content === 'string' ? Buffer.from(content, 'utf8') : content,
    contentType,
    holdsKey: o.holdsKey,
    ...(o.phone !== undefined ? { phone: o.phone } : {}),
    ...(o.aliases !== undefined ? { aliases: o.aliases } : {}),
    ...(o.transports !== undefined ? { transports: o.transports } : {}),
  };
}

/**
 * A file whose content is made on first use and kept: for content that is
 * costly to make (a PKCS#12: key derivation, encryption) and often never
 * fetched, such as serve's route table at fleet size.
 */
export function lazyFile(path: string, make: () => Buffer, contentType: string, o: FileOptions): RenderedFile {
  let made: Buffer | undefined;
  const f = file(path, Buffer.alloc(0), contentType, o);
  return Object.defineProperty(f, 'content', { get: () => (made ??= make()), enumerable: true });
}

/** The phone's MAC (12 lower-case hex digits); hardware vendors cannot render without one. */
export function requireMac(ctx: RenderContext, vendorName: string): string {
  const mac = ctx.phone.mac;
  if (!mac) {
    throw new SipsecError('BAD_MAC', `phone '${ctx.phone.name}' has no MAC address, which ${vendorName} needs`, 'hardware phones fetch their files by MAC: re-add the phone with --mac');
  }
  return mac;
}

/**
 * A value for a one-setting-per-line format (Aastra `key: value`, Yealink
 * `key = value`). Inputs are validated when phones are added; this is the
 * last guard against a value smuggling in a second setting.
 */
export function lineValue(value: string, what: string): string {
  if (/[\r\n\u0000]/.test(value)) {
    throw new SipsecError('INTERNAL', `${what} contains a line break and cannot go into a one-setting-per-line file`, 'this is a bug in sipsec: the value should have been refused on input');
  }
  return value;
}

/** `host:port`, with IPv6 literals in brackets. */
export function hostPort(r: { host: string; port: number }): string {
  return `${r.host.includes(':') ? `[${r.host}]` : r.host}:${r.port}`;
}

/** `host`, with IPv6 literals in brackets (for URLs). */
export function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') && !/^[^:]+:\d+$/.test(host) ? `[${host}]` : host;
}

/** What the phone shows and sends as caller name: the display name, else the SIP user. */
export function displayName(ctx: RenderContext): string {
  return ctx.phone.displayName ?? ctx.sipUser;
}
