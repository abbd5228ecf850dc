import type { VendorDescriptor } from '../vendors/types.js';

/**
 * Known failure modes and what to do about them: every failure from the
 * 2011 talk and the usual others. Each hint names the phone's own setting
 * (from its vendor descriptor) and the sipsec command that fixes it.
 */
export type FailureMode =
  | 'phone-rejects-ca'
  | 'name-mismatch'
  | 'client-cert-foreign'
  | 'client-cert-missing'
  | 'client-cert-revoked'
  | 'client-cert-expired'
  | 'client-cert-old'
  | 'phone-clock'
  | 'tls-version'
  | 'udp-registration'
  | 'wrong-password'
  | 'aor-mismatch'
  | 'locked-out'
  | 'suite-mismatch'
  | 'lifetime-refused'
  | 'srtp-off'
  | 'srtp-auth'
  | 'one-way-audio'
  | 'provisioning-denied'
  | 'key-window';

export interface HintContext {
  phone: string;
  vendor: VendorDescriptor | undefined;
  ip?: string | undefined;
  detail?: string | undefined;
}

const setting = (v: VendorDescriptor | undefined, k: keyof NonNullable<VendorDescriptor['settings']>, fallback: string) => v?.settings?.[k] ?? fallback;

export function hint(mode: FailureMode, c: HintContext): string {
  const v = c.vendor;
  switch (mode) {
    case 'phone-rejects-ca':
      return `"unable to get local issuer certificate": the phone does not trust sipsec's CA. Put ca.crt in ${setting(v, 'caTrust', "the phone's trusted CA list")} (sipsec provision render; the file is in its routes), then reboot the phone.`;
    case 'name-mismatch':
      return `"Certificate common name did not match${c.ip ? ` (${c.ip})` : ''}": the name or address the phone dials is not in the server certificate. Re-issue it with that name: sipsec server add NAME --ip ${c.ip ?? 'ADDRESS'} (or --dns NAME), then restart serve with --cert NAME.`;
    case 'client-cert-foreign':
      return `the phone presents a certificate from another CA. Provision sipsec's: ${setting(v, 'clientCert', 'its client certificate setting')} (sipsec provision render, then re-provision ${c.phone}).`;
    case 'client-cert-missing':
      return `the phone presented no client certificate. Set ${setting(v, 'clientCert', 'its client certificate')}, or allow it with serve --client-cert optional.`;
    case 'client-cert-revoked':
      return `the phone's certificate is revoked. Issue a new one and re-provision: sipsec cert renew ${c.phone} && sipsec provision render.`;
    case 'client-cert-expired':
      return `the phone's certificate has expired. sipsec cert renew ${c.phone} && sipsec provision render.`;
    case 'client-cert-old':
      return `the phone still uses an older certificate of its own (renewed since). Re-provision it so it fetches the current one.`;
    case 'phone-clock':
      return `the phone's clock is outside the certificate's validity (it rejected a valid certificate as expired or not yet valid). Give it a time source: ${setting(v, 'clock', 'its NTP setting')} (sipsec ca config --ntp HOST).`;
    case 'tls-version':
      return `the phone and sipsec share no TLS version or cipher. Old firmware may speak only TLS 1.0: start serve with --tls-min 1.0 (and --ciphers if needed), or update the firmware.`;
    case 'udp-registration':
      return `the phone registers over UDP/TCP on 5060 instead of TLS on 5061. Set ${setting(v, 'transport', 'its SIP transport to TLS')}.`;
    case 'wrong-password':
      return `digest authentication failed: the phone's SIP password differs from sipsec's. Re-provision (sipsec provision render) or check the secret with sipsec phone show ${c.phone} --show-secret.`;
    case 'aor-mismatch':
      return `the phone registers an address of record that its certificate does not name. Its SIP user must be its extension (sipsec phone show ${c.phone}).`;
    case 'locked-out':
      return `too many failed logins from ${c.ip ?? 'its address'}: sipsec refuses it for a while. Fix the password, then wait or restart serve.`;
    case 'suite-mismatch':
      return `no common SRTP suite (${c.detail ?? 'AES_CM_128_HMAC_SHA1_80 vs _32'}). sipsec's echo accepts every suite the phone offers unless restricted; check ${setting(v, 'srtp', 'its SRTP settings')}.`;
    case 'lifetime-refused':
      return `the phone puts a key lifetime (|2^31) in a=crypto; RFC 4568 allows it and sipsec accepts it, but Asterisk before 13 refused it: update the PBX or turn the lifetime off on the phone.`;
    case 'srtp-off':
      return `SRTP is off on the phone: it offered plain RTP. Set ${setting(v, 'srtp', 'its SRTP mode to mandatory')} (sipsec phone add --srtp mandatory renders it).`;
    case 'srtp-auth':
      return `SRTP packets failed authentication: the phone encrypts with a key or suite other than the one it signalled (or the media is replayed). Update the firmware, or try another suite order.`;
    case 'one-way-audio':
      return `one-way audio: ${c.detail ?? 'media flows only in one direction'}. Check NAT/firewall rules for the RTP ports and that the phone decrypts sipsec's key.`;
    case 'provisioning-denied':
      return `sipsec refused files to the phone: ${c.detail ?? ''}. Record its address with --ip, fetch over HTTPS with its credentials, or widen --allow.`;
    case 'key-window':
      return `the phone asked for its private key after the key window closed. Restart serve (a new window opens), or let it fetch over HTTPS.`;
  }
}
