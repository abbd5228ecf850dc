import * as path from 'node:path';
import { isIP } from 'node:net';
import { SipsecError } from '../core/errors.js';
import type { CaStore } from '../home/store.js';
import type { ServerCert } from '../home/server-cert.js';
import { expiryNote, keyNote, phonesWithoutClientCert, serverTls, type PbxFile, type ServerTls } from './server-tls.js';

/**
 * Kamailio as a SIP/TLS registrar for sipsec phones: tls.cfg for the tls
 * module (option names: Kamailio tls module README, the config proven in
 * peers.md §3 [V here]) and a minimal kamailio.cfg with no database, where
 * a phone is authenticated by its sipsec client certificate and may
 * register only the AOR its certificate names.
 */

export interface KamailioOptions {
  cert?: string;
  /** Where the configs will find the exported files (tls.cfg and keys/); undefined: refer to the CA home in place. */
  installDir?: string;
  /** TLS listen address; default: the registrar address if it is an IP, else 0.0.0.0, on the registrar port. */
  listen?: { host: string; port: number };
  /** Also accept TLS 1.0/1.1 (old phones). */
  legacyTls?: boolean;
  /** Leave the CRL out of tls.cfg (Kamailio then accepts revoked phone certificates). */
  noCrl?: boolean;
  /**
   * A TLS edge in front of this PBX instead of a registrar: Kamailio checks
   * the phones' certificates and the CRL, and relays everything to the PBX
   * over TLS, presenting its own (server) certificate.
   */
  upstream?: { host: string; port: number };
}

export interface KamailioConfig {
  server: ServerCert;
  files: PbxFile[];
  /** tls.cfg's text (what is printed without --out). */
  tlsCfg: string;
  listen: string;
  /** The PBX behind the edge (`sip:HOST:PORT;transport=tls`), or undefined for the registrar. */
  upstream: string | undefined;
  notes: string[];
}

function tlsCfg(tls: ServerTls, o: KamailioOptions): string {
  const method = o.legacyTls ? 'TLSv1+' : 'TLSv1.2+';
  const common = [
    `method = ${method}`,
    'verify_certificate = yes',
    'require_certificate = yes',
    `certificate = ${tls.paths.cert}`,
    `private_key = ${tls.paths.key}`,
    `ca_list = ${tls.paths.ca}`,
    ...(o.noCrl ? [] : [`crl = ${tls.paths.crl}`]),
  ];
  return [
    '# tls.cfg for the sipsec registrar: rendered by sipsec pbx kamailio.',
    '# Phones must present a certificate signed by the sipsec CA' + (o.noCrl ? '.' : ' and not revoked in its CRL;'),
    ...(o.noCrl ? [] : ['# the CRL is valid for 30 days: refresh it (sipsec ca crl --out FILE) and run kamcmd tls.reload.']),
    '',
    '[server:default]',
    ...common,
    '',
    o.upstream ? '# When Kamailio connects to the PBX (and to phones): its own certificate, the same trust.' : '# When Kamailio itself connects to a phone: the same certificate and trust.',
    '[client:default]',
    ...common,
    '',
  ].join('\n');
}

function listenAddress(store: CaStore, o: KamailioOptions): { host: string; port: number } {
  if (o.listen) return o.listen;
  const r = store.config.registrar;
  return { host: isIP(r.host) !== 0 ? r.host : '0.0.0.0', port: r.port };
}

function upstreamUri(u: { host: string; port: number }): string {
  const host = kamString(u.host, 'the --upstream host');
  if (isIP(host) === 0 && !/^[A-Za-z0-9.-]+$/.test(host)) throw new SipsecError('BAD_INPUT', `invalid --upstream host '${host}'`, 'give HOST[:PORT] with an IP address or a DNS name');
  return `sip:${isIP(host) === 6 ? `[${host}]` : host}:${u.port};transport=tls`;
}

function listenSpec(l: { host: string; port: number }): string {
  return `tls:${isIP(l.host) === 6 ? `[${l.host}]` : l.host}:${l.port}`;
}

