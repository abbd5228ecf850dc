import dgram from 'node:dgram';

/**
 * A UDP port on 127.0.0.1 that was free a moment ago, for servers that
 * cannot pick their own (the npm `tftp` package maps port 0 to 69;
 * in.tftpd takes its address on the command line). Another process may
 * take it before the server binds: callers retry.
 */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}
