import { z } from 'zod';
import { formatMac } from '../pki/names.js';
import type { SrtpMode } from '../home/schema.js';
import { PEM, TEXT, displayName, file, lineValue, requireMac } from './files.js';
import { vendorOptions, yesNoOption } from './options.js';
import { renderTemplate } from './templates.js';
import type { RenderContext, RenderedFile, SharedRenderContext, VendorDescriptor, VendorModule } from './types.js';

/**
 * Yealink T4x: `key = value` files under a `#!version:1.0.0.1` first line.
 * Without boot files the phone fetches the common `y0000000000XX.cfg` (XX
 * = its firmware prefix) and then `<mac>.cfg` (lower-case MAC); the
 * certificates are URLs the phone downloads, here under the provisioning
 * URL. Facts: /work/shared/vendors.md §5.
 */

const ID = 'yealink';

/**
 * Firmware prefixes (first field of the firmware version) by model [V] WAZO
 * UA examples; T46S [C] FPBX. That XX in y0000000000XX.cfg is this prefix
 * is an inference (vendors.md §5.1 [U]); other models: give the prefix.
 */
const PREFIXES: Record<string, number> = { W52P: 25, T46G: 28, T42G: 29, T48G: 35, T41P: 36, T46S: 66 };
const DEFAULT_MODEL = 'T46G';

const descriptor: VendorDescriptor = {
  id: ID,
  name: 'Yealink T4x (T41P, T42G, T46G, T48G, T46S; firmware 80 and later)',
  kind: 'hardware',
  macRequired: true,
  // Lower case, no separators [V] WAZO format_mac.
  macCase: 'lower',
  transports: ['tftp', 'http', 'https'],
  // static.trusted_certificates.url / static.server_certificates.url [C] FPBX; feature set [V] YEA-TLS.
  certDelivery: ['url'],
  srtp: {
    // The phone offers _80, _32 and F8 [V] YEA-SRTP; AES_256 breaks audio on firmware 87 [V] YEA-87: never offer it.
    suites: ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'],
  },
  tls: {
    // A custom device ("server") certificate replaces the built-in Yealink one [V] YEA-TLS.
    clientCert: true,
    // "Only accept trusted certificates" is switched on by sipsec's files.
    verifiesServer: true,
  },
  bootFiles: ['<mac>.boot', 'y000000000000.boot', 'y0000000000<XX>.cfg', '<mac>.cfg'],
  settings: {
    caTrust: '`static.trusted_certificates.url` (and `static.security.ca_cert`)',
    transport: '`account.1.sip_server.1.transport_type = 2`',
    srtp: '`account.1.srtp_encryption`',
    clock: '`local_time.ntp_server1`',
    clientCert: '`static.server_certificates.url` (and `static.security.dev_cert`)',
  },
  resync: { event: 'check-sync;reboot=false', rebootEvent: 'check-sync;reboot=true', source: 'Yealink admin guide (check-sync with reboot parameter), as Snom in the Asterisk sample', confidence: 'community' },
  quirks: [
    { text: 'The first line of every file must be exactly #!version:1.0.0.1', source: 'vendors.md §5.2 (YEA-BOOT)', confidence: 'verified' },
    { text: 'account.N.srtp_encryption values are disputed (0/1/2 = off/optional/compulsory, or off/forced/negotiated): sipsec writes 2 for mandatory and 1 for optional, so either reading never encrypts less than asked', source: 'vendors.md §5.3', confidence: 'unverified' },
    { text: 'SRTP with AES_256_CM_HMAC_SHA1_80 has no audio on firmware 87: prefer AES_CM_128_HMAC_SHA1_80', source: 'vendors.md §5.4 (YEA-87)', confidence: 'verified' },
    { text: 'static.security.ca_cert = 2 (all CAs) and dev_cert = 1 (custom certificate) follow the usual enumerations, which no source confirmed', source: 'vendors.md §5.3', confidence: 'unverified' },
    { text: 'Whether the custom device certificate file must also hold the key is unknown: sipsec serves certificate and key in one PEM', source: 'vendors.md §5.3', confidence: 'unverified' },
    { text: 'XX in y0000000000XX.cfg is the firmware prefix of the model (T46G 28, T48G 35, ...)', source: 'vendors.md §5.1 (WAZO UA examples, FPBX)', confidence: 'unverified' },
    { text: 'The clock must be right before certificates can be checked: NTP is always provisioned when configured', source: 'vendors.md §5.3 (Yealink certificates guide V83)', confidence: 'verified' },
  ],
};

/** `t46g`, `T46G`, or a firmware prefix `28` → the canonical spelling stored with the phone. */
const modelOption = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const s = String(v).trim().toUpperCase();
  // y000000000000 is the boot file's name, never a model's: the prefix starts at 1.
  if (/^\d{1,3}$/.test(s) && Number(s) > 0) return String(Number(s));
  if (Object.hasOwn(PREFIXES, s)) return s;
  ctx.addIssue({ code: 'custom', message: `unknown Yealink model '${String(v).slice(0, 40)}'; known: ${Object.keys(PREFIXES).join(', ')}, or give the firmware prefix (the first number of its firmware version, e.g. 28 for 28.83.0.50)` });
  return z.NEVER;
});

