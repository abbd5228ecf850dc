import { z } from 'zod';
import { SipsecError } from '../core/errors.js';
import type { SrtpMode } from '../home/schema.js';
import { PEM, TEXT, hostPort, lineValue } from './files.js';
import { vendorOptions } from './options.js';
import { absolutePathOption, ipOption, listenOption, portOption, portRangeOption } from './client-options.js';
import { certKeyBundle, clientDirFiles, isLoopbackHost, servedPath, type SiblingRef } from './ready-dir.js';
import { renderTemplate } from './templates.js';
import type { Phone } from '../home/schema.js';
import type { RenderContext, RenderedFile, VendorDescriptor, VendorModule } from './types.js';

/**
 * baresip as a headless test client (and a usable softphone): a `config`,
 * an `accounts` line and one PEM with certificate + key, run as
 * `baresip -f <dir>`. Facts: vendors.md §8.1 [V] BARESIP, RE; what works on
 * Debian's baresip 1.0.0 without a sound card: peers.md §4 [V here].
 */

const ID = 'baresip';

const descriptor: VendorDescriptor = {
  id: ID,
  name: 'baresip (1.0.x, Debian baresip-core)',
  kind: 'test-client',
  macRequired: false,
  macCase: 'none',
  // Fetched with curl or used from the ready directory; nothing boots from TFTP.
  transports: ['https', 'http'],
  // `sip_certificate` is loaded as both chain and private key from the same file [V] RE tls_alloc().
  certDelivery: ['bundle-pem'],
  srtp: {
    // Offers exactly one line, AES_CM_128_HMAC_SHA1_80; as answerer it also takes _32 and both GCM
    // suites, first supported offer wins (vendors.md §8.1 [V] srtp.c; peers.md §4 [V here]).
    suites: ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AEAD_AES_128_GCM', 'AEAD_AES_256_GCM'],
    sendsLifetime: false,
    // mediaenc=srtp itself offers RTP/AVP + a=crypto, and baresip accepts it (sip-srtp.md §1.4 [V]).
    avpCrypto: true,
  },
  tls: {
    // libre on OpenSSL 3 [V peers.md §1]; Debian's OpenSSL policy keeps the floor at TLS 1.2 [U].
    max: '1.3',
    clientCert: true,
    // 1.0.0 registered with sip_cafile pointing at an unrelated CA (peers.md §4 pitfall [V here]).
    verifiesServer: false,
  },
  bootFiles: ['baresip/<name>/config', 'baresip/<name>/accounts', 'baresip/<name>/cert.pem', 'baresip/<name>/ca.crt'],
  settings: {
    caTrust: '`sip_cafile` in config (baresip 1.0 does not check the server anyway)',
    transport: '`;transport=tls` in accounts',
    srtp: '`;mediaenc=srtp-mand` in accounts',
    clock: 'the host clock',
    clientCert: '`sip_certificate` (cert + key PEM) in config',
  },
  quirks: [
    { text: 'Offers only a=crypto:1 AES_CM_128_HMAC_SHA1_80, without lifetime or MKI; ignores lifetime/MKI/session params in offers it answers', source: 'peers.md §4; sip-srtp.md §5.1 (BARESIP modules/srtp)', confidence: 'verified' },
    { text: 'baresip 1.0.0 does not verify the registrar certificate even with sip_cafile set: do not use it to test server-certificate rejection', source: 'peers.md §4 pitfall', confidence: 'verified' },
    { text: 'ausine supports only 48 kHz stereo (ausrc_srate 48000, ausrc_channels 2); Debian has no null player module, alsa,null works', source: 'peers.md §4 pitfalls', confidence: 'verified' },
    { text: 'net_interface needs an address (127.0.0.1), not an interface name (lo); without it the SDP c= line may carry another interface', source: 'peers.md §4 pitfall', confidence: 'verified' },
    { text: 'The stdio control module needs a terminal; headless control is ctrl_tcp (netstring JSON), which this config loads', source: 'peers.md §4', confidence: 'verified' },
    { text: 'module_path must be set (Debian: /usr/lib/baresip/modules): without it modules are looked up in the working directory', source: 'tested with baresip 1.0.0 on Debian 12', confidence: 'verified' },
    { text: 'auth_pass is cut at the first ";" (account parameters are ;-separated and not unescaped): a secret containing ";" cannot be rendered', source: 'BARESIP src/account.c msg_param_decode + pl_strdup', confidence: 'verified' },
    { text: 'The sndfile module (record_dir) dumps both directions as 16-bit mono WAV at the codec rate, after decoding: a call\'s dec.wav is what the phone heard', source: 'tested with baresip 1.0.0 on Debian 12 (sipsec echo test)', confidence: 'verified' },
    { text: 'At stream start it sends one plaintext RTCP APP packet (name PING, data PONG) before SRTP is up; an SRTP peer must drop it', source: 'capture of baresip 1.0.0 calling the sipsec echo', confidence: 'verified' },
    { text: 'With a wrong-length SDES key it answers as if accepted but sends plain RTP', source: 'sip-srtp.md §5.1 (code reading)', confidence: 'unverified' },
  ],
};

