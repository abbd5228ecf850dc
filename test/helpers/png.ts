import { inflateSync } from 'node:zlib';

/**
 * A minimal PNG decoder for the screenshot checks (PNG spec, ISO/IEC
 * 15948): 8-bit truecolour (RGB, colour type 2) or truecolour with alpha
 * (RGBA, type 6), not interlaced, which is what Chromium writes. Chunks
 * are walked by length (CRCs are not checked: the file came from a local
 * program, not the network), the IDAT data inflated with node:zlib, and
 * each scanline unfiltered (filter types 0-4, §9.2).
 */
export interface DecodedPng {
  width: number;
  height: number;
  /** Bytes per pixel: 3 (RGB) or 4 (RGBA). */
  channels: 3 | 4;
  /** Unfiltered pixels, row after row, `channels` bytes each. */
  pixels: Buffer;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** The Paeth predictor (§9.4): whichever of left, up, up-left is closest to left + up - up-left. */
function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  if (pa <= pb && pa <= pc) return a;
  return pb <= pc ? b : c;
}

export function decodePng(file: Buffer): DecodedPng {
  if (file.length < 8 || !file.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG file (bad signature)');
  let off = 8;
  let width = 0;
  let height = 0;
  let channels: 3 | 4 | undefined;
  const idat: Buffer[] = [];
  while (off + 8 <= file.length) {
    const len = file.readUInt32BE(off);
    const type = file.toString('latin1', off + 4, off + 8);
    const data = file.subarray(off + 8, off + 8 + len);
    if (data.length !== len) throw new Error(`truncated ${type} chunk`);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const depth = data[8];
      const colour = data[9];
      const interlace = data[12];
      if (depth !== 8) throw new Error(`bit depth ${depth} is not supported (8 only)`);
      if (colour !== 2 && colour !== 6) throw new Error(`colour type ${colour} is not supported (RGB or RGBA only)`);
      if (interlace !== 0) throw new Error('interlaced PNGs are not supported');
      channels = colour === 2 ? 3 : 4;
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    off += 12 + len; // length, type, data, CRC
  }
  if (channels === undefined || width === 0 || height === 0) throw new Error('no IHDR chunk');
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length < height * (stride + 1)) throw new Error(`image data too short: ${raw.length} bytes for ${width}x${height}`);
  const pixels = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = y * stride;
    for (let x = 0; x < stride; x++) {
      // a = left (same channel, previous pixel), b = up, c = up-left; 0 outside the image.
      const a = x >= channels ? pixels[row + x - channels]! : 0;
      const b = y > 0 ? pixels[row - stride + x]! : 0;
      const c = x >= channels && y > 0 ? pixels[row - stride + x - channels]! : 0;
      let v = line[x]!;
      switch (filter) {
        case 0:
          break;
        case 1:
          v += a;
          break;
        case 2:
          v += b;
          break;
        case 3:
          v += (a + b) >> 1;
          break;
        case 4:
          v += paeth(a, b, c);
          break;
        default:
          throw new Error(`unknown filter type ${filter} on row ${y}`);
      }
      pixels[row + x] = v & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

export interface PngStats {
  /** Distinct RGB colours. */
  colours: number;
  /** Pixels that are not (near) white. */
  nonWhite: number;
  total: number;
  /** How many pixels are (near) each of the given colours. */
  near: Record<string, number>;
}

/** Colour statistics of a decoded image; `targets` are #rrggbb colours counted within `tolerance` per channel. */
export function pngStats(img: DecodedPng, targets: Record<string, string> = {}, tolerance = 6): PngStats {
  const seen = new Set<number>();
  const near: Record<string, number> = {};
  const want = Object.entries(targets).map(([name, hex]) => {
    near[name] = 0;
    const n = parseInt(hex.replace(/^#/, ''), 16);
    return { name, r: (n >> 16) & 0xff, g: (n >> 8) & 0xff, b: n & 0xff };
  });
  let nonWhite = 0;
  const total = img.width * img.height;
  for (let i = 0; i < total; i++) {
    const o = i * img.channels;
    const r = img.pixels[o]!;
    const g = img.pixels[o + 1]!;
    const b = img.pixels[o + 2]!;
    seen.add((r << 16) | (g << 8) | b);
    if (r < 245 || g < 245 || b < 245) nonWhite++;
    for (const t of want) if (Math.abs(r - t.r) <= tolerance && Math.abs(g - t.g) <= tolerance && Math.abs(b - t.b) <= tolerance) near[t.name]!++;
  }
  return { colours: seen.size, nonWhite, total, near };
}
