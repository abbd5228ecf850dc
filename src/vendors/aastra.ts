import { z } from 'zod';
import { formatMac } from '../pki/names.js';
import type { SrtpMode } from '../home/schema.js';
import { PEM, TEXT, displayName, file, lineValue, requireMac } from './files.js';
import { vendorOptions, yesNoOption } from './options.js';
import { renderTemplate } from './templates.js';
import type { RenderContext, RenderedFile, SharedRenderContext, VendorDescriptor, VendorModule } from './types.js';

/**
 * Aastra / Mitel 6700i-9000i (the talk's 57i, firmware 3.2.2): `key: value`
 * files fetched at boot, aastra.cfg then <MAC>.cfg (upper-case MAC), with
 * the TLS certificate and key in separate PEM files that the config names.
 * Facts: /work/shared/vendors.md §2 (source ids in brackets).
 */

const ID = 'aastra';

const descriptor: VendorDescriptor = {
  id: ID,
  name: 'Aastra/Mitel 6700i/9000i (57i, 6730i, 6731i, 6755i, 6757i; firmware 3.2.x)',
  kind: 'hardware',
  macRequired: true,
  // FPBX/WAZO serve <MAC>.cfg in upper case [C]; whether the phone also asks lower case is unknown [U].
  macCase: 'upper',
  // `download protocol:` TFTP/FTP/HTTP/HTTPS [C] FPBX, WAZO. First boot must be TFTP or HTTP:
  // HTTPS validation is on by default and trusts only built-in roots (AAS-322-HTTPS) [V].
  transports: ['tftp', 'http', 'https'],
  certDelivery: ['files'],
  srtp: {
    // Offer only _80: the talk's "crashed when offered AES_CM_128_HMAC_SHA1_32" has no source but
    // nothing contradicts it either (vendors.md §2.4 [U]); no suite-selection key exists [U].
    suites: ['AES_CM_128_HMAC_SHA1_80'],
  },
  tls: {
    // 2011-era firmware very likely speaks TLS 1.0 only; no source states it (vendors.md §9.2 [U]).
    min: '1.0',
    // `sips local certificate` + `sips private key` [V] AAS-TLS, TELNYX-MITEL.
    clientCert: true,
    // Trusted certificates are configured, but whether 3.2.2 checks the SIP server's CN/SAN is undocumented [U].
    verifiesServer: 'unknown',
  },
  bootFiles: ['aastra.cfg', '<model>.cfg', '<MAC>.cfg'],
  settings: {
    caTrust: '`sips trusted certificates: <MAC>-ca.pem` in <MAC>.cfg',
    transport: '`sip transport protocol: 4`',
    srtp: '`sip srtp mode: 2` (RTP Encryption: SRTP only)',
    clock: '`time server1:` (NTP) in aastra.cfg',
    clientCert: '`sips local certificate` / `sips private key`',
  },
  resync: { event: 'check-sync', source: 'Asterisk pjsip_notify.conf.sample [aastra-check-cfg]', confidence: 'verified' },
  quirks: [
    { text: 'aastra.cfg must not be empty, or the phone does not go on to fetch <MAC>.cfg', source: 'vendors.md §2.1 (FPBX aastra/675x/aastra.cfg)', confidence: 'community' },
    { text: 'SIP transport is global: `sip transport protocol: 4` (TLS) applies to every line', source: 'vendors.md §2.3 (AAS-A84, AAS-322-A104)', confidence: 'verified' },
    { text: 'Persistent TLS needs the outbound proxy set; the phone keeps one TLS connection from local port 5061', source: 'vendors.md §2.3 (AAS-TLS)', confidence: 'verified' },
    { text: 'Reported to crash when offered AES_CM_128_HMAC_SHA1_32: sipsec offers AES_CM_128_HMAC_SHA1_80 only', source: 'the 2011 talk; no written source (vendors.md §2.4)', confidence: 'unverified' },
    { text: 'Loses audio after hold if the far end re-keys SRTP on a re-INVITE with unchanged parameters: keep the same key', source: 'vendors.md §2.4 (rtpengine#102)', confidence: 'verified' },
    { text: 'HTTPS provisioning validates the server certificate against built-in roots by default and compares the commonName only: boot over TFTP/HTTP, put the FQDN in CN and SAN', source: 'vendors.md §2.3 (AAS-322-HTTPS)', confidence: 'verified' },
    { text: 'No private-key password setting exists: the key file is served unencrypted (PKCS#1/SEC1 form)', source: 'vendors.md §2.3', confidence: 'unverified' },
    { text: 'Which of DHCP options 43/159/160 firmware 3.2.2 honours is unconfirmed; option 66 works', source: 'vendors.md §2.1 (AAS-DHCP)', confidence: 'unverified' },
  ],
};