const optionsSchema = vendorOptions(ID, {
  /**
   * SIP listen address:port; baresip also binds TLS on port+1 (libre opens
   * UDP/TCP on the port, TLS on the next), so two baresips on one machine
   * need ports at least 2 apart: `phone add` refuses a neighbouring port of
   * another baresip phone in the inventory. Default: any address, random ports.
   */
  sip_listen: listenOption.optional(),
  /** ctrl_tcp port on 127.0.0.1 (default 4444, baresip's own default). */
  ctrl_port: portOption.optional(),
  /** RTP port range, e.g. 20000-20099. */
  rtp_ports: portRangeOption.optional(),
  /** Address to bind and advertise; default 127.0.0.1 when the registrar is on loopback. */
  net_interface: ipOption.optional(),
  /** Where baresip's modules are (default: Debian's /usr/lib/baresip/modules). */
  module_path: absolutePathOption.optional(),
  /** test: sine source + ALSA null player (no sound card); alsa: the default ALSA device. */
  audio: z.enum(['test', 'alsa']).optional(),
  /** manual or auto (answer incoming calls at once). */
  answermode: z.enum(['manual', 'auto']).optional(),
  /**
   * Record every call as WAV files in this directory (baresip's sndfile
   * module, `snd_path`): dump-<time>-enc.wav is what it sends, dump-<time>-dec.wav
   * what it hears. Off by default.
   */
  record_dir: absolutePathOption.optional(),
});

type BaresipOptions = z.output<typeof optionsSchema>;

const DEFAULT_CTRL_PORT = 4444;
const DEFAULT_MODULE_PATH = '/usr/lib/baresip/modules';

/** `mediaenc` per SRTP mode: srtp-mand offers RTP/SAVP, srtp offers RTP/AVP + a=crypto [V] srtp.c. */
const MEDIAENC: Record<SrtpMode, string | undefined> = { mandatory: 'srtp-mand', optional: 'srtp', off: undefined };

/**
 * A value inside the account line's `;name=value` parameters: baresip reads
 * up to the next `;` or whitespace and does not unescape, so such values
 * cannot be written at all (vendors.md §8.1; BARESIP account.c).
 */
