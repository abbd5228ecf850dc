/**
 * Message framing on stream transports (TCP, TLS): RFC 3261 §18.3 and the
 * RFC 5626 §3.5.1 CRLF keep-alive.
 *
 * Feed every received chunk to push(); it returns what the chunk
 * completed, in order:
 *
 * - `message`: a ParseResult. A success, or a failure the connection
 *   survives (`close: false`: answer it if the reaction says so), or a
 *   fatal failure (`close: true`: answer if possible, then close; the
 *   framer accepts nothing more). Fatal means the message boundary is
 *   lost or the peer exceeds the size limits: a bad, negative or
 *   duplicated Content-Length (RFC 4475 §3.1.2.3 ncl, §3.3.9 mcl01), a
 *   missing one (mandatory on streams, RFC 3261 §18.3 / §20.14), a start
 *   line that is not SIP, or a message over the limits.
 * - `ping`: a double CRLF between messages. Answer with a single CRLF
 *   (PONG) at once (RFC 5626 §3.5.1); phones behind NAT use it to keep
 *   the TLS flow open and give up on the flow when no pong comes.
 * - `pong` (client role only): a CRLF answering our ping (RFC 5626 §4.4.1).
 *
 * A message whose body has not fully arrived (RFC 4475 §3.1.2.2, clerr)
 * simply waits; the transport should close a connection that stays
 * `midMessage` for too long (a 32 s, Timer F-like limit is reasonable).
 */
import { resolveLimits, type SipLimits } from '../message/limits.js';
import { isTokenChar } from '../message/syntax.js';
import { complete, failure, findHeaderEnd, headerTextEnd, parseHead, type Head, type ParseFailure, type ParseResult } from '../message/parser.js';

/** The keep-alive answer to a ping (RFC 5626 §3.5.1). */
export const PONG: Buffer = Buffer.from('\r\n');
/** The keep-alive ping a client sends (RFC 5626 §4.4.1). */
export const PING: Buffer = Buffer.from('\r\n\r\n');

export type StreamEvent =
  | { readonly type: 'message'; readonly result: ParseResult }
  | { readonly type: 'ping' }
  | { readonly type: 'pong' };

export interface FramerOptions {
  limits?: Partial<SipLimits>;
  /**
   * `server` (default): the peer is the flow's client, so a double CRLF is
   * a ping and a lone CRLF before a message is ignored (RFC 3261 §7.5).
   * `client`: the peer is a server; every CRLF between messages is a pong.
   */
  role?: 'server' | 'client';
  /**
   * RFC 3261 §18.3 makes Content-Length mandatory on streams. Without it
   * the next message's start cannot be found, so by default (as Kamailio
   * does unless `tcp_accept_no_cl=yes`) the message is refused with 400
   * and the connection closed.
   * `false` assumes an empty body instead.
   */
  requireContentLength?: boolean;
}

const CR = 0x0d;
const LF = 0x0a;

export class StreamFramer {
  readonly #limits: SipLimits;
  readonly #server: boolean;
  readonly #requireContentLength: boolean;
  #buf: Buffer = Buffer.alloc(0);
  #start = 0;
  #end = 0;
  /** Where the search for the end of the header section resumes. */
  #scan = 0;
  /** Set once the header section is parsed and the body is awaited. */
  #head: Head | undefined;
  #bodyStart = 0;
  #bodyLen = 0;
  #closed = false;
  #startLineChecked = false;
  /** Where the search for the end of the start line resumes. */
  #lineScan = 0;

  constructor(options: FramerOptions = {}) {
    this.#limits = resolveLimits(options.limits);
    this.#server = (options.role ?? 'server') === 'server';
    this.#requireContentLength = options.requireContentLength ?? true;
  }

  /** A fatal failure was returned; the connection must be closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes of an incomplete message are buffered (arm an idle timer). */
  get midMessage(): boolean {
    return !this.#closed && this.#end > this.#start && !this.#onlyKeepAliveBytes();
  }

  get buffered(): number {
    return this.#end - this.#start;
  }

