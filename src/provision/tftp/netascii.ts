/**
 * RFC 1350 §1 / RFC 764 netascii for a file stored with Unix line ends:
 * every LF goes on the wire as CR LF and every CR (which in a Unix file is
 * a character of its own, never part of a line end) as CR NUL. A client in
 * netascii mode reverses both, so the round trip is byte-exact; tftpd-hpa
 * converts the same way.
 */
const CR = 0x0d;
const LF = 0x0a;

export function toNetascii(data: Buffer): Buffer {
  let extra = 0;
  for (let i = 0; i < data.length; i++) {
    const c = data[i];
    if (c === LF || c === CR) extra++;
  }
  if (extra === 0) return data;
  const out = Buffer.allocUnsafe(data.length + extra);
  let o = 0;
  for (let i = 0; i < data.length; i++) {
    const c = data[i];
    if (c === LF) {
      out[o++] = CR;
      out[o++] = LF;
    } else if (c === CR) {
      out[o++] = CR;
      out[o++] = 0;
    } else {
      out[o++] = c;
    }
  }
  return out;
}
