import * as dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { SipsecError, messageOf } from '../core/errors.js';
import type { CaStore } from '../home/store.js';
import { findPhone, sipUser } from '../inventory/phones.js';
import { loadVendor } from '../vendors/registry.js';
import { buildOffer, processAnswer } from '../sdp/offer.js';
import { SrtpReceiver, SrtpSender, SrtpStatus, SUITE_NAMES, type SuiteName, type SrtpMasterKey } from '../srtp/index.js';
import { toneFrame, toneReport } from '../media/tone.js';
import type { SipResponse } from '../sip/message/index.js';
import { checkServerName, describeNames } from './identity.js';
import { hint } from './hints.js';
import { inDialogTarget, uacDialog } from './dialog.js';
import { SipClient, answerChallenge, rand } from './sip-client.js';

/**
 * `sipsec probe`: act as a provisioned phone against a SIP/TLS server:
 * check its certificate as a phone would (chain to the sipsec CA, name per
 * RFC 5922), register with the phone's credentials and certificate, call
 * the echo extension offering SDES in the vendor's order, send a tone over
 * SRTP, and check that what comes back authenticates, decrypts and is the
 * tone. Every step ends PASS, FAIL or SKIP with the evidence.
 */
export type StepResult = 'PASS' | 'FAIL' | 'SKIP';

export interface ProbeStep {
  step: 'tls' | 'register' | 'call' | 'media' | 'unregister';
  result: StepResult;
  detail: string;
  /** For a FAIL with a known cause: what to do about it (verify's table of failure modes). */
  hint?: string;
  data?: Record<string, unknown>;
}

export interface ProbeOptions {
  store: CaStore;
  target: string;
  as: string;
  /** Extension to call; undefined = register only. */
  call: string | undefined;
  suite?: SuiteName | undefined;
  durationMs: number;
  toneHz?: number;
  onStep?: (s: ProbeStep) => void;
  timeoutMs?: number;
}

export interface ProbeReport {
  target: string;
  phone: string;
  ok: boolean;
  steps: ProbeStep[];
}

export function parseTarget(target: string): { host: string; port: number; scheme: 'sips' | 'sip' } {
  const m = /^(sips?):(?:[^@]*@)?(\[[^\]]+\]|[^:;]+)(?::(\d+))?(?:;.*)?$/i.exec(target.trim());
  if (!m) throw new SipsecError('BAD_INPUT', `invalid target '${target}'`, 'write it as sips:HOST[:PORT], e.g. sips:pbx.mycompany.com or sips:127.0.0.1:5061');
  const port = m[3] ? Number(m[3]) : 5061;
  if (port < 1 || port > 65535) throw new SipsecError('BAD_INPUT', `invalid port in '${target}'`, 'use 1-65535');
  return { scheme: m[1]!.toLowerCase() as 'sips' | 'sip', host: m[2]!.replace(/^\[(.*)\]$/, '$1'), port };
}

function toMaster(k: { key: Buffer; salt: Buffer; mki?: { bytes: Buffer } | undefined }): SrtpMasterKey {
  return k.mki ? { key: k.key, salt: k.salt, mki: k.mki.bytes } : { key: k.key, salt: k.salt };
}

function warningOf(res: SipResponse): string {
  const w = res.headers.first('warning');
  return w ? ` (${w})` : '';
}

