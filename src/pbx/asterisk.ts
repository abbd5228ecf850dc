import { isIP } from 'node:net';
import { SipsecError } from '../core/errors.js';
import type { CaStore } from '../home/store.js';
import type { Phone } from '../home/schema.js';
import { sipUser } from '../inventory/phones.js';
import { loadVendor } from '../vendors/registry.js';
import type { ServerCert } from '../home/server-cert.js';
import { expiryNote, keyNote, phonesWithoutClientCert, serverTls, type PbxFile, type ServerTls } from './server-tls.js';

/**
 * Asterisk configuration for every phone in the inventory, SIP over TLS
 * with SDES-SRTP, for either SIP channel driver:
 * - PJSIP (default): a TLS transport and per phone an endpoint, an auth and
 *   an aor (option names from AST configs/samples/pjsip.conf.sample [V]);
 * - chan_sip (Asterisk <= 20; removed in 21): [general] TLS settings read by
 *   main/tcptls.c ast_tls_read_conf [V] and one friend per phone.
 * Plus a small dialplan so the phones can call each other, and the echo
 * extension serve has (Answer, Echo) so `sipsec probe` works against it.
 *
 * Asterisk checks no CRL for SIP/TLS (neither driver has a setting; a CRL
 * appended to the CA file is ignored [V Asterisk 20, peers.md §10]): the
 * export leaves out phones without a current valid certificate, so a
 * re-export after `sipsec cert revoke` removes the phone's secret too.
 */

export type AsteriskDriver = 'pjsip' | 'chan_sip';

export interface AsteriskOptions {
  driver: AsteriskDriver;
  /** Server certificate name (default: the only one). */
  cert?: string;
  /** Where the configs will find the exported key files; undefined: refer to the CA home in place. */
  installDir?: string;
  /** TLS listen address; default 0.0.0.0:<registrar port>. */
  bind?: { host: string; port: number };
  /** PJSIP: add a second transport speaking TLS 1.0 on this port, used by phones whose vendor tops out below TLS 1.2. chan_sip: re-enable TLS 1.0/1.1. */
  legacyTlsPort?: number;
  /** Require phones to present a sipsec certificate (PJSIP only); default: when every phone's vendor can. */
  clientCerts?: 'require' | 'off';
  /** Dialplan context of the phones. */
  context?: string;
  /** The echo extension (Answer, Echo), as serve's `--echo-ext`; 'off' leaves it out. Default 200. */
  echoExt?: string;
}

export interface AsteriskConfig {
  driver: AsteriskDriver;
  server: ServerCert;
  /** Files to write (configs, and the exported keys when installDir is set). */
  files: PbxFile[];
  /** The channel driver's config file (what is printed without --out). */
  main: string;
  /** Endpoint / peer names, one per phone. */
  endpoints: string[];
  /** Phones left out (no current valid certificate: revoked, expired or superseded). */
  leftOut: Array<{ name: string; reason: string }>;
  /** The echo extension in the dialplan, or undefined with echoExt 'off'. */
  echoExt: string | undefined;
  notes: string[];
}

export const DEFAULT_ECHO_EXT = '200';

const DEFAULT_CONTEXT = 'sipsec-phones';

/**
 * A value in an Asterisk .conf file: `;` starts a comment unless written
 * `\;` (Asterisk config parser). Secrets may contain `;` (validatePhone
 * allows it); line breaks never reach here (refused on input), checked anyway.
 */
export function confValue(value: string): string {
  if (/[\r\n]/.test(value)) throw new SipsecError('INTERNAL', 'a value with a line break cannot go into an Asterisk config', 'this is a bug in sipsec');
  return value.replace(/;/g, '\\;');
}

type Entry = readonly [string, string | number] | string;

/** One `[name]` section; a plain string entry is a comment line. */
function section(name: string, entries: Entry[]): string {
  const lines = [`[${name}]`];
  for (const e of entries) lines.push(typeof e === 'string' ? `; ${e}` : `${e[0]}=${e[1]}`);
  return lines.join('\n') + '\n';
}

