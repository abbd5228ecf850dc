import { z } from 'zod';
import { formatMac } from '../pki/names.js';
import type { SrtpMode } from '../home/schema.js';
import { XML, displayName, file, hostPort, requireMac, urlHost } from './files.js';
import { vendorOptions } from './options.js';
import { renderTemplate } from './templates.js';
import type { RenderContext, RenderedFile, SharedRenderContext, VendorDescriptor, VendorModule } from './types.js';
import { xmlComment, xmlText } from './xml.js';

/**
 * Cisco (Linksys) SPA5xx / SPA525G, firmware 7.4/7.5: XML flat profiles.
 * The phone's factory Profile_Rule fetches /spa$PSN.cfg over TFTP (server
 * from DHCP option 66); that shared file points Profile_Rule_B at the
 * phone's own spa$MA.xml. Facts: /work/shared/vendors.md §3.
 */

const ID = 'cisco-spa';

/** Product series numbers sipsec knows, as $PSN expands them (upper-case G) [V] WAZO v7_5_5/entry.py. */
const PSNS = ['301', '303', '501G', '502G', '504G', '508G', '509G', '512G', '514G', '525G', '525G2'] as const;
type Psn = (typeof PSNS)[number];
const DEFAULT_PSN: Psn = '525G';

const descriptor: VendorDescriptor = {
  id: ID,
  name: 'Cisco SPA5xx/SPA30x (SPA525G, SPA504G, SPA508G, ...; firmware 7.4/7.5)',
  kind: 'hardware',
  macRequired: true,
  // $MA = lower-case MAC without separators [V] SPA-MACRO.
  macCase: 'lower',
  // HTTPS provisioning accepts only Cisco-signed server certificates [V] SPA-TLS, SPA-HTTPS: never offer it.
  transports: ['tftp', 'http'],
  // No parameter for a custom SIP/TLS client certificate or a trusted CA for SIP was found (vendors.md §3.4 [U]).
  certDelivery: [],
  srtp: {
    // Which suites SPA5xx offers in s-descriptor mode is undocumented [U]; _80 is what every SDES peer in vendors.md accepts.
    suites: ['AES_CM_128_HMAC_SHA1_80'],
  },
  tls: {
    // 2011-era firmware, very likely TLS 1.0 only; no source states it (vendors.md §9.2 [U]).
    min: '1.0',
    clientCert: false,
    verifiesServer: 'unknown',
  },
  bootFiles: ['spa<PSN>.cfg', 'spa<mac>.xml'],
  settings: {
    caTrust: 'none for SIP/TLS on SPA5xx (the phone cannot be given a private CA)',
    transport: '`SIP_Transport_1_` = TLS',
    srtp: '`SRTP_Method` = s-descriptor and `Secure_Call_Setting` = Yes',
    clock: '`Primary_NTP_Server`',
    clientCert: 'none (SPA5xx has no custom client certificate)',
  },
  resync: { event: 'resync', rebootEvent: 'reboot_now', source: 'Asterisk pjsip_notify.conf.sample [sipura-check-cfg], [linksys-cold-restart]; needs Resync_From_SIP=Yes', confidence: 'verified' },
  quirks: [
    { text: 'HTTPS provisioning only trusts servers with Cisco-signed certificates (CN = FQDN, IP checked against DNS): provision over TFTP or HTTP', source: 'vendors.md §3.4 (SPA-TLS, SPA-HTTPS)', confidence: 'verified' },
    { text: 'No custom SIP client certificate can be installed on SPA5xx: the registrar must not require one from these phones', source: 'vendors.md §3.4', confidence: 'unverified' },
    { text: 'Whether SPA5xx validates the SIP/TLS server certificate, and what Custom_CA_Rule covers, is unknown: sipsec sends no CA', source: 'vendors.md §3.3, §3.4', confidence: 'unverified' },
    { text: 'SRTP_Method defaults to the proprietary x-sipura; SDES interop needs s-descriptor', source: 'vendors.md §3.3 (SPA-SRTP)', confidence: 'verified' },
    { text: 'No per-line "SRTP mandatory" setting in 7.4/7.5: Secure_Call_Setting=Yes makes every call try SRTP, the registrar enforces mandatory', source: 'vendors.md §3.3', confidence: 'unverified' },
    { text: 'The server port goes in Proxy_N_ as host:port; SIP_Port_N_ is the phone\'s own port', source: 'vendors.md §3.3 (Linksys SPA9x2 guide)', confidence: 'unverified' },
    { text: 'A phone asking for XMLDefault.cnf.xml instead of spa$PSN.cfg got no DHCP option 66', source: 'vendors.md §3.1 (WAZO install.md)', confidence: 'community' },
  ],
};

