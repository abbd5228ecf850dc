import type { FailureCode } from '../events/index.js';
import type { VendorDescriptor } from '../vendors/types.js';

/**
 * Known failure modes and what to do about them: every failure from the
 * 2011 talk and the usual others. Each hint names the phone's own setting
 * (from its vendor descriptor) and the sipsec command that fixes it.
 */
export type FailureMode =
  | 'phone-rejects-ca'
  | 'name-mismatch'
  | 'server-cert-foreign'
  | 'server-cert-invalid'
  | 'client-cert-foreign'
  | 'client-cert-missing'
  | 'client-cert-revoked'
  | 'client-cert-expired'
  | 'client-cert-old'
  | 'phone-clock'
  | 'tls-version'
  | 'handshake-aborted'
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
  /** Words for the operator (an alert, a reason, a transport): shown, never parsed. */
  detail?: string | undefined;
  /** The event's failure code: what the hint keys on where one mode covers several codes. */
  code?: FailureCode | undefined;
  /** For a refused SDES offer: the suites the phone offered, and those the echo accepts when limited (--echo-suites). */
  suites?: { offered: readonly string[]; accepted: readonly string[] } | undefined;
}

const setting = (v: VendorDescriptor | undefined, k: keyof NonNullable<VendorDescriptor['settings']>, fallback: string) => v?.settings?.[k] ?? fallback;

export function hint(mode: FailureMode, c: HintContext): string {
  const v = c.vendor;
  switch (mode) {
    case 'phone-rejects-ca': {
      const trust = `Put ca.crt in ${setting(v, 'caTrust', "the phone's trusted CA list")} (sipsec provision render; the file is in its routes), then reboot the phone.`;
      // unknown_ca names the cause; bad_certificate and certificate_unknown are what many stacks send for a name mismatch too.
      if (c.code !== 'tls.unknown_ca') {
        return `the phone rejected sipsec's certificate (it sent ${c.detail}). Either it does not trust sipsec's CA ("unable to get local issuer certificate"): ${trust} Or the name or address it dials is not in the server certificate ("common name did not match"): re-issue it with that name, sipsec server add NAME --ip ADDRESS (or --dns NAME), and restart serve with --cert NAME. sipsec probe sips:ADDRESS --as ${c.phone} tells which.`;
      }
      return `"unable to get local issuer certificate": the phone does not trust sipsec's CA. ${trust}`;
    }
    case 'name-mismatch':
      return `"Certificate common name did not match${c.ip ? ` (${c.ip})` : ''}": the name or address the phone dials is not in the server certificate. Re-issue it with that name: sipsec server add NAME --ip ${c.ip ?? 'ADDRESS'} (or --dns NAME), then restart serve with --cert NAME.`;
    case 'server-cert-foreign':
      return `"unable to get local issuer certificate": the server presents a certificate that sipsec's CA did not issue, so no phone provisioned by sipsec will trust it. Give the server a sipsec certificate: sipsec server add NAME --dns NAME --ip ADDRESS, then sipsec pbx asterisk|kamailio --out DIR (or serve --cert NAME).`;
    case 'server-cert-invalid':
      return `the server certificate is from sipsec's CA but not valid (${c.detail ?? 'see the detail'}): expired, not yet valid, or revoked. Renew it (sipsec cert renew NAME) and install it again.`;
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
    case 'handshake-aborted':
      return `the TLS handshake broke off without a reason sipsec could read${c.detail ? ` (${c.detail})` : ''}. A phone that closes the connection silently has usually rejected sipsec's certificate: check that ca.crt is in ${setting(v, 'caTrust', "the phone's trusted CA list")} and that the registrar name it dials is in the server certificate (sipsec probe sips:HOST --as ${c.phone} shows both); else its TLS version (serve --tls-min).`;
    case 'udp-registration':
      return `the phone sends SIP over ${c.detail ?? 'UDP/TCP'} to the plain SIP port (5060) instead of TLS to the registrar's TLS port (5061). Set ${setting(v, 'transport', 'its SIP transport to TLS')}, and re-provision it.`;
    case 'wrong-password':
      return `digest authentication failed: the phone's SIP password differs from sipsec's. Re-provision (sipsec provision render) or check the secret with sipsec phone show ${c.phone} --show-secret.`;
    case 'aor-mismatch':
      return `the phone registers an address of record that its certificate does not name. Its SIP user must be its extension (sipsec phone show ${c.phone}).`;
    case 'locked-out':
      return `too many failed logins from ${c.ip ?? 'its address'}: sipsec refuses it for a while. Fix the password, then wait or restart serve.`;
    case 'suite-mismatch':
      return suiteHint(c.suites ?? { offered: [], accepted: [] }, c.detail, setting(v, 'srtp', 'its SRTP settings'));
    case 'lifetime-refused':
      return `the phone puts a key lifetime (|2^31) in a=crypto; RFC 4568 allows it and sipsec accepts it, but Asterisk before 13 refused it: update the PBX or turn the lifetime off on the phone.`;
    case 'srtp-off':
      return c.detail === 'off'
        ? `SRTP is off on the phone: it called in plain RTP, as sipsec renders it, because the inventory holds it at --srtp off (the echo answers such a phone in clear so its audio path can still be heard). Turn SRTP on: sipsec phone edit ${c.phone} --srtp mandatory, and re-provision it, so it gets ${setting(v, 'srtp', 'its SRTP setting on')}.`
        : `SRTP is off on the phone: it offered plain RTP although sipsec holds it to SRTP (${c.detail ?? 'mandatory'}), so its settings were changed by hand or never provisioned. Set ${setting(v, 'srtp', 'its SRTP mode to mandatory')} (re-provision it: sipsec renders that).`;
    case 'srtp-auth':
      return `SRTP packets failed authentication: the phone encrypts with a key or suite other than the one it signalled (or the media is replayed). Update the firmware, or try another suite order.`;
    case 'one-way-audio':
      return `one-way audio: ${c.detail ?? 'media flows only in one direction'}. Check NAT/firewall rules for the RTP ports and that the phone decrypts sipsec's key.`;
    case 'provisioning-denied':
      return `sipsec refused files to the phone: ${c.detail ?? ''}. Record its address (sipsec phone edit ${c.phone} --ip ADDRESS), fetch over HTTPS with its credentials, or widen --allow.`;
    case 'key-window':
      return `the phone asked for its private key after the key window closed. Restart serve (a new window opens), or let it fetch over HTTPS.`;
  }
}

