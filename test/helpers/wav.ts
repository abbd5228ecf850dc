import { readFileSync, writeFileSync } from 'node:fs';
import { toneReportLinear } from '../../src/media/tone.js';

/**
 * Just enough RIFF/WAVE (16-bit PCM) for the echo tests: read what a peer
 * recorded of a call, write a tone for a peer to play, and find a tone in
 * a recording window by window.
 */
export interface Wav {
  rate: number;
  channels: number;
  /** The first channel, as signed 16-bit samples. */
  samples: Int16Array;
}

/**
 * Reads a 16-bit PCM WAV. The data chunk is clamped to the file: linphonec
 * 5.1 leaves a data size in the header that runs past the end when it is
 * stopped mid-call, and baresip's sndfile may too if it is killed.
 */
export function readWav(file: string): Wav {
  const b = readFileSync(file);
  if (b.length < 12 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WAVE') throw new Error(`${file}: not a RIFF/WAVE file`);
  let at = 12;
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  while (at + 8 <= b.length) {
    const id = b.toString('latin1', at, at + 4);
    const size = b.readUInt32LE(at + 4);
    const body = at + 8;
    if (id === 'fmt ') {
      fmt = { format: b.readUInt16LE(body), channels: b.readUInt16LE(body + 2), rate: b.readUInt32LE(body + 4), bits: b.readUInt16LE(body + 14) };
    } else if (id === 'data') {
      if (!fmt) throw new Error(`${file}: data chunk before fmt`);
      if (fmt.format !== 1 || fmt.bits !== 16) throw new Error(`${file}: format ${fmt.format}, ${fmt.bits} bits; expected 16-bit PCM`);
      const end = Math.min(b.length, body + size);
      const frames = Math.floor((end - body) / (2 * fmt.channels));
      const samples = new Int16Array(frames);
      for (let i = 0; i < frames; i++) samples[i] = b.readInt16LE(body + i * 2 * fmt.channels);
      return { rate: fmt.rate, channels: fmt.channels, samples };
    }
    at = body + size + (size % 2);
  }
  throw new Error(`${file}: no data chunk`);
}

/** Writes a mono 16-bit PCM WAV of a sine tone. */
export function writeToneWav(file: string, o: { freq: number; rate: number; seconds: number; amplitude?: number }): void {
  const n = Math.round(o.rate * o.seconds);
  const b = Buffer.alloc(44 + n * 2);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(36 + n * 2, 4);
  b.write('WAVEfmt ', 8, 'latin1');
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(o.rate, 24);
  b.writeUInt32LE(o.rate * 2, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36, 'latin1');
  b.writeUInt32LE(n * 2, 40);
  const amp = o.amplitude ?? 10_000;
  for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(amp * Math.sin((2 * Math.PI * o.freq * i) / o.rate)), 44 + i * 2);
  writeFileSync(file, b);
}

export interface ToneScan {
  /** Seconds of 100-ms windows that are the tone (most energy at `freq`, above `minRms`). */
  toneSeconds: number;
  /** Seconds of windows that are silence (RMS under 50). */
  silentSeconds: number;
  totalSeconds: number;
  /** Goertzel ratio and RMS over the windows that carry sound at all. */
  ratio: number;
  rms: number;
}

/**
 * Scans a recording in 100-ms windows (a whole number of periods for any
 * tone that is a multiple of 10 Hz, so the Goertzel bin is exact): a
 * recording of a call begins with silence until the echo's audio arrives,
 * so windows, not the whole file, tell how much of it is the tone.
 */
export function scanTone(w: Wav, freq: number, minRms = 500): ToneScan {
  const win = Math.round(w.rate / 10);
  let tone = 0;
  let silent = 0;
  const loud: number[] = [];
  for (let at = 0; at + win <= w.samples.length; at += win) {
    const seg = w.samples.subarray(at, at + win);
    const r = toneReportLinear(seg, freq, w.rate);
    if (r.rms < 50) silent++;
    else for (const x of seg) loud.push(x);
    if (r.ratio > 0.8 && r.rms >= minRms) tone++;
  }
  const all = toneReportLinear(loud, freq, w.rate);
  return { toneSeconds: tone / 10, silentSeconds: silent / 10, totalSeconds: w.samples.length / w.rate, ratio: all.ratio, rms: all.rms };
}
