import { isIP } from 'node:net';
import { z } from 'zod';
import type { SrtpMode } from '../home/schema.js';
import { PEM, TEXT, hostPort, lineValue } from './files.js';
import { vendorOptions, yesNoOption } from './options.js';
import { ipOption, portOption, portRangeOption } from './client-options.js';
import { clientDirFiles, isLoopbackHost, servedPath, type SiblingRef } from './ready-dir.js';
import { renderTemplate } from './templates.js';
import type { RenderContext, RenderedFile, VendorDescriptor, VendorModule } from './types.js';

/**
 * Linphone (liblinphone; linphonec from Debian's linphone-cli 5.1.65 as the
 * headless test client): one `linphonerc` plus the certificate, key and CA
 * it names. Keys: vendors.md §8.2 [V] LINPHONE, LIN-KEYS; what works
 * headless: peers.md §5 [V here].
 */

const ID = 'linphone';

const descriptor: VendorDescriptor = {
  id: ID,
  name: 'Linphone (liblinphone 5.x: linphonec, desktop and mobile apps)',
  kind: 'test-client',
  macRequired: false,
  macCase: 'none',
  transports: ['https', 'http'],
  // [sip] root_ca, client_cert_chain, client_cert_key are file paths [V] linphonecore.c.
  certDelivery: ['files'],
  srtp: {
    // linphonec 5.1.65 offers these four, in this order, without lifetime/MKI (peers.md §5 [V here]);
    // this build cannot do GCM ("Unsupported crypto suite"). Newer liblinphone offers GCM first (sip-srtp.md §5.2).
    suites: ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AES_256_CM_HMAC_SHA1_80', 'AES_256_CM_HMAC_SHA1_32'],
    sendsLifetime: false,
    // With SRTP it offers RTP/SAVP; only after a 488/415, and only when not mandatory, does it retry plain RTP/AVP (sip-srtp.md §1.4 [V]).
    avpCrypto: false,
  },
  tls: {
    // mbedTLS 2.28 for SIP/TLS: TLS 1.2, no TLS 1.3 (peers.md §1, §5 [V here]).
    max: '1.2',
    clientCert: true,
    verifiesServer: true,
  },
  bootFiles: ['linphone/<name>/linphonerc', 'linphone/<name>/cert.pem', 'linphone/<name>/key.pem', 'linphone/<name>/ca.crt'],
  settings: {
    caTrust: '`root_ca` in [sip] of linphonerc',
    transport: '`reg_proxy=<sip:HOST:PORT;transport=tls>`',
    srtp: '`media_encryption=srtp` and `media_encryption_mandatory=1`',
    clock: 'the host clock',
    clientCert: '`client_cert_chain` / `client_cert_key`',
  },
  quirks: [
    { text: 'belle-sip on mbedTLS 2.28 ignores iPAddress SANs: a registrar dialled by IP fails "CN-mismatch" unless verify_server_cn=0 (the chain is still verified)', source: 'peers.md §5 pitfall L1', confidence: 'verified' },
    { text: 'linphonec hangs at start-up when $HOME/.local/share/linphone is missing', source: 'peers.md §5 pitfall L2', confidence: 'verified' },
    { text: 'Without a sound card use the linphonec command "soundcard use files" and play a WAV; an ALSA null default hangs the media ticker', source: 'peers.md §5 pitfall L3', confidence: 'verified' },
    { text: 'linphonec rewrites its -c file on exit (as a new 0600 regular file): never give it a special file such as /dev/null', source: 'peers.md §5 pitfall L5', confidence: 'verified' },
    { text: 'sip_port/sip_tcp_port -1 means a random port, not disabled; 0 disables the transport', source: 'linphonec 5.1.65 log "Random port for listening point" (tested here)', confidence: 'verified' },
    { text: 'Applying a remote-provisioning XML deletes all auth_info sections first', source: 'vendors.md §8.2 (remote_provisioning.c)', confidence: 'verified' },
    { text: 'Media encryption is core-wide ([sip] media_encryption), not per account, in liblinphone 5.x', source: 'vendors.md §8.2 (account-params.cpp key list)', confidence: 'verified' },
    { text: 'GCM suites are refused by the Debian 12 build ("Unsupported crypto suite")', source: 'peers.md §5', confidence: 'verified' },
  ],
};

/** The suite names liblinphone 5.x reads in srtp_crypto_suites (MSCryptoSuite names). */
const LINPHONE_SUITES = ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AES_256_CM_HMAC_SHA1_80', 'AES_256_CM_HMAC_SHA1_32', 'AEAD_AES_128_GCM', 'AEAD_AES_256_GCM'];

/** A comma-separated list of suites, each once; written back as liblinphone writes its default (", "). */
const srtpSuitesOption = z.string().transform((v, ctx) => {
  const names = v.split(',').map((x) => x.trim()).filter((x) => x !== '');
  const bad = names.find((n) => !LINPHONE_SUITES.includes(n));
  if (names.length === 0 || bad !== undefined || new Set(names).size !== names.length) {
    ctx.addIssue({ code: 'custom', message: `expected a comma-separated list of distinct suites from ${LINPHONE_SUITES.join(', ')}${bad !== undefined ? `, got '${bad.slice(0, 40)}'` : ''}` });
    return z.NEVER;
  }
  return names.join(', ');
});

