import type { z } from 'zod';
import { PEM, XML, displayName, file, hostPort } from './files.js';
import { vendorOptions, yesNoOption } from './options.js';
import { caImportSteps } from './os-store.js';
import { renderTemplate } from './templates.js';
import { xmlText } from './xml.js';
import type { RenderContext, RenderedFile, VendorDescriptor, VendorModule } from './types.js';

/**
 * Acrobits Softphone / Groundwire: one `<account>` XML (ACRO account XML
 * reference, vendors.md §8.5 [V]). The SRTP ("Secure Calls") keys and any
 * certificate settings were not found in the sources read [U], so the XML
 * carries only verified elements and the instructions say what to set by
 * hand.
 */

const ID = 'acrobits';

const descriptor: VendorDescriptor = {
  id: ID,
  name: 'Acrobits Softphone / Groundwire (iOS, Android)',
  kind: 'softphone',
  macRequired: false,
  macCase: 'none',
  transports: ['https'],
  // Trust settings not found [U]: the CA goes into the phone's OS trust store.
  certDelivery: ['os-store'],
  srtp: {
    // Offered suites not documented in the sources read [U].
    suites: ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'],
  },
  tls: {
    clientCert: false,
    verifiesServer: 'unknown',
  },
  bootFiles: ['acrobits/<name>.xml'],
  settings: {
    caTrust: 'the phone\'s OS certificate store',
    transport: '`<transport>tls+sip:</transport>`',
    srtp: 'the account\'s Secure Calls (SDES) setting',
    clock: 'the device clock',
    clientCert: 'none known',
  },
  quirks: [
    { text: '<title> must be non-empty or the account fails validation and is not saved', source: 'vendors.md §8.5 (ACRO)', confidence: 'verified' },
    { text: 'transport "tls" uses sips: URIs; "tls+sip:" keeps sip: URIs over TLS (sipsec default, like its other clients)', source: 'vendors.md §8.5 (ACRO)', confidence: 'verified' },
    { text: 'host without a port means 5061 for TLS transports', source: 'ACRO account XML reference, host', confidence: 'verified' },
    { text: 'The SRTP keys of the "Secure Calls" section were not retrieved: enable SDES SRTP in the app by hand', source: 'vendors.md §8.5', confidence: 'unverified' },
    { text: 'TLS certificate trust and client certificate settings were not found', source: 'vendors.md §8.5', confidence: 'unverified' },
  ],
};

const optionsSchema = vendorOptions(ID, {
  /** Use sips: URIs (transport "tls") instead of sip: over TLS ("tls+sip:"). */
  sips: yesNoOption.optional(),
});

type AcrobitsOptions = z.output<typeof optionsSchema>;

function paths(ctx: RenderContext) {
  return { xml: `${ID}/${ctx.phone.name}.xml`, ca: `${ID}/${ctx.phone.name}/ca.crt` };
}

function renderPhone(ctx: RenderContext): RenderedFile[] {
  const o: AcrobitsOptions = optionsSchema.parse(ctx.options);
  const p = paths(ctx);
  const owner = { phone: ctx.phone.name };
  const xml = renderTemplate(ID, 'account.xml.hbs', {
    title: xmlText(`${displayName(ctx)} (${ctx.sipUser}@${ctx.domain})`),
    user: xmlText(ctx.sipUser),
    secret: xmlText(ctx.phone.secret),
    displayName: ctx.phone.displayName === undefined ? undefined : xmlText(ctx.phone.displayName),
    domain: xmlText(ctx.domain),
    // The registrar by address; host stays the SIP domain used in the URIs (ACRO host/proxy [V]; proxy value form [C]).
    registrar: xmlText(hostPort(ctx.registrar)),
    transport: o.sips === true ? 'tls' : 'tls+sip:',
  });
  return [file(p.xml, xml, XML, { holdsKey: false, ...owner }), file(p.ca, ctx.pem.ca, PEM, { holdsKey: false, ...owner })];
}

function instructions(ctx: RenderContext): string[] {
  const p = paths(ctx);
  const srtp = ctx.phone.srtp === 'off' ? 'leave SRTP off' : `turn on SRTP with SDES key exchange${ctx.phone.srtp === 'mandatory' ? ' and require it' : ''}`;
  return [
    `Acrobits: import the account from ${ctx.provisioningUrl}${p.xml} (it holds the SIP secret; serve it over HTTPS only), then in the account's Secure Calls settings ${srtp} (the XML keys for that are unverified).`,
    `Acrobits: ${caImportSteps('ca.crt', 'mobile')} (from ${ctx.provisioningUrl}${p.ca}).`,
  ];
}

const acrobits: VendorModule = { descriptor, optionsSchema, renderPhone, instructions };
export default acrobits;
