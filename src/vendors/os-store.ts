import { createPrivateKey } from 'node:crypto';
import { pkcs8KeyType } from '../pki/pkcs8.js';
import type { RenderContext } from './types.js';

/**
 * For softphones that trust only their operating system's certificate
 * store (Bria: vendors.md §8.4 [V] BRIA-CONF) or whose own certificate
 * settings are unverified (Acrobits, Zoiper): what a person imports, and
 * how to say so without ever printing the secret.
 */

/**
 * A PKCS#12 for importing into an OS store. RSA keys get the legacy profile
 * (3DES key bag, SHA-1 MAC): the one older Windows and macOS key stores
 * import [C]; sipsec's legacy profile is RSA-only (src/pki/pkcs12.ts), so
 * EC keys get the modern profile (AES-256/PBKDF2), which current systems
 * import [U for older ones].
 */
export function p12ForOsImport(ctx: RenderContext): Buffer {
  return ctx.pem.p12(isRsaKey(ctx.pem.key) ? 'legacy' : 'modern');
}

export function isRsaKey(pem: string): boolean {
  // Read from the DER when it is sipsec's own PKCS#8 (an OpenSSL decode costs ~0.5 ms a phone at fleet size).
  const type = pkcs8KeyType(pem);
  if (type !== undefined) return type === 'rsa';
  try {
    return createPrivateKey(pem).asymmetricKeyType === 'rsa';
  } catch {
    return false;
  }
}

/** Where the PKCS#12 password comes from, never the password itself. */
export function p12PasswordHint(ctx: RenderContext): string {
  return `its password is the phone's SIP secret: sipsec phone show ${ctx.phone.name} --show-secret`;
}

/** The OS trust-store step for a CA certificate file, for desktop or mobile systems. */
export function caImportSteps(caFile: string, platforms: 'desktop' | 'mobile'): string {
  if (platforms === 'mobile') {
    return `install ${caFile} as a trusted CA: iOS: open it as a profile, install, then enable it in Settings > General > About > Certificate Trust Settings; Android: Settings > Security > Install a certificate > CA certificate`;
  }
  return `import ${caFile} as a trusted root: Windows: certutil -addstore Root ${caFile}; macOS: sudo security add-trusted-cert -d -r trustRoot -k /Library/Keychains/System.keychain ${caFile}`;
}
