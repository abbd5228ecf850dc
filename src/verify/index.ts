/**
 * `sipsec verify`, `probe` and `demo`: judge what a phone did from the
 * serve event stream (evaluate.ts, with hints.ts), call a phone as a SIP
 * client (probe.ts, sip-client.ts), and report (html.ts).
 *
 * Application floor. May import: anything below it, including serve.
 */
// A map, not a barrel: import the module you need directly.
export {};
