/**
 * The load generators' side of the SIP wire (register, hold): REGISTERs
 * built by string concatenation, and responses counted by scanning for
 * the end of each header section, never parsed further (the client must
 * stay cheaper than the server it measures).
 */
const CRLFCRLF = Buffer.from('\r\n\r\n');
const CL = Buffer.from('Content-Length:');

export interface RegisterFields {
  user: string;
  domain: string;
  /** The phone's own address and port (Via sent-by, Contact). */
  localAddress: string;
  localPort: number;
  /** From tag, and the prefix of branches. */
  tag: string;
  callId: string;
  cseq: number;
  /** Unique per request (RFC 3261 §8.1.1.7). */
  branch: string;
  expires: number;
}

export function registerText(r: RegisterFields): string {
  return (
    `REGISTER sip:${r.domain} SIP/2.0\r\n` +
    `Via: SIP/2.0/TLS ${r.localAddress}:${r.localPort};branch=z9hG4bK${r.branch}\r\n` +
    `Max-Forwards: 70\r\n` +
    `From: <sip:${r.user}@${r.domain}>;tag=${r.tag}\r\n` +
    `To: <sip:${r.user}@${r.domain}>\r\n` +
    `Call-ID: ${r.callId}\r\n` +
    `CSeq: ${r.cseq} REGISTER\r\n` +
    `Contact: <sip:${r.user}@${r.localAddress}:${r.localPort};transport=tls>\r\n` +
    `Expires: ${r.expires}\r\n` +
    `User-Agent: sipsec-bench\r\n` +
    `Content-Length: 0\r\n\r\n`
  );
}

/**
 * Counts complete responses in a byte stream and reports each status
 * code. A CRLF between messages is the server's keep-alive pong (RFC 5626
 * §4.4.1), reported through `onPong` when given.
 */
export class ResponseScanner {
  #buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer, onStatus: (status: number) => void, onPong?: () => void): void {
    const buf = this.#buf.length ? Buffer.concat([this.#buf, chunk]) : chunk;
    let start = 0;
    for (;;) {
      while (start + 1 < buf.length && buf[start] === 0x0d && buf[start + 1] === 0x0a) {
        start += 2;
        onPong?.();
      }
      const end = buf.indexOf(CRLFCRLF, start);
      if (end < 0) break;
      let body = 0;
      const cl = buf.indexOf(CL, start);
      if (cl >= 0 && cl < end) {
        let i = cl + CL.length;
        while (buf[i] === 0x20) i++;
        let n = 0;
        while (i < end && buf[i]! >= 0x30 && buf[i]! <= 0x39) n = n * 10 + (buf[i++]! - 0x30);
        body = n;
      }
      const total = end + 4 + body;
      if (total > buf.length) break;
      // "SIP/2.0 200": the code is at offset 8.
      const status = (buf[start + 8]! - 0x30) * 100 + (buf[start + 9]! - 0x30) * 10 + (buf[start + 10]! - 0x30);
      onStatus(status);
      start = total;
    }
    this.#buf = start < buf.length ? Buffer.from(buf.subarray(start)) : Buffer.alloc(0);
  }
}
