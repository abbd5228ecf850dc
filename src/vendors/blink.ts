import type { SrtpMode } from '../home/schema.js';
import { PEM, TEXT, file } from './files.js';
import { vendorOptions } from './options.js';
import { certKeyBundle } from './ready-dir.js';
import { renderTemplate } from './templates.js';
import type { RenderContext, RenderedFile, VendorDescriptor, VendorModule } from './types.js';

/**
 * Blink (AG Projects; Blink-Qt on python-sipsimple). Blink has no
 * config-URL provisioning (vendors.md §8.3): what it accepts from outside is
 * (a) the JSON answer of its "Create account" enrollment and (b) settings a
 * person enters. sipsec renders both: the enrollment JSON (exact field
 * names from BLINK accounts.py [V]; whether sipsec's server can answer
 * Blink's POST is not tested [U]), the passport-style PEM (certificate +
 * key in one file, as Blink saves an enrolled one [V]), the CA alone, and a
 * settings sheet.
 */

const ID = 'blink';

const descriptor: VendorDescriptor = {
  id: ID,
  name: 'Blink (Blink-Qt 5.x / python-sipsimple)',
  kind: 'softphone',
  macRequired: false,
  macCase: 'none',
  transports: ['https'],
  // tls.certificate: certificate and private key parsed from the same PEM [V] SIPSIMPLE; tls.ca_list: a CA file [V] BLINK settings.py.
  certDelivery: ['bundle-pem'],
  srtp: {
    // No source names Blink's offered SDES suites or their order [U]; PJSIP-based clients offer AES_CM_128_HMAC_SHA1_80 first [U].
    suites: ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'],
  },
  tls: {
    clientCert: true,
    // tls.verify_server defaults to true in Blink-Qt [V] BLINK settings.py.
    verifiesServer: true,
  },
  bootFiles: ['blink/<name>/enrollment.json', 'blink/<name>/<user>@<domain>.crt', 'blink/<name>/ca.crt', 'blink/<name>/settings.txt'],
  settings: {
    caTrust: '`tls.ca_list` (Preferences > Advanced > TLS)',
    transport: 'outbound proxy `HOST:PORT;transport=tls`',
    srtp: 'key negotiation SDES mandatory',
    clock: 'the host clock',
    clientCert: '`tls.certificate` (Preferences > Advanced > TLS)',
  },
  quirks: [
    { text: 'TLS settings (CA list, certificate, verify server) are global in Blink-Qt, not per account', source: 'vendors.md §8.3 (BLINK settings.py, preferences.py)', confidence: 'verified' },
    { text: 'python-sipsimple (2021) reads only the first certificate of the CA file: ca.crt holds the sipsec CA alone', source: 'vendors.md §8.3 (SIPSIMPLE tls_credentials)', confidence: 'verified' },
    { text: 'The enrolled passport is saved as tls/<sip_address>.crt but is not visibly assigned to tls.certificate: set the certificate by hand', source: 'vendors.md §8.3 (BLINK accounts.py)', confidence: 'unverified' },
    { text: 'Enrollment is a POST of username/password/email/display_name/tzinfo to server.enrollment_url (default blink.sipthor.net); sipsec serves a fixed JSON answer per phone', source: 'vendors.md §8.3 (BLINK accounts.py)', confidence: 'verified' },
    { text: 'Key negotiation choices: Opportunistic, ZRTP, SDES optional, SDES mandatory (account rtp.encryption.key_negotiation)', source: 'vendors.md §8.3 (SIPSIMPLE datatypes.py; BLINK preferences.py)', confidence: 'verified' },
  ],
};

const optionsSchema = vendorOptions(ID, {});

/** Blink's "Audio/Video Encryption" choice per SRTP mode (BLINK preferences.py labels [V]). */
const KEY_NEGOTIATION: Record<SrtpMode, { encrypt: string; negotiation: string }> = {
  mandatory: { encrypt: 'on', negotiation: 'SDES mandatory' },
  optional: { encrypt: 'on', negotiation: 'SDES optional' },
  off: { encrypt: 'off', negotiation: '(unused)' },
};

function sipAddress(ctx: RenderContext): string {
  return `${ctx.sipUser}@${ctx.domain}`;
}

function passportName(ctx: RenderContext): string {
  return `${sipAddress(ctx)}.crt`;
}

/** The outbound proxy as python-sipsimple's SIPProxyAddress reads it: host:port;transport=tls [V] vendors.md §8.3. */
function outboundProxy(ctx: RenderContext): string {
  const host = ctx.registrar.host.includes(':') ? `[${ctx.registrar.host}]` : ctx.registrar.host;
  return `${host}:${ctx.registrar.port};transport=tls`;
}

/** The answer Blink's enrollment expects (BLINK accounts.py `_create_sip_account` [V]). */
function enrollmentJson(ctx: RenderContext): string {
  const body = {
    success: true,
    sip_address: sipAddress(ctx),
    outbound_proxy: outboundProxy(ctx),
    msrp_relay: null,
    xcap_root: null,
    conference_server: null,
    settings_url: null,
    passport: { crt: ctx.pem.cert, key: ctx.pem.key, ca: ctx.pem.ca },
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

function renderPhone(ctx: RenderContext): RenderedFile[] {
  optionsSchema.parse(ctx.options);
  const owner = { phone: ctx.phone.name };
  const dir = `${ID}/${ctx.phone.name}`;
  const neg = KEY_NEGOTIATION[ctx.phone.srtp];
  const sheet = renderTemplate(ID, 'settings.txt.hbs', {
    name: ctx.phone.name,
    passportFile: passportName(ctx),
    sipAddress: sipAddress(ctx),
    displayName: ctx.phone.displayName,
    outboundProxyHost: ctx.registrar.host,
    outboundProxyPort: ctx.registrar.port,
    encryptAudio: neg.encrypt,
    keyNegotiation: neg.negotiation,
  });
  return [
    file(`${dir}/enrollment.json`, enrollmentJson(ctx), 'application/json', { holdsKey: true, ...owner }),
    file(`${dir}/${passportName(ctx)}`, certKeyBundle(ctx), PEM, { holdsKey: true, ...owner }),
    file(`${dir}/ca.crt`, ctx.pem.ca, PEM, { holdsKey: false, ...owner }),
    file(`${dir}/settings.txt`, sheet, TEXT, { holdsKey: false, ...owner }),
  ];
}

function instructions(ctx: RenderContext): string[] {
  const base = `${ctx.provisioningUrl}${ID}/${ctx.phone.name}/`;
  return [
    `Blink: follow ${base}settings.txt: save ${passportName(ctx)} (certificate + key) and ca.crt from ${base}, set them in Preferences > Advanced > TLS, add the account ${sipAddress(ctx)} with outbound proxy ${outboundProxy(ctx)}; the password is the SIP secret (sipsec phone show ${ctx.phone.name} --show-secret).`,
  ];
}

const blink: VendorModule = { descriptor, optionsSchema, renderPhone, instructions };
export default blink;
