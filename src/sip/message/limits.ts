/**
 * Size limits of the parser, and which status each one answers.
 *
 * | limit            | default | exceeded by                         | request answer | stream |
 * |------------------|---------|-------------------------------------|----------------|--------|
 * | maxMessageBytes  | 65536   | start line + headers + body         | 513 Message Too Large (RFC 3261 §21.5.7) | close |
 * | maxBodyBytes     | 65536   | Content-Length (or datagram body)   | 413 Request Entity Too Large (§21.4.11)  | close |
 * | maxLineBytes     | 8192    | the Request-URI on the request line | 414 Request-URI Too Long (§21.4.12)      | keep  |
 * | maxLineBytes     | 8192    | one header field after unfolding, or a whole start line | 400 Bad Request | keep |
 * | maxHeaders       | 128     | number of header fields             | 400 Bad Request | keep |
 *
 * 513 and 413 describe the message as a whole, so the sender can retry
 * smaller; a single over-long field or too many fields is treated like
 * any other header the parser refuses to read: 400. Responses are
 * dropped instead (RFC 3261 §18.3). On a stream, a message
 * too large to buffer cannot be skipped safely, so the connection closes;
 * the per-field limits leave the framing intact and the connection open.
 *
 * 64 KiB is the largest UDP payload and far above a REGISTER or INVITE
 * with SDP (a few KiB); 8 KiB lines leave room for long Identity headers.
 */
export interface SipLimits {
  maxMessageBytes: number;
  maxBodyBytes: number;
  maxLineBytes: number;
  maxHeaders: number;
}

export const DEFAULT_LIMITS: Readonly<SipLimits> = Object.freeze({
  maxMessageBytes: 65536,
  maxBodyBytes: 65536,
  maxLineBytes: 8192,
  maxHeaders: 128,
});

export function resolveLimits(partial: Partial<SipLimits> | undefined): SipLimits {
  return { ...DEFAULT_LIMITS, ...(partial ?? {}) };
}
