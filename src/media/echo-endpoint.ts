import { answerOffer, type AnswerResult, type StreamNegotiation } from '../sdp/answer.js';
import type { KeyMaterial } from '../sdp/key-material.js';
import type { AnswerPolicy, SrtpMode } from '../sdp/policy.js';
import { reportNegotiation } from '../sdp/report.js';
import type { LocalCall, LocalEndpoint } from '../sip/registrar/local-endpoint.js';
import type { EventInput, ServeEventOf } from '../events/index.js';
import type { SrtpMasterKey, SuiteName } from '../srtp/index.js';
import { EchoSession, type EchoReport, type EchoSrtp } from './echo.js';
import type { PortPool } from './ports.js';

/**
 * The echo extension (default `200`, as in the talk): answers a phone's
 * call with whatever secure offer it makes (the first acceptable crypto
 * line in the phone's order, RFC 4568 §7.1.2), echoes its audio re-keyed,
 * and reports the call: `call.start` with the offered and chosen crypto,
 * `call.reject` with the 488 and why, `call.end` with the media counters.
 */
export interface EchoEndpointOptions {
  ext: string;
  pool: PortPool;
  /** Address to bind the media sockets to. */
  bind: string;
  /** The address to put in our SDP for this call (what the phone can reach). */
  mediaAddress: (call: LocalCall) => string;
  /** The calling phone's `srtp` setting (its record in the CA home); unknown phones get mandatory. */
  phone: (name: string) => { readonly srtp: SrtpMode } | undefined;
  /** Suites accepted (default: all sipsec supports). */
  acceptSuites?: readonly SuiteName[];
  emit: (ev: EventInput) => void;
  /** Hang up after this long (a forgotten call must not hold ports forever). */
  maxCallMs?: number;
}

export interface EchoEndpoint extends LocalEndpoint {
  /** Live calls for `sipsec status`. */
  calls(): Array<Record<string, unknown>>;
}

function master(k: KeyMaterial): SrtpMasterKey {
  return k.mki ? { key: k.key, salt: k.salt, mki: k.mki.bytes } : { key: k.key, salt: k.salt };
}

function srtpOf(n: StreamNegotiation): EchoSrtp | null {
  const c = n.chosen;
  if (n.srtp !== 'sdes' || !c) return null;
  return {
    suite: c.canonical,
    remote: c.remoteKeys.map(master),
    local: master(c.localKey),
    unencryptedSrtp: c.sessionParams.unencryptedSrtp,
    unencryptedSrtcp: c.sessionParams.unencryptedSrtcp,
    unauthenticatedSrtp: c.sessionParams.unauthenticatedSrtp,
    ...(c.sessionParams.kdr !== undefined ? { kdr: 2 ** c.sessionParams.kdr } : {}),
  };
}

function offeredLines(n: StreamNegotiation | undefined): string[] {
  return (n?.offeredCrypto ?? []).map((c) => `${c.tagText} ${c.suite}${c.acceptable ? '' : ` (refused: ${c.refusal ?? c.reason ?? 'not acceptable'})`}`);
}

type CallRejectCode = ServeEventOf<'call.reject'>['code'];
type CallEndCode = NonNullable<Extract<ServeEventOf<'call.end'>, { suite: unknown }>['code']>;

/**
 * Why the echo refused an offer, from the negotiation's structure (the
 * Warning code RFC 3261 §20.43 gives each rejected stream, and the offered
 * lines), never from its text.
 */
export function rejectCode(answer: Extract<AnswerResult, { ok: false }>, policy: AnswerPolicy): CallRejectCode {
  if (answer.status === 400) return 'sdp.malformed';
  const s = answer.streams.find((x) => x.media === 'audio' && x.warning);
  if (!s?.warning) return 'sdp.no_audio';
  switch (s.warning.code) {
    case 304:
      return 'sdp.no_audio';
    case 305:
      return 'sdp.no_common_codec';
    case 306: {
      if (s.offeredCrypto.length === 0) return 'sdes.no_crypto';
      // A line the policy refused for its key lifetime alone: usable, an accepted suite, carrying one.
      const accept = policy.acceptSuites;
      const lifetimeOnly = policy.acceptLifetime === false && s.offeredCrypto.some((l) => l.usable && l.canonical !== undefined && (!accept || accept.includes(l.canonical)) && l.keys.some((k) => k.lifetime));
      return lifetimeOnly ? 'sdes.lifetime_refused' : 'sdes.no_acceptable_suite';
    }
    default: {
      // 302, incompatible transport: plain RTP to a phone held to SRTP, SAVP to one held off, or DTLS/other.
      const proto = s.proto.toUpperCase();
      if (policy.srtp === 'off' && proto.startsWith('RTP/SAVP')) return 'srtp.offered_while_off';
      if (policy.srtp !== 'off' && (proto === 'RTP/AVP' || proto === 'RTP/AVPF') && s.offeredCrypto.length === 0) return 'srtp.plain_rtp_offered';
      return 'sdp.unsupported_transport';
    }
  }
}

/** A call verify must not pass, in the order verify judges them: no SRTP, SRTP never authenticated, one-way audio. */
export function endCode(r: EchoReport): CallEndCode | undefined {
  if (r.suite === null) return 'srtp.plain_rtp';
  if (r.packetsIn === 0 && r.authFailures > 0) return 'srtp.auth_failures';
  if (r.oneWayAudio) return 'media.one_way_audio';
  return undefined;
}

