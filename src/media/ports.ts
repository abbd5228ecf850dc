import * as dgram from 'node:dgram';
import * as dns from 'node:dns';
import { isIP } from 'node:net';
import { SipsecError, errnoCode } from '../core/errors.js';

/**
 * Even/odd UDP port pairs for RTP/RTCP from a configured range (RFC 3550
 * §11: RTP on an even port, RTCP on the next). A port taken by another
 * program is skipped, not fatal.
 */
export class PortPool {
  private next: number;
  private readonly inUse = new Set<number>();

  constructor(
    readonly min: number,
    readonly max: number,
  ) {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1024 || max > 65535 || max - min < 3) {
      throw new SipsecError('BAD_INPUT', `invalid RTP port range ${min}-${max}`, 'give a range such as 20000-29999 (at least 4 ports, above 1023)');
    }
    this.min = min + (min % 2);
    this.next = this.min;
  }

  get size(): number {
    return Math.floor((this.max - this.min + 1) / 2);
  }

  get used(): number {
    return this.inUse.size;
  }

  /** Bind an RTP socket (and an RTCP one unless muxed) on the next free pair. */
  async open(host: string, rtcpMux: boolean): Promise<{ rtp: dgram.Socket; rtcp: dgram.Socket | undefined; port: number }> {
    const type = host.includes(':') ? 'udp6' : 'udp4';
    for (let tries = 0; tries < this.size; tries++) {
      const port = this.next;
      this.next = this.next + 2 > this.max - 1 ? this.min : this.next + 2;
      if (this.inUse.has(port)) continue;
      const rtp = dgram.createSocket({ type, recvBufferSize: 256 * 1024, lookup: literalLookup });
      const ok = await bind(rtp, port, host);
      if (!ok) continue;
      let rtcp: dgram.Socket | undefined;
      if (!rtcpMux) {
        rtcp = dgram.createSocket({ type, lookup: literalLookup });
        if (!(await bind(rtcp, port + 1, host))) {
          rtp.close();
          continue;
        }
      }
      this.inUse.add(port);
      return { rtp, rtcp, port };
    }
    throw new SipsecError('BUSY', `no free RTP port pair in ${this.min}-${this.max}`, 'widen --rtp-ports or end some calls');
  }

  release(port: number): void {
    this.inUse.delete(port);
  }
}

/**
 * Media is only ever sent to the address a packet came from (an IP
 * literal), so the sockets resolve nothing. dgram's default lookup is
 * dns.lookup, which answers even a literal on the next tick: a closure
 * and a trip through the tick queue for every packet the echo sends.
 * This answers synchronously, so send() goes straight to the socket.
 */
function literalLookup(address: string, options: dns.LookupOneOptions | number, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const family = isIP(address);
  if (family !== 0) return callback(null, address, family);
  // A name (only ever `--bind`, at bind time) still resolves the usual way; dgram passes the family as a number.
  if (typeof options === 'number') dns.lookup(address, options, callback);
  else dns.lookup(address, options, callback);
}

function bind(sock: dgram.Socket, port: number, host: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => {
      sock.close();
      const code = errnoCode(e);
      if (code === 'EADDRINUSE' || code === 'EACCES') resolve(false);
      else reject(e);
    };
    sock.once('error', onError);
    sock.bind(port, host, () => {
      sock.off('error', onError);
      resolve(true);
    });
  });
}