/**
 * No common SDES suite, from the suites the phone offered (in its order)
 * and those the echo accepts when serve limits them (--echo-suites; empty
 * = every suite sipsec supports). The talk's case is _80 versus _32: the
 * same AES-CM cipher, an 80- or 32-bit tag, and each side insisting on its
 * own.
 */
function suiteHint(suites: { offered: readonly string[]; accepted: readonly string[] }, detail: string | undefined, srtpSetting: string): string {
  const { offered, accepted } = suites;
  const tag = (list: readonly string[], bits: string) => list.some((x) => x.endsWith(`HMAC_SHA1_${bits}`));
  const classic = accepted.length > 0 && ((tag(offered, '32') && !tag(offered, '80') && tag(accepted, '80') && !tag(accepted, '32')) || (tag(offered, '80') && !tag(offered, '32') && tag(accepted, '32') && !tag(accepted, '80')));
  const shown = offered.length > 0 ? offered.join(', ') : detail;
  const what = shown ? ` (offered: ${shown}${accepted.length ? `; accepted: ${accepted.join(', ')}` : ''})` : '';
  const head = `no common SRTP suite${what}.`;
  const why = classic
    ? ' This is _80 versus _32: the same AES-CM cipher with an 80-bit or a 32-bit authentication tag, and each side names only its own. Offer both on the phone (or accept both on the PBX).'
    : '';
  const where = accepted.length
    ? ` serve was started with --echo-suites, so the echo accepts only those, as a PBX limited to them would: offer one of them on the phone (${srtpSetting}), or widen --echo-suites.`
    : ` sipsec's echo accepts every suite sipsec supports, so the phone offered none it knows: check ${srtpSetting}.`;
  return head + why + where;
}
