/**
 * One phone held on its own mutual-TLS connection, as a registered phone
 * behaves between calls: an initial REGISTER, a CRLF keep-alive ping
 * every `keepaliveMs` (RFC 5626 §4.4.1: double CRLF, the server answers
 * one CRLF) and a re-REGISTER every `refreshMs` on the same Call-ID with
 * the next CSeq (RFC 3261 §10.2.4). Both intervals are drawn between 80%
 * and 100% of their value each time, as RFC 5626 §4.4.1 asks of keep-alives,
 * so ten thousand phones do not beat in step.
 *
 * A phone never reconnects: a dropped connection is a result to count,
 * not something to repair.
 */
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { registerText, ResponseScanner } from '../register/wire.js';
import type { Counters, HeldPhoneCreds, Latencies, Start } from './protocol.js';

const PING = '\r\n\r\n';
/** RFC 5626 §4.4.1: no pong within 10 s and the phone treats the flow as failed. */
const PONG_DEADLINE_MS = 10_000;
const CONNECT_TIMEOUT_MS = 20_000;

export interface PhoneEnv {
  start: Start;
  counters: Counters;
  latencies: Latencies;
}

function jittered(ms: number): number {
  return ms * (0.8 + 0.2 * Math.random());
}

function count(c: Counters, reason: string): void {
  c.reasons[reason] = (c.reasons[reason] ?? 0) + 1;
}

export class HeldPhone {
  readonly #env: PhoneEnv;
  readonly #creds: HeldPhoneCreds;
  readonly #tag = randomBytes(6).toString('hex');
  readonly #scanner = new ResponseScanner();
  #socket: tls.TLSSocket | undefined;
  #established = false;
  /** No more keep-alives or refreshes (the run is ending, or the connection is gone). */
  #stopping = false;
  /** Closed by us or lost: counted once. */
  #ended = false;
  #cseq = 0;
  /** When the REGISTER now awaiting its answer was sent (0: none), and whether it is a refresh. */
  #registerAt = 0;
  #registerIsRefresh = false;
  #pingAt = 0;
  #keepalive: NodeJS.Timeout | undefined;
  #refresh: NodeJS.Timeout | undefined;
  #answerTimer: NodeJS.Timeout | undefined;

  constructor(env: PhoneEnv, creds: HeldPhoneCreds) {
    this.#env = env;
    this.#creds = creds;
  }

  /** Whether a REGISTER or a ping still awaits its answer. */
  get awaiting(): boolean {
    return this.#registerAt !== 0 || this.#pingAt !== 0;
  }