/** `525g`, `SPA525G`, `spa525g2` → the canonical $PSN spelling. */
const psnOption = z.string().transform((v, ctx) => {
  const s = v.trim().toUpperCase().replace(/^SPA/, '');
  const hit = PSNS.find((p) => p === s);
  if (!hit) {
    ctx.addIssue({ code: 'custom', message: `unknown SPA model '${v.slice(0, 40)}'; known: ${PSNS.join(', ')}` });
    return z.NEVER;
  }
  return hit;
});

const optionsSchema = vendorOptions(ID, {
  /** Product series number: names the first file, spa<PSN>.cfg (default 525G). */
  model: psnOption.optional(),
});

type SpaOptions = z.output<typeof optionsSchema>;

/** SPA5xx has no separate mandatory/optional switch (vendors.md §3.3 [U]): both turn secure calls on. */
const SECURE_CALL: Record<SrtpMode, 'Yes' | 'No'> = { mandatory: 'Yes', optional: 'Yes', off: 'No' };

function psnOf(options: Record<string, unknown>): Psn {
  const o: SpaOptions = optionsSchema.parse(options);
  return o.model ?? DEFAULT_PSN;
}

/** The phone's own profile, `spa<mac>.xml`, as Profile_Rule_B names it with `$MA`. */
function phoneFileName(mac: string): string {
  return `spa${formatMac(mac, 'lower')}.xml`;
}

function renderPhone(ctx: RenderContext): RenderedFile[] {
  const mac = requireMac(ctx, descriptor.name);
  const name = phoneFileName(mac);
  const xml = renderTemplate(ID, 'phone.xml.hbs', {
    fileName: name,
    name: xmlComment(ctx.phone.name),
    commentUser: xmlComment(ctx.sipUser),
    sipUser: xmlText(ctx.sipUser),
    secret: xmlText(ctx.phone.secret),
    displayName: xmlText(displayName(ctx)),
    line: ctx.phone.line,
    proxy: xmlText(hostPort(ctx.registrar)),
    ntp: ctx.ntp === undefined ? undefined : xmlText(ctx.ntp),
    secureCall: SECURE_CALL[ctx.phone.srtp],
  });
  return [file(name, xml, XML, { holdsKey: false, phone: ctx.phone.name })];
}

/** One spa<PSN>.cfg per model in use: it is what a factory-fresh phone of that model asks for. */
function renderShared(ctx: SharedRenderContext): RenderedFile[] {
  const psns = new Set<Psn>(ctx.phones.map((p) => psnOf(p.options)));
  if (psns.size === 0) psns.add(DEFAULT_PSN);
  return [...psns].sort().map((psn) => {
    const fileName = `spa${psn}.cfg`;
    const xml = renderTemplate(ID, 'spa-psn.cfg.hbs', {
      fileName,
      psn,
      org: xmlComment(ctx.org),
      // An explicit tftp:// URL, so the rule does not depend on DHCP still answering later [V] SPA-URL syntax.
      perPhoneRule: xmlText(`tftp://${urlHost(ctx.tftpServer)}/spa$MA.xml`),
    });
    return file(fileName, xml, XML, { holdsKey: false });
  });
}

function instructions(ctx: RenderContext): string[] {
  const psn = psnOf(ctx.options);
  const mac = ctx.phone.mac ? phoneFileName(ctx.phone.mac) : 'spa<mac>.xml';
  return [
    `Cisco SPA: provision over TFTP (DHCP option 66 -> ${ctx.tftpServer}; sipsec dhcp --vendor cisco-spa): HTTPS provisioning needs a Cisco-signed server. The phone fetches spa${psn}.cfg, then ${mac}.`,
    'Cisco SPA: SIP client certificates are not supported on SPA5xx: it registers over TLS with its SIP password only and gets no CA to check the registrar with.',
  ];
}

const ciscoSpa: VendorModule = { descriptor, optionsSchema, renderPhone, renderShared, instructions };
export default ciscoSpa;
