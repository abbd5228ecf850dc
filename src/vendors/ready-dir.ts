import * as path from 'node:path';
import { isIP } from 'node:net';
import { lineValue } from './files.js';
import type { RenderContext, RenderedFile } from './types.js';

/**
 * Clients that run from a directory of files (baresip `-f DIR`, linphonec
 * `-c DIR/linphonerc`) get the same files twice:
 * - served, under `<vendor>/<phone>/`, with configs naming their sibling
 *   files by bare name, so the files work when fetched with curl into any
 *   directory and run from there (`cd dir && baresip -f .`);
 * - local-only, in the phone's ready directory `<out>/<phone>/` that
 *   `provision render` writes, with absolute paths (ctx.localDir), so they
 *   work from any working directory as they are.
 * The config is built by one function called once per copy with the way to
 * refer to a sibling file, so the two copies cannot drift apart.
 */

export interface DirFile {
  /** File name inside the directory. */
  name: string;
  content: string | Buffer;
  contentType: string;
  holdsKey: boolean;
}

/** How a config refers to a sibling file: a bare name (served copy) or an absolute path (ready directory). */
export type SiblingRef = (name: string) => string;

/** The served path of a client directory's file. */
export function servedPath(vendor: string, phone: string, name: string): string {
  return `${vendor}/${phone}/${name}`;
}

/**
 * Both copies of a client directory. `build` gets how to name a sibling file
 * and the ready directory (undefined for the served copy).
 */
export function clientDirFiles(ctx: RenderContext, vendor: string, build: (ref: SiblingRef, readyDir: string | undefined) => DirFile[]): RenderedFile[] {
  const phone = ctx.phone.name;
  const toRendered = (f: DirFile, p: string, localOnly: boolean): RenderedFile => ({
    path: p,
    content: typeof f.content === 'string' ? Buffer.from(f.content, 'utf8') : f.content,
    contentType: f.contentType,
    holdsKey: f.holdsKey,
    phone,
    ...(localOnly ? { localOnly: true } : {}),
  });
  const served = build((name) => name, undefined).map((f) => toRendered(f, servedPath(vendor, phone, f.name), false));
  if (ctx.localDir === undefined) return served;
  // A path goes into one-setting-per-line formats: refuse a line break rather than split a setting.
  const dir = lineValue(ctx.localDir, 'ready directory path');
  const local = build((name) => path.join(dir, name), dir).map((f) => toRendered(f, f.name, true));
  return [...served, ...local];
}

/** Whether a registrar host is this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** One PEM with the certificate first, then the unencrypted private key (baresip, Blink). */
export function certKeyBundle(ctx: RenderContext): string {
  const cert = ctx.pem.cert.endsWith('\n') ? ctx.pem.cert : `${ctx.pem.cert}\n`;
  return cert + ctx.pem.key;
}
