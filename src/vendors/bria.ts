import { SipsecError } from '../core/errors.js';
import type { SrtpMode } from '../home/schema.js';
import { BINARY, PEM, TEXT, displayName, file, hostPort, lazyFile, lineValue } from './files.js';
import { vendorOptions } from './options.js';
import { caImportSteps, p12ForOsImport, p12PasswordHint } from './os-store.js';
import { renderTemplate } from './templates.js';
import type { RenderContext, RenderedFile, VendorDescriptor, VendorModule } from './types.js';

/**
 * Bria (CounterPath; Bria 3/4 desktop). Remote provisioning is a login
 * server answering in an INI-like format that must end with CRLF; TLS +
 * SRTP are two account settings; the registrar's CA must be in the
 * operating system's root store (vendors.md §8.4 [V] BRIA-PROV, BRIA-CONF).
 */

const ID = 'bria';

const descriptor: VendorDescriptor = {
  id: ID,
  name: 'Bria (CounterPath Bria 3/4 desktop, remote provisioning)',
  kind: 'softphone',
  macRequired: false,
  macCase: 'none',
  // The login server must be HTTPS with a certificate Bria can verify through the OS trust chain [V] BRIA-PROV (Bria 2.5 guide).
  transports: ['https'],
  certDelivery: ['os-store', 'pkcs12'],
  srtp: {
    // No source lists Bria's offered SDES suites [U].
    suites: ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'],
  },
  tls: {
    // A client certificate for SIP/TLS was not found in Bria's documentation [U].
    clientCert: false,
    verifiesServer: true,
  },
  bootFiles: ['bria/<name>.ini'],
  settings: {
    caTrust: 'the operating system\'s root certificate store (Bria trusts nothing else)',
    transport: '`proxies:proxy0:transport="TLS"`',
    srtp: '`proxies:proxy0:security_outgoing_srtp=true`',
    clock: 'the device clock',
    clientCert: 'none known',
  },
  quirks: [
    { text: 'The response must end with CRLF or its last line is ignored; sections [DATA], [SETTINGS], [##MEMORY##] in that order', source: 'vendors.md §8.4 (BRIA-PROV)', confidence: 'verified' },
    { text: 'TLS + SRTP: proxies:proxyN:transport=TLS and proxies:proxyN:security_outgoing_srtp=true; media encryption only works over TLS', source: 'vendors.md §8.4 (BRIA-CONF)', confidence: 'verified' },
    { text: 'Trusts the registrar only through the OS root certificate store: import the sipsec CA there', source: 'vendors.md §8.4 (BRIA-CONF, Bria 3 guide)', confidence: 'verified' },
    { text: 'Provisioned values override the user\'s at every start', source: 'vendors.md §8.4 (BRIA-PROV)', confidence: 'verified' },
    { text: 'The outbound-proxy setting key is not documented in the sources read: when the registrar is not the SIP domain on 5061, set "Send outbound via: Proxy address" by hand', source: 'Bria 3 admin guide (UI field); key name unknown', confidence: 'unverified' },
    { text: 'Whether Bria presents a client certificate from the OS store for SIP/TLS is unknown; the PKCS#12 is provided for that case', source: 'vendors.md §8.4', confidence: 'unverified' },
    { text: 'Desktop Bria also checks a CounterPath license server (https://secure.counterpath.com)', source: 'vendors.md §8.4 (BRIA-PROV)', confidence: 'verified' },
  ],
};

const optionsSchema = vendorOptions(ID, {});

/** security_outgoing_srtp per SRTP mode; Bria has no separate "optional" key in the sources read [U]. */
const SRTP: Record<SrtpMode, 'true' | 'false'> = { mandatory: 'true', optional: 'true', off: 'false' };

/** A value inside Bria's double quotes: no quote or line break can occur (refused on input); checked again here. */
function quoted(value: string, what: string): string {
  const v = lineValue(value, what);
  if (v.includes('"')) throw new SipsecError('INTERNAL', `${what} contains a double quote`, 'this is a bug in sipsec: the value should have been refused on input');
  return v;
}

function loginResponse(ctx: RenderContext): string {
  const text = renderTemplate(ID, 'login.ini.hbs', {
    proxy: `proxy${ctx.phone.line - 1}`,
    displayName: quoted(displayName(ctx), 'display name'),
    user: quoted(ctx.sipUser, 'SIP user'),
    secret: quoted(ctx.phone.secret, 'SIP secret'),
    domain: ctx.domain,
    srtp: SRTP[ctx.phone.srtp],
  });
  // Every line CRLF-terminated, the last one included (BRIA-PROV: "must end with a CRLF").
  return text.replace(/\r?\n/g, '\r\n').replace(/(\r\n)*$/, '\r\n');
}

function paths(ctx: RenderContext) {
  return { ini: `${ID}/${ctx.phone.name}.ini`, ca: `${ID}/${ctx.phone.name}/ca.crt`, p12: `${ID}/${ctx.phone.name}/${ctx.phone.name}.p12` };
}

function renderPhone(ctx: RenderContext): RenderedFile[] {
  optionsSchema.parse(ctx.options);
  const p = paths(ctx);
  const owner = { phone: ctx.phone.name };
  return [
    file(p.ini, loginResponse(ctx), TEXT, { holdsKey: false, ...owner }),
    file(p.ca, ctx.pem.ca, PEM, { holdsKey: false, ...owner }),
    lazyFile(p.p12, () => p12ForOsImport(ctx), BINARY, { holdsKey: true, ...owner }),
  ];
}

function instructions(ctx: RenderContext): string[] {
  const p = paths(ctx);
  const lines = [
    `Bria: set its login URL to ${ctx.provisioningUrl}${p.ini} (the answer holds the SIP secret; serve it over HTTPS only).`,
    `Bria: ${caImportSteps('ca.crt', 'desktop')} (from ${ctx.provisioningUrl}${p.ca}).`,
    `Bria: ${p.p12} is the phone's certificate and key for the OS personal store (whether Bria uses it is unverified); ${p12PasswordHint(ctx)}.`,
  ];
  if (ctx.registrar.host.toLowerCase() !== ctx.domain.toLowerCase() || ctx.registrar.port !== 5061) {
    lines.push(`Bria: the registrar is not ${ctx.domain}:5061; set Account > Domain Proxy > Send outbound via: Proxy address ${hostPort(ctx.registrar)}.`);
  }
  return lines;
}

const bria: VendorModule = { descriptor, optionsSchema, renderPhone, instructions };
export default bria;
