/**
 * One module per phone vendor (a descriptor: file routes, certificate
 * delivery, SRTP suites and order, TLS limits, quirks with sources) plus
 * its templates/<vendor>/ folder; registry.ts lists them. Adding a vendor
 * touches only its module, its templates and the registry line.
 *
 * Application floor. May import: core, events, pki, home, srtp, sdp.
 */
// A map, not a barrel: import the module you need directly.
export {};
