/**
 * Which offered audio formats the echo's answer keeps (RFC 3264 §6.1: the
 * answer's formats come from the offer's list).
 */
import { rtpMaps, type RtpMap, type SdpMedia } from './sdp.js';

/**
 * Which offered audio formats the answer keeps. The echo reflects payload
 * without decoding it, so any codec works:
 * - `'echo-first'`: the first offered format that is not telephone-event or
 *   CN, plus telephone-event at that clock rate when offered;
 * - `{ encodings: [...] }`: every offered format whose encoding name is
 *   listed (case-insensitive, e.g. `['PCMU', 'PCMA', 'G722', 'telephone-event']`), in offer order.
 */
export type CodecPolicy = 'echo-first' | { readonly encodings: readonly string[] };

/** The main (non-DTMF) codec answered: its rtpmap, or a static payload type without one. */
export type AnsweredCodec = RtpMap | { payloadType: number; encoding: string; clockRate?: number };

const DTMF = 'telephone-event';

interface CodecChoice {
  formats: string[];
  codec?: AnsweredCodec;
}

function encodingOf(fmt: string, maps: Map<string, RtpMap>): string | undefined {
  return maps.get(fmt)?.encoding;
}

export function chooseCodecs(m: SdpMedia, policy: CodecPolicy): CodecChoice | undefined {
  const maps = rtpMaps(m);
  const isDtmf = (f: string): boolean => encodingOf(f, maps)?.toLowerCase() === DTMF;
  const isCn = (f: string): boolean => encodingOf(f, maps)?.toUpperCase() === 'CN';
  const codecOf = (f: string): AnsweredCodec => {
    const map = maps.get(f);
    if (map) return map;
    return { payloadType: Number(f), encoding: `payload type ${f}` };
  };

  if (policy === 'echo-first') {
    const main = m.formats.find((f) => !isDtmf(f) && !isCn(f));
    if (main === undefined) return undefined;
    const clock = maps.get(main)?.clockRate;
    // RFC 4733 §7.1.1: telephone-event runs at the codec's RTP clock; offer
    // several, and we keep the ones that match (all if the codec's clock is unknown).
    const dtmf = m.formats.filter((f) => isDtmf(f) && (clock === undefined || maps.get(f)?.clockRate === clock));
    return { formats: [main, ...dtmf], codec: codecOf(main) };
  }
  const wanted = new Set(policy.encodings.map((e) => e.toLowerCase()));
  const formats = m.formats.filter((f) => {
    const enc = encodingOf(f, maps);
    return enc !== undefined && wanted.has(enc.toLowerCase());
  });
  const main = formats.find((f) => !isDtmf(f));
  if (main === undefined) return undefined;
  return { formats, codec: codecOf(main) };
}

export function describeFormats(m: SdpMedia): string {
  const maps = rtpMaps(m);
  return m.formats.map((f) => (maps.has(f) ? `${f} ${maps.get(f)?.encoding}` : f)).slice(0, 8).join(', ');
}
