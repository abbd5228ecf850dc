import { z } from 'zod';
import { formatMac } from '../pki/names.js';
import type { SrtpMode } from '../home/schema.js';
import { XML, displayName, file, requireMac } from './files.js';
import { vendorOptions, yesNoOption } from './options.js';
import { renderTemplate } from './templates.js';
import type { RenderContext, RenderedFile, VendorDescriptor, VendorModule } from './types.js';
import { xmlAttr, xmlComment } from './xml.js';

/**
 * Polycom VVX / SoundPoint IP (UC Software): the phone fetches the master
 * config `<mac>.cfg` (lower case), whose APPLICATION CONFIG_FILES lists the
 * XML files to load; parameters are attributes. sipsec's CA goes inline in
 * `device.sec.TLS.customCaCert1`. Facts: /work/shared/vendors.md §6.
 */

const ID = 'polycom';

const descriptor: VendorDescriptor = {
  id: ID,
  name: 'Polycom VVX / SoundPoint IP (UC Software 4.x-6.x)',
  kind: 'hardware',
  macRequired: true,
  // <mac>.cfg lower case, else 000000000000.cfg [V] WAZO, AST phoneprov.
  macCase: 'lower',
  transports: ['tftp', 'http', 'https'],
  // customCaCert1 inline [C] FPBX; the device certificate keys are unverified (option device_cert) [U].
  certDelivery: ['inline-pem'],
  srtp: {
    // sipsec's files enable offering HMAC_SHA1_80 only [C] (sec.srtp.offer.HMAC_SHA1_80/_32, third-party templates).
    suites: ['AES_CM_128_HMAC_SHA1_80'],
  },
  tls: {
    // The factory Polycom-CA device certificate is what it presents by default [V] (fdocuments device certificates);
    // sipsec's own certificate only with device_cert=yes, whose keys are unverified.
    clientCert: false,
    verifiesServer: 'unknown',
  },
  bootFiles: ['<mac>.cfg', '000000000000.cfg'],
  settings: {
    caTrust: '`device.sec.TLS.customCaCert1`',
    transport: '`reg.1.server.1.transport="TLS"`',
    srtp: '`sec.srtp.enable` / `sec.srtp.require`',
    clock: '`device.sntp.serverName`',
    clientCert: 'the factory Polycom device certificate (or --option device_cert=yes)',
  },
  resync: { event: 'check-sync;reboot=false', rebootEvent: 'check-sync;reboot=true', source: 'Asterisk pjsip_notify.conf.sample [polycom-check-cfg]; reboot parameter per UCS 4+ admin guide', confidence: 'community' },
  quirks: [
    { text: 'The master file lists the config files in CONFIG_FILES; device.* parameters only apply with device.set="1" and their own .set="1"', source: 'vendors.md §6 (WAZO, AST phoneprov, FPBX)', confidence: 'community' },
    { text: 'WAZO maps SRTP disabled/preferred/required to sec.srtp.enable/offer/require = 0/0/0, 1/1/0, 1/1/1', source: 'vendors.md §6 (WAZO base.tpl, PLCM-SRTP)', confidence: 'verified' },
    { text: 'device.sec.TLS.customCaCert1 holds the CA inline; newlines are written as &#10; because XML turns a literal newline in an attribute into a space', source: 'vendors.md §6 (FPBX); XML 1.0 §3.3.3', confidence: 'community' },
    { text: 'Device certificate parameters (device.sec.TLS.customDeviceCert1.*) are unconfirmed: sipsec renders them only with --option device_cert=yes', source: 'vendors.md §6', confidence: 'unverified' },
    { text: 'sipsec serves no firmware: APP_FILE_PATH names an application file (default sip.ld) the operator provides, or the phone keeps its current one', source: 'vendors.md §6 (WAZO 000000000000.cfg)', confidence: 'unverified' },
    { text: 'DHCP option 160 carries a full provisioning URL with scheme', source: 'anchors.md §B.2', confidence: 'community' },
  ],
};