export async function probe(o: ProbeOptions): Promise<ProbeReport> {
  const { host, port } = parseTarget(o.target);
  const phone = findPhone(o.store, o.as);
  const entry = o.store.current(phone.name);
  if (!entry) throw new SipsecError('NOT_FOUND', `phone '${phone.name}' has no valid certificate`, `renew it with sipsec cert renew ${phone.name}`);
  const vendor = await loadVendor(phone.vendor);
  const steps: ProbeStep[] = [];
  const add = (s: ProbeStep) => {
    steps.push(s);
    o.onStep?.(s);
  };
  const domain = o.store.config.domain;
  const user = sipUser(phone);
  const aor = `sip:${user}@${domain}`;
  const timeoutMs = o.timeoutMs ?? 10_000;

  // 1. TLS, checked as a phone would.
  let client: SipClient;
  try {
    client = await SipClient.connect({ host, port, servername: isIP(host) ? undefined : host, cert: await o.store.readCertPem(entry.serial), key: await o.store.readKeyPem(entry.serial), ca: await o.store.caCertPem(), timeoutMs });
  } catch (e) {
    add({ step: 'tls', result: 'FAIL', detail: `TLS handshake with ${host}:${port} failed: ${messageOf(e)}` });
    return { target: o.target, phone: phone.name, ok: false, steps };
  }
  const t = client.tlsInfo;
  const name = t.peer ? checkServerName(t.peer, host) : undefined;
  const tlsData = { version: t.version, cipher: t.cipher, serverCertificate: name ? describeNames(name.names) : undefined, clientCertSerial: entry.serial };
  const hintCtx = { phone: phone.name, vendor: vendor.descriptor, ip: isIP(host) ? host : undefined, detail: host };
  if (!t.authorized) {
    const foreign = t.authorizationError === 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY' || t.authorizationError === 'SELF_SIGNED_CERT_IN_CHAIN' || t.authorizationError === 'DEPTH_ZERO_SELF_SIGNED_CERT' || t.authorizationError === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE';
    const why = foreign ? 'unable to get local issuer certificate: the server certificate is not from the sipsec CA' : `server certificate not trusted: ${t.authorizationError ?? 'unknown reason'}`;
    add({ step: 'tls', result: 'FAIL', detail: why, hint: hint(foreign ? 'server-cert-foreign' : 'server-cert-invalid', { ...hintCtx, detail: t.authorizationError }), data: tlsData });
  } else if (name && !name.ok) {
    add({ step: 'tls', result: 'FAIL', detail: `${name.detail}; a phone that checks names would stop here`, hint: hint('name-mismatch', hintCtx), data: tlsData });
  } else {
    add({ step: 'tls', result: 'PASS', detail: `${t.version} ${t.cipher}, server certificate verified (${name?.detail ?? 'chain'})`, data: tlsData });
  }

  let nc = 1;
  const callId = `${rand(12)}@sipsec-probe`;
  const fromTag = rand(6);
  let cseq = 1;
  const contact = () => {
    const l = client.local;
    return `<sip:${user}@${l.address.includes(':') ? `[${l.address}]` : l.address}:${l.port};transport=tls>`;
  };
  const registrarUri = `sip:${domain};transport=tls`;
  const register = async (expires: number): Promise<SipResponse> => {
    const base = (): Array<[string, string]> => [
      ['Max-Forwards', '70'],
      ['From', `<${aor}>;tag=${fromTag}`],
      ['To', `<${aor}>`],
      ['Call-ID', callId],
      ['CSeq', `${cseq++} REGISTER`],
      ['Contact', expires === 0 ? '*' : contact()],
      ['Expires', String(expires)],
      ['User-Agent', 'sipsec-probe'],
    ];
    let res = await client.send('REGISTER', registrarUri, base(), undefined, { timeoutMs });
    if (res.status === 401 || res.status === 407) {
      const a = answerChallenge(res, 'REGISTER', registrarUri, user, phone.secret, nc++);
      if (!a) return res;
      res = await client.send('REGISTER', registrarUri, [...base(), [a.header, a.value]], undefined, { timeoutMs });
    }
    return res;
  };

  // 2. Registration.
  let registered = false;
  try {
    const res = await register(300);
    registered = res.status >= 200 && res.status < 300;
    add({
      step: 'register',
      result: registered ? 'PASS' : 'FAIL',
      detail: registered ? `${res.status} ${res.reason} for ${aor}` : `${res.status} ${res.reason}${warningOf(res)}`,
      data: { status: res.status, aor, contact: res.headers.first('contact'), expires: res.headers.first('expires') },
    });
  } catch (e) {
    add({ step: 'register', result: 'FAIL', detail: messageOf(e) });
  }

  // 3 + 4. Call the echo extension and check what comes back.
  if (!registered || o.call === undefined) {
    add({ step: 'call', result: 'SKIP', detail: registered ? 'no --call given' : 'not registered' });
    add({ step: 'media', result: 'SKIP', detail: 'no call' });
  } else {
    await callAndMedia(o, client, { user, aor, domain, vendorSuites: vendor.descriptor.srtp.suites, secret: phone.secret, timeoutMs, add, nextNc: () => nc++ });
  }

  // 5. Leave no binding behind.
  if (registered) {
    try {
      const res = await register(0);
      add({ step: 'unregister', result: res.status < 300 ? 'PASS' : 'FAIL', detail: `${res.status} ${res.reason}` });
    } catch (e) {
      add({ step: 'unregister', result: 'FAIL', detail: messageOf(e) });
    }
  }
  client.close();
  return { target: o.target, phone: phone.name, ok: steps.every((s) => s.result !== 'FAIL'), steps };
}

