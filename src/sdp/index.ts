/**
 * SDP (RFC 4566) and SDES-SRTP offer/answer (RFC 3264, RFC 4568):
 *  - sdp.ts: parse and serialize session descriptions;
 *  - sdes.ts: a=crypto lines, suites and inline keys;
 *  - policy.ts: what sipsec accepts (SrtpMode, AnswerPolicy), the verdict
 *    on each offered line, the Warning text of a 488;
 *  - answer.ts: answerOffer, the echo's SDES answer;
 *  - offer.ts: buildOffer/processAnswer (probe, verify) and the session
 *    builder both sides share;
 *  - reoffer.ts: did a re-INVITE change the keys;
 *  - codecs.ts, key-material.ts, report.ts (JSON view for events).
 *
 * May import: core, events, srtp. Never the application.
 */
// A map, not a barrel: import the module you need directly.
export {};
