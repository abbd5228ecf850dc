/**
 * The CA home and its records: the on-disk formats validated with zod
 * (schema.ts: config, index, phones), the locked store with atomic writes
 * (store.ts), its paths (paths.ts), the operations commands run on it
 * (operations.ts: init, issue, renew, revoke), and which server
 * certificate a server presents (server-cert.ts, for serve and pbx).
 *
 * Application floor. May import: core, events, pki, and protocol folders
 * for shared vocabulary (sdp/policy.ts's SrtpMode).
 */
// A map, not a barrel: import the module you need directly.
export {};
