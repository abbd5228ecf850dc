/**
 * TFTP packets built and read independently of src/provision/tftp, so a
 * mistake in the server's encoder cannot hide behind the same mistake here.
 */

export type Options = Record<string, string | number>;

function request(op: 1 | 2, name: string | Buffer, mode: string, options: Options = {}): Buffer {
  const parts: Buffer[] = [Buffer.from([0, op])];
  parts.push(typeof name === 'string' ? Buffer.from(name, 'latin1') : name, Buffer.from([0]));
  parts.push(Buffer.from(mode, 'latin1'), Buffer.from([0]));
  for (const [k, v] of Object.entries(options)) {
    parts.push(Buffer.from(k, 'latin1'), Buffer.from([0]), Buffer.from(String(v), 'latin1'), Buffer.from([0]));
  }
  return Buffer.concat(parts);
}

export function rrq(name: string | Buffer, mode = 'octet', options?: Options): Buffer {
  return request(1, name, mode, options);
}

export function wrq(name: string | Buffer, mode = 'octet', options?: Options): Buffer {
  return request(2, name, mode, options);
}

export function ack(block: number): Buffer {
  return Buffer.from([0, 4, (block >> 8) & 0xff, block & 0xff]);
}

export function errorPacket(code: number, message: string): Buffer {
  return Buffer.concat([Buffer.from([0, 5, (code >> 8) & 0xff, code & 0xff]), Buffer.from(message, 'latin1'), Buffer.from([0])]);
}

export type Decoded =
  | { op: 'DATA'; block: number; data: Buffer }
  | { op: 'ACK'; block: number }
  | { op: 'ERROR'; code: number; message: string }
  | { op: 'OACK'; options: Record<string, string> }
  | { op: 'OTHER'; opcode: number };

export function decode(msg: Buffer): Decoded {
  const opcode = msg.length >= 2 ? msg.readUInt16BE(0) : -1;
  switch (opcode) {
    case 3:
      return { op: 'DATA', block: msg.readUInt16BE(2), data: msg.subarray(4) };
    case 4:
      return { op: 'ACK', block: msg.readUInt16BE(2) };
    case 5: {
      const end = msg.indexOf(0, 4);
      return { op: 'ERROR', code: msg.readUInt16BE(2), message: msg.toString('latin1', 4, end < 0 ? msg.length : end) };
    }
    case 6: {
      const fields = msg.toString('latin1', 2).split('\0');
      const options: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) options[fields[i].toLowerCase()] = fields[i + 1];
      return { op: 'OACK', options };
    }
    default:
      return { op: 'OTHER', opcode };
  }
}

/** Deterministic bytes (xorshift32), so a failing comparison is reproducible. */
export function pseudoRandomBytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/** A deterministic PRNG in [0, 1) for seeded loss patterns. */
export function seededRandom(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}