/** A string inside Kamailio's double quotes. */
function kamString(value: string, what: string): string {
  if (/["\\\r\n]/.test(value)) throw new SipsecError('BAD_INPUT', `${what} cannot go into kamailio.cfg: ${value}`, 'use a plain DNS name');
  return value;
}

function kamailioCfg(store: CaStore, listen: string, tlsCfgPath: string): string {
  const domain = kamString(store.config.domain, 'the SIP domain');
  const registrarHost = store.config.registrar.host;
  const aliases = [...new Set([domain, ...(isIP(registrarHost) === 0 ? [registrarHost] : [])])];
  return `#!KAMAILIO
#
# A minimal SIP/TLS registrar for the sipsec phones: rendered by sipsec pbx kamailio.
# No database: registrations are kept in memory. The TLS layer (tls.cfg) lets in
# only phones with a certificate from the sipsec CA; a phone may then register,
# and send requests, only as the AOR its certificate names (URI SAN sip:user@domain).
# Run in the foreground: kamailio -DD -E -f ${path.join(path.dirname(tlsCfgPath), 'kamailio.cfg')}

####### Global parameters #########

${globalsAndModules(listen, aliases, ['usrloc', 'registrar'])}
loadmodule "nathelper.so"

modparam("tls", "config", "${kamString(tlsCfgPath, 'the tls.cfg path')}")
modparam("usrloc", "db_mode", 0)
modparam("registrar", "received_avp", "$avp(RECEIVED)")
modparam("nathelper", "received_avp", "$avp(RECEIVED)")

####### Routing ########

request_route {
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (!sanity_check()) {
		exit;
	}
	force_rport();
	if (has_totag()) {
		route(WITHINDLG);
		exit;
	}
	if (is_method("CANCEL")) {
		if (t_check_trans()) {
			route(RELAY);
		}
		exit;
	}
	t_check_trans();
	route(CERT_IDENTITY);
	if (is_method("REGISTER")) {
		route(REGISTRAR);
		exit;
	}
	if ($rU == $null) {
		sl_send_reply("484", "Address Incomplete");
		exit;
	}
	if (is_method("INVITE|SUBSCRIBE|UPDATE|REFER")) {
		record_route();
		set_contact_alias();
	}
	if (!lookup("location")) {
		sl_send_reply("404", "Not Found");
		exit;
	}
	route(RELAY);
}

# The phone's certificate names its AOR as a sip: URI SAN (its CN is the phone's
# name, which may differ from its SIP user): the From user must be that AOR's.
route[CERT_IDENTITY] {
	$var(aor) = "sip:" + $fU + "@${domain}";
	if ($tls_peer_san_uri != $var(aor)) {
		xlog("L_NOTICE", "refused $rm from $si:$sp: certificate CN=$tls_peer_subject_cn $tls_peer_san_uri is not $var(aor)\\n");
		sl_send_reply("403", "Certificate does not match user");
		exit;
	}
}

route[REGISTRAR] {
	if ($fU != $tU) {
		sl_send_reply("403", "Register your own AOR only");
		exit;
	}
	fix_nated_register();
	if (!save("location")) {
		sl_reply_error();
	}
	exit;
}

route[WITHINDLG] {
	if (loose_route()) {
		handle_ruri_alias();
		route(RELAY);
		exit;
	}
	if (is_method("ACK")) {
		if (t_check_trans()) {
			route(RELAY);
		}
		exit;
	}
	sl_send_reply("404", "Not here");
	exit;
}

${RELAY_ROUTE}

onreply_route[MANAGE_REPLY] {
	if (status =~ "[12][0-9][0-9]") {
		set_contact_alias();
	}
}
`;
}

/** Both exports relay the same way: replies to dialog-forming requests get the phone's alias (MANAGE_REPLY). */
const RELAY_ROUTE = `route[RELAY] {
	if (is_method("INVITE|SUBSCRIBE|UPDATE|REFER")) {
		t_on_reply("MANAGE_REPLY");
	}
	if (!t_relay()) {
		sl_reply_error();
	}
	exit;
}`;

/**
 * The global parameters and modules both exports share: TLS only, one TLS
 * worker, connections kept as long as registrations, the SIP domain as an
 * alias; then the modules both load, and `extra` (each adds nathelper after).
 */
function globalsAndModules(listen: string, aliases: readonly string[], extra: readonly string[]): string {
  const modules = ['tls', 'tm', 'sl', 'rr', 'pv', 'maxfwd', 'textops', 'siputils', 'sanity', 'xlog', ...extra];
  return `debug=2
log_stderror=no
enable_tls=yes
# TLS only: no UDP or TCP listener.
listen=${listen}
# One TCP/TLS worker: Kamailio 5.6.3 with OpenSSL 3 aborted (double free) under
# TLS connection churn with more (kamailio#3791; peers.md pitfall K1).
tcp_children=1
children=1
# Keep the phones' TLS connections as long as their registrations: requests to a
# phone go back over the connection it registered on.
tcp_connection_lifetime=3605
${aliases.map((a) => `alias="${a}"`).join('\n')}
auto_aliases=no

####### Modules ########

${modules.map((m) => `loadmodule "${m}.so"`).join('\n')}`;
}

/**
 * The TLS edge: what Asterisk cannot do (check the phones' certificates and
 * the CRL), in front of it. Phones' requests are checked like the
 * registrar's (certificate AOR = From) and relayed to the PBX over TLS with
 * Kamailio's own certificate; the PBX reaches a phone through the alias
 * parameter the edge adds to its Contact (nathelper set_contact_alias:
 * received address of the phone's TLS connection), so the PBX needs no Path
 * support. A peer whose CA certificate names no SIP AOR is the PBX.
 */
function edgeCfg(store: CaStore, listen: string, tlsCfgPath: string, upstream: string): string {
  const domain = kamString(store.config.domain, 'the SIP domain');
  const registrarHost = store.config.registrar.host;
  const aliases = [...new Set([domain, ...(isIP(registrarHost) === 0 ? [registrarHost] : [])])];
  return `#!KAMAILIO
#
# A SIP/TLS edge for the sipsec phones in front of the PBX ${upstream}:
# rendered by sipsec pbx kamailio --upstream. The TLS layer (tls.cfg) lets in only
# phones with a certificate from the sipsec CA that is not revoked in its CRL; a
# phone may then send requests only as the AOR its certificate names. Everything
# is relayed to the PBX over TLS with this edge's certificate; the PBX still
# authenticates the phones (digest) and keeps the registrations.
# Run in the foreground: kamailio -DD -E -f ${path.join(path.dirname(tlsCfgPath), 'kamailio.cfg')}

####### Global parameters #########

${globalsAndModules(listen, aliases, [])}
loadmodule "nathelper.so"

modparam("tls", "config", "${kamString(tlsCfgPath, 'the tls.cfg path')}")
# Record-Route with both the phone side and the PBX side on the same TLS socket.
modparam("rr", "enable_full_lr", 1)

####### Routing ########

request_route {
	if (!mf_process_maxfwd_header("10")) {
		sl_send_reply("483", "Too Many Hops");
		exit;
	}
	if (!sanity_check()) {
		exit;
	}
	if (has_totag()) {
		route(WITHINDLG);
		exit;
	}
	if (is_method("CANCEL")) {
		if (t_check_trans()) {
			t_relay();
		}
		exit;
	}
	t_check_trans();
	if ($tls_peer_san_uri == $null) {
		route(FROM_PBX);
		exit;
	}
	force_rport();
	route(CERT_IDENTITY);
	# The PBX reaches the phone back over this very TLS connection.
	if (is_method("REGISTER|INVITE|SUBSCRIBE|UPDATE|REFER")) {
		set_contact_alias();
	}
	if (!is_method("REGISTER")) {
		record_route();
	}
	$du = "${upstream}";
	route(RELAY);
}

# A request from the PBX to a phone: its Request-URI carries the alias of the
# phone's connection (added above to the phone's Contact).
route[FROM_PBX] {
	if (!handle_ruri_alias() || $du == $null) {
		sl_send_reply("404", "Not a phone of this edge");
		exit;
	}
	record_route();
	route(RELAY);
}

# The phone's certificate names its AOR as a sip: URI SAN: the From user must be that AOR's.
route[CERT_IDENTITY] {
	$var(aor) = "sip:" + $fU + "@${domain}";
	if ($tls_peer_san_uri != $var(aor)) {
		xlog("L_NOTICE", "refused $rm from $si:$sp: certificate CN=$tls_peer_subject_cn $tls_peer_san_uri is not $var(aor)\\n");
		sl_send_reply("403", "Certificate does not match user");
		exit;
	}
	if (is_method("REGISTER") && $fU != $tU) {
		sl_send_reply("403", "Register your own AOR only");
		exit;
	}
}

route[WITHINDLG] {
	if (loose_route()) {
		handle_ruri_alias();
		route(RELAY);
		exit;
	}
	if (is_method("ACK")) {
		if (t_check_trans()) {
			t_relay();
		}
		exit;
	}
	sl_send_reply("404", "Not here");
	exit;
}

${RELAY_ROUTE}

# A phone's answer to the PBX: the PBX's later requests find the phone by its alias.
onreply_route[MANAGE_REPLY] {
	if ($tls_peer_san_uri != $null && status =~ "[12][0-9][0-9]") {
		set_contact_alias();
	}
}
`;
}

export async function kamailioConfig(store: CaStore, opts: KamailioOptions): Promise<KamailioConfig> {
  const tls = await serverTls(store, {
    ...(opts.cert !== undefined ? { cert: opts.cert } : {}),
    ...(opts.installDir !== undefined ? { exportTo: { installDir: opts.installDir } } : {}),
    withCrl: !opts.noCrl,
  });
  const listen = listenSpec(listenAddress(store, opts));
  const upstream = opts.upstream ? upstreamUri(opts.upstream) : undefined;
  const tlsText = tlsCfg(tls, opts);
  const notes: string[] = [keyNote(tls, 'kamailio')];
  const noCert = await phonesWithoutClientCert(store.index.phones);
  if (noCert.length > 0) {
    notes.push(`these phones cannot present a client certificate, which this registrar requires, and will be refused: ${noCert.map((p) => `${p.name} (${p.vendor})`).join(', ')}`);
  }
  if (opts.noCrl) notes.push('no CRL: revoked phone certificates are still accepted');
  else if (!tls.inPlace) notes.push(`the exported CRL ${tls.paths.crl} is valid for 30 days and misses later revocations: refresh it with sipsec ca crl --out ${tls.paths.crl}, then kamcmd tls.reload`);
  const expired = expiryNote(tls, store.clock());
  if (expired) notes.push(expired);
  const files: PbxFile[] = [];
  if (opts.installDir !== undefined) {
    const tlsCfgPath = path.join(opts.installDir, 'tls.cfg');
    files.push(
      upstream !== undefined
        ? { name: 'kamailio.cfg', content: edgeCfg(store, listen, tlsCfgPath, upstream), mode: 0o644, secret: false, description: `TLS edge on ${listen} in front of ${upstream}` }
        : { name: 'kamailio.cfg', content: kamailioCfg(store, listen, tlsCfgPath), mode: 0o644, secret: false, description: `registrar listening on ${listen}` },
      { name: 'tls.cfg', content: tlsText, mode: 0o644, secret: false, description: 'TLS settings of the tls module' },
      ...tls.files,
    );
  } else {
    files.push({ name: 'tls.cfg', content: tlsText, mode: 0o644, secret: false, description: 'TLS settings of the tls module (certificates in place in the CA home)' });
  }
  if (upstream !== undefined) {
    if (opts.installDir === undefined) notes.push('--upstream writes kamailio.cfg only with --out DIR');
    notes.push(`the PBX ${upstream} sees the edge's certificate (${tls.name}), not the phones': it authenticates them by their SIP secrets, and must accept this client certificate (sipsec serve: --client-cert optional; Asterisk PJSIP: the same sipsec CA)`);
  }
  return { server: { name: tls.name, serial: tls.serial, notAfter: tls.notAfter }, files, tlsCfg: tlsText, listen, upstream, notes };
}
