import { answerOffer, reportNegotiation, type AnswerPolicy, type StreamNegotiation, type KeyMaterial } from '../sdp/negotiate.js';
import type { LocalCall, LocalEndpoint } from '../sip/registrar/local-endpoint.js';
import type { EventInput } from '../serve/events.js';
import type { Phone } from '../home/schema.js';
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
  phone: (name: string) => Phone | undefined;
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

export function endFields(r: EchoReport): Record<string, unknown> {
  const { phoneStream, ...rest } = r;
  return {
    ...rest,
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
  const policyFor = (phone: Phone | undefined): AnswerPolicy => ({
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
        o.emit({ event: 'call.reject', ...base, status: 488, warning });
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
        o.emit({ event: 'call.reject', ...base, status: answer.status, warning: answer.warning, reason: answer.error, offered: offeredLines(answer.streams[0]), policy: policy.srtp });
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
        negotiation: reportNegotiation(n),
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
