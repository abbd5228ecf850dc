import { z } from 'zod';
import { formatMac } from '../pki/names.js';
import type { SrtpMode } from '../home/schema.js';
import { BINARY, XML, displayName, file, hostPort, requireMac } from './files.js';
import { binarySafe, encodeGrandstreamBinary } from './grandstream-binary.js';
import { adminPasswordOption, vendorOptions, yesNoOption } from './options.js';
import { renderTemplate } from './templates.js';
import type { RenderContext, RenderedFile, VendorDescriptor, VendorModule } from './types.js';
import { xmlComment, xmlText } from './xml.js';

/**
 * Grandstream GXP (the talk's GXP2120): numbered P-values, delivered twice:
 * `cfg<mac>.xml` (`<gs_provision>`, everything including the inline PEM
 * certificate and key) and the legacy binary `cfg<mac>` (also answered as
 * `cfg<mac>.bin`) that older firmware asks for first, carrying the SIP/TLS
 * and SRTP settings but no PEM. File names use the lower-case MAC.
 * Facts: /work/shared/vendors.md §4.
 */

const ID = 'grandstream';

const descriptor: VendorDescriptor = {
  id: ID,
  name: 'Grandstream GXP (GXP2120, GXP21xx, GXP1xxx; XML and legacy binary provisioning)',
  kind: 'hardware',
  macRequired: true,
  // "File names are lower case" [V] GS-PROV, GS-GXP21.
  macCase: 'lower',
  // P212: 0 TFTP, 1 HTTP, 2 HTTPS on GXP21xx firmware; older firmware only TFTP/HTTP [C] FPBX, [V] GS3.
  transports: ['tftp', 'http', 'https'],
  // P280/P279 inline PEM [C] FPBX gxp21xx; CA slots P8433.. only on newer firmware [C].
  certDelivery: ['inline-pem'],
  srtp: {
    // No suite list for GXP2120-era firmware was found [U]; newer firmware has AES-128/256 key-length choices [C].
    suites: ['AES_CM_128_HMAC_SHA1_80'],
    // Always puts a key lifetime in a=crypto [V] RTPENG-57 (GXP2130).
    sendsLifetime: true,
  },
  tls: {
    // 2011-era firmware, very likely TLS 1.0 only (vendors.md §9.2 [U]); newer firmware has min/max TLS settings [C].
    min: '1.0',
    clientCert: true,
    // Only firmware with P8463 "Validate Server Certificates" can check the registrar against sipsec's CA [C]/[U].
    verifiesServer: 'unknown',
  },
  bootFiles: ['cfg<mac>', 'cfg<mac>.bin', 'cfg<mac>.xml', 'cfg<model>.xml', 'cfg.xml'],
  settings: {
    caTrust: '`P8433` (CA certificate 1) with `P8463` validate server (newer firmware only)',
    transport: '`P130` = 2 (TLS)',
    srtp: '`P183` = 2 (Enabled and forced)',
    clock: '`P30` (NTP server)',
    clientCert: '`P280` / `P279` (SIP TLS certificate / private key)',
  },
  resync: { event: 'resync', source: 'sipsec issue 11 (SPA-style resync); not in the Asterisk sample', confidence: 'unverified' },
  quirks: [
    { text: 'Boot order: binary cfg<mac> first, then cfg<mac>.xml, then cfg<model>.xml and cfg.xml; whether 2011 firmware asks cfg<mac> or cfg<mac>.bin needs a TFTP log, so both are answered', source: 'vendors.md §4.1 (GS-PROV, GS-GXP21)', confidence: 'unverified' },
    { text: 'The legacy binary file has no agreed escaping for & and =; sipsec leaves values it cannot carry verbatim (and all PEM) to the XML file', source: 'vendors.md §4.2 (GS3 vs URL-encoding writers)', confidence: 'unverified' },
    { text: 'Always sends a key lifetime (|2^31 style) in a=crypto; the registrar must accept it (Asterisk 1.8 rejected it)', source: 'vendors.md §4.4 (RTPENG-57, AST-DEV-2011)', confidence: 'verified' },
    { text: 'P2329 (sip: or sips: with TLS) defaults differ per model: sipsec always sets it (1 = sips)', source: 'vendors.md §4.3 (GS-URIDEF, GS-SEC)', confidence: 'verified' },
    { text: 'Contact carries the listening port, not the TLS connection\'s source port (P2331 = 0): the registrar must answer over the existing connection', source: 'vendors.md §4.3 (GS-URIDEF)', confidence: 'verified' },
    { text: 'Whether newlines inside <P280>/<P279> survive the XML parser on GXP2120-era firmware is unknown', source: 'vendors.md §4.3', confidence: 'unverified' },
    { text: 'P-values are those of account 1; other accounts use other numbers, so sipsec provisions account 1 only', source: 'vendors.md §4.3 (FPBX gxp21xx)', confidence: 'community' },
  ],
};

const optionsSchema = vendorOptions(ID, {
  /** Web admin password (P2). */
  admin_password: adminPasswordOption.optional(),
  /**
   * Check the registrar's certificate (P2311, and P8463 on firmware with CA
   * slots). Default no: GXP2120-era firmware has no slot for sipsec's CA
   * (vendors.md §4.3 [U]), so checking could only fail there.
   */
  validate_server: yesNoOption.optional(),
});

type GrandstreamOptions = z.output<typeof optionsSchema>;

/** P183: 0 disabled, 1 enabled but not forced, 2 enabled and forced [C] FPBX; 3 "optional" may be later firmware only, so unused. */
const SRTP_P183: Record<SrtpMode, string> = { mandatory: '2', optional: '1', off: '0' };