function hostPort(h: { host: string; port: number }): string {
  return isIP(h.host) === 6 ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`;
}

function callerId(p: Phone): string | undefined {
  return p.displayName ? `"${confValue(p.displayName)}" <${sipUser(p)}>` : undefined;
}

/** Vendors whose descriptor says they top out below TLS 1.2 (an unknown vendor counts as modern). */
async function legacyTlsVendors(phones: Phone[]): Promise<Set<string>> {
  const legacy = new Set<string>();
  for (const id of new Set(phones.map((p) => p.vendor))) {
    try {
      const max = (await loadVendor(id)).descriptor.tls.max;
      if (max === '1.0' || max === '1.1') legacy.add(id);
    } catch {
      // not a registered vendor: nothing known about it
    }
  }
  return legacy;
}

/** Said in every generated config and the README: Asterisk itself never learns of a revocation. */
export const REVOCATION_NOTE = [
  'Asterisk checks no CRL (neither PJSIP nor chan_sip; a CRL appended to the CA file is ignored):',
  'a revoked phone certificate still completes the TLS handshake. Phones without a current valid',
  'certificate are left out of this file, so re-export it after every sipsec cert revoke and reload',
  'Asterisk; or put the Kamailio TLS edge in front (sipsec pbx kamailio --upstream), which checks the CRL.',
];

function header(what: string, driverLine: string): string[] {
  return [
    `; ${what}: rendered by sipsec (${driverLine}); re-run it after adding or removing phones.`,
    '; It holds the phones\' SIP secrets: keep it readable by Asterisk only (chown root:asterisk, chmod 640).',
    ...REVOCATION_NOTE.map((l) => `; ${l}`),
    '',
  ];
}

function pjsipConf(store: CaStore, tls: ServerTls, phones: Phone[], o: Required<Pick<AsteriskOptions, 'context'>> & AsteriskOptions, requireCerts: boolean, legacyVendors: Set<string>): string {
  const bind = o.bind ?? { host: '0.0.0.0', port: store.config.registrar.port };
  const out: string[] = header('pjsip.conf for the sipsec phones', 'sipsec pbx asterisk --pjsip');
  out.push('; Use it as pjsip.conf, or #include it from yours (section names must not clash).', '');
  const transport = (name: string, port: number, method: string, why: string): string =>
    section(name, [
      why,
      ['type', 'transport'],
      ['protocol', 'tls'],
      ['bind', hostPort({ host: bind.host, port })],
      ['cert_file', tls.paths.cert],
      ['priv_key_file', tls.paths.key],
      ['ca_list_file', tls.paths.ca],
      ['method', method],
      // verify_client checks the chain only; PJSIP maps no certificate to an endpoint (sip-srtp.md §3.2 [V]).
      ['verify_client', requireCerts ? 'yes' : 'no'],
      ['require_client_cert', requireCerts ? 'yes' : 'no'],
    ]);
  // One method per PJSIP transport (asterisk#93). tlsv1_2 means TLS 1.2 only (pjsip ssl_get_proto:
  // PJ_SSL_SOCK_PROTO_TLS1_2 alone, so SSL_OP_NO_TLSv1_3: a TLS 1.3 phone gets "protocol version").
  // sslv23 sets no SSL_OP_NO_* and leaves the floor to OpenSSL, whose default security level 1 and
  // up refuses TLS 1.0/1.1 since 3.0: TLS 1.2 and 1.3, checked against Asterisk 20 + pjproject 2.17
  // with OpenSSL 3.0 (npm run interop -- asterisk: 1.3 and 1.2 accepted, 1.1 refused).
  out.push(transport('transport-tls', bind.port, 'sslv23', 'SIP over TLS 1.2 or 1.3 with the sipsec server certificate (sslv23: what OpenSSL allows; 3.0 refuses 1.0/1.1).'));
  if (o.legacyTlsPort !== undefined) {
    out.push('', transport('transport-tls-legacy', o.legacyTlsPort, 'tlsv1', 'TLS 1.0 for phones whose firmware has nothing newer (a second transport: one method per transport).'));
  }
  for (const p of phones) {
    const user = sipUser(p);
    const legacy = o.legacyTlsPort !== undefined && legacyVendors.has(p.vendor);
    const endpoint: Entry[] = [
      `${p.name} (${p.vendor}), SRTP ${p.srtp}`,
      ['type', 'endpoint'],
      ['transport', legacy ? 'transport-tls-legacy' : 'transport-tls'],
      ['context', o.context],
      ['disallow', 'all'],
      ['allow', 'ulaw,alaw'],
      ['auth', `${user}-auth`],
      ['aors', user],
    ];
    const cid = callerId(p);
    if (cid) endpoint.push(['callerid', cid]);
    if (p.srtp === 'off') {
      endpoint.push(['media_encryption', 'no']);
    } else {
      endpoint.push(['media_encryption', 'sdes']);
      // Optional SRTP: also accept a=crypto on RTP/AVP offers (sip-srtp.md §1.4 [V]).
      if (p.srtp === 'optional') endpoint.push(['media_encryption_optimistic', 'yes']);
    }
    // Keep Asterisk in the media path and reach the phone over its own TLS connection.
    endpoint.push(['direct_media', 'no'], ['rtp_symmetric', 'yes'], ['force_rport', 'yes'], ['rewrite_contact', 'yes']);
    out.push('', section(user, endpoint));
    out.push(
      section(`${user}-auth`, [
        ['type', 'auth'],
        ['auth_type', 'userpass'],
        ['username', confValue(user)],
        ['password', confValue(p.secret)],
        // The challenge realm the sipsec client configs expect (linphone's auth_info realm).
        ['realm', store.config.domain],
      ]),
    );
    out.push(section(user, [['type', 'aor'], ['max_contacts', 1], ['remove_existing', 'yes']]));
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n');
}

function sipConf(store: CaStore, tls: ServerTls, phones: Phone[], o: Required<Pick<AsteriskOptions, 'context'>> & AsteriskOptions): string {
  const bind = o.bind ?? { host: '0.0.0.0', port: store.config.registrar.port };
  const legacy = o.legacyTlsPort !== undefined;
  const out: string[] = header('sip.conf for the sipsec phones', 'sipsec pbx asterisk --chan-sip; chan_sip exists up to Asterisk 20');
  out.push(
    '; chan_sip reads only the first [general]: merge this one into yours, or use the file as sip.conf.',
    '; chan_sip accepts phones without a client certificate, whatever tlscafile suggests: it never asks a',
    '; phone for one ("Ignoring unsupported option tlsverifyclient"), so the SIP secret alone authenticates',
    '; a phone. Use --pjsip (require_client_cert) or the Kamailio TLS edge to require certificates.',
    '',
  );
  out.push(
    section('general', [
      ['context', 'sipsec-unauthenticated'],
      ['allowguest', 'no'],
      ['realm', store.config.domain],
      'Plain SIP stays on loopback: the phones use TLS.',
      ['udpbindaddr', '127.0.0.1:5060'],
      ['tcpenable', 'no'],
      ['tlsenable', 'yes'],
      ['tlsbindaddr', hostPort(bind)],
      ['tlscertfile', tls.paths.cert],
      ['tlsprivatekey', tls.paths.key],
      ['tlscafile', tls.paths.ca],
      legacy ? 'TLS 1.0 and 1.1 left on (--legacy-tls) for old phones.' : 'TLS 1.2 and newer only (tcptls.c ast_tls_read_conf).',
      ['tlsdisablev1', legacy ? 'no' : 'yes'],
      ['tlsdisablev11', legacy ? 'no' : 'yes'],
      'NAT here, not per peer: a peer whose nat differs from [general] makes chan_sip warn that peer names become discoverable.',
      ['nat', 'force_rport,comedia'],
    ]),
  );
  for (const p of phones) {
    const user = sipUser(p);
    const peer: Entry[] = [
      `${p.name} (${p.vendor}), SRTP ${p.srtp}`,
      ['type', 'friend'],
      ['host', 'dynamic'],
      ['transport', 'tls'],
      ['defaultuser', confValue(user)],
      ['secret', confValue(p.secret)],
      ['context', o.context],
      ['disallow', 'all'],
      ['allow', 'ulaw,alaw'],
    ];
    const cid = callerId(p);
    if (cid) peer.push(['callerid', cid]);
    if (p.srtp === 'optional') peer.push('chan_sip has no optional SRTP: encryption=yes offers and requires RTP/SAVP (sip-srtp.md §1.4).');
    peer.push(['encryption', p.srtp === 'off' ? 'no' : 'yes'], ['directmedia', 'no']);
    out.push('', section(user, peer));
  }
  return out.join('\n').replace(/\n{3,}/g, '\n\n');
}

function extensionsConf(phones: Phone[], driver: AsteriskDriver, context: string, echoExt: string | undefined): string {
  const tech = driver === 'pjsip' ? 'PJSIP' : 'SIP';
  const lines = [
    `; Dialplan for the sipsec phones: rendered by sipsec pbx asterisk. #include it from extensions.conf.`,
    '',
    `[${context}]`,
  ];
  if (echoExt !== undefined) {
    // The echo extension serve has (--echo-ext): what sipsec probe calls to prove SRTP both ways.
    lines.push(`exten => ${echoExt},1,Answer()`, ' same => n,Echo()', ' same => n,Hangup()');
  }
  for (const p of phones) {
    const user = sipUser(p);
    lines.push(`exten => ${user},1,Dial(${tech}/${user},30)`, ' same => n,Hangup()');
  }
  lines.push('', '[sipsec-unauthenticated]', 'exten => _X.,1,Hangup(21)');
  return lines.join('\n') + '\n';
}

