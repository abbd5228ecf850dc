import * as dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { CaStore } from '../../src/home/store.js';
import { sipUser } from '../../src/inventory/phones.js';
import { SipClient, answerChallenge, rand } from '../../src/verify/sip-client.js';
import type { SipResponse } from '../../src/sip/message/index.js';
import { SrtpReceiver, SrtpSender, SUITES, type SrtpMasterKey, type SuiteName } from '../../src/srtp/index.js';
import { encodeKeySalt } from '../../src/sdp/sdes.js';
import { within } from '../vendors/peer-stubs.js';

/**
 * A scripted phone for the echo tests: registers over TLS with a phone's
 * certificate and digest secret from a CA home (src/verify/sip-client.ts
 * does the SIP), sends INVITEs whose SDP the test writes byte for byte (the
 * offers real phones sent), and does the SRTP side of the call with
 * src/srtp on a UDP socket of its own.
 */
export interface PhoneCreds {
  name: string;
  user: string;
  secret: string;
  domain: string;
  cert: string;
  key: string;
  ca: string;
}

export async function phoneCreds(home: string, name: string): Promise<PhoneCreds> {
  const store = await CaStore.open(home);
  const phone = store.index.phones.find((p) => p.name === name);
  const entry = store.current(name);
  if (!phone || !entry) throw new Error(`no phone ${name} with a certificate in ${home}`);
  return { name, user: sipUser(phone), secret: phone.secret, domain: store.config.domain, cert: await store.readCertPem(entry.serial), key: await store.readKeyPem(entry.serial), ca: await store.caCertPem() };
}

export interface InviteOutcome {
  status: number;
  reason: string;
  warning: string | undefined;
  /** The SDP answer of a 2xx. */
  answer: string;
  callId: string;
  /** ACK a 2xx (RFC 3261 §13.2.2.4); `seq` overrides the CSeq number (a wrong ACK, for tests). */
  ack(seq?: number): Promise<void>;
  /** The CSeq number of the INVITE that got the final answer. */
  inviteSeq: number;
  /** BYE an established call; resolves with its final status. */
  bye(): Promise<number>;
}

export class EchoCaller {
  private cseq = 1;
  private nc = 1;

  private constructor(
    readonly client: SipClient,
    readonly creds: PhoneCreds,
  ) {}

  get aor(): string {
    return `sip:${this.creds.user}@${this.creds.domain}`;
  }

  private contact(): string {
    const l = this.client.local;
    return `<sip:${this.creds.user}@${l.address}:${l.port};transport=tls>`;
  }

  /** Connects with the phone's certificate and registers (answering one digest challenge). */
  static async register(port: number, creds: PhoneCreds): Promise<EchoCaller> {
    const client = await SipClient.connect({ host: '127.0.0.1', port, cert: creds.cert, key: creds.key, ca: creds.ca });
    const c = new EchoCaller(client, creds);
    const uri = `sip:${creds.domain};transport=tls`;
    const callId = `${rand(8)}@echo-test`;
    const tag = rand(4);
    const headers = (): Array<[string, string]> => [
      ['Max-Forwards', '70'],
      ['From', `<${c.aor}>;tag=${tag}`],
      ['To', `<${c.aor}>`],
      ['Call-ID', callId],
      ['CSeq', `${c.cseq++} REGISTER`],
      ['Contact', c.contact()],
      ['Expires', '300'],
    ];
    let res = await client.send('REGISTER', uri, headers());
    if (res.status === 401 || res.status === 407) {
      const a = answerChallenge(res, 'REGISTER', uri, creds.user, creds.secret, c.nc++);
      if (!a) throw new Error(`no usable challenge in ${res.status}`);
      res = await client.send('REGISTER', uri, [...headers(), [a.header, a.value]]);
    }
    if (res.status !== 200) {
      client.close();
      throw new Error(`REGISTER for ${creds.name}: ${res.status} ${res.reason}`);
    }
    return c;
  }

