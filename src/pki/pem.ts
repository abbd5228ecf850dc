/** PEM armour (RFC 7468) with the labels OpenSSL expects. */
export function toPem(label: 'CERTIFICATE' | 'X509 CRL' | 'CERTIFICATE REQUEST', der: ArrayBuffer | Uint8Array): string {
  const b64 = Buffer.from(der instanceof ArrayBuffer ? new Uint8Array(der) : der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** The PEM blocks of one label in a text, in order (a CA bundle, a file of several CRLs). */
export function pemBlocks(text: string, label: 'CERTIFICATE' | 'X509 CRL'): string[] {
  const re = new RegExp(`-----BEGIN ${label}-----[\\s\\S]*?-----END ${label}-----`, 'g');
  return (text.match(re) ?? []).map((b) => b + '\n');
}
