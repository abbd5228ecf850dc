/**
 * The legacy binary Grandstream configuration file `cfg<mac>` that
 * GXP2120-era phones ask for first (vendors.md §4.2 [V] GS3 settings.php,
 * same algorithm in other stored writers):
 *
 *   body   = `P<n>=<value>` pairs joined by `&`, then `&gnkey=0b82`, padded
 *            with one 0x00 to an even length
 *   header = 16 bytes: [0..3] total length in 16-bit words, big-endian
 *            (header included); [4..5] checksum; [6..11] the MAC;
 *            [12..15] "\r\n\r\n"
 *   checksum: makes the sum of all big-endian 16-bit words of the file
 *            0 mod 2^16.
 */

const HEADER_LEN = 16;
const TRAILER = '&gnkey=0b82';

/**
 * Values the binary form can carry without an escaping rule. How `&`, `=`
 * (and by extension `%`, `+`) are encoded is where implementations
 * disagree: GS3 strips `&` and `=`, others URL-encode (vendors.md §4.2
 * [U]). Neither reading can be checked without a 2011 phone, so such
 * values (and anything non-ASCII or multi-line, e.g. PEM) are left to the
 * XML file instead of being guessed at.
 */
export function binarySafe(value: string): boolean {
  return /^[\x20-\x7e]*$/.test(value) && !/[&=%+]/.test(value);
}

export interface PValuePair {
  /** `P<n>` name, e.g. `P47`. */
  key: string;
  value: string;
}

/** Sum of the big-endian 16-bit words, mod 2^16 (a plain sum, not the Internet one's-complement checksum). */
function wordSum(buf: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) sum = (sum + buf.readUInt16BE(i)) & 0xffff;
  return sum;
}

/** Encode the binary file for `mac` (12 hex digits). Every value must pass binarySafe(). */
export function encodeGrandstreamBinary(mac: string, pairs: PValuePair[]): Buffer {
  if (!/^[0-9a-fA-F]{12}$/.test(mac)) throw new Error(`bad MAC for a Grandstream binary file: ${mac}`);
  for (const { key, value } of pairs) {
    if (!/^P\d+$/.test(key)) throw new Error(`bad Grandstream setting name '${key}'`);
    if (!binarySafe(value)) throw new Error(`${key}: value not representable in the binary file`);
  }
  const text = pairs.map(({ key, value }) => `${key}=${value}`).join('&') + TRAILER;
  let body = Buffer.from(text, 'latin1');
  if (body.length % 2 === 1) body = Buffer.concat([body, Buffer.alloc(1)]);
  const header = Buffer.alloc(HEADER_LEN);
  header.writeUInt32BE((HEADER_LEN + body.length) / 2, 0);
  Buffer.from(mac, 'hex').copy(header, 6);
  header.write('\r\n\r\n', 12, 'latin1');
  const out = Buffer.concat([header, body]);
  const checksum = (0x10000 - wordSum(out)) & 0xffff;
  out.writeUInt16BE(checksum, 4);
  return out;
}
