/**
 * `sipsec serve`: the application wiring. serve.ts starts the services
 * (TFTP, HTTPS, the registrar with the echo) over one CA home;
 * registrar-service.ts builds the SIP stack; identity.ts answers the
 * registrar's IdentityResolver from the CA home and the vendor registry;
 * server-cert.ts picks or issues the server certificate; control.ts is
 * the local status socket; events.ts the event bus and log.
 *
 * Application floor. May import: anything below it (protocol folders,
 * home, inventory, vendors, provision); verify and cli import serve, not
 * the other way round.
 */
// A map, not a barrel: import the module you need directly.
export {};