function paramValue(ctx: RenderContext, value: string, what: string): string {
  if (/[;\s"<>]/.test(value)) {
    throw new SipsecError(
      'UNSUPPORTED',
      `${what} of phone '${ctx.phone.name}' contains a character baresip cannot read in its accounts file (';', a space, a quote, '<' or '>')`,
      `add the phone again with another --secret (a generated one never contains these)`,
    );
  }
  return value;
}

function accountLine(ctx: RenderContext, o: BaresipOptions): string {
  const user = paramValue(ctx, ctx.sipUser, 'the SIP user');
  const aor = `<sip:${user}@${ctx.domain};transport=tls>`;
  const params = [
    `auth_user=${user}`,
    `auth_pass=${paramValue(ctx, ctx.phone.secret, 'the SIP secret')}`,
    // Register through the registrar by address, over TLS, whatever the SIP domain resolves to.
    `outbound="sip:${hostPort(ctx.registrar)};transport=tls"`,
  ];
  const mediaenc = MEDIAENC[ctx.phone.srtp];
  if (mediaenc) params.push(`mediaenc=${mediaenc}`);
  if (o.answermode) params.push(`answermode=${o.answermode}`);
  const display = ctx.phone.displayName ? `"${ctx.phone.displayName}" ` : '';
  return lineValue(`${display}${aor};${params.join(';')}`, 'the baresip account line');
}

function build(ctx: RenderContext, o: BaresipOptions, ref: SiblingRef, runHint: string) {
  const netInterface = o.net_interface ?? (isLoopbackHost(ctx.registrar.host) ? '127.0.0.1' : undefined);
  const config = renderTemplate(ID, 'config.hbs', {
    name: ctx.phone.name,
    user: ctx.sipUser,
    runHint,
    certFile: ref('cert.pem'),
    caFile: ref('ca.crt'),
    sipListen: o.sip_listen,
    netInterface,
    rtpPorts: o.rtp_ports,
    testAudio: (o.audio ?? 'test') === 'test',
    modulePath: o.module_path ?? DEFAULT_MODULE_PATH,
    ctrlPort: o.ctrl_port ?? DEFAULT_CTRL_PORT,
    recordDir: o.record_dir,
  });
  const accounts = renderTemplate(ID, 'accounts.hbs', {
    name: ctx.phone.name,
    registrar: hostPort(ctx.registrar),
    mediaencText: MEDIAENC[ctx.phone.srtp] ?? 'off',
    accountLine: accountLine(ctx, o),
  });
  return [
    { name: 'config', content: config, contentType: TEXT, holdsKey: false },
    { name: 'accounts', content: accounts, contentType: TEXT, holdsKey: false },
    { name: 'cert.pem', content: certKeyBundle(ctx), contentType: PEM, holdsKey: true },
    { name: 'ca.crt', content: ctx.pem.ca, contentType: PEM, holdsKey: false },
  ];
}

function renderPhone(ctx: RenderContext): RenderedFile[] {
  const o: BaresipOptions = optionsSchema.parse(ctx.options);
  return clientDirFiles(ctx, ID, (ref, readyDir) => {
    if (readyDir === undefined) return build(ctx, o, ref, 'Run it from the directory holding these four files: cd DIR && baresip -f .');
    // baresip's config values end at the first space (libre conf_get: `[~ \t\r\n]+`): a ready
    // directory whose path has one gets bare names, run from inside it.
    if (/\s/.test(readyDir)) return build(ctx, o, (name) => name, 'Its path contains a space, which baresip cannot read in a config: cd into it and run baresip -f .');
    return build(ctx, o, ref, `Run: baresip -f ${readyDir}`);
  });
}

function instructions(ctx: RenderContext): string[] {
  const o: BaresipOptions = optionsSchema.parse(ctx.options);
  const ctrl = `127.0.0.1:${o.ctrl_port ?? DEFAULT_CTRL_PORT}`;
  const lines: string[] = [];
  const audio = (o.audio ?? 'test') === 'test' ? 'no sound card needed; ' : '';
  if (ctx.localDir !== undefined) {
    const run = /\s/.test(ctx.localDir) ? `cd '${ctx.localDir}' && baresip -f .` : `baresip -f ${ctx.localDir}`;
    lines.push(`baresip: run ${run} (${audio}control over ctrl_tcp on ${ctrl}, e.g. the reginfo command).`);
  }
  const base = `${ctx.provisioningUrl}${servedPath(ID, ctx.phone.name, '')}`;
  lines.push(`baresip: or fetch ${base}{config,accounts,cert.pem,ca.crt} into one directory and run: cd DIR && baresip -f . (cert.pem holds the private key).`);
  return lines;
}

/** host and port of a stored sip_listen value (`127.0.0.1:15060`, `[::1]:5070`). */
function listenOf(p: Phone): { host: string; port: number } | undefined {
  const v = p.options['sip_listen'];
  const m = typeof v === 'string' ? /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(v) : null;
  return m ? { host: (m[1] ?? m[2])!, port: Number(m[3]) } : undefined;
}

const ANY = new Set(['0.0.0.0', '::']);

/** baresip binds sip_listen's port and port+1 (TLS) [V peers.md §10]: ports closer than 2 on one address clash. */
function inventoryConflicts(phone: Phone, others: readonly Phone[]): string[] {
  const mine = listenOf(phone);
  if (!mine) return [];
  const out: string[] = [];
  for (const o of others) {
    if (o.vendor !== ID || o.name === phone.name) continue;
    const theirs = listenOf(o);
    if (!theirs || Math.abs(theirs.port - mine.port) > 1) continue;
    if (theirs.host !== mine.host && !ANY.has(theirs.host) && !ANY.has(mine.host)) continue;
    out.push(`${phone.name}: baresip sip_listen port ${mine.port} clashes with ${o.name}'s ${theirs.port}: baresip also binds TLS on port+1; keep baresip phones at least 2 ports apart`);
  }
  return out;
}

const baresip: VendorModule = { descriptor, optionsSchema, renderPhone, instructions, inventoryConflicts };
export default baresip;