const optionsSchema = vendorOptions(ID, {
  /** APPLICATION APP_FILE_PATH: the firmware file name on the provisioning server (default sip.ld). */
  app_file: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$/, 'give a relative file name such as sip.ld or firmware/sip.ld')
    .refine((s) => !s.includes('..'), 'no .. in the application file name')
    .optional(),
  /** Also send sipsec's certificate and key (unverified parameter names; default no). */
  device_cert: yesNoOption.optional(),
});

/** sec.srtp.enable / offer / require [V] WAZO: disabled 0/0/0, preferred 1/1/0, required 1/1/1. */
const SRTP: Record<SrtpMode, { enable: string; offer: string; require: string }> = {
  mandatory: { enable: '1', offer: '1', require: '1' },
  optional: { enable: '1', offer: '1', require: '0' },
  off: { enable: '0', offer: '0', require: '0' },
};

function renderPhone(ctx: RenderContext): RenderedFile[] {
  const options = optionsSchema.parse(ctx.options);
  const mac = formatMac(requireMac(ctx, descriptor.name), 'lower');
  const owner = { phone: ctx.phone.name };
  const phoneName = `${mac}-sipsec.cfg`;
  const certName = `${mac}-sipsec-cert.cfg`;
  const withCert = options.device_cert ?? false;
  const common = { name: xmlComment(ctx.phone.name) };
  const phoneCfg = renderTemplate(ID, 'phone.cfg.hbs', {
    ...common,
    fileName: phoneName,
    commentUser: xmlComment(ctx.sipUser),
    line: ctx.phone.line,
    ntp: ctx.ntp === undefined ? undefined : xmlAttr(ctx.ntp),
    caCert: xmlAttr(ctx.pem.ca),
    srtp: SRTP[ctx.phone.srtp],
    sipUser: xmlAttr(ctx.sipUser),
    secret: xmlAttr(ctx.phone.secret),
    displayName: xmlAttr(displayName(ctx)),
    registrarHost: xmlAttr(ctx.registrar.host),
    registrarPort: ctx.registrar.port,
  });
  const configFiles = withCert ? [phoneName, certName] : [phoneName];
  const master = renderTemplate(ID, 'master.cfg.hbs', {
    ...common,
    fileName: `${mac}.cfg`,
    appFile: xmlAttr(options.app_file ?? 'sip.ld'),
    configFiles: xmlAttr(configFiles.join(', ')),
  });
  const files = [file(`${mac}.cfg`, master, XML, { holdsKey: false, ...owner }), file(phoneName, phoneCfg, XML, { holdsKey: false, ...owner })];
  if (withCert) {
    const certCfg = renderTemplate(ID, 'device-cert.cfg.hbs', {
      ...common,
      fileName: certName,
      cert: xmlAttr(ctx.pem.cert),
      key: xmlAttr(ctx.pem.keyLegacy),
    });
    // Kept out of the main file so only this one holds the key.
    files.push(file(certName, certCfg, XML, { holdsKey: true, ...owner }));
  }
  return files;
}

function instructions(ctx: RenderContext): string[] {
  const mac = ctx.phone.mac ? formatMac(ctx.phone.mac, 'lower') : '<mac>';
  const lines = [
    `Polycom: give the phone its provisioning server with DHCP option 160 (or 66; sipsec dhcp --vendor polycom); it fetches ${mac}.cfg, then ${mac}-sipsec.cfg with sipsec's CA, and registers over TLS to ${ctx.registrar.host}:${ctx.registrar.port}.`,
  ];
  const options = optionsSchema.parse(ctx.options);
  if (!(options.device_cert ?? false)) lines.push('Polycom: it presents its factory Polycom certificate, not sipsec\'s (--option device_cert=yes tries unverified parameters); the registrar must not require a sipsec client certificate from it.');
  return lines;
}

const polycom: VendorModule = { descriptor, optionsSchema, renderPhone, instructions };
export default polycom;
