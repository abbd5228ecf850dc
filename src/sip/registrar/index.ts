/**
 * The SIP application: what happens to every message a phone sends over
 * its flow. server.ts (the façade the application wires to its
 * transports: flows, own hosts, binding expiry), router.ts (where each
 * message goes: out-of-dialog, in-dialog, ACK), register.ts (the REGISTER
 * handler, RFC 3261 §10.3), auth-gate.ts (lockout, the one digest path for
 * 401 and 407, security log), context.ts (what those parts share, and the
 * register.fail/sip.reject refusals), bindings.ts (the registrar's
 * location service, RFC 3261 §10, RFC 5626 outbound), proxy.ts (RFC 3261
 * §16 forwarding, Record-Route), local-endpoint.ts (extensions answered
 * here, e.g. the SRTP echo), notify.ts (unsolicited NOTIFY for resync),
 * identity.ts (the IdentityResolver interface the application implements:
 * who a certificate or digest user is, which AOR it may register).
 *
 * May import: core, events, every sip/ layer, auth, and the other protocol
 * folders. Never the application (home, serve, inventory, vendors, ...):
 * it gets phones through IdentityResolver and reports through an event
 * sink passed in. Wired up by serve/registrar-service.ts.
 */
// A map, not a barrel: import the module you need directly.
export {};