interface PValue {
  p: number;
  value: string;
  note: string;
  /** Also written to the legacy binary file (never for PEM). */
  binary: boolean;
}

function pValues(ctx: RenderContext, options: GrandstreamOptions): PValue[] {
  const validate = options.validate_server ?? false;
  const name = displayName(ctx);
  const account: PValue[] = [
    { p: 271, value: '1', note: 'account 1 active', binary: true },
    { p: 270, value: name, note: 'account name', binary: true },
    { p: 47, value: hostPort(ctx.registrar), note: 'SIP server host:port (TLS port)', binary: true },
    { p: 35, value: ctx.sipUser, note: 'SIP user ID', binary: true },
    { p: 36, value: ctx.sipUser, note: 'authenticate ID', binary: true },
    { p: 34, value: ctx.phone.secret, note: 'authenticate password', binary: true },
    { p: 3, value: name, note: 'display name', binary: true },
    { p: 31, value: '1', note: 'register: yes', binary: true },
    { p: 130, value: '2', note: 'SIP transport: 2 = TLS', binary: true },
    // Defaults differ per model [V] GS-URIDEF; Grandstream recommends sips with TLS [V] GS-SEC.
    { p: 2329, value: '1', note: 'SIP URI scheme with TLS: 1 = sips', binary: true },
    { p: 183, value: SRTP_P183[ctx.phone.srtp], note: 'SRTP: 0 disabled, 1 enabled but not forced, 2 enabled and forced', binary: true },
    { p: 2311, value: validate ? '1' : '0', note: 'check domain certificates (RFC 5922)', binary: true },
  ];
  const device: PValue[] = [
    ...(ctx.ntp !== undefined ? [{ p: 30, value: ctx.ntp, note: 'NTP server: certificate checks need the time', binary: true }] : []),
    ...(options.admin_password !== undefined ? [{ p: 2, value: options.admin_password, note: 'admin password', binary: true }] : []),
  ];
  const certificates: PValue[] = [
    // Inline PEM [C] FPBX gxp21xx. Traditional key form: which encodings old firmware reads is unknown [U].
    { p: 280, value: ctx.pem.cert, note: 'SIP TLS certificate (PEM)', binary: false },
    { p: 279, value: ctx.pem.keyLegacy, note: 'SIP TLS private key (PEM, unencrypted)', binary: false },
    { p: 281, value: '', note: 'SIP TLS private key password: none', binary: false },
    // Newer firmware only [C] FPBX gds3705/ghp6xx; older firmware ignores unknown P-values [U].
    { p: 8433, value: ctx.pem.ca, note: 'trusted CA certificate 1 (newer firmware)', binary: false },
    { p: 8463, value: validate ? '1' : '0', note: 'validate server certificates (newer firmware)', binary: false },
  ];
  return [...account, ...device, ...certificates];
}

/** P-values meant for the binary file that it cannot carry verbatim (see binarySafe). */
function binaryLeftOut(values: PValue[]): PValue[] {
  return values.filter((v) => v.binary && !binarySafe(v.value));
}

function renderPhone(ctx: RenderContext): RenderedFile[] {
  const options = optionsSchema.parse(ctx.options);
  const mac = formatMac(requireMac(ctx, descriptor.name), 'lower');
  const values = pValues(ctx, options);
  const owner = { phone: ctx.phone.name };
  const xmlName = `cfg${mac}.xml`;
  const binaryName = `cfg${mac}`;
  const xml = renderTemplate(ID, 'cfg.xml.hbs', {
    fileName: xmlName,
    binaryName,
    name: xmlComment(ctx.phone.name),
    commentUser: xmlComment(ctx.sipUser),
    // Optional, but when present the phone rejects a file for another MAC [V] GS-XML.
    mac,
    values: values.map((v) => ({ p: v.p, note: xmlComment(v.note), value: xmlText(v.value) })),
  });
  const binary = encodeGrandstreamBinary(
    mac,
    values.filter((v) => v.binary && binarySafe(v.value)).map((v) => ({ key: `P${v.p}`, value: v.value })),
  );
  return [
    // The XML holds the private key (P279).
    file(xmlName, xml, XML, { holdsKey: true, ...owner }),
    // The current KB names the binary file cfg<mac>.bin [V] GS-PROV; 2011 firmware asks cfg<mac> [V] GS-GXP21.
    file(binaryName, binary, BINARY, { holdsKey: false, aliases: [`${binaryName}.bin`], ...owner }),
  ];
}

function instructions(ctx: RenderContext): string[] {
  const mac = ctx.phone.mac ? formatMac(ctx.phone.mac, 'lower') : '<mac>';
  const lines = [
    `Grandstream: point DHCP option 66 at the TFTP server ${ctx.tftpServer} (sipsec dhcp --vendor grandstream); the phone fetches cfg${mac} (binary), then cfg${mac}.xml with its certificate and key, and registers over TLS to ${ctx.registrar.host}:${ctx.registrar.port} (account 1).`,
  ];
  if (ctx.phone.line !== 1) lines.push(`Grandstream: only account 1 is provisioned; line ${ctx.phone.line} was ignored.`);
  const options = optionsSchema.parse(ctx.options);
  const left = binaryLeftOut(pValues(ctx, options)).map((v) => `P${v.p} (${v.note})`);
  if (left.length > 0) lines.push(`Grandstream: ${left.join(', ')} contain characters the legacy binary file cannot carry; they are set by cfg${mac}.xml only.`);
  return lines;
}

const grandstream: VendorModule = { descriptor, optionsSchema, renderPhone, instructions };
export default grandstream;
