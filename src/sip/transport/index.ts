/**
 * SIP transports: the stream framer with RFC 5626 keep-alives, the TLS
 * listener (flows keyed by connection, client-certificate identity handed
 * to a resolver), the diagnostic UDP/TCP listeners, and RFC 3581 received.
 *
 * May import: core, sip/message. Never the application.
 */
export * from './framer.js';
export * from './received.js';
export * from './flow.js';
