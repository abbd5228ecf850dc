import { z } from 'zod';
import type { SrtpMode } from '../home/schema.js';
import { PEM, XML, displayName, file, hostPort } from './files.js';
import { vendorOptions } from './options.js';
import { userPathOption } from './client-options.js';
import { caImportSteps } from './os-store.js';
import { certKeyBundle } from './ready-dir.js';
import { xmlText } from './xml.js';
import { renderTemplate } from './templates.js';
import type { RenderContext, RenderedFile, VendorDescriptor, VendorModule } from './types.js';

/**
 * Zoiper 5: the configuration XML (`<options>`, `<accounts><account>`,
 * `<sip_options>`) that both its Config.xml and its provisioning answer use
 * (ZOIPER configuration-data.md, provisioning.md; vendors.md §8.6 [V]).
 * Certificate options name files on the user's computer, so they are
 * written only when the `cert_dir` option says where those files will be.
 */

const ID = 'zoiper';

const descriptor: VendorDescriptor = {
  id: ID,
  name: 'Zoiper 5 (desktop; branded builds with provisioning)',
  kind: 'softphone',
  macRequired: false,
  macCase: 'none',
  transports: ['https'],
  // sip_options tls_certificate_file / domain_certificate_file are paths [V]; what each must hold is not documented [U].
  certDelivery: ['files', 'os-store'],
  srtp: {
    // Offers AES_256_CM_HMAC_SHA1_80/_32 first (rtpengine#736 [V]); the 128-bit suites after them [U].
    suites: ['AES_256_CM_HMAC_SHA1_80', 'AES_256_CM_HMAC_SHA1_32', 'AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'],
  },
  tls: {
    // protocol_suite tlsv1 .. tlsv1_3, default tlsv1_2 [V] ZOIPER configuration-data.md.
    min: '1.0',
    max: '1.3',
    clientCert: true,
    verifiesServer: 'unknown',
  },
  bootFiles: ['zoiper/<name>/Config.xml'],
  settings: {
    caTrust: 'the OS store, or `domain_certificate_file` with --option cert_dir',
    transport: '`SIP_transport_type` = tls',
    srtp: '`SIP_srtp_mode` = sdes',
    clock: 'the device clock',
    clientCert: '`tls_certificate_file` (with --option cert_dir)',
  },
  quirks: [
    { text: 'Offers AES_256_CM_HMAC_SHA1_80/_32 first; rtpengine had to disable those suites towards it', source: 'vendors.md §8.6 (rtpengine#736)', confidence: 'verified' },
    { text: 'SIP_srtp_mode is none or sdes only, and SRTP works only with TLS transport: there is no "optional" SRTP', source: 'ZOIPER configuration-data.md', confidence: 'verified' },
    { text: 'SIP_transport_type is lower case in the reference (udp/tcp/tls); the 2016 provisioning example uses UDP/TCP/TLS', source: 'vendors.md §8.6', confidence: 'verified' },
    { text: 'use_custom_certificate descriptions of "configuration" and "self_signed" contradict each other; sipsec does not use them', source: 'vendors.md §8.6', confidence: 'unverified' },
    { text: 'Whether tls_certificate_file wants certificate + key in one PEM, and whether domain_certificate_file is the CA or the server certificate, is not documented', source: 'ZOIPER configuration-data.md', confidence: 'unverified' },
    { text: 'Provisioned passwords are plain text in <password>', source: 'ZoiPer/provisioningexample index.php', confidence: 'verified' },
  ],
};

const optionsSchema = vendorOptions(ID, {
  /** Folder on the user's computer where ca.crt and <name>.pem are saved; enables the certificate options. */
  cert_dir: userPathOption.optional(),
  /** TLS version Zoiper uses (its protocol_suite); default tlsv1_2. */
  protocol_suite: z.enum(['tlsv1', 'tlsv1_1', 'tlsv1_2', 'tlsv1_3']).optional(),
});

type ZoiperOptions = z.output<typeof optionsSchema>;

/** Zoiper has only none and sdes (ZOIPER configuration-data.md [V]); "optional" still offers SDES. */
const SRTP_MODE: Record<SrtpMode, string> = { mandatory: 'sdes', optional: 'sdes', off: 'none' };

/** Join a file name to a user-given folder with the folder's own separator (Windows paths use `\`). */
function userFile(dir: string, name: string): string {
  const sep = dir.includes('\\') && !dir.includes('/') ? '\\' : '/';
  return dir.endsWith(sep) ? `${dir}${name}` : `${dir}${sep}${name}`;
}

function paths(ctx: RenderContext) {
  const dir = `${ID}/${ctx.phone.name}`;
  return { config: `${dir}/Config.xml`, ca: `${dir}/ca.crt`, client: `${dir}/${ctx.phone.name}.pem` };
}

function renderPhone(ctx: RenderContext): RenderedFile[] {
  const o: ZoiperOptions = optionsSchema.parse(ctx.options);
  const p = paths(ctx);
  const owner = { phone: ctx.phone.name };
  const certDir = o.cert_dir;
  const xml = renderTemplate(ID, 'Config.xml.hbs', {
    accountName: xmlText(`${ctx.sipUser}@${ctx.domain}`),
    user: xmlText(ctx.sipUser),
    secret: xmlText(ctx.phone.secret),
    domain: xmlText(ctx.domain),
    // The registrar by address as outbound proxy; SIP_domain stays the SIP domain of the URIs.
    registrar: xmlText(hostPort(ctx.registrar)),
    displayName: xmlText(displayName(ctx)),
    srtpMode: SRTP_MODE[ctx.phone.srtp],
    certDir,
    clientCertFile: certDir === undefined ? undefined : xmlText(userFile(certDir, `${ctx.phone.name}.pem`)),
    caFile: certDir === undefined ? undefined : xmlText(userFile(certDir, 'ca.crt')),
    protocolSuite: o.protocol_suite ?? 'tlsv1_2',
  });
  const files = [file(p.config, xml, XML, { holdsKey: false, ...owner }), file(p.ca, ctx.pem.ca, PEM, { holdsKey: false, ...owner })];
  // The key is served only when the config names a place for it.
  if (certDir !== undefined) files.push(file(p.client, certKeyBundle(ctx), PEM, { holdsKey: true, ...owner }));
  return files;
}

function instructions(ctx: RenderContext): string[] {
  const o: ZoiperOptions = optionsSchema.parse(ctx.options);
  const p = paths(ctx);
  const lines = [`Zoiper: load ${ctx.provisioningUrl}${p.config} as its configuration or provisioning answer (it holds the SIP secret; serve it over HTTPS only).`];
  if (o.cert_dir !== undefined) {
    lines.push(`Zoiper: save ca.crt and ${ctx.phone.name}.pem (certificate + key) from ${ctx.provisioningUrl}${ID}/${ctx.phone.name}/ into ${o.cert_dir}, where Config.xml expects them.`);
  } else {
    lines.push(`Zoiper: ${caImportSteps('ca.crt', 'desktop')} (from ${ctx.provisioningUrl}${p.ca}), or set --option cert_dir=FOLDER to have Config.xml name it.`);
  }
  return lines;
}

const zoiper: VendorModule = { descriptor, optionsSchema, renderPhone, instructions };
export default zoiper;
