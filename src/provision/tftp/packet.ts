/**
 * TFTP wire format: the packets a read-only server receives and sends.
 *
 * RFC 1350 §5 (packet layouts), RFC 2347 §2 (options appended to RRQ/WRQ,
 * OACK = opcode 6). Parsing is defensive: every request comes from the
 * network unauthenticated, so nothing here throws, and a parse failure
 * carries a reason a person can read in the server's events.
 */

/** RFC 1350 §5 opcodes, plus OACK from RFC 2347 §2. */
export const Op = {
  RRQ: 1,
  WRQ: 2,
  DATA: 3,
  ACK: 4,
  ERROR: 5,
  OACK: 6,
} as const;

/** RFC 1350 appendix "Error Codes", plus 8 from RFC 2347 §2. */
export const TftpErrorCode = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;

/**
 * Parse limits. RFC 2347 §2 caps a request at 512 octets; we accept any
 * datagram but never decode more than these bounds, so a 64 KiB request
 * cannot make us build 64 KiB strings or thousands of option objects.
 */
export const MAX_OPTIONS = 32;
const MAX_OPTION_NAME = 64;
const MAX_OPTION_VALUE = 255;
const MAX_MODE = 16;

export interface RequestOption {
  /** The name as the client spelled it (echoed back in the OACK). */
  name: string;
  /** Lower-cased name: RFC 2347 §2 says option names are case-insensitive. */
  key: string;
  value: string;
}

export interface TftpRequest {
  op: typeof Op.RRQ | typeof Op.WRQ;
  /** The file name's raw bytes; filename.ts decides whether they are acceptable. */
  name: Buffer;
  /** Lower-cased: RFC 1350 §5 "any combination of upper and lower case". */
  mode: string;
  options: RequestOption[];
}

export type ParseResult =
  | { ok: true; request: TftpRequest }
  | { ok: false; reason: string; name?: Buffer };

/**
 * Parses an RRQ or WRQ: `| opcode | filename | 0 | mode | 0 | (opt | 0 | value | 0)* |`.
 * The caller has already checked the opcode is 1 or 2.
 */
export function parseRequest(msg: Buffer): ParseResult {
  const op = msg.readUInt16BE(0) as typeof Op.RRQ | typeof Op.WRQ;
  const nameEnd = msg.indexOf(0, 2);
  if (nameEnd < 0) return { ok: false, reason: 'request has no NUL after the file name' };
  const name = msg.subarray(2, nameEnd);
  const modeEnd = msg.indexOf(0, nameEnd + 1);
  if (modeEnd < 0) return { ok: false, reason: 'request has no NUL-terminated transfer mode', name };
  if (modeEnd - nameEnd - 1 > MAX_MODE) return { ok: false, reason: 'transfer mode is too long', name };
  const mode = msg.toString('latin1', nameEnd + 1, modeEnd).toLowerCase();

  const options: RequestOption[] = [];
  let pos = modeEnd + 1;
  while (pos < msg.length) {
    // Some boot ROMs pad requests with NULs; trailing zero bytes are not an option.
    if (isAllZero(msg, pos)) break;
    const keyEnd = msg.indexOf(0, pos);
    if (keyEnd < 0) return { ok: false, reason: 'option name has no NUL terminator', name };
    const valueEnd = msg.indexOf(0, keyEnd + 1);
    if (valueEnd < 0) return { ok: false, reason: 'option value has no NUL terminator', name };
    if (options.length === MAX_OPTIONS) return { ok: false, reason: `more than ${MAX_OPTIONS} options`, name };
    const keyLen = keyEnd - pos;
    const valueLen = valueEnd - keyEnd - 1;
    if (keyLen === 0) return { ok: false, reason: 'empty option name', name };
    // Oversized names or values cannot be a known option's valid value: keep a
    // truncated marker so the event shows it, and negotiation ignores it.
    const optName = keyLen > MAX_OPTION_NAME ? '(long option name)' : msg.toString('latin1', pos, keyEnd);
    const value = valueLen > MAX_OPTION_VALUE ? '(long value)' : msg.toString('latin1', keyEnd + 1, valueEnd);
    options.push({ name: optName, key: optName.toLowerCase(), value });
    pos = valueEnd + 1;
  }
  return { ok: true, request: { op, name, mode, options } };
}

function isAllZero(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/**
 * An ERROR packet (RFC 1350 §5: `| 05 | code | message | 0 |`). The message
 * is netascii: anything outside printable ASCII becomes '?', and it is cut
 * to 200 bytes so a lookup's message can never make an oversized packet.
 */
export function encodeError(code: number, message: string): Buffer {
  const text = message.length > 200 ? message.slice(0, 200) : message;
  const buf = Buffer.allocUnsafe(5 + text.length);
  buf[0] = 0;
  buf[1] = Op.ERROR;
  buf.writeUInt16BE(code & 0xffff, 2);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    buf[4 + i] = c >= 0x20 && c < 0x7f ? c : 0x3f;
  }
  buf[4 + text.length] = 0;
  return buf;
}

/** An OACK (RFC 2347 §2: `| 06 | opt1 | 0 | value1 | 0 | ...`). */
export function encodeOack(pairs: ReadonlyArray<readonly [string, string]>): Buffer {
  let len = 2;
  for (const [k, v] of pairs) len += Buffer.byteLength(k, 'latin1') + Buffer.byteLength(v, 'latin1') + 2;
  const buf = Buffer.allocUnsafe(len);
  buf[0] = 0;
  buf[1] = Op.OACK;
  let pos = 2;
  for (const [k, v] of pairs) {
    pos += buf.write(k, pos, 'latin1');
    buf[pos++] = 0;
    pos += buf.write(v, pos, 'latin1');
    buf[pos++] = 0;
  }
  return buf;
}

/** The message of a received ERROR packet, printable, for events. */
export function describeError(msg: Buffer): string {
  if (msg.length < 4) return 'short error packet';
  const code = msg.readUInt16BE(2);
  let end = msg.indexOf(0, 4);
  if (end < 0) end = msg.length;
  if (end - 4 > 200) end = 4 + 200;
  return `error ${code}: ${printable(msg.subarray(4, end))}`;
}

/**
 * Bytes rendered for a log line: printable ASCII kept, everything else
 * shown as \xNN, so a hostile file name cannot forge log lines.
 */
export function printable(bytes: Uint8Array, max = 300): string {
  let out = '';
  const n = Math.min(bytes.length, max);
  for (let i = 0; i < n; i++) {
    const c = bytes[i];
    if (c >= 0x20 && c < 0x7f && c !== 0x5c) out += String.fromCharCode(c);
    else out += `\\x${c.toString(16).padStart(2, '0')}`;
  }
  return bytes.length > max ? `${out}...(${bytes.length} bytes)` : out;
}
