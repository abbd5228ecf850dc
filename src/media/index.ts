/**
 * RTP media: the SRTP echo (echo.ts: receive, re-key, send back; counts
 * loss, jitter and SRTP failures), the echo as a SIP local endpoint
 * (echo-endpoint.ts: answers the INVITE with sdp/answer.ts), RTP/RTCP
 * parsing, G.711, test tones, the media port pool.
 *
 * May import: core, events, srtp, sdp, sip/registrar (the local-endpoint
 * interface). Never the application: the phone's SRTP setting and the
 * event sink are passed in.
 */
// A map, not a barrel: import the module you need directly.
export {};
