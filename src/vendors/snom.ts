import { z } from 'zod';
import { formatMac } from '../pki/names.js';
import type { SrtpMode } from '../home/schema.js';
import { XML, displayName, file, hostPort, requireMac } from './files.js';
import { vendorOptions } from './options.js';
import { renderTemplate } from './templates.js';
import type { RenderContext, RenderedFile, SharedRenderContext, VendorDescriptor, VendorModule } from './types.js';
import { xmlComment, xmlText } from './xml.js';

/**
 * Snom (300/320/360/370/7xx/8xx/Dxxx): the phone asks its setting server
 * for `snom<model>.htm`, a `<setting-files>` list; sipsec's sends it on to
 * `snom<model>-<MAC>.htm`, which lists the phone's `<MAC>.xml` settings
 * (upper-case MAC, as WAZO serves them). Facts: /work/shared/vendors.md §7.
 */

const ID = 'snom';
const DEFAULT_MODEL = '320';

const descriptor: VendorDescriptor = {
  id: ID,
  name: 'Snom desk phones (snom 300/320/360/370/710/720/760/820/870, Dxxx)',
  kind: 'hardware',
  macRequired: true,
  // snom<model>-<MAC>.htm and <MAC>.xml with the upper-case MAC [V] WAZO snom common.py.
  macCase: 'upper',
  // The setting server is an HTTP(S) URL; TFTP also works for setting_server [U].
  transports: ['http', 'https', 'tftp'],
  // Built-in device certificate; trust-store keys were not extracted (vendors.md §7 [U]): sipsec delivers none.
  certDelivery: [],
  srtp: {
    // Some Snoms offer AES_CM_128_HMAC_SHA1_32 first, on RTP/AVP [V] AST commit 6581cd5404; user_auth_tag off asks for 80-bit [U].
    suites: ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'],
    avpCrypto: true,
  },
  tls: {
    // Snom phones (except old 3xx) carry a built-in certificate; a sipsec one cannot be installed with known keys [U].
    clientCert: false,
    verifiesServer: 'unknown',
  },
  bootFiles: ['snom<model>.htm', 'snom<model>-<MAC>.htm', '<MAC>.xml'],
  settings: {
    caTrust: 'the Snom trust store (key names unverified)',
    transport: '`user_outbound` with `;transport=tls`',
    srtp: '`user_srtp` on and `user_savp` mandatory',
    clock: '`ntp_server`',
    clientCert: 'the built-in Snom device certificate',
  },
  resync: { event: 'check-sync;reboot=false', rebootEvent: 'check-sync;reboot=true', source: 'Asterisk pjsip_notify.conf.sample [snom-check-cfg], [snom-reboot]', confidence: 'verified' },
  quirks: [
    { text: 'Offers SRTP "optional" as RTP/AVP with a=crypto (often AES_CM_128_HMAC_SHA1_32): the registrar must accept crypto on AVP and the _32 suite', source: 'vendors.md §7 (AST commit 6581cd5404)', confidence: 'verified' },
    { text: 'user_savp values other than mandatory (optional, off) and the meaning of user_auth_tag are unconfirmed', source: 'vendors.md §7 (WAZO base.tpl)', confidence: 'unverified' },
    { text: 'The phone presents its built-in certificate; no setting names for installing sipsec\'s CA or certificate were found', source: 'vendors.md §7 (SNOM-TLS)', confidence: 'unverified' },
    { text: 'The setting server comes from DHCP options 66+67, SIP PnP (multicast SUBSCRIBE ua-profile) or by hand; it may contain {mac}', source: 'vendors.md §7 (SNOM-PNP, SNOM-DHCP)', confidence: 'verified' },
    { text: 'ntp_server is the usual Snom setting name for the time server, not confirmed by a source read for sipsec', source: 'vendors.md §7 (not listed)', confidence: 'unverified' },
    { text: 'That the phone replaces {mac} inside setting-files URLs (not only in setting_server) is assumed', source: 'vendors.md §7', confidence: 'unverified' },
  ],
};

