/**
 * POSIX ustar archives (IEEE Std 1003.1-2001, pax's "ustar" interchange
 * format), just what a CA backup needs: regular files and directories with
 * their modes, readable by any `tar -xf`. Symbolic links, devices and the
 * like are refused on reading, never followed.
 */

export interface TarEntry {
  /** Relative, `/`-separated; directories without a trailing slash. */
  name: string;
  type: 'file' | 'dir';
  mode: number;
  mtime: Date;
  data: Buffer;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width - 1 digits and a NUL, as GNU and BSD tar write them.
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function splitName(name: string): { prefix: string; base: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', base: name };
  const cut = name.lastIndexOf('/', 155);
  const prefix = name.slice(0, cut);
  const base = name.slice(cut + 1);
  if (cut <= 0 || Buffer.byteLength(prefix) > 155 || Buffer.byteLength(base) > 100) throw new Error(`name too long for ustar: ${name}`);
  return { prefix, base };
}

function header(e: TarEntry): Buffer {
  const h = Buffer.alloc(BLOCK, 0);
  const name = e.type === 'dir' ? `${e.name}/` : e.name;
  const { prefix, base } = splitName(name);
  h.write(base, 0, 100, 'utf8');
  h.write(octal(e.mode & 0o7777, 8), 100, 8, 'ascii');
  h.write(octal(0, 8), 108, 8, 'ascii');
  h.write(octal(0, 8), 116, 8, 'ascii');
  h.write(octal(e.type === 'dir' ? 0 : e.data.length, 12), 124, 12, 'ascii');
  h.write(octal(Math.floor(e.mtime.getTime() / 1000), 12), 136, 12, 'ascii');
  h.write('        ', 148, 8, 'ascii');
  h.write(e.type === 'dir' ? '5' : '0', 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

export function writeTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(header(e));
    if (e.type === 'file' && e.data.length > 0) {
      parts.push(e.data);
      const pad = (BLOCK - (e.data.length % BLOCK)) % BLOCK;
      if (pad > 0) parts.push(Buffer.alloc(pad, 0));
    }
  }
  parts.push(Buffer.alloc(2 * BLOCK, 0));
  return Buffer.concat(parts);
}

function field(h: Buffer, off: number, len: number): string {
  const raw = h.subarray(off, off + len);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? len : nul).toString('utf8');
}

function readOctal(h: Buffer, off: number, len: number, what: string): number {
  const text = field(h, off, len).trim();
  if (!/^[0-7]*$/.test(text)) throw new Error(`bad ${what} field in a tar header`);
  return text === '' ? 0 : parseInt(text, 8);
}

/** Parse a ustar (or GNU tar's ustar-compatible) archive; throws with what is wrong. */
export function readTar(buf: Buffer): TarEntry[] {
  const out: TarEntry[] = [];
  let off = 0;
  while (off + BLOCK <= buf.length) {
    const h = buf.subarray(off, off + BLOCK);
    if (h.every((b) => b === 0)) return out;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    if (readOctal(h, 148, 8, 'checksum') !== sum) throw new Error(`tar header checksum mismatch at byte ${off}`);
    if (!field(h, 257, 6).startsWith('ustar')) throw new Error(`not a ustar archive (header at byte ${off})`);
    const prefix = field(h, 345, 155);
    const name = (prefix ? `${prefix}/` : '') + field(h, 0, 100);
    const size = readOctal(h, 124, 12, 'size');
    const flag = String.fromCharCode(h[156]!);
    const mode = readOctal(h, 100, 8, 'mode');
    const mtime = new Date(readOctal(h, 136, 12, 'mtime') * 1000);
    off += BLOCK;
    if (off + size > buf.length) throw new Error(`tar archive truncated in ${name}`);
    const data = Buffer.from(buf.subarray(off, off + size));
    off += Math.ceil(size / BLOCK) * BLOCK;
    if (flag === '0' || flag === '\0') out.push({ name: name.replace(/^\.\//, ''), type: 'file', mode, mtime, data });
    else if (flag === '5') out.push({ name: name.replace(/^\.\//, '').replace(/\/+$/, ''), type: 'dir', mode, mtime, data: Buffer.alloc(0) });
    else throw new Error(`tar entry ${name} is neither a file nor a directory (type '${flag}')`);
  }
  throw new Error('tar archive ends without its end-of-archive blocks');
}
