import { randomInt } from 'node:crypto';

// No 0/O, 1/l/I: secrets get typed into phone web UIs by hand.
const ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';

/** A 22-character secret (~128 bits) from the CSPRNG. */
export function generateSecret(length = 22): string {
  let s = '';
  for (let i = 0; i < length; i++) s += ALPHABET[randomInt(ALPHABET.length)];
  return s;
}
