/**
 * The cryptography of the CA, and nothing about sipsec's records: keys and
 * hashes (keys.ts), certificate profiles (profiles.ts), issuing (x509.ts,
 * certificate.ts), names and SANs, CRLs (crl.ts), PKCS#12, PEM/DER, the
 * ast_tls_cert-compatible layout. The CA home that stores the results is
 * src/home.
 *
 * May import: core only.
 */
// A map, not a barrel: import the module you need directly.
export {};
