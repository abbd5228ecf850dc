/** PEM armour (RFC 7468) with the labels OpenSSL expects. */
export function toPem(label: 'CERTIFICATE' | 'X509 CRL' | 'CERTIFICATE REQUEST', der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof ArrayBuffer ? new Uint8Array(der) : der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
