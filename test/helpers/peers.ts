import { spawnSync } from 'node:child_process';

/**
 * Real third-party programs the tests drive. A missing one fails the test
 * with the command that installs it; tests never skip quietly.
 */
export const PEERS = {
  openssl: { bin: 'openssl', pkg: 'openssl' },
  certtool: { bin: 'certtool', pkg: 'gnutls-bin' },
  curl: { bin: 'curl', pkg: 'curl' },
  atftp: { bin: 'atftp', pkg: 'atftp' },
  tftp: { bin: 'tftp', pkg: 'tftp-hpa' },
  'in.tftpd': { bin: 'in.tftpd', pkg: 'tftpd-hpa' },
  baresip: { bin: 'baresip', pkg: 'baresip baresip-core' },
  sipp: { bin: 'sipp', pkg: 'sip-tester' },
  stunnel: { bin: 'stunnel4', pkg: 'stunnel4' },
  linphonec: { bin: 'linphonec', pkg: 'linphone-cli' },
  kamailio: { bin: 'kamailio', pkg: 'kamailio kamailio-tls-modules' },
  tshark: { bin: 'tshark', pkg: 'tshark' },
  cc: { bin: 'cc', pkg: 'gcc libc6-dev libsrtp2-dev pkg-config' },
  chromium: { bin: 'chromium', pkg: 'chromium' },
  script: { bin: 'script', pkg: 'bsdutils' },
  dnsmasq: { bin: 'dnsmasq', pkg: 'dnsmasq-base' },
  dhcpd: { bin: 'dhcpd', pkg: 'isc-dhcp-server' },
  'kea-dhcp4': { bin: 'kea-dhcp4', pkg: 'kea-dhcp4-server' },
  'fail2ban-regex': { bin: 'fail2ban-regex', pkg: 'fail2ban' },
  tar: { bin: 'tar', pkg: 'tar' },
} as const;

export type PeerName = keyof typeof PEERS;

function which(bin: string): string | undefined {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  const out = r.stdout.trim();
  return r.status === 0 && out ? out : undefined;
}

const cache = new Map<PeerName, string>();

/** The peer's absolute path, or an Error naming the install command. */
export function requirePeer(name: PeerName): string {
  const hit = cache.get(name);
  if (hit) return hit;
  const peer = PEERS[name];
  const found = which(peer.bin);
  if (!found) {
    throw new Error(`peer '${peer.bin}' is missing: install it with: apt-get install -y --no-install-recommends ${peer.pkg} (or run: node scripts/peers.mjs --install)`);
  }
  cache.set(name, found);
  return found;
}
