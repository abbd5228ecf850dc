/**
 * Authentication shared by SIP and HTTP provisioning: RFC 7616/8760 digest
 * (MD5, SHA-256, SHA-512-256), server nonces with replay checks, and the
 * fail2ban-style lockout per address.
 *
 * May import: core, sip/message (the header grammar). Never the application.
 */
export * from './digest.js';
export * from './nonce.js';
export * from './authenticator.js';
export * from './lockout.js';
