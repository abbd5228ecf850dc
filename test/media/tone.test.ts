import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { linearToUlaw, ulawToLinear } from '../../src/media/g711.js';
import { toneFrame, toneReport } from '../../src/media/tone.js';

test('G.711 μ-law: known code points and a round trip within the quantisation step', () => {
  assert.equal(linearToUlaw(0), 0xff);
  assert.equal(linearToUlaw(-1), 0x7f);
  assert.equal(linearToUlaw(32767), 0x80);
  assert.equal(linearToUlaw(-32768), 0x00);
  assert.equal(ulawToLinear(0xff), 0);
  assert.equal(ulawToLinear(0x80), 32124);
  assert.equal(ulawToLinear(0x00), -32124);
  for (const x of [-20000, -1000, -50, 0, 37, 999, 12345, 30000]) {
    const back = ulawToLinear(linearToUlaw(x));
    assert.ok(Math.abs(back - x) <= Math.max(8, Math.abs(x) / 16), `${x} -> ${back}`);
  }
});

test('the tone detector tells a tone from another tone, noise and silence', () => {
  const tone = Buffer.concat(Array.from({ length: 50 }, (_, i) => toneFrame(1000, 8000, i * 160, 160)));
  assert.ok(toneReport(tone, 1000, 8000).ratio > 0.9);
  assert.ok(toneReport(tone, 1000, 8000).rms > 3000);
  assert.ok(toneReport(tone, 440, 8000).ratio < 0.05);
  const other = Buffer.concat(Array.from({ length: 50 }, (_, i) => toneFrame(440, 8000, i * 160, 160)));
  assert.ok(toneReport(other, 1000, 8000).ratio < 0.05);
  assert.ok(toneReport(randomBytes(8000), 1000, 8000).ratio < 0.05);
  assert.equal(toneReport(Buffer.alloc(8000, 0xff), 1000, 8000).rms, 0);
});