/** `320`, `snom320`, `D715`, `snomD785` → `320`, `D715` (the name in snom<model>.htm). */
const modelOption = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const s = String(v).trim().replace(/^snom/i, '').toUpperCase();
  if (/^[A-Z]?\d{3}$/.test(s)) return s;
  ctx.addIssue({ code: 'custom', message: `invalid Snom model '${String(v).slice(0, 40)}'; give the model number as in snom<model>.htm, e.g. 320, 370, 760 or D715` });
  return z.NEVER;
});

const optionsSchema = vendorOptions(ID, {
  /** The phone model: names snom<model>.htm, the file the phone asks for (default 320). */
  model: modelOption.optional(),
});

/** user_srtp on/off [V]; user_savp: WAZO writes `mandatory` [V], `optional`/`off` are the UI's words [U]. */
const SRTP: Record<SrtpMode, { srtp: string; savp: string }> = {
  mandatory: { srtp: 'on', savp: 'mandatory' },
  optional: { srtp: 'on', savp: 'optional' },
  off: { srtp: 'off', savp: 'off' },
};

function modelOf(options: Record<string, unknown>): string {
  return optionsSchema.parse(options).model ?? DEFAULT_MODEL;
}

function renderPhone(ctx: RenderContext): RenderedFile[] {
  const model = modelOf(ctx.options);
  const mac = formatMac(requireMac(ctx, descriptor.name), 'upper');
  const owner = { phone: ctx.phone.name };
  const settingsName = `${mac}.xml`;
  const listName = `snom${model}-${mac}.htm`;
  // Registrar and outbound proxy both carry ;transport=tls, so the phone never falls back to UDP [V] WAZO user_outbound form.
  const server = `${hostPort(ctx.registrar)};transport=tls`;
  const settings = renderTemplate(ID, 'settings.xml.hbs', {
    fileName: settingsName,
    name: xmlComment(ctx.phone.name),
    commentUser: xmlComment(ctx.sipUser),
    line: ctx.phone.line,
    ntp: ctx.ntp === undefined ? undefined : xmlText(ctx.ntp),
    sipUser: xmlText(ctx.sipUser),
    secret: xmlText(ctx.phone.secret),
    displayName: xmlText(displayName(ctx)),
    server: xmlText(server),
    srtp: SRTP[ctx.phone.srtp],
  });
  const list = renderTemplate(ID, 'phone.htm.hbs', {
    fileName: listName,
    name: xmlComment(ctx.phone.name),
    settingsUrl: xmlText(`${ctx.provisioningUrl}${settingsName}`),
  });
  return [file(listName, list, XML, { holdsKey: false, ...owner }), file(settingsName, settings, XML, { holdsKey: false, ...owner })];
}

function renderShared(ctx: SharedRenderContext): RenderedFile[] {
  const models = new Set(ctx.phones.map((p) => modelOf(p.options)));
  if (models.size === 0) models.add(DEFAULT_MODEL);
  return [...models].sort().map((model) => {
    const fileName = `snom${model}.htm`;
    const htm = renderTemplate(ID, 'model.htm.hbs', {
      fileName,
      model,
      org: xmlComment(ctx.org),
      next: xmlText(`${ctx.provisioningUrl}snom${model}-{mac}.htm`),
    });
    return file(fileName, htm, XML, { holdsKey: false });
  });
}

function instructions(ctx: RenderContext): string[] {
  const mac = ctx.phone.mac ? formatMac(ctx.phone.mac, 'upper') : '<MAC>';
  const model = modelOf(ctx.options);
  return [
    `Snom: give it the setting server with DHCP options 66+67 (sipsec dhcp --vendor snom) or by hand (${ctx.provisioningUrl}${mac}.xml); the chain is snom${model}.htm, snom${model}-${mac}.htm, ${mac}.xml, then it registers over TLS to ${ctx.registrar.host}:${ctx.registrar.port}.`,
    'Snom: it presents its built-in certificate and gets no sipsec CA from these files: the registrar must not require a sipsec client certificate from it.',
  ];
}

const snom: VendorModule = { descriptor, optionsSchema, renderPhone, renderShared, instructions };
export default snom;