  /** One INVITE to `ext` carrying `sdp` exactly as given. */
  async invite(sdp: string, ext = '200'): Promise<InviteOutcome> {
    const target = `sip:${ext}@${this.creds.domain}`;
    const callId = `${rand(8)}@echo-test`;
    const tag = rand(4);
    let to = `<${target}>`;
    const headers = (method: string, seq: number, extra: Array<[string, string]> = []): Array<[string, string]> => [
      ['Max-Forwards', '70'],
      ['From', `<${this.aor}>;tag=${tag}`],
      ['To', to],
      ['Call-ID', callId],
      ['CSeq', `${seq} ${method}`],
      ['Contact', this.contact()],
      ...extra,
    ];
    const inviteSeq = this.cseq++;
    let res: SipResponse = await this.client.send('INVITE', target, headers('INVITE', inviteSeq, [['Content-Type', 'application/sdp']]), sdp);
    if (res.status === 401 || res.status === 407) {
      const a = answerChallenge(res, 'INVITE', target, this.creds.user, this.creds.secret, this.nc++);
      if (!a) throw new Error(`no usable challenge in ${res.status}`);
      res = await this.client.send('INVITE', target, headers('INVITE', this.cseq++, [['Content-Type', 'application/sdp'], [a.header, a.value]]), sdp);
    }
    const ackSeq = Number(/^(\d+)/.exec(res.headers.first('cseq') ?? '')?.[1] ?? inviteSeq);
    if (res.status >= 200 && res.status < 300) to = res.headers.first('to') ?? to;
    return {
      status: res.status,
      reason: res.reason,
      warning: res.headers.first('warning'),
      answer: res.body.toString('utf8'),
      callId,
      inviteSeq: ackSeq,
      ack: (seq = ackSeq) => this.client.send('ACK', target, headers('ACK', seq)).then(() => undefined),
      bye: async () => (await this.client.send('BYE', target, headers('BYE', this.cseq++))).status,
    };
  }

  close(): void {
    this.client.close();
  }
}

/** A key for `suite` and its SDES `inline:` text (key || salt, base64). */
export function freshKey(suite: SuiteName): { key: Buffer; salt: Buffer; inline: string } {
  const key = randomBytes(SUITES[suite].keyLen);
  const salt = randomBytes(SUITES[suite].saltLen);
  return { key, salt, inline: encodeKeySalt(key, salt) };
}

