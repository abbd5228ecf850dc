import { BlockList, isIP } from 'node:net';
import { SipsecError } from './errors.js';

/** `::ffff:10.0.0.1` (IPv4 on a dual-stack socket) → `10.0.0.1`, so one address has one spelling. */
export function plainIp(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

export function remoteString(address: string | undefined, port: number | undefined): string {
  const a = plainIp(address ?? '?');
  return isIP(a) === 6 ? `[${a}]:${port ?? 0}` : `${a}:${port ?? 0}`;
}

/** An allow-list of CIDR blocks (`10.0.0.0/8`, `2001:db8::/32`, or single addresses), checked natively. */
export class AllowList {
  private readonly list = new BlockList();
  readonly entries: string[];

  constructor(cidrs: string[]) {
    this.entries = cidrs;
    for (const c of cidrs) {
      const [addr = '', bits] = c.trim().split('/');
      const family = isIP(addr);
      const prefix = bits === undefined ? (family === 6 ? 128 : 32) : Number(bits);
      if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (family === 6 ? 128 : 32)) {
        throw new SipsecError('BAD_INPUT', `invalid CIDR '${c}'`, 'write it as 10.0.1.0/24, 2001:db8::/32 or a single address');
      }
      this.list.addSubnet(addr, prefix, family === 6 ? 'ipv6' : 'ipv4');
    }
  }

  /** An empty list allows everyone. */
  allows(address: string): boolean {
    if (this.entries.length === 0) return true;
    const a = plainIp(address);
    return this.list.check(a, isIP(a) === 6 ? 'ipv6' : 'ipv4');
  }
}
