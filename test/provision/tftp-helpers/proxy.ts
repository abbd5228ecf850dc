/**
 * A UDP proxy that sits between a TFTP client and server and drops or
 * duplicates chosen packets. It mirrors TFTP's TIDs: each client gets a
 * proxy-side socket towards the server (so the server sees one client TID)
 * and one towards the client (so the client sees one server TID, and its
 * ACKs come back through it).
 *
 *   client ──RRQ──▶ front ──(up)──▶ server:port
 *   client ◀─DATA── down ◀──(up)─── server TID
 *   client ──ACK──▶ down ──(up)──▶ server TID
 */
import dgram from 'node:dgram';
import type { RemoteInfo, Socket } from 'node:dgram';

export type Verdict = 'pass' | 'drop' | 'dup';

export interface ProxyPacket {
  /** c2s: client to server; s2c: server to client. */
  dir: 'c2s' | 's2c';
  opcode: number;
  /** Block number for DATA and ACK, -1 otherwise. */
  block: number;
  length: number;
  /** 1 for the first DATA with this block number in this direction, 2 for its first copy, ... */
  occurrence: number;
  verdict?: Verdict;
}

export interface LossyProxy {
  port: number;
  /** Every packet seen, in order, with the verdict applied. */
  readonly log: ProxyPacket[];
  close(): Promise<void>;
}

interface Session {
  client: RemoteInfo;
  up: Socket;
  down: Socket;
  serverPort: number | undefined;
  seen: Map<string, number>;
}

function bind(sock: Socket): Promise<void> {
  return new Promise((resolve) => sock.bind(0, '127.0.0.1', () => resolve()));
}

export async function startProxy(opts: {
  serverPort: number;
  filter: (p: ProxyPacket) => Verdict;
}): Promise<LossyProxy> {
  const front = dgram.createSocket('udp4');
  const sessions = new Map<string, Promise<Session>>();
  const log: ProxyPacket[] = [];
  const sockets: Socket[] = [front];

  const classify = (s: Session, dir: 'c2s' | 's2c', msg: Buffer): ProxyPacket => {
    const opcode = msg.length >= 2 ? msg.readUInt16BE(0) : -1;
    const block = (opcode === 3 || opcode === 4) && msg.length >= 4 ? msg.readUInt16BE(2) : -1;
    const key = `${dir}:${opcode}:${block}`;
    const occurrence = (s.seen.get(key) ?? 0) + 1;
    s.seen.set(key, occurrence);
    return { dir, opcode, block, length: msg.length, occurrence };
  };
  const relay = (s: Session, dir: 'c2s' | 's2c', msg: Buffer, out: Socket, port: number): void => {
    const p = classify(s, dir, msg);
    p.verdict = opts.filter(p);
    log.push(p);
    if (p.verdict === 'drop') return;
    out.send(msg, port, '127.0.0.1');
    if (p.verdict === 'dup') out.send(msg, port, '127.0.0.1');
  };

  const open = async (client: RemoteInfo): Promise<Session> => {
    const s: Session = {
      client,
      up: dgram.createSocket('udp4'),
      down: dgram.createSocket('udp4'),
      serverPort: undefined,
      seen: new Map(),
    };
    sockets.push(s.up, s.down);
    s.up.on('message', (msg, rinfo) => {
      s.serverPort = rinfo.port;
      relay(s, 's2c', msg, s.down, s.client.port);
    });
    s.down.on('message', (msg) => relay(s, 'c2s', msg, s.up, s.serverPort ?? opts.serverPort));
    await Promise.all([bind(s.up), bind(s.down)]);
    return s;
  };
  // One session per client TID; a resent RRQ joins the session already opening.
  const session = (client: RemoteInfo): Promise<Session> => {
    const key = `${client.address}:${client.port}`;
    let s = sessions.get(key);
    if (!s) {
      s = open(client);
      sessions.set(key, s);
    }
    return s;
  };

  front.on('message', (msg, rinfo) => {
    void session(rinfo).then((s) => relay(s, 'c2s', msg, s.up, opts.serverPort));
  });
  await bind(front);

  return {
    port: front.address().port,
    log,
    close: async () => {
      await Promise.all(sockets.map((sock) => new Promise<void>((resolve) => {
        try {
          sock.close(() => resolve());
        } catch {
          resolve();
        }
      })));
    },
  };
}