  push(chunk: Uint8Array): StreamEvent[] {
    const events: StreamEvent[] = [];
    if (this.#closed || chunk.length === 0) return events;
    this.#append(chunk);
    for (;;) {
      const ev = this.#next();
      if (!ev) break;
      events.push(ev);
      if (this.#closed) break;
    }
    this.#compact();
    return events;
  }

  #append(chunk: Uint8Array): void {
    const need = this.#end + chunk.length;
    if (need > this.#buf.length) {
      const live = this.#end - this.#start;
      const size = Math.max(live + chunk.length, this.#buf.length * 2, 4096);
      const next = Buffer.allocUnsafe(size);
      this.#buf.copy(next, 0, this.#start, this.#end);
      this.#shift(this.#start);
      this.#buf = next;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /** Moves every index back by n (the buffer content moved to offset 0). */
  #shift(n: number): void {
    this.#start -= n;
    this.#end -= n;
    this.#scan = Math.max(0, this.#scan - n);
    this.#lineScan = Math.max(0, this.#lineScan - n);
    this.#bodyStart -= n;
  }

  #compact(): void {
    if (this.#start === this.#end) {
      this.#shift(this.#start);
      this.#scan = 0;
      // Give back a buffer grown by a burst: thousands of idle phone
      // connections should not each keep one.
      if (this.#buf.length > 65536) this.#buf = Buffer.alloc(0);
      return;
    }
    if (this.#start > this.#buf.length / 2) {
      this.#buf.copy(this.#buf, 0, this.#start, this.#end);
      this.#shift(this.#start);
    }
  }

  #onlyKeepAliveBytes(): boolean {
    for (let i = this.#start; i < this.#end; i++) {
      const b = this.#buf[i];
      if (b !== CR && b !== LF) return false;
    }
    return true;
  }

  #fatal(head: Head | undefined, status: number | 'drop', reason: string): StreamEvent {
    this.#closed = true;
    const f: ParseFailure = failure(head, status, reason, true);
    return { type: 'message', result: f };
  }

  #next(): StreamEvent | undefined {
    if (this.#head) return this.#body();
    const ka = this.#keepAlive();
    if (ka !== undefined) return ka === 'wait' ? undefined : ka;
    return this.#header();
  }

  /** Between messages: pings, pongs and stray CRLFs. 'wait' when undecidable yet. */
  #keepAlive(): StreamEvent | 'wait' | undefined {
    while (this.#start < this.#end) {
      const b = this.#buf;
      const s = this.#start;
      const avail = this.#end - s;
      if (b[s] === LF) {
        // A bare LF between messages: tolerated and skipped.
        this.#start++;
        continue;
      }
      if (b[s] !== CR) return undefined;
      if (avail < 2) return 'wait';
      if (b[s + 1] !== LF) return undefined; // a CR not followed by LF starts a (bad) message
      if (!this.#server) {
        this.#start += 2;
        return { type: 'pong' };
      }
      if (avail < 3) return 'wait';
      if (b[s + 2] === CR) {
        if (avail < 4) return 'wait';
        if (b[s + 3] === LF) {
          this.#start += 4;
          return { type: 'ping' };
        }
      }
      // A lone CRLF before a message is ignored (RFC 3261 §7.5).
      this.#start += 2;
    }
    return 'wait';
  }

  #header(): StreamEvent | undefined {
    // Every start line begins with a method token or "SIP/": anything else
    // (a TLS handshake on the TCP port, binary junk) is refused at once.
    if (!isTokenChar(this.#buf[this.#start]!)) return this.#fatal(undefined, 'drop', 'stream does not start with a SIP start line');
    const view = this.#buf.subarray(0, this.#end);
    const bodyStart = findHeaderEnd(view, Math.max(this.#scan, this.#start));
    if (bodyStart < 0) {
      if (!this.#startLineChecked) {
        // Refuse non-SIP as soon as its first line is complete instead of
        // buffering it up to the size limit.
        const firstLf = view.indexOf(LF, Math.max(this.#lineScan, this.#start));
        if (firstLf >= 0) {
          this.#startLineChecked = true;
          const early = parseHead(view, this.#start, firstLf + 1, this.#limits);
          if (!early.recognisable) return this.#fatal(early, 'drop', 'not a SIP request or status line');
        } else {
          this.#lineScan = this.#end;
        }
      }
      if (this.#end - this.#start > this.#limits.maxMessageBytes) {
        // Parse the complete lines so far: a request still gets its 513.
        const lastLf = view.lastIndexOf(LF);
        const partial = lastLf > this.#start ? parseHead(view, this.#start, lastLf + 1, this.#limits) : undefined;
        return this.#fatal(partial, 513, `header section larger than ${this.#limits.maxMessageBytes} bytes`);
      }
      this.#scan = Math.max(this.#start, this.#end - 3);
      return undefined;
    }
    this.#startLineChecked = false;
    this.#lineScan = 0;
    const head = parseHead(view, this.#start, headerTextEnd(view, bodyStart), this.#limits);
    const headLen = bodyStart - this.#start;
    if (headLen > this.#limits.maxMessageBytes) {
      return this.#fatal(head, 513, `header section of ${headLen} bytes exceeds ${this.#limits.maxMessageBytes}`);
    }
    // A status line with a bad code or version (RFC 4475 §3.1.2.19, bigcode)
    // still frames by Content-Length: it is skipped and dropped, not fatal.
    if (!head.recognisable) return this.#fatal(head, 'drop', head.problem?.reason ?? 'not a SIP message');
    if (head.contentLengthError) return this.#fatal(head, 400, `${head.contentLengthError} on a stream`);
    let bodyLen = head.contentLength;
    if (bodyLen === undefined) {
      if (this.#requireContentLength) return this.#fatal(head, 400, 'no Content-Length on a stream transport (RFC 3261 §18.3)');
      bodyLen = 0;
    }
    if (bodyLen > this.#limits.maxBodyBytes) return this.#fatal(head, 413, `body of ${bodyLen} bytes exceeds ${this.#limits.maxBodyBytes}`);
    if (headLen + bodyLen > this.#limits.maxMessageBytes) {
      return this.#fatal(head, 513, `message of ${headLen + bodyLen} bytes exceeds ${this.#limits.maxMessageBytes}`);
    }
    this.#head = head;
    this.#bodyStart = bodyStart;
    this.#bodyLen = bodyLen;
    return this.#body();
  }

  #body(): StreamEvent | undefined {
    const head = this.#head;
    if (!head || this.#end - this.#bodyStart < this.#bodyLen) return undefined;
    // Copied out: the framer's buffer is reused for the next messages.
    const body = Buffer.from(this.#buf.subarray(this.#bodyStart, this.#bodyStart + this.#bodyLen));
    this.#start = this.#bodyStart + this.#bodyLen;
    this.#scan = this.#start;
    this.#head = undefined;
    return { type: 'message', result: complete(head, body, 0) };
  }
}
