import { linearToUlaw, ulawToLinear } from './g711.js';

/** A PCMU frame of a sine tone: `samples` samples starting at sample `offset`. */
export function toneFrame(freq: number, rate: number, offset: number, samples: number, amplitude = 8000): Buffer {
  const out = Buffer.alloc(samples);
  for (let i = 0; i < samples; i++) out[i] = linearToUlaw(amplitude * Math.sin((2 * Math.PI * freq * (offset + i)) / rate));
  return out;
}

/**
 * How much of a PCMU signal's energy sits at `freq` (Goertzel), from 0 to
 * 1, and its RMS level: a tone comes back as a high ratio at a real level;
 * silence or noise does not.
 */
export function toneReport(pcmu: Uint8Array, freq: number, rate: number): { ratio: number; rms: number } {
  return goertzel(pcmu.length, (i) => ulawToLinear(pcmu[i]!), freq, rate);
}

/** The same for linear 16-bit samples (a WAV recording a phone made of what it heard). */
export function toneReportLinear(samples: ArrayLike<number>, freq: number, rate: number): { ratio: number; rms: number } {
  return goertzel(samples.length, (i) => samples[i]!, freq, rate);
}

function goertzel(n: number, sample: (i: number) => number, freq: number, rate: number): { ratio: number; rms: number } {
  if (n === 0) return { ratio: 0, rms: 0 };
  const coeff = 2 * Math.cos((2 * Math.PI * freq) / rate);
  let s1 = 0;
  let s2 = 0;
  let energy = 0;
  for (let i = 0; i < n; i++) {
    const x = sample(i);
    energy += x * x;
    const s0 = x + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
  // A pure tone of N samples puts N/2 · (total energy) into its Goertzel bin.
  const ratio = energy > 0 ? Math.min(1, (2 * power) / (n * energy)) : 0;
  return { ratio, rms: Math.sqrt(energy / n) };
}