const optionsSchema = vendorOptions(ID, {
  /** Model name or firmware prefix: names the common file y0000000000XX.cfg (default T46G). */
  model: modelOption.optional(),
  /** Check that the registrar's certificate names the host the phone connects to (RFC 2818; default yes). */
  validate_cn: yesNoOption.optional(),
});

/**
 * account.N.srtp_encryption. The numbers are disputed (vendors.md §5.3 [U]):
 * most sources say 0 disabled / 1 optional / 2 compulsory, FPBX says
 * 0 disabled / 1 forced / 2 negotiated. Under either reading 2 still
 * encrypts (and sipsec's registrar holds a mandatory phone to SRTP), and 1
 * at worst forces SRTP on an "optional" phone: never less than asked.
 */
const SRTP_ENCRYPTION: Record<SrtpMode, string> = { mandatory: '2', optional: '1', off: '0' };

function commonFileName(model: string): string {
  const prefix = Object.hasOwn(PREFIXES, model) ? PREFIXES[model]! : Number(model);
  return `y${String(prefix).padStart(12, '0')}.cfg`;
}

function modelOf(options: Record<string, unknown>): string {
  return optionsSchema.parse(options).model ?? DEFAULT_MODEL;
}

const CA_FILE = 'yealink-ca.pem';

function renderPhone(ctx: RenderContext): RenderedFile[] {
  const options = optionsSchema.parse(ctx.options);
  const mac = formatMac(requireMac(ctx, descriptor.name), 'lower');
  const certFile = `${mac}-cert.pem`;
  const cfgName = `${mac}.cfg`;
  const cfg = renderTemplate(ID, 'mac.cfg.hbs', {
    fileName: cfgName,
    name: ctx.phone.name,
    sipUser: lineValue(ctx.sipUser, 'SIP user'),
    secret: lineValue(ctx.phone.secret, 'SIP secret'),
    displayName: lineValue(displayName(ctx), 'display name'),
    line: ctx.phone.line,
    registrarHost: lineValue(ctx.registrar.host, 'registrar host'),
    registrarPort: ctx.registrar.port,
    ntp: ctx.ntp === undefined ? undefined : lineValue(ctx.ntp, 'NTP server'),
    caUrl: lineValue(`${ctx.provisioningUrl}${CA_FILE}`, 'provisioning URL'),
    certUrl: lineValue(`${ctx.provisioningUrl}${certFile}`, 'provisioning URL'),
    cnValidation: (options.validate_cn ?? true) ? '1' : '0',
    srtp: SRTP_ENCRYPTION[ctx.phone.srtp],
  });
  const owner = { phone: ctx.phone.name };
  return [
    file(cfgName, cfg, TEXT, { holdsKey: false, ...owner }),
    // Certificate and key in one PEM: works whether or not the firmware wants the key in this file [U];
    // traditional key form, the one every OpenSSL-era reader accepts.
    file(certFile, ctx.pem.cert + ctx.pem.keyLegacy, PEM, { holdsKey: true, ...owner }),
  ];
}

function renderShared(ctx: SharedRenderContext): RenderedFile[] {
  const models = new Set(ctx.phones.map((p) => modelOf(p.options)));
  if (models.size === 0) models.add(DEFAULT_MODEL);
  const common = [...models].sort().map((model) => {
    const fileName = commonFileName(model);
    const cfg = renderTemplate(ID, 'common.cfg.hbs', {
      fileName,
      model: Object.hasOwn(PREFIXES, model) ? model : `with firmware ${model}.x`,
      org: lineValue(ctx.org, 'organisation'),
      ntp: ctx.ntp === undefined ? undefined : lineValue(ctx.ntp, 'NTP server'),
      caUrl: lineValue(`${ctx.provisioningUrl}${CA_FILE}`, 'provisioning URL'),
    });
    return file(fileName, cfg, TEXT, { holdsKey: false });
  });
  return [...common, file(CA_FILE, ctx.caPem, PEM, { holdsKey: false })];
}

function instructions(ctx: RenderContext): string[] {
  const mac = ctx.phone.mac ? formatMac(ctx.phone.mac, 'lower') : '<mac>';
  const lines = [
    `Yealink: point DHCP option 66 at ${ctx.tftpServer} (sipsec dhcp --vendor yealink) or set the phone's provisioning URL; it fetches ${commonFileName(modelOf(ctx.options))}, then ${mac}.cfg, and downloads ${CA_FILE} and ${mac}-cert.pem from ${ctx.provisioningUrl}.`,
  ];
  if (ctx.provisioningUrl.startsWith('https:')) {
    lines.push('Yealink: it downloads the CA over HTTPS before it trusts that CA: the HTTPS server needs a certificate the phone already trusts, or use an http:// or tftp:// --provisioning-url for the first boot.');
  }
  return lines;
}

const yealink: VendorModule = { descriptor, optionsSchema, renderPhone, renderShared, instructions };
export default yealink;
