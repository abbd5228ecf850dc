/**
 * Phone provisioning: the route table of every file a phone fetches
 * (routes.ts), rendering vendor configs (render.ts), the HTTPS/HTTP server
 * with digest auth and access rules (http.ts, access.ts), DHCP hints and
 * hooks. The TFTP server is the protocol library in provision/tftp/.
 *
 * Application floor. May import: core, events, pki, home, inventory,
 * vendors, auth, provision/tftp and other protocol folders.
 */
// A map, not a barrel: import the module you need directly.
export {};