const optionsSchema = vendorOptions(ID, {
  /** TLS listen port; default -1: a random port (the registrar reaches the phone over its own connection). */
  sip_tls_port: portOption.optional(),
  /** RTP audio port range, e.g. 20200-20299. */
  rtp_ports: portRangeOption.optional(),
  /** Check the registrar's certificate name; default: yes for a DNS name, no for an IP (pitfall L1). */
  verify_server_cn: yesNoOption.optional(),
  /** Address to bind; default 127.0.0.1 when the registrar is on loopback. */
  bind_address: ipOption.optional(),
  /**
   * SDES suites to offer, comma-separated, in order ([sip] srtp_crypto_suites);
   * default: liblinphone's own list. linphonec 5.1 (Debian 12) cannot do the GCM ones.
   */
  srtp_suites: srtpSuitesOption.optional(),
  /** Digest realm the auth_info applies to; default: the SIP domain (what sipsec's PBX configs challenge with). */
  realm: z
    .string()
    .regex(/^[A-Za-z0-9.\-_:[\]]{1,253}$/, 'a realm such as pbx.mycompany.com')
    .optional(),
});

type LinphoneOptions = z.output<typeof optionsSchema>;

/** [sip] media_encryption / media_encryption_mandatory per SRTP mode [V] linphonecore.c. */
const MEDIA: Record<SrtpMode, { encryption: string; mandatory: 0 | 1 }> = {
  mandatory: { encryption: 'srtp', mandatory: 1 },
  optional: { encryption: 'srtp', mandatory: 0 },
  off: { encryption: 'none', mandatory: 0 },
};

function verifyCn(ctx: RenderContext, o: LinphoneOptions): { value: 0 | 1; why: string } {
  if (o.verify_server_cn !== undefined) {
    return { value: o.verify_server_cn ? 1 : 0, why: 'Certificate name check as set with the verify_server_cn option.' };
  }
  if (isIP(ctx.registrar.host) !== 0) {
    return {
      value: 0,
      why: `0: the registrar is configured by IP (${ctx.registrar.host}) and mbedTLS ignores IP SANs (it would fail "CN-mismatch"); the chain is still checked against root_ca.`,
    };
  }
  return { value: 1, why: `1: the registrar's certificate must name ${ctx.registrar.host} (DNS SAN or CN).` };
}

function build(ctx: RenderContext, o: LinphoneOptions, ref: SiblingRef, readyDir: string | undefined) {
  const registrar = hostPort(ctx.registrar);
  const cn = verifyCn(ctx, o);
  const uri = `sip:${ctx.sipUser}@${ctx.domain}`;
  const runHint =
    readyDir === undefined
      ? 'Run it from the directory holding these four files: cd DIR && linphonec -c linphonerc (with $HOME/.local/share/linphone present).'
      : `Run: linphonec -c ${ref('linphonerc')} (with $HOME/.local/share/linphone present).`;
  const rc = renderTemplate(ID, 'linphonerc.hbs', {
    name: ctx.phone.name,
    user: lineValue(ctx.sipUser, 'SIP user'),
    runHint,
    tlsPort: o.sip_tls_port ?? -1,
    bindAddress: o.bind_address ?? (isLoopbackHost(ctx.registrar.host) ? '127.0.0.1' : undefined),
    caFile: ref('ca.crt'),
    certFile: ref('cert.pem'),
    keyFile: ref('key.pem'),
    verifyCn: cn.value,
    verifyCnWhy: cn.why,
    srtpMode: ctx.phone.srtp,
    mediaEncryption: MEDIA[ctx.phone.srtp].encryption,
    mandatory: MEDIA[ctx.phone.srtp].mandatory,
    rtpPorts: o.rtp_ports,
    srtpSuites: o.srtp_suites,
    registrar,
    identity: lineValue(ctx.phone.displayName ? `"${ctx.phone.displayName}" <${uri}>` : uri, 'identity'),
    secret: lineValue(ctx.phone.secret, 'SIP secret'),
    realm: o.realm ?? ctx.domain,
    domain: ctx.domain,
  });
  return [
    { name: 'linphonerc', content: rc, contentType: TEXT, holdsKey: false },
    { name: 'cert.pem', content: ctx.pem.cert, contentType: PEM, holdsKey: false },
    // PKCS#8, unencrypted: mbedTLS reads it (tested with linphonec 5.1.65).
    { name: 'key.pem', content: ctx.pem.key, contentType: PEM, holdsKey: true },
    { name: 'ca.crt', content: ctx.pem.ca, contentType: PEM, holdsKey: false },
  ];
}

function renderPhone(ctx: RenderContext): RenderedFile[] {
  const o: LinphoneOptions = optionsSchema.parse(ctx.options);
  return clientDirFiles(ctx, ID, (ref, readyDir) => build(ctx, o, ref, readyDir));
}

function instructions(ctx: RenderContext): string[] {
  const lines: string[] = [];
  if (ctx.localDir !== undefined) {
    lines.push(`linphone: run linphonec -c ${ctx.localDir}/linphonerc (needs $HOME/.local/share/linphone; without a sound card type "soundcard use files").`);
  }
  const base = `${ctx.provisioningUrl}${servedPath(ID, ctx.phone.name, '')}`;
  lines.push(`linphone: or fetch ${base}{linphonerc,cert.pem,key.pem,ca.crt} into one directory and run: cd DIR && linphonec -c linphonerc (key.pem is the private key).`);
  return lines;
}

const linphone: VendorModule = { descriptor, optionsSchema, renderPhone, instructions };
export default linphone;