const optionsSchema = vendorOptions(ID, {
  /** Keep one TLS connection open to the registrar (default yes). */
  persistent_tls: yesNoOption.optional(),
});

type AastraOptions = z.output<typeof optionsSchema>;

/** `sip srtp mode`: 0 disabled, 1 SRTP preferred, 2 SRTP only [V] AAS-322-SRTP, WAZO `_SIP_SRTP_MODE`. */
const SRTP_MODE: Record<SrtpMode, string> = { mandatory: '2', optional: '1', off: '0' };

/**
 * A value as Aastra reads it: `#` starts a comment, so a value holding one
 * is written in double quotes as public templates do (vendors.md §2.2 [U]).
 * Secrets and display names can never hold a quote (refused on input).
 */
function aastraValue(value: string, what: string): string {
  const v = lineValue(value, what);
  return v.includes('#') ? `"${v}"` : v;
}

/** The certificate files one phone's config names, by the phone's upper-case MAC. */
function certFiles(macUpper: string) {
  return {
    trusted: `${macUpper}-ca.pem`,
    chain: `${macUpper}-chain.pem`,
    cert: `${macUpper}-cert.pem`,
    key: `${macUpper}-key.pem`,
  };
}

function renderPhone(ctx: RenderContext): RenderedFile[] {
  const options: AastraOptions = optionsSchema.parse(ctx.options);
  const macUpper = formatMac(requireMac(ctx, descriptor.name), 'upper');
  const files = certFiles(macUpper);
  const owner = { phone: ctx.phone.name };
  // Persistent TLS by default: the phone then holds one connection the registrar can send incoming
  // INVITEs back over (through NAT and firewalls), instead of the registrar having to connect to the
  // phone, which without it uses a random local port per connection [V] AAS-TLS.
  const persistentTls = options.persistent_tls ?? true;
  const cfg = renderTemplate(ID, 'phone.cfg.hbs', {
    macUpper,
    name: ctx.phone.name,
    sipUser: aastraValue(ctx.sipUser, 'SIP user'),
    secret: aastraValue(ctx.phone.secret, 'SIP secret'),
    displayName: aastraValue(displayName(ctx), 'display name'),
    line: ctx.phone.line,
    registrarHost: lineValue(ctx.registrar.host, 'registrar host'),
    registrarPort: ctx.registrar.port,
    ntp: ctx.ntp === undefined ? undefined : lineValue(ctx.ntp, 'NTP server'),
    persistentTls,
    srtpMode: SRTP_MODE[ctx.phone.srtp],
    files,
  });
  return [
    file(`${macUpper}.cfg`, cfg, TEXT, { holdsKey: false, ...owner }),
    file(files.trusted, ctx.pem.ca, PEM, { holdsKey: false, ...owner }),
    file(files.chain, ctx.pem.ca, PEM, { holdsKey: false, ...owner }),
    file(files.cert, ctx.pem.cert, PEM, { holdsKey: false, ...owner }),
    // Traditional (PKCS#1/SEC1) form: which key encodings 3.2.2 reads is undocumented (vendors.md §10 [U]);
    // the traditional form is the one every OpenSSL-era PEM reader accepts.
    file(files.key, ctx.pem.keyLegacy, PEM, { holdsKey: true, ...owner }),
  ];
}

function renderShared(ctx: SharedRenderContext): RenderedFile[] {
  const cfg = renderTemplate(ID, 'aastra.cfg.hbs', {
    org: lineValue(ctx.org, 'organisation'),
    ntp: ctx.ntp === undefined ? undefined : lineValue(ctx.ntp, 'NTP server'),
  });
  return [file('aastra.cfg', cfg, TEXT, { holdsKey: false })];
}

function instructions(ctx: RenderContext): string[] {
  const mac = ctx.phone.mac ? formatMac(ctx.phone.mac, 'upper') : '<MAC>';
  return [
    `Aastra: point DHCP option 66 at the TFTP server ${ctx.tftpServer} (sipsec dhcp --vendor aastra); the phone fetches aastra.cfg, then ${mac}.cfg and its four ${mac}-*.pem files, and registers over TLS to ${ctx.registrar.host}:${ctx.registrar.port}.`,
    'Aastra: boot it over TFTP or HTTP, not HTTPS (it trusts only built-in roots for HTTPS provisioning); its private key travels in that boot, so keep the TFTP server on the phones\' network.',
  ];
}

const aastra: VendorModule = { descriptor, optionsSchema, renderPhone, renderShared, instructions };
export default aastra;
