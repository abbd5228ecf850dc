/**
 * The SIP message core (RFC 3261 §7, §20, §25): syntax, parser,
 * serializer, validation. What the transport, transaction, registrar and
 * proxy layers (and auth's digest) import.
 *
 * May import: core, events. No other sip layer; never the application.
 *
 * A TLS/TCP transport, per connection:
 *
 *   const framer = new StreamFramer();
 *   socket.on('data', (chunk) => {
 *     for (const ev of framer.push(chunk)) {
 *       if (ev.type === 'ping') { socket.write(PONG); continue; }   // RFC 5626 §3.5.1
 *       if (ev.type !== 'message') continue;
 *       const r = ev.result;
 *       if (r.ok) { deliver(r.message); continue; }                   // validateRequest next
 *       const res = r.partial?.kind === 'request' ? responseFor(r.partial, r.reaction) : undefined;
 *       if (res) socket.write(serialize(res));
 *       if (r.close) { socket.end(); return; }
 *     }
 *     // arm an idle timer while framer.midMessage (RFC 4475 clerr)
 *   });
 *
 * UDP: parseDatagram(datagram), same result shape, `close` is always false.
 * Then, for requests: stampReceived (top Via), validateRequest (its
 * Reaction answered with responseFor), DigestAuthenticator.verify, and the
 * application.
 */
export * from './result.js';
export * from './status.js';
export * from './limits.js';
export * from './headers.js';
export * from './params.js';
export * from './uri.js';
export * from './name-addr.js';
export * from './via.js';
export * from './cseq.js';
export * from './scalars.js';
export * from './media-type.js';
export * from './message.js';
export { parseDatagram, type ParseOptions, type ParseResult, type ParseSuccess, type ParseFailure } from './parser.js';
export * from './serializer.js';
export * from './validate.js';
