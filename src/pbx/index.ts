/**
 * Configs for a real PBX with sipsec's certificates: Asterisk (chan_pjsip,
 * chan_sip) and Kamailio, and where their TLS files live (server-tls.ts).
 *
 * Application floor. May import: core, events, home, inventory, vendors, pki.
 */
// A map, not a barrel: import the module you need directly.
export {};