interface CallContext {
  user: string;
  aor: string;
  domain: string;
  vendorSuites: readonly string[];
  secret: string;
  timeoutMs: number;
  add: (s: ProbeStep) => void;
  nextNc: () => number;
}

async function callAndMedia(o: ProbeOptions, client: SipClient, c: CallContext): Promise<void> {
  const sock = dgram.createSocket(client.local.address.includes(':') ? 'udp6' : 'udp4');
  await new Promise<void>((r) => sock.bind(0, client.local.address, r));
  const rtpPort = sock.address().port;
  const suites = o.suite ? [o.suite] : c.vendorSuites.filter((s) => (SUITE_NAMES as readonly string[]).includes(s));
  const offer = buildOffer({ local: { address: client.local.address, port: rtpPort }, suites, rtcpMux: true, ptime: 20, formats: [{ payloadType: 0, encoding: 'PCMU', clockRate: 8000 }] });
  const target = `sip:${o.call}@${c.domain}`;
  const callId = `${rand(12)}@sipsec-probe`;
  const fromTag = rand(6);
  let cseq = 1;
  const l = client.local;
  const contact = `<sip:${c.user}@${l.address.includes(':') ? `[${l.address}]` : l.address}:${l.port};transport=tls>`;
  const headers = (seq: number, method: string, to: string, extra: Array<[string, string]> = [], routes: string[] = []): Array<[string, string]> => [
    ...routes.map((r): [string, string] => ['Route', r]),
    ['Max-Forwards', '70'],
    ['From', `<${c.aor}>;tag=${fromTag}`],
    ['To', to],
    ['Call-ID', callId],
    ['CSeq', `${seq} ${method}`],
    ['Contact', contact],
    ['User-Agent', 'sipsec-probe'],
    ...extra,
  ];
  const sdpHeaders: Array<[string, string]> = [['Content-Type', 'application/sdp']];
  /** An INVITE on its own branch; a non-2xx final answer is ACKed on that branch (§17.1.1.3). */
  const invite = async (extra: Array<[string, string]>): Promise<{ res: SipResponse; seq: number }> => {
    const seq = cseq++;
    const branch = `z9hG4bK${rand()}`;
    const res = await client.send('INVITE', target, headers(seq, 'INVITE', `<${target}>`, [...sdpHeaders, ...extra]), offer.sdp, { timeoutMs: c.timeoutMs, branch });
    if (res.status >= 300) await client.send('ACK', target, headers(seq, 'ACK', res.headers.first('to') ?? `<${target}>`), undefined, { branch });
    return { res, seq };
  };
  try {
    let { res, seq } = await invite([]);
    if (res.status === 401 || res.status === 407) {
      const a = answerChallenge(res, 'INVITE', target, c.user, c.secret, c.nextNc());
      if (a) ({ res, seq } = await invite([[a.header, a.value]]));
    }
    if (res.status < 200 || res.status >= 300) {
      c.add({ step: 'call', result: 'FAIL', detail: `${res.status} ${res.reason}${warningOf(res)}`, data: { offered: offer.crypto.map((k) => `${k.tag} ${k.suite}`) } });
      c.add({ step: 'media', result: 'SKIP', detail: 'no call' });
      return;
    }
    const toHeader = res.headers.first('to') ?? `<${target}>`;
    // §13.2.2.4: the ACK of a 2xx carries the INVITE's CSeq number (chan_sip sends no audio
    // otherwise) and, like every request in the dialog, goes to the 200's Contact through its route set.
    const inDialog = inDialogTarget(uacDialog(res, target));
    await client.send('ACK', inDialog.uri, headers(seq, 'ACK', toHeader, [], inDialog.routes));
    const answer = processAnswer(offer, res.body.toString('utf8'));
    if (!answer.ok || answer.srtp !== 'sdes') {
      c.add({ step: 'call', result: 'FAIL', detail: answer.ok ? 'the answer has no SRTP (plain RTP)' : answer.error, data: { offered: offer.crypto.map((k) => `${k.tag} ${k.suite}`) } });
      c.add({ step: 'media', result: 'SKIP', detail: 'no SRTP negotiated' });
    } else {
      c.add({ step: 'call', result: 'PASS', detail: `200 OK, ${answer.canonical} (tag ${answer.tag})`, data: { offered: offer.crypto.map((k) => `${k.tag} ${k.suite}`), chosen: answer.canonical, tag: answer.tag } });
      c.add(await media(o, sock, answer.canonical, toMaster(answer.localKey), answer.remoteKeys.map(toMaster), answer.remote));
    }
    const bye = await client.send('BYE', inDialog.uri, headers(cseq++, 'BYE', toHeader, [], inDialog.routes), undefined, { timeoutMs: c.timeoutMs }).catch((e: unknown) => e as Error);
    if (bye instanceof Error) c.add({ step: 'call', result: 'FAIL', detail: `BYE: ${bye.message}` });
    else if (bye.status >= 300) c.add({ step: 'call', result: 'FAIL', detail: `BYE answered ${bye.status} ${bye.reason}${warningOf(bye)}` });
  } catch (e) {
    c.add({ step: 'call', result: 'FAIL', detail: messageOf(e) });
  } finally {
    sock.close();
  }
}

