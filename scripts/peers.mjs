#!/usr/bin/env node
// Checks (and with --install, installs) the Debian packages the tests drive.
// Idempotent: does nothing when every peer is present.
import { spawnSync } from 'node:child_process';

const PEERS = [
  ['openssl', 'openssl'], ['certtool', 'gnutls-bin'], ['curl', 'curl'], ['atftp', 'atftp'],
  ['tftp', 'tftp-hpa'], ['in.tftpd', 'tftpd-hpa'], ['baresip', 'baresip'], ['sipp', 'sip-tester'],
  ['stunnel4', 'stunnel4'], ['linphonec', 'linphone-cli'], ['kamailio', 'kamailio'], ['tshark', 'tshark'],
  ['cc', 'gcc'], ['chromium', 'chromium'], ['script', 'bsdutils'],
  ['dnsmasq', 'dnsmasq-base'], ['dhcpd', 'isc-dhcp-server'], ['kea-dhcp4', 'kea-dhcp4-server'],
  ['fail2ban-regex', 'fail2ban'], ['tar', 'tar'], ['pg_ctlcluster', 'postgresql'],
];
const EXTRA = ['baresip-core', 'kamailio-tls-modules', 'libc6-dev', 'libsrtp2-dev', 'pkg-config', 'procps', 'iproute2'];

const has = (bin) => spawnSync('sh', ['-c', `command -v ${bin}`]).status === 0;
const hasHeader = () => spawnSync('sh', ['-c', 'test -f /usr/include/srtp2/srtp.h']).status === 0;
// The PostgreSQL server binaries (initdb, pg_ctl) are off PATH in Debian: /usr/lib/postgresql/<v>/bin.
const hasPgServer = () => spawnSync('sh', ['-c', 'ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1']).status === 0;
const hasKamTls = () => spawnSync('sh', ['-c', 'ls /usr/lib/*/kamailio/modules/tls.so >/dev/null 2>&1']).status === 0;

const missing = PEERS.filter(([bin]) => !has(bin)).map(([, pkg]) => pkg);
if (!hasHeader()) missing.push('libsrtp2-dev');
if (!hasKamTls()) missing.push('kamailio-tls-modules');
if (!hasPgServer()) missing.push('postgresql');
if (missing.length === 0) process.exit(0);

const pkgs = [...new Set([...missing, ...EXTRA, ...PEERS.map(([, p]) => p)])];
const cmd = `apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
if (!process.argv.includes('--install')) {
  console.error(`missing test peers: ${missing.join(', ')}\ninstall them with: ${cmd}`);
  process.exit(1);
}
const root = process.getuid?.() === 0;
const sudo = root ? [] : ['sudo', '-n'];
if (!root && !has('sudo')) {
  console.error(`missing test peers: ${missing.join(', ')}; run as root: ${cmd}`);
  process.exit(1);
}
console.error(`installing test peers: ${missing.join(', ')}`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
const run = (args, input) => spawnSync(args[0], args.slice(1), { stdio: [input ? 'pipe' : 'inherit', 'inherit', 'inherit'], input, env });
run([...sudo, 'debconf-set-selections'], 'wireshark-common wireshark-common/install-setuid boolean false\n');
let r = run([...sudo, 'apt-get', 'install', '-y', '--no-install-recommends', ...pkgs]);
if (r.status !== 0) {
  run([...sudo, 'apt-get', 'update']);
  r = run([...sudo, 'apt-get', 'install', '-y', '--no-install-recommends', ...pkgs]);
}
process.exit(r.status ?? 1);
