import { randomBytes } from 'node:crypto';
import * as tls from 'node:tls';
import { StreamFramer } from '../../src/sip/transport/framer.js';
import { SipRequest, SipResponse, type SipMessage } from '../../src/sip/message/message.js';
import { formatCredentials, parseChallenge, type DigestAlgorithm } from '../../src/auth/digest.js';

/**
 * A minimal SIP-over-TLS client for the registrar tests: raw messages out,
 * parsed messages in (sipsec's own framer in client role), bounded waits.
 * It is deliberately dumb: the tests write the SIP text themselves.
 */
export interface ClientTls {
  ca: string;
  cert?: string;
  key?: string;
  servername?: string;
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
}

export class SipTestClient {
  readonly messages: SipMessage[] = [];
  readonly socket: tls.TLSSocket;
  #waiters: Array<{ pred: (m: SipMessage) => boolean; resolve: (m: SipMessage) => void }> = [];
  #taken = new Set<SipMessage>();
  readonly ended: Promise<void>;
  pongs = 0;

  private constructor(socket: tls.TLSSocket) {
    this.socket = socket;
    const framer = new StreamFramer({ role: 'client' });
    socket.on('data', (chunk: Buffer) => {
      for (const ev of framer.push(chunk)) {
        if (ev.type === 'pong') this.pongs++;
        if (ev.type !== 'message' || !ev.result.ok) continue;
        const m = ev.result.message;
        this.messages.push(m);
        const w = this.#waiters.find((x) => x.pred(m));
        if (w) {
          this.#waiters = this.#waiters.filter((x) => x !== w);
          this.#taken.add(m);
          w.resolve(m);
        }
      }
    });
    socket.on('error', () => undefined);
    this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static connect(port: number, t: ClientTls, host = '127.0.0.1'): Promise<SipTestClient> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host,
        port,
        ca: t.ca,
        ...(t.cert ? { cert: t.cert, key: t.key } : {}),
        servername: t.servername ?? 'localhost',
        ...(t.minVersion ? { minVersion: t.minVersion } : {}),
        ...(t.maxVersion ? { maxVersion: t.maxVersion } : {}),
      });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error('TLS connect timed out'));
      }, 10_000);
      socket.once('secureConnect', () => {
        clearTimeout(timer);
        resolve(new SipTestClient(socket));
      });
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  }

  get localPort(): number {
    return this.socket.localPort ?? 0;
  }

  send(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }

  /** The next message (not yet taken) matching `pred`, within `ms`. */
  next(pred: (m: SipMessage) => boolean = () => true, ms = 10_000): Promise<SipMessage> {
    const seen = this.messages.find((m) => !this.#taken.has(m) && pred(m));
    if (seen) {
      this.#taken.add(seen);
      return Promise.resolve(seen);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.resolve !== done);
        reject(new Error(`no matching SIP message within ${ms} ms (got ${this.messages.length}: ${this.messages.map(describe).join(' | ')})`));
      }, ms);
      const done = (m: SipMessage) => {
        clearTimeout(timer);
        resolve(m);
      };
      this.#waiters.push({ pred, resolve: done });
    });
  }

  /** The final (>= 200) response whose Call-ID and CSeq method match, skipping provisionals. */
  async final(callId: string, method: string, ms = 10_000): Promise<SipResponse> {
    const m = await this.next((x) => x.kind === 'response' && x.status >= 200 && header(x, 'call-id') === callId && (header(x, 'cseq') ?? '').endsWith(method), ms);
    return m as SipResponse;
  }

  async request(pred: (r: SipRequest) => boolean, ms = 10_000): Promise<SipRequest> {
    return (await this.next((x) => x.kind === 'request' && pred(x), ms)) as SipRequest;
  }

  close(): void {
    this.socket.destroy();
  }
}

function describe(m: SipMessage): string {
  return m.kind === 'response' ? `${m.status} ${header(m, 'cseq') ?? ''}` : `${m.method} ${m.uri}`;
}

export function header(m: SipMessage, name: string): string | undefined {
  return m.headers.first(name);
}

export function newCallId(): string {
  return randomBytes(8).toString('hex');
}

export interface RegisterParams {
  user: string;
  domain: string;
  /** The To/From user when it differs from `user` (another phone's AOR). */
  aorUser?: string;
  contact: string;
  callId: string;
  cseq: number;
  expires?: number | undefined;
  localPort: number;
  authorization?: string;
  extra?: string[];
  ruri?: string;
}

/** A REGISTER as a phone sends it over TLS. */
export function registerText(p: RegisterParams): string {
  const aor = `sip:${p.aorUser ?? p.user}@${p.domain}`;
  const lines = [
    `REGISTER ${p.ruri ?? `sip:${p.domain}`} SIP/2.0`,
    `Via: SIP/2.0/TLS 127.0.0.1:${p.localPort};branch=z9hG4bK${randomBytes(6).toString('hex')};rport`,
    'Max-Forwards: 70',
    `From: <${aor}>;tag=${randomBytes(4).toString('hex')}`,
    `To: <${aor}>`,
    `Call-ID: ${p.callId}`,
    `CSeq: ${p.cseq} REGISTER`,
    `Contact: ${p.contact}`,
    ...(p.expires !== undefined ? [`Expires: ${p.expires}`] : []),
    ...(p.authorization ? [`Authorization: ${p.authorization}`] : []),
    ...(p.extra ?? []),
    'Content-Length: 0',
    '',
    '',
  ];
  return lines.join('\r\n');
}

/** The Authorization value answering the first challenge of `res` whose algorithm is `algorithm` (default: the first one). */
export function answerChallenge(res: SipResponse, creds: { username: string; password: string; method: string; uri: string; algorithm?: DigestAlgorithm; nc?: string; cnonce?: string }): string {
  const values = res.headers.all(res.status === 407 ? 'proxy-authenticate' : 'www-authenticate');
  for (const v of values) {
    const c = parseChallenge(v);
    if (!c.ok) continue;
    if (creds.algorithm && c.value.algorithm !== creds.algorithm) continue;
    return formatCredentials({
      algorithm: c.value.algorithm,
      username: creds.username,
      realm: c.value.realm,
      password: creds.password,
      method: creds.method,
      uri: creds.uri,
      nonce: c.value.nonce,
      qop: 'auth',
      nc: creds.nc ?? '00000001',
      cnonce: creds.cnonce ?? randomBytes(6).toString('hex'),
    });
  }
  throw new Error(`no usable challenge in ${res.status}`);
}