/** An SDP offer with one audio stream (PCMU + telephone-event), as a phone writes it; `lines` go in verbatim after the m= line. */
export function offerSdp(o: { port: number; proto?: string; lines: string[] }): string {
  return [
    'v=0',
    `o=phone ${randomBytes(4).readUInt32BE(0)} 1 IN IP4 127.0.0.1`,
    's=call',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${o.port} ${o.proto ?? 'RTP/SAVP'} 0 101`,
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15',
    'a=ptime:20',
    'a=sendrecv',
    ...o.lines,
    '',
  ].join('\r\n');
}

/** A plain RTP packet: PCMU, 20 ms (160 samples) per step. */
export function rtpPacket(seq: number, ssrc: number, payload: Buffer, pt = 0): Buffer {
  const h = Buffer.alloc(12);
  h[0] = 0x80;
  h[1] = pt;
  h.writeUInt16BE(seq & 0xffff, 2);
  h.writeUInt32BE((seq * 160) >>> 0, 4);
  h.writeUInt32BE(ssrc >>> 0, 8);
  return Buffer.concat([h, payload]);
}

/** The phone's media socket: sends what the test builds, keeps everything that comes back. */
export class MediaSocket {
  readonly received: Buffer[] = [];
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (m) => {
      this.received.push(Buffer.from(m));
      for (const w of this.waiters) w();
    });
  }

  static async open(): Promise<MediaSocket> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    return new MediaSocket(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(b: Uint8Array, port: number): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(b, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  }

  /** Resolves once `pred` holds for what was received (bounded). */
  async until(pred: (got: Buffer[]) => boolean, ms: number, what: string): Promise<void> {
    if (pred(this.received)) return;
    await within(
      new Promise<void>((resolve) => {
        const check = () => {
          if (!pred(this.received)) return;
          this.waiters = this.waiters.filter((w) => w !== check);
          resolve();
        };
        this.waiters.push(check);
      }),
      ms,
      what,
    );
  }

  close(): void {
    this.socket.close();
  }
}

/** Whether a datagram is RTCP (RFC 5761 §4 payload type range) rather than RTP. */
export function isRtcp(b: Buffer): boolean {
  return b.length >= 2 && b[1]! >= 192 && b[1]! <= 223;
}

export interface RoundTrip {
  sent: number;
  /** Of ours, the echoed packets recognised (intact) plus those that did not decrypt. */
  back: number;
  /** Echoed packets that authenticated and decrypted with the answer's key, payload identical to what was sent. */
  intact: number;
  /** Echoed packets that failed with the answer's key. */
  failed: number;
}

/**
 * Sends `count` SRTP packets protected with the phone's key(s) (an MKI, if
 * the key has one, rides in every packet) and checks what comes back
 * decrypts with the answer's key and carries the same audio under another
 * SSRC. `plain` does the same with RTP in clear. Echoes of earlier packets
 * still in flight are told apart by their payload (random per packet).
 */
export async function srtpRoundTrip(media: MediaSocket, to: number, o: { suite: SuiteName; phoneKey: SrtpMasterKey; answerKey: SrtpMasterKey } | { plain: true }, count = 20, waitMs = 5000): Promise<RoundTrip> {
  const ssrc = randomBytes(4).readUInt32BE(0);
  let seen = media.received.length;
  const tx = 'plain' in o ? undefined : new SrtpSender({ suite: o.suite, keys: [o.phoneKey] });
  const rx = 'plain' in o ? undefined : new SrtpReceiver({ suite: o.suite, keys: [o.answerKey] });
  const payloads = new Set<string>();
  const seq0 = randomBytes(2).readUInt16BE(0) & 0x3fff;
  for (let i = 0; i < count; i++) {
    const payload = randomBytes(160);
    payloads.add(payload.toString('hex'));
    const plain = rtpPacket(seq0 + i, ssrc, payload);
    if (!tx) {
      await media.send(plain, to);
      continue;
    }
    const n = tx.protectRtp(plain);
    if (n < 0) throw new Error(`protect failed: ${n}`);
    await media.send(Buffer.from(tx.out.subarray(0, n)), to);
  }
  const r: RoundTrip = { sent: count, back: 0, intact: 0, failed: 0 };
  const drain = (): boolean => {
    for (; seen < media.received.length; seen++) {
      const b = media.received[seen]!;
      if (isRtcp(b)) continue;
      let plain: Buffer = b;
      if (rx) {
        const n = rx.unprotectRtp(b);
        if (n < 0) {
          r.failed++;
          r.back++;
          continue;
        }
        plain = Buffer.from(rx.out.subarray(0, n));
      }
      if (plain.length < 12 || !payloads.delete(plain.subarray(12).toString('hex'))) continue;
      r.back++;
      if (plain.readUInt32BE(8) !== ssrc) r.intact++;
    }
    return r.intact + r.failed >= count;
  };
  await media.until(drain, waitMs, `${count} packets echoed`).catch(() => undefined);
  drain();
  return r;
}

/** `count` SRTP packets of random audio under `key` (one SSRC, consecutive sequence numbers). */
export function protectedPackets(suite: SuiteName, key: SrtpMasterKey, count: number): Buffer[] {
  const tx = new SrtpSender({ suite, keys: [key] });
  const ssrc = randomBytes(4).readUInt32BE(0);
  const seq0 = randomBytes(2).readUInt16BE(0) & 0x3fff;
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const n = tx.protectRtp(rtpPacket(seq0 + i, ssrc, randomBytes(160)));
    if (n < 0) throw new Error(`protect failed: ${n}`);
    out.push(Buffer.from(tx.out.subarray(0, n)));
  }
  return out;
}

/**
 * How many of `bad` the echo sent back. After sending them, `fence` runs a
 * round trip that must succeed; the echo handles one socket's datagrams in
 * order, so once the fence's packets are back the bad ones were handled,
 * and no time has to pass for "nothing came back" to mean something.
 */
export async function echoedOf(media: MediaSocket, to: number, bad: readonly Buffer[], fence: () => Promise<RoundTrip>): Promise<number> {
  const first = media.received.length;
  for (const b of bad) await media.send(b, to);
  const f = await fence();
  if (f.intact !== f.sent) throw new Error(`the fence round trip failed: ${JSON.stringify(f)}`);
  return media.received.slice(first).filter((b) => !isRtcp(b)).length - f.back;
}