export function endFields(r: EchoReport) {
  const { phoneStream, ...rest } = r;
  const code = endCode(r);
  return {
    ...rest,
    ...(code ? { code } : {}),
    payloadTypes: phoneStream.payloadTypes,
    lost: phoneStream.lost,
    gaps: phoneStream.gaps,
    jitterMs: phoneStream.jitterMs,
    tsStep: phoneStream.tsStep,
    timestampAnomalies: phoneStream.timestampAnomalies,
  };
}

export function createEchoEndpoint(o: EchoEndpointOptions): EchoEndpoint {
  const live = new Map<string, { call: LocalCall; session: EchoSession }>();
  const policyFor = (phone: { readonly srtp: SrtpMode } | undefined): AnswerPolicy => ({
    srtp: phone?.srtp ?? 'mandatory',
    ...(o.acceptSuites ? { acceptSuites: o.acceptSuites } : {}),
    // The engine derives keys with any KDR (RFC 3711 §4.3.1), so accept it; the weakening parameters stay refused.
    allowKdr: true,
    codecs: 'echo-first',
    warnAgent: 'sipsec',
  });
  return {
    ext: o.ext,
    description: 'SRTP echo: answers any acceptable SDES offer and sends the audio back re-keyed',
    calls: () => [...live.values()].map(({ session }) => ({ ...session.snapshot() })),
    async onInvite(call: LocalCall) {
      const phone = o.phone(call.caller.phone);
      const offer = call.invite.body.toString('utf8');
      const base = { phone: call.caller.phone, remote: call.caller.remote, callId: call.callId, ext: o.ext };
      if (offer.trim() === '') {
        const warning = '399 sipsec "the echo needs an SDP offer in the INVITE"';
        call.reject(488, { headers: [['Warning', warning]] });
        o.emit({ event: 'call.reject', ...base, status: 488, warning, code: 'sdp.no_offer' });
        return;
      }
      const sockets = await o.pool.open(o.bind, false);
      const policy = policyFor(phone);
      const answer = answerOffer(offer, policy, { address: o.mediaAddress(call), port: sockets.port });
      if (!answer.ok) {
        sockets.rtp.close();
        sockets.rtcp?.close();
        o.pool.release(sockets.port);
        call.reject(answer.status, { headers: [['Warning', answer.warning]] });
        const offered = answer.streams[0]?.offeredCrypto ?? [];
        o.emit({
          event: 'call.reject',
          ...base,
          status: answer.status,
          warning: answer.warning,
          reason: answer.error,
          offered: offeredLines(answer.streams[0]),
          offeredSuites: offered.map((c) => c.suite),
          ...(o.acceptSuites ? { acceptSuites: [...o.acceptSuites] } : {}),
          policy: policy.srtp,
          code: rejectCode(answer, policy),
        });
        return;
      }
      const n = answer.negotiation;
      const clockRate = n.codec && 'clockRate' in n.codec && n.codec.clockRate ? n.codec.clockRate : 8000;
      let negotiated: StreamNegotiation[] = answer.streams;
      const session = EchoSession.attach(
        {
          callId: call.callId,
          phone: call.caller.phone,
          bind: o.bind,
          pool: o.pool,
          rtcpMux: n.remote?.rtcpMux ?? false,
          remote: { address: n.remote?.address ?? '', rtpPort: n.remote?.port ?? 0, rtcpPort: n.remote?.rtcpPort ?? 0 },
          srtp: srtpOf(n),
          clockRate,
          awaitAck: true,
        },
        sockets,
      );
      call.on('ack', () => session.confirm());
      live.set(call.callId, { call, session });
      call.answer({ body: answer.sdp, contentType: 'application/sdp' });
      o.emit({
        event: 'call.start',
        ...base,
        proto: n.proto,
        srtp: n.srtp,
        offered: offeredLines(n),
        chosen: n.chosen ? `${n.chosen.tagText} ${n.chosen.suite}` : null,
        suite: n.chosen?.canonical ?? null,
        codec: n.codec ? `${n.codec.encoding}/${'clockRate' in n.codec ? (n.codec.clockRate ?? '') : ''}` : undefined,
        localPort: session.localPort,
        negotiation: { ...reportNegotiation(n) },
        tlsVersion: call.caller.tlsVersion,
        cipher: call.caller.cipher,
      });
      const timer = setTimeout(() => void call.bye(), o.maxCallMs ?? 15 * 60_000);
      timer.unref();
      call.on('reinvite', (req, reply) => {
        const re = answerOffer(req.body.toString('utf8'), policy, { address: o.mediaAddress(call), port: session.localPort }, { previous: negotiated });
        if (!re.ok) {
          reply(re.status, { headers: [['Warning', re.warning]] });
          return;
        }
        const before = negotiated[0]?.chosen;
        const after = re.negotiation.chosen;
        // Same keys and suite: keep the contexts (Aastra loses audio after hold if re-keyed, rtpengine#102).
        if (!before || !after || !before.remoteKey.key.equals(after.remoteKey.key) || before.canonical !== after.canonical) session.rekey(srtpOf(re.negotiation));
        negotiated = re.streams;
        reply(200, { body: re.sdp, contentType: 'application/sdp' });
      });
      call.on('end', (reason) => {
        clearTimeout(timer);
        live.delete(call.callId);
        const report = session.close();
        o.emit({ event: 'call.end', ...endFields(report), ...base, reason });
      });
    },
  };
}
