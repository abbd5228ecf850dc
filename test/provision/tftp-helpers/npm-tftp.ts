/**
 * The npm `tftp` package (gagle/node-tftp 0.1.2, CommonJS, no types),
 * started as a server over in-memory files, only so the loss tests can show
 * why sipsec does not use it. The types below are the minimum the tests
 * touch, read from its README and lib/server.js.
 */
import type { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import os from 'node:os';
import type { Writable } from 'node:stream';
import { freeUdpPort } from '../../helpers/udp.js';

interface NpmTftpRequest extends EventEmitter {
  file: string;
  method: 'GET' | 'PUT';
  abort(message?: string): void;
}

interface NpmTftpResponse extends Writable {
  setSize(size: number): void;
}

interface NpmTftpServer extends EventEmitter {
  listen(): void;
  close(): void;
}

interface NpmTftpModule {
  createServer(
    options: { host: string; port: number; root: string; denyPUT?: boolean; timeout?: number; retries?: number; windowSize?: number },
    listener: (req: NpmTftpRequest, res: NpmTftpResponse) => void,
  ): NpmTftpServer;
  ENOENT: string;
}

const requireCjs = createRequire(import.meta.url);

export interface NpmServerHandle {
  port: number;
  close(): void;
}

export async function startNpmTftpServer(
  files: ReadonlyMap<string, Buffer>,
  opts: { timeoutMs: number; retries: number },
): Promise<NpmServerHandle> {
  const tftp = requireCjs('tftp') as NpmTftpModule;
  // Another process may take the port between freeUdpPort() and listen(); retry a few times.
  for (let attempt = 0; ; attempt++) {
    const port = await freeUdpPort();
    const server = tftp.createServer(
      { host: '127.0.0.1', port, root: os.tmpdir(), denyPUT: true, timeout: opts.timeoutMs, retries: opts.retries },
      (req, res) => {
        // README "Error handling": without a listener an abort throws.
        req.on('error', () => undefined);
        const data = files.get(req.file);
        if (!data) {
          req.abort(tftp.ENOENT);
          return;
        }
        res.setSize(data.length);
        res.end(data);
      },
    );
    const started = await new Promise<boolean>((resolve) => {
      server.once('listening', () => resolve(true));
      server.once('error', () => resolve(false));
      server.listen();
    });
    if (started) return { port, close: () => server.close() };
    if (attempt >= 4) throw new Error('could not start the npm tftp server on a free port');
  }
}