async function media(o: ProbeOptions, sock: dgram.Socket, suite: SuiteName, local: SrtpMasterKey, remote: SrtpMasterKey[], to: { address: string; port: number }): Promise<ProbeStep> {
  const tx = new SrtpSender({ suite, keys: [local] });
  const rx = new SrtpReceiver({ suite, keys: remote });
  const hz = o.toneHz ?? 1000;
  const heard: Buffer[] = [];
  const counts = { received: 0, authFailures: 0, replays: 0, other: 0 };
  sock.on('message', (m) => {
    if (m.length >= 2 && m[1]! >= 192 && m[1]! <= 223) return; // RTCP
    const n = rx.unprotectRtp(m);
    if (n < 0) {
      if (n === SrtpStatus.AUTH_FAIL) counts.authFailures++;
      else if (n === SrtpStatus.REPLAY || n === SrtpStatus.REPLAY_OLD) counts.replays++;
      else counts.other++;
      return;
    }
    counts.received++;
    heard.push(Buffer.from(rx.out.subarray(12, n)));
  });
  const ssrc = randomBytes(4).readUInt32BE(0);
  const packets = Math.max(1, Math.round(o.durationMs / 20));
  let seq = randomBytes(2).readUInt16BE(0) & 0x7fff;
  for (let i = 0; i < packets; i++) {
    const h = Buffer.alloc(12);
    h[0] = 0x80;
    h[1] = i === 0 ? 0x80 : 0;
    h.writeUInt16BE(seq++ & 0xffff, 2);
    h.writeUInt32BE((i * 160) >>> 0, 4);
    h.writeUInt32BE(ssrc, 8);
    const n = tx.protectRtp(Buffer.concat([h, toneFrame(hz, 8000, i * 160, 160)]));
    sock.send(Buffer.from(tx.out.subarray(0, n)), to.port, to.address);
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((r) => setTimeout(r, 300));
  const tone = toneReport(Buffer.concat(heard), hz, 8000);
  const data = { suite, sent: packets, received: counts.received, authFailures: counts.authFailures, replays: counts.replays, otherErrors: counts.other, toneHz: hz, toneRatio: Math.round(tone.ratio * 1000) / 1000, rms: Math.round(tone.rms) };
  if (counts.received === 0) {
    const why = counts.authFailures > 0 ? `${counts.authFailures} packets came back but failed SRTP authentication: the server encrypts with another key or suite` : 'nothing came back: one-way audio (media blocked, or the server does not echo)';
    return { step: 'media', result: 'FAIL', detail: why, data };
  }
  if (counts.received < packets * 0.8) return { step: 'media', result: 'FAIL', detail: `only ${counts.received} of ${packets} packets came back`, data };
  if (tone.ratio < 0.5 || tone.rms < 100) return { step: 'media', result: 'FAIL', detail: `what came back is not the ${hz} Hz tone (tone ratio ${data.toneRatio}, level ${data.rms})`, data };
  return { step: 'media', result: 'PASS', detail: `${counts.received}/${packets} SRTP packets back, all authentic, ${hz} Hz tone heard (ratio ${data.toneRatio})`, data };
}
