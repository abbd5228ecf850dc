/**
 * HMAC-SHA1 (src/srtp/hmac.ts: SHA-1 in JS with the pads precompressed for
 * short messages, OpenSSL one-shots for long ones): the RFC 2202 §3 test
 * cases, then every message length from 0 to 600 octets (each SHA-1
 * padding case: the 55/56/64-octet edges, two tail blocks, and both sides
 * of the switch to OpenSSL) against node:crypto, over a workspace as the
 * SRTP transforms use it and over plain data.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createHmac, randomBytes } from 'node:crypto';
import { HmacSha1 } from '../../src/srtp/hmac.js';
import { Workspace } from '../../src/srtp/workspace.js';

const RFC2202: Array<{ key: Buffer; data: Buffer; mac: string }> = [
  { key: Buffer.alloc(20, 0x0b), data: Buffer.from('Hi There'), mac: 'b617318655057264e28bc0b6fb378c8ef146be00' },
  { key: Buffer.from('Jefe'), data: Buffer.from('what do ya want for nothing?'), mac: 'effcdf6ae5eb2fa2d27416d5f184df9c259a7c79' },
  { key: Buffer.alloc(20, 0xaa), data: Buffer.alloc(50, 0xdd), mac: '125d7342b9ac11cd91a39af48aa17b4f63f175d3' },
  { key: Buffer.from(Array.from({ length: 25 }, (_, i) => i + 1)), data: Buffer.alloc(50, 0xcd), mac: '4c9007f4026250c6bc8414f9bf50c86c2d7235da' },
  { key: Buffer.alloc(20, 0x0c), data: Buffer.from('Test With Truncation'), mac: '4c1a03424b55e07fe7f27be1d58bb9324a9a5a04' },
  { key: Buffer.alloc(80, 0xaa), data: Buffer.from('Test Using Larger Than Block-Size Key - Hash Key First'), mac: 'aa4ae5e15272d00e95705637ce8a3b55ed402112' },
  { key: Buffer.alloc(80, 0xaa), data: Buffer.from('Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data'), mac: 'e8e99d0f45237d786d6bbaa7965c7808bbff1a91' },
];

test('HMAC-SHA1: RFC 2202 test cases 1-7 (incl. keys longer than a block)', () => {
  for (const [i, v] of RFC2202.entries()) {
    assert.equal(new HmacSha1(v.key).mac(v.data).toString('hex'), v.mac, `case ${i + 1}`);
    const ws = new Workspace();
    v.data.copy(ws.out, 0);
    assert.equal(new HmacSha1(v.key).macWorkspace(ws, v.data.length).toString('hex'), v.mac, `case ${i + 1} over a workspace`);
  }
});

test('HMAC-SHA1: every length from 0 to 600 octets matches node:crypto, over a workspace and over plain data', () => {
  const key = randomBytes(20);
  const h = new HmacSha1(key);
  const ws = new Workspace();
  const data = randomBytes(600);
  data.copy(ws.out, 0);
  for (let n = 0; n <= 600; n++) {
    const want = createHmac('sha1', key).update(data.subarray(0, n)).digest('hex');
    assert.equal(h.macWorkspace(ws, n).toString('hex'), want, `workspace, ${n} octets`);
    assert.equal(h.mac(data.subarray(0, n)).toString('hex'), want, `mac(), ${n} octets`);
  }
  // A jumbo packet: many full blocks straight from the workspace.
  const big = randomBytes(9000);
  big.copy(ws.out, 0);
  assert.equal(h.macWorkspace(ws, 9000).toString('hex'), createHmac('sha1', key).update(big).digest('hex'));
});
