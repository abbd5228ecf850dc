/**
 * `sipsec doctor`: what a deployment gets wrong before a phone boots
 * (server certificate names, NTP, secrets over plain transports, expiry,
 * the CRL, the CA key), as findings with stable codes and fixes.
 * checks.ts is pure; doctor.ts gathers its input from the CA home.
 *
 * Application floor: may import home, vendors, pki and everything below.
 */
export {};