export async function asteriskConfig(store: CaStore, opts: AsteriskOptions): Promise<AsteriskConfig> {
  const context = opts.context ?? DEFAULT_CONTEXT;
  if (!/^[A-Za-z0-9_-]{1,79}$/.test(context)) throw new SipsecError('BAD_INPUT', `invalid dialplan context '${context}'`, 'use letters, digits, - and _');
  const tls = await serverTls(store, { ...(opts.cert !== undefined ? { cert: opts.cert } : {}), ...(opts.installDir !== undefined ? { exportTo: { installDir: opts.installDir } } : {}) });
  const echoExt = opts.echoExt === 'off' ? undefined : (opts.echoExt ?? DEFAULT_ECHO_EXT);
  if (echoExt !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._+-]{0,31}$/.test(echoExt)) throw new SipsecError('BAD_INPUT', `invalid --echo-ext '${echoExt}'`, 'give an extension such as 200, or off');
  const notes: string[] = [];
  const { phones, leftOut } = currentPhones(store);
  if (echoExt !== undefined) {
    const clash = phones.find((p) => sipUser(p) === echoExt);
    if (clash) throw new SipsecError('BAD_INPUT', `the echo extension ${echoExt} is also the SIP user of phone ${clash.name}`, 'choose another with --echo-ext EXT, or --echo-ext off');
  }
  for (const l of leftOut) notes.push(`left out ${l.name}: ${l.reason}; Asterisk checks no CRL, so its endpoint and secret are not exported`);
  const noCert = await phonesWithoutClientCert(phones);
  const requireCerts = opts.clientCerts === undefined ? phones.length > 0 && noCert.length === 0 : opts.clientCerts === 'require';
  if (opts.driver === 'pjsip' && opts.clientCerts === undefined && noCert.length > 0) {
    notes.push(`client certificates not required: ${noCert.map((p) => `${p.name} (${p.vendor})`).join(', ')} cannot present one (--client-certs require forces it)`);
  }
  if (opts.driver === 'chan_sip' && opts.clientCerts === 'require') {
    notes.push('chan_sip never verifies client certificates ("Ignoring unsupported option tlsverifyclient"): --client-certs has no effect');
  }
  const legacyVendors = await legacyTlsVendors(phones);
  const o = { ...opts, context };
  const main = opts.driver === 'pjsip' ? 'pjsip.conf' : 'sip.conf';
  const conf = opts.driver === 'pjsip' ? pjsipConf(store, tls, phones, o, requireCerts, legacyVendors) : sipConf(store, tls, phones, o);
  const files: PbxFile[] = [
    { name: main, content: conf, mode: 0o600, secret: true, description: `${opts.driver} configuration with ${phones.length} phone(s)` },
    { name: 'extensions_sipsec.conf', content: extensionsConf(phones, opts.driver, context, echoExt), mode: 0o644, secret: false, description: `dialplan context ${context}${echoExt !== undefined ? `, echo on ${echoExt}` : ''}` },
    ...tls.files,
  ];
  notes.push(keyNote(tls, 'asterisk'));
  if (phones.length === 0) notes.push('the inventory has no phones yet: only the TLS transport was written');
  const expired = expiryNote(tls, store.clock());
  if (expired) notes.push(expired);
  return {
    driver: opts.driver,
    server: { name: tls.name, serial: tls.serial, notAfter: tls.notAfter },
    files,
    main,
    endpoints: phones.map((p) => sipUser(p)),
    leftOut,
    echoExt,
    notes,
  };
}

/** Phones with a current valid certificate, and the others with why (revoked, expired, none). */
export function currentPhones(store: CaStore): { phones: Phone[]; leftOut: Array<{ name: string; reason: string }> } {
  const now = store.clock();
  const phones: Phone[] = [];
  const leftOut: Array<{ name: string; reason: string }> = [];
  for (const p of store.index.phones) {
    const cert = store.current(p.name);
    if (cert && new Date(cert.notAfter) >= now) {
      phones.push(p);
      continue;
    }
    const last = store.history(p.name).at(-1);
    const reason = cert ? `its certificate expired on ${cert.notAfter}` : last?.status === 'revoked' ? `its certificate (serial ${last.serial}) is revoked` : 'it has no valid certificate';
    leftOut.push({ name: p.name, reason });
  }
  return { phones, leftOut };
}