  /** Resolves once the handshake completed (true) or failed (false). */
  connect(): Promise<boolean> {
    const { start, counters } = this.#env;
    counters.attempted++;
    const t0 = performance.now();
    return new Promise((resolve) => {
      // The TCP socket is ours so it can bind the phone's own source address.
      const tcp = net.connect({ host: start.host, port: start.port, localAddress: this.#creds.localAddress });
      const s = tls.connect({ socket: tcp, ca: start.ca, cert: this.#creds.cert, key: this.#creds.key, servername: 'localhost' });
      this.#socket = s;
      const timer = setTimeout(() => fail('connect timeout'), CONNECT_TIMEOUT_MS);
      const fail = (reason: string) => {
        if (this.#established || this.#ended) return;
        this.#ended = true;
        clearTimeout(timer);
        s.destroy();
        counters.connectFailed++;
        count(counters, `connect: ${reason}`);
        resolve(false);
      };
      s.once('error', (e: Error & { code?: string }) => fail(e.code ?? e.message));
      tcp.on('error', (e: Error & { code?: string }) => fail(e.code ?? e.message));
      s.once('close', () => fail('closed during the handshake'));
      s.once('secureConnect', () => {
        clearTimeout(timer);
        this.#established = true;
        counters.established++;
        counters.open++;
        this.#env.latencies.handshakeMs.push(performance.now() - t0);
        s.setNoDelay(true);
        s.on('data', (chunk: Buffer) => this.#scanner.push(chunk, (status) => this.#answered(status), () => this.#pong()));
        s.on('error', (e: Error & { code?: string }) => this.#lost(`error ${e.code ?? e.message}`));
        s.on('close', () => this.#lost('closed by the server'));
        this.#register();
        this.#keepalive = setTimeout(() => this.#ping(), jittered(start.keepaliveMs));
        this.#refresh = setTimeout(() => this.#reRegister(), jittered(start.refreshMs));
        resolve(true);
      });
    });
  }

  /** The run is over: nothing more is sent; what is awaited may still arrive. */
  quiesce(): void {
    this.#stopping = true;
    clearTimeout(this.#keepalive);
    clearTimeout(this.#refresh);
  }

  /** Counts what never came, and closes. */
  close(): void {
    this.quiesce();
    if (this.#ended) return;
    this.#ended = true;
    if (this.#registerAt !== 0) this.#unanswered();
    if (this.#established) this.#env.counters.open--;
    this.#socket?.destroy();
  }

  #register(): void {
    const s = this.#socket;
    if (!s || s.destroyed) return;
    const { start, counters } = this.#env;
    // A refresh whose predecessor is still unanswered: that one is lost, count it now.
    if (this.#registerAt !== 0) this.#unanswered();
    this.#cseq++;
    this.#registerIsRefresh = this.#cseq > 1;
    this.#registerAt = performance.now();
    counters.registersSent++;
    if (this.#registerIsRefresh) counters.refreshesSent++;
    s.write(
      registerText({
        user: this.#creds.user,
        domain: start.domain,
        localAddress: this.#creds.localAddress,
        localPort: s.localPort ?? 0,
        tag: this.#tag,
        callId: `${this.#tag}c`,
        cseq: this.#cseq,
        branch: `${this.#tag}x${this.#cseq}`,
        expires: start.expires,
      }),
    );
    this.#answerTimer = setTimeout(() => this.#unanswered(), start.answerTimeoutMs);
  }

  #reRegister(): void {
    if (this.#stopping) return;
    this.#register();
    this.#refresh = setTimeout(() => this.#reRegister(), jittered(this.#env.start.refreshMs));
  }

  #ping(): void {
    if (this.#stopping || !this.#socket || this.#socket.destroyed) return;
    // The previous ping is still unanswered: it stays counted as sent without a pong.
    this.#pingAt = performance.now();
    this.#env.counters.pingsSent++;
    this.#socket.write(PING);
    this.#keepalive = setTimeout(() => this.#ping(), jittered(this.#env.start.keepaliveMs));
  }

  #answered(status: number): void {
    if (status < 200) return;
    const { counters, latencies } = this.#env;
    if (this.#registerAt === 0) {
      count(counters, `response ${status} to no pending REGISTER`);
      return;
    }
    latencies.registerMs.push(performance.now() - this.#registerAt);
    this.#registerAt = 0;
    clearTimeout(this.#answerTimer);
    if (status === 200) {
      counters.registersOk++;
      if (this.#registerIsRefresh) counters.refreshesOk++;
      return;
    }
    counters.registersFailed++;
    count(counters, `REGISTER answered ${status}`);
  }

  #unanswered(): void {
    this.#registerAt = 0;
    clearTimeout(this.#answerTimer);
    this.#env.counters.registersUnanswered++;
  }

  #pong(): void {
    const { counters, latencies } = this.#env;
    if (this.#pingAt === 0) {
      count(counters, 'pong without a ping');
      return;
    }
    const ms = performance.now() - this.#pingAt;
    this.#pingAt = 0;
    counters.pongs++;
    latencies.pongMs.push(ms);
    if (ms > PONG_DEADLINE_MS) counters.pongsLate++;
  }

  #lost(reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.quiesce();
    const { counters } = this.#env;
    counters.dropped++;
    counters.open--;
    count(counters, `dropped: ${reason}`);
    if (this.#registerAt !== 0) this.#unanswered();
    this.#socket?.destroy();
  }
}
