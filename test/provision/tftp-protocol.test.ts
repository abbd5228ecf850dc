/**
 * sipsec's TFTP server at the packet level: parsing, the file-name gate,
 * option negotiation, refusals, TIDs, timeouts, caps, events and binding.
 * Real third-party clients are in tftp-clients.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SipsecError } from '../../src/core/errors.js';
import { checkFileName } from '../../src/provision/tftp/filename.js';
import { bindFailure, createTftpServer } from '../../src/provision/tftp/index.js';
import type { TftpEvent, TftpLookupResult, TftpTransferEvent } from '../../src/provision/tftp/index.js';
import { toNetascii } from '../../src/provision/tftp/netascii.js';
import { negotiate } from '../../src/provision/tftp/options.js';
import { parseRequest } from '../../src/provision/tftp/packet.js';
import type { RequestOption } from '../../src/provision/tftp/packet.js';
import { RawPeer, exchange, fromNetascii, tftpGet } from './tftp-helpers/client.js';
import { ack, decode, errorPacket, pseudoRandomBytes, rrq, wrq } from './tftp-helpers/packets.js';
import type { Decoded } from './tftp-helpers/packets.js';
import { startSipsec } from './tftp-helpers/server.js';
import type { TestServer } from './tftp-helpers/server.js';

const SMALL = pseudoRandomBytes(3000, 1);
const TEXT = Buffer.from('first line\nsecond\r\nbare\rcr\n\nend', 'latin1');
const files = new Map<string, Buffer>([
  ['small.cfg', SMALL],
  ['text.cfg', TEXT],
  ['empty.cfg', Buffer.alloc(0)],
  ['exact.bin', pseudoRandomBytes(1024, 2)],
  ['..hidden', Buffer.from('a legal name')],
]);

function expectError(d: Decoded, code: number, pattern?: RegExp): void {
  assert.equal(d.op, 'ERROR', `expected ERROR ${code}, got ${JSON.stringify(d)}`);
  if (d.op !== 'ERROR') return;
  assert.equal(d.code, code, `error message: ${d.message}`);
  if (pattern) assert.match(d.message, pattern);
}

const transfers = (evs: TftpEvent[]): TftpTransferEvent[] => evs.filter((e): e is TftpTransferEvent => e.event === 'tftp.transfer');

describe('request parsing', () => {
  test('an RRQ with options', () => {
    const r = parseRequest(rrq('a.cfg', 'OcTeT', { BlkSize: 1428, tsize: 0 }));
    assert.ok(r.ok);
    if (!r.ok) return;
    assert.equal(r.request.name.toString(), 'a.cfg');
    assert.equal(r.request.mode, 'octet');
    assert.deepEqual(r.request.options, [
      { name: 'BlkSize', key: 'blksize', value: '1428' },
      { name: 'tsize', key: 'tsize', value: '0' },
    ]);
  });

  test('trailing NUL padding is not an option', () => {
    const r = parseRequest(Buffer.concat([rrq('a.cfg'), Buffer.alloc(20)]));
    assert.ok(r.ok && r.request.options.length === 0);
  });

  const malformed: Array<[string, Buffer, RegExp]> = [
    ['no NUL after the name', Buffer.from('\x00\x01a.cfg', 'latin1'), /file name/],
    ['no mode', Buffer.from('\x00\x01a.cfg\x00', 'latin1'), /mode/],
    ['mode without NUL', Buffer.from('\x00\x01a.cfg\x00octet', 'latin1'), /mode/],
    ['option without value', Buffer.from('\x00\x01a.cfg\x00octet\x00blksize\x00', 'latin1'), /value/],
    ['option value without NUL', Buffer.from('\x00\x01a.cfg\x00octet\x00blksize\x001428', 'latin1'), /value/],
    ['option name without NUL', Buffer.from('\x00\x01a.cfg\x00octet\x00blksize', 'latin1'), /option name/],
    ['empty option name', Buffer.from('\x00\x01a.cfg\x00octet\x00\x00x\x00', 'latin1'), /empty option/],
    ['too many options', rrq('a.cfg', 'octet', Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`o${i}`, '1']))), /more than/],
  ];
  for (const [what, pkt, reason] of malformed) {
    test(`refused: ${what}`, () => {
      const r = parseRequest(pkt);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.reason, reason);
    });
  }

  test('huge option names and values are kept as markers, never decoded', () => {
    const r = parseRequest(rrq('a.cfg', 'octet', { blksize: '9'.repeat(5000), ['x'.repeat(500)]: '1' }));
    assert.ok(r.ok);
    if (!r.ok) return;
    assert.deepEqual(r.request.options.map((o) => o.value), ['(long value)', '1']);
    assert.equal(r.request.options[1].name, '(long option name)');
  });
});

describe('file-name gate', () => {
  const refused: Array<[string, string | Buffer, RegExp]> = [
    ['parent directory', '../etc/passwd', /'\.\.'/],
    ['parent directory in the middle', 'cfg/../../etc/passwd', /'\.\.'/],
    ['bare ..', '..', /'\.\.'/],
    ['trailing ..', 'cfg/..', /'\.\.'/],
    ['absolute', '/etc/passwd', /absolute/],
    ['double slash', '//etc/passwd', /absolute/],
    ['backslash traversal', '..\\..\\windows\\win.ini', /backslash/],
    ['backslash inside', 'cfg\\a.cfg', /backslash/],
    ['drive letter', 'C:/boot.ini', /drive/],
    ['drive letter relative', 'c:boot.ini', /drive/],
    ['control byte', 'a\ncfg', /control/],
    ['DEL byte', 'a\x7fcfg', /control/],
    ['non-ASCII (UTF-8 ../ look-alike)', Buffer.from('\uff0e\uff0e/etc/passwd', 'utf8'), /non-ASCII/],
    ['KELVIN SIGN', Buffer.from('\u212a.cfg', 'utf8'), /non-ASCII/],
    ['overlong', 'a'.repeat(256), /longer than 255/],
    ['empty', '', /empty/],
  ];
  for (const [what, name, reason] of refused) {
    test(`refuses ${what}`, () => {
      const r = checkFileName(typeof name === 'string' ? Buffer.from(name, 'latin1') : name);
      assert.equal(r.ok, false);
      if (!r.ok) {
        assert.equal(r.code, 2);
        assert.match(r.reason, reason);
      }
    });
  }

  test('accepts ordinary names byte-for-byte, without normalising', () => {
    for (const name of ['SEP001122334455.cnf.xml', 'y000000000000.cfg', '..hidden', 'a..b', 'dir/./x.cfg', 'a//b', '%2e%2e', 'spa$MA.xml', 'x'.repeat(255)]) {
      const r = checkFileName(Buffer.from(name, 'latin1'));
      assert.deepEqual(r, { ok: true, name });
    }
  });

  test('stripLeadingSlash accepts exactly one leading slash and still refuses traversal', () => {
    assert.deepEqual(checkFileName(Buffer.from('/spa525G.cfg'), { stripLeadingSlash: true }), { ok: true, name: 'spa525G.cfg' });
    assert.equal(checkFileName(Buffer.from('//etc/passwd'), { stripLeadingSlash: true }).ok, false);
    assert.equal(checkFileName(Buffer.from('/../x'), { stripLeadingSlash: true }).ok, false);
    assert.equal(checkFileName(Buffer.from('/'), { stripLeadingSlash: true }).ok, false);
  });
});

describe('netascii', () => {
  test('LF becomes CR LF and a bare CR becomes CR NUL', () => {
    assert.deepEqual(toNetascii(Buffer.from('a\nb\rc\r\n', 'latin1')), Buffer.from('a\r\nb\r\0c\r\0\r\n', 'latin1'));
  });
  test('the client-side inverse restores the file', () => {
    const data = pseudoRandomBytes(10_000, 3);
    assert.ok(fromNetascii(toNetascii(data)).equals(data));
  });
  test('a file with no CR or LF is not copied', () => {
    const b = Buffer.from('abc');
    assert.equal(toNetascii(b), b);
  });
});

describe('option negotiation', () => {
  const opts = (o: Record<string, string>): RequestOption[] => Object.entries(o).map(([name, value]) => ({ name, key: name.toLowerCase(), value }));
  const limits = { maxBlksize: 1468, maxWindowsize: 64 };

  test('blksize is capped by the server maximum; tsize gets the real size', () => {
    const n = negotiate(opts({ BLKSIZE: '65464', tsize: '0' }), 12345, limits);
    assert.equal(n.blksize, 1468);
    assert.deepEqual(n.oack, [['BLKSIZE', '1468'], ['tsize', '12345']]);
  });

  test('tsize is left out for an empty file (curl refuses "tsize 0" in an OACK)', () => {
    assert.deepEqual(negotiate(opts({ tsize: '0', blksize: '1428' }), 0, limits).oack, [['blksize', '1428']]);
  });

  test('out-of-range and non-numeric values are left out of the OACK', () => {
    const n = negotiate(opts({ blksize: '7', timeout: '0', windowsize: '0x10' }), 1, limits);
    assert.deepEqual(n.oack, []);
    assert.equal(n.blksize, 512);
    assert.equal(negotiate(opts({ blksize: '65465' }), 1, limits).oack.length, 0);
    assert.equal(negotiate(opts({ timeout: '256' }), 1, limits).oack.length, 0);
    assert.equal(negotiate(opts({ timeout: '3000' }), 1, limits).oack.length, 0);
    assert.equal(negotiate(opts({ blksize: '99999999999999999999' }), 1, limits).oack.length, 0);
    assert.equal(negotiate(opts({ blksize: ' 512' }), 1, limits).oack.length, 0);
  });

  test('timeout 1..255 is echoed unchanged and used; windowsize is capped', () => {
    const n = negotiate(opts({ timeout: '3', windowsize: '1000' }), 1, limits);
    assert.equal(n.timeoutMs, 3000);
    assert.equal(n.windowsize, 64);
    assert.deepEqual(n.oack, [['timeout', '3'], ['windowsize', '64']]);
  });

  test('unknown options are ignored; a repeated option counts once; odd keys are plain data', () => {
    const list = [...opts({ multicast: '', rollover: '0', blksize: '1024' }), { name: 'blksize', key: 'blksize', value: '600' }, { name: '__proto__', key: '__proto__', value: 'x' }];
    const n = negotiate(list, 1, limits);
    assert.deepEqual(n.oack, [['blksize', '1024']]);
    assert.equal(n.requested.__proto__, 'x');
    assert.equal(Object.getPrototypeOf(n.requested), null);
  });
});

describe('binding', () => {
  test('EACCES and EADDRINUSE become one-line BIND_FAILED errors with the fix', () => {
    const denied = bindFailure(Object.assign(new Error('bind EACCES 0.0.0.0:69'), { code: 'EACCES' }), '0.0.0.0', 69);
    assert.equal(denied.code, 'BIND_FAILED');
    assert.match(denied.message, /UDP 0\.0\.0\.0:69: permission denied/);
    assert.match(denied.hint ?? '', /--tftp-port/);
    assert.match(denied.hint ?? '', /setcap cap_net_bind_service=\+ep \$\(readlink -f \$\(which node\)\)/);
    assert.match(denied.hint ?? '', /root/);
    assert.ok(!denied.line().includes('\n'));
    const busy = bindFailure(Object.assign(new Error('x'), { code: 'EADDRINUSE' }), '::', 69);
    assert.match(busy.message, /\[::\]:69: the port is already in use/);
    assert.match(busy.hint ?? '', /--tftp-port/);
  });

  test('a port in use is reported, not thrown raw', async () => {
    const holder = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => holder.bind(0, '127.0.0.1', () => resolve()));
    try {
      await assert.rejects(
        createTftpServer({ host: '127.0.0.1', port: holder.address().port, lookup: () => ({ ok: false, code: 1, message: 'x' }) }),
        (e: unknown) => e instanceof SipsecError && e.code === 'BIND_FAILED' && /already in use/.test(e.message),
      );
    } finally {
      holder.close();
    }
  });

  test('an unprivileged user binding port 69 gets the EACCES message', { timeout: 30_000 }, () => {
    // We run as root here, so drop to nobody in a child process.
    const index = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../src/provision/tftp/index.js');
    const script = `
      const { createTftpServer } = await import(${JSON.stringify(index)});
      try {
        const s = await createTftpServer({ host: '127.0.0.1', port: 69, lookup: () => ({ ok: false, code: 1, message: 'x' }) });
        await s.close();
        console.log(JSON.stringify({ bound: true }));
      } catch (e) {
        console.log(JSON.stringify({ code: e.code, line: e.line() }));
      }`;
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
      killSignal: 'SIGKILL',
    });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim()) as { code?: string; line?: string; bound?: boolean };
    assert.equal(out.bound, undefined, 'nobody could bind port 69: is net.ipv4.ip_unprivileged_port_start 0 here?');
    assert.equal(out.code, 'BIND_FAILED');
    assert.match(out.line ?? '', /^error: cannot listen for TFTP on UDP 127\.0\.0\.1:69: permission denied .*\(use --tftp-port .*setcap cap_net_bind_service=\+ep .*run as root\)$/);
  });

  test('bad options are refused up front', async () => {
    const lookup = (): TftpLookupResult => ({ ok: false, code: 1, message: 'x' });
    await assert.rejects(createTftpServer({ host: 'localhost', port: 0, lookup }), (e: unknown) => e instanceof SipsecError && e.code === 'BAD_IP');
    await assert.rejects(createTftpServer({ host: '127.0.0.1', port: 0, lookup, maxBlksize: 4 }), (e: unknown) => e instanceof SipsecError && e.code === 'BAD_INPUT');
    await assert.rejects(createTftpServer({ host: '127.0.0.1', port: 0, lookup, maxWindowsize: 5000 }), (e: unknown) => e instanceof SipsecError && e.code === 'BAD_INPUT');
  });
});

describe('server behaviour', () => {
  const servers: TestServer[] = [];
  const peers: RawPeer[] = [];
  after(async () => {
    for (const p of peers) p.close();
    await Promise.all(servers.map((s) => s.close()));
  });
  const start = async (opts: Parameters<typeof startSipsec>[1] = {}): Promise<TestServer> => {
    const s = await startSipsec(files, opts);
    servers.push(s);
    return s;
  };
  const peer = async (): Promise<RawPeer> => {
    const p = await RawPeer.open();
    peers.push(p);
    return p;
  };

  test('a plain RRQ (no options) gets DATA 1 straight away; the event carries lookup meta', async () => {
    const s = await start({ meta: (name) => ({ phone: `phone-for-${name}` }) });
    const r = await tftpGet({ port: s.port, file: 'small.cfg' });
    assert.equal(r.ok, true);
    assert.ok(r.data.equals(SMALL));
    assert.equal(r.oack, undefined);
    const ev = await s.transferOf('small.cfg');
    assert.equal(ev.result, 'ok');
    assert.equal(ev.op, 'read');
    assert.equal(ev.mode, 'octet');
    assert.equal(ev.bytes, SMALL.length);
    assert.equal(ev.size, SMALL.length);
    assert.equal(ev.blksize, 512);
    assert.equal(ev.windowsize, 1);
    assert.equal(ev.retransmits, 0);
    assert.match(ev.remote, /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(ev.meta, { phone: 'phone-for-small.cfg' });
    assert.equal(typeof ev.ms, 'number');
  });

  test('empty files and exact multiples of the block size end with a short (empty) block', async () => {
    const s = await start();
    const empty = await tftpGet({ port: s.port, file: 'empty.cfg' });
    assert.equal(empty.ok, true);
    assert.equal(empty.data.length, 0);
    assert.equal(empty.dataPackets, 1);
    const exact = await tftpGet({ port: s.port, file: 'exact.bin' });
    assert.equal(exact.ok, true);
    assert.ok(exact.data.equals(files.get('exact.bin')!));
    assert.equal(exact.dataPackets, 3, '512 + 512 + 0');
  });

  test('tsize, blksize, timeout and windowsize are negotiated in an OACK; unknown options ignored', async () => {
    const s = await start({ maxBlksize: 1024, maxWindowsize: 4 });
    const r = await tftpGet({ port: s.port, file: 'small.cfg', options: { tsize: 0, blksize: 1428, timeout: 2, windowsize: 8, foo: 'bar' } });
    assert.equal(r.ok, true);
    assert.ok(r.data.equals(SMALL));
    assert.deepEqual(r.oack, { tsize: '3000', blksize: '1024', timeout: '2', windowsize: '4' });
    const ev = await s.transferOf('small.cfg');
    assert.equal(ev.blksize, 1024);
    assert.equal(ev.windowsize, 4);
    assert.equal(ev.timeoutMs, 2000);
    assert.deepEqual({ ...ev.requested }, { tsize: '0', blksize: '1428', timeout: '2', windowsize: '8', foo: 'bar' });
  });

  test('only unknown options: no OACK, plain DATA', async () => {
    const s = await start();
    const r = await tftpGet({ port: s.port, file: 'small.cfg', options: { multicast: '', foo: 'bar' } });
    assert.equal(r.ok, true);
    assert.equal(r.oack, undefined);
  });

  test('netascii: tsize is the converted size and the round trip is exact', async () => {
    const s = await start();
    const r = await tftpGet({ port: s.port, file: 'text.cfg', mode: 'NetAscii', options: { tsize: 0 }, netascii: true });
    assert.equal(r.ok, true);
    assert.ok(r.data.equals(TEXT));
    assert.equal(r.oack?.tsize, String(toNetascii(TEXT).length));
    assert.equal((await s.transferOf('text.cfg')).mode, 'netascii');
  });

  test('unknown files get error 1 with the route table message', async () => {
    const s = await start({ meta: () => ({ phone: 'alice' }) });
    const r = await tftpGet({ port: s.port, file: 'nothere.cfg' });
    assert.equal(r.failure, 'error');
    assert.equal(r.error?.code, 1);
    assert.equal(r.error?.message, 'no route for nothere.cfg');
    const ev = await s.transferOf('nothere.cfg');
    assert.equal(ev.result, 'not-found');
    assert.equal(ev.reason, 'no route for nothere.cfg');
    assert.deepEqual(ev.meta, { phone: 'alice' });
  });

  test('write requests are refused with error 2 and never reach lookup', async () => {
    const s = await start();
    const [reply] = await exchange(s.port, wrq('small.cfg', 'octet', { tsize: 10 }));
    expectError(decode(reply.msg), 2, /read-only/);
    const ev = await s.transferOf('small.cfg');
    assert.equal(ev.op, 'write');
    assert.equal(ev.result, 'denied');
    assert.deepEqual(s.lookups, []);
  });

  test('path attacks are refused with error 2 before lookup', async () => {
    const s = await start();
    const names: Array<string | Buffer> = [
      '../../etc/passwd',
      'a/../../../etc/shadow',
      '/etc/passwd',
      '..\\..\\boot.ini',
      'C:\\boot.ini',
      'x'.repeat(300),
      Buffer.from('caf\u00e9.cfg', 'utf8'),
      'a\r\nforged log line',
    ];
    for (const name of names) {
      const [reply] = await exchange(s.port, rrq(name));
      expectError(decode(reply.msg), 2);
    }
    const evs = transfers(s.events);
    assert.equal(evs.length, names.length);
    for (const ev of evs) {
      assert.equal(ev.result, 'denied');
      assert.ok(ev.reason);
      assert.ok(!/[\r\n]/.test(ev.file), 'file names are escaped for logs');
    }
    assert.deepEqual(s.lookups, []);
    // A NUL inside the name ends the name: what follows is read as the mode
    // (and the real mode as an option without a value).
    const [nul] = await exchange(s.port, Buffer.concat([Buffer.from([0, 1]), Buffer.from('small.cfg\0../../etc/passwd\0', 'latin1')]));
    expectError(decode(nul.msg), 4, /unsupported transfer mode/);
    const [nul2] = await exchange(s.port, Buffer.concat([Buffer.from([0, 1]), Buffer.from('small.cfg\0../../etc/passwd\0octet\0', 'latin1')]));
    expectError(decode(nul2.msg), 4, /no NUL terminator/);
    // "..hidden" is a legal name, served.
    const ok = await tftpGet({ port: s.port, file: '..hidden' });
    assert.equal(ok.ok, true);
  });

  test('mail mode and unknown modes are illegal operations (error 4)', async () => {
    const s = await start();
    for (const mode of ['mail', 'binary', '']) {
      const [reply] = await exchange(s.port, rrq('small.cfg', mode));
      expectError(decode(reply.msg), 4);
    }
    assert.equal(transfers(s.events).filter((e) => e.result === 'malformed').length, 3);
  });

  test('malformed datagrams never crash the server; it answers error 4 where a reply makes sense', async () => {
    const s = await start();
    const p = await peer();
    const junk: Array<[string, Buffer, number | null]> = [
      ['empty datagram', Buffer.alloc(0), null],
      ['one byte', Buffer.from([1]), null],
      ['opcode 0', Buffer.from([0, 0, 1, 2, 3]), 4],
      ['opcode 99', Buffer.from([0, 99, 0, 0]), 4],
      ['opcode 0xffff', Buffer.from([0xff, 0xff]), 4],
      ['RRQ, name without NUL', Buffer.from('\x00\x01small.cfg', 'latin1'), 4],
      ['RRQ, no mode', Buffer.from('\x00\x01small.cfg\x00', 'latin1'), 4],
      ['RRQ, option without value', Buffer.from('\x00\x01small.cfg\x00octet\x00blksize\x00', 'latin1'), 4],
      ['RRQ, just the opcode', Buffer.from([0, 1]), 4],
      ['WRQ, just the opcode', Buffer.from([0, 2]), 2],
      ['DATA on the server port', Buffer.from([0, 3, 0, 1, 65, 66]), 4],
      ['ACK on the server port', ack(1), 4],
      ['OACK on the server port', Buffer.from('\x00\x06blksize\x00512\x00', 'latin1'), 4],
      ['ERROR on the server port', errorPacket(0, 'hi'), null],
      ['64 KiB of 0xff', Buffer.alloc(65000, 0xff), 4],
      ['64 KiB RRQ name', Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(60000, 0x41), Buffer.from('\0octet\0')]), 2],
    ];
    // Every probe is followed by a WRQ, whose error-2 reply comes from the same
    // server port: if a probe got no reply, the next packet is the WRQ's.
    const fence = wrq('fence');
    for (const [what, pkt, code] of junk) {
      p.send(pkt, s.port);
      p.send(fence, s.port);
      const first = decode((await p.next()).msg);
      if (code === null) {
        expectError(first, 2, /read-only/);
        continue;
      }
      assert.equal(first.op, 'ERROR', what);
      if (first.op === 'ERROR') assert.equal(first.code, code, `${what}: ${first.message}`);
      expectError(decode((await p.next()).msg), 2, /read-only/);
    }
    // Huge and odd option values are ignored, the request still served.
    const odd = await tftpGet({ port: s.port, file: 'small.cfg', options: { blksize: '9'.repeat(300), timeout: '-1', windowsize: 'abc', tsize: '' } });
    assert.equal(odd.ok, true);
    assert.equal(odd.oack, undefined);
    const r = await tftpGet({ port: s.port, file: 'small.cfg', options: { blksize: 1428 } });
    assert.equal(r.ok, true);
    assert.ok(r.data.equals(SMALL));
    await s.waitFor((e) => e.event === 'tftp.transfer' && e.result === 'ok' && e.blksize === 1428);
    assert.equal(s.server.activeTransfers, 0);
  });

  test('garbage from the client inside a transfer ends it with error 4', async () => {
    const s = await start();
    const p = await peer();
    p.send(rrq('small.cfg'), s.port);
    const d1 = await p.next();
    assert.equal(decode(d1.msg).op, 'DATA');
    p.send(Buffer.from([0, 3, 0, 1, 1, 2, 3]), d1.port); // a DATA packet from the reader
    expectError(decode((await p.next()).msg), 4, /opcode 3/);
    const ev = await s.transferOf('small.cfg');
    assert.equal(ev.result, 'error');
  });

  test('a packet from the wrong TID gets error 5 and the transfer carries on', async () => {
    const s = await start();
    const client = await peer();
    const intruder = await peer();
    client.send(rrq('small.cfg'), s.port);
    const d1 = await client.next();
    const tid = d1.port;
    assert.notEqual(tid, s.port, 'the transfer runs on its own port (RFC 1350 §4)');
    intruder.send(ack(1), tid);
    const e = await intruder.next();
    assert.equal(e.port, tid);
    expectError(decode(e.msg), 5);
    // An ERROR from the wrong TID is not answered and does not end the transfer.
    intruder.send(errorPacket(0, 'go away'), tid);
    let block = 1;
    const parts: Buffer[] = [];
    let d = decode(d1.msg);
    for (;;) {
      assert.equal(d.op, 'DATA');
      if (d.op !== 'DATA') return;
      assert.equal(d.block, block);
      parts.push(d.data);
      client.send(ack(block), tid);
      if (d.data.length < 512) break;
      block++;
      d = decode((await client.next()).msg);
    }
    assert.ok(Buffer.concat(parts).equals(SMALL));
    assert.equal((await s.transferOf('small.cfg')).result, 'ok');
  });

  test('a resent RRQ while the first is being looked up starts no second transfer', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let calls = 0;
    const s = await start({
      lookup: async (name) => {
        calls++;
        await gate;
        return { ok: true, data: files.get(name) ?? Buffer.alloc(0) };
      },
    });
    const p = await peer();
    p.send(rrq('small.cfg'), s.port);
    p.send(rrq('small.cfg'), s.port);
    p.send(wrq('fence'), s.port); // processed after both RRQs
    expectError(decode((await p.next()).msg), 2);
    assert.equal(s.server.activeTransfers, 1);
    release();
    const d1 = await p.next();
    assert.equal(decode(d1.msg).op, 'DATA');
    assert.equal(calls, 1);
  });

  test('the server times out a silent client after its retries and says so', async () => {
    const s = await start({ timeoutMs: 30, retries: 3 });
    const r = await tftpGet({ port: s.port, file: 'small.cfg', stopAckingAfter: 2, reAckMs: 60_000, deadlineMs: 20_000, maxDataPackets: 100 });
    const ev = await s.transferOf('small.cfg');
    assert.equal(ev.result, 'timeout');
    assert.equal(ev.bytes, 1024);
    assert.match(ev.reason ?? '', /no ACK for block 3 after 4 tries/);
    // Blocks 1, 2, 3, then block 3 three more times, then ERROR. (A stall on a
    // loaded machine may add a resend of an earlier block, hence >= below.)
    assert.ok(ev.retransmits >= 3);
    assert.equal(r.dataPackets, 3 + ev.retransmits);
    assert.equal(r.error?.message, 'timed out');
  });

  test('an ERROR from the client (e.g. a PXE ROM after a tsize probe) ends the transfer as aborted', async () => {
    const s = await start();
    const p = await peer();
    p.send(rrq('small.cfg', 'octet', { tsize: 0 }), s.port);
    const o = await p.next();
    assert.equal(decode(o.msg).op, 'OACK');
    p.send(errorPacket(8, 'tsize probe only'), o.port);
    const ev = await s.transferOf('small.cfg');
    assert.equal(ev.result, 'aborted');
    assert.match(ev.reason ?? '', /error 8: tsize probe only/);
  });

  test('lookup failures are reported as error 0 without detail to the client', async () => {
    const s = await start({
      lookup: (name) => {
        if (name === 'throws.cfg') throw new Error('route table exploded');
        return Promise.reject(new Error('async failure'));
      },
    });
    const a = await tftpGet({ port: s.port, file: 'throws.cfg' });
    assert.equal(a.error?.code, 0);
    assert.equal(a.error?.message, 'internal server error');
    const b = await tftpGet({ port: s.port, file: 'rejects.cfg' });
    assert.equal(b.error?.code, 0);
    assert.match((await s.transferOf('throws.cfg')).reason ?? '', /route table exploded/);
    assert.match((await s.transferOf('rejects.cfg')).reason ?? '', /async failure/);
  });

  test('caps: over maxPerIp a request is dropped silently and reported as busy', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const s = await start({
      maxPerIp: 2,
      lookup: async (name) => {
        await gate;
        return { ok: true, data: files.get(name) ?? Buffer.alloc(0) };
      },
    });
    const [a, b, c] = [await peer(), await peer(), await peer()];
    a.send(rrq('small.cfg'), s.port);
    b.send(rrq('small.cfg'), s.port);
    c.send(rrq('small.cfg'), s.port);
    const busy = (await s.waitFor((e) => e.event === 'tftp.transfer' && e.result === 'busy')) as TftpTransferEvent;
    assert.match(busy.reason ?? '', /2 transfers in progress from 127\.0\.0\.1/);
    assert.equal(busy.remote, `127.0.0.1:${c.port}`);
    // c got nothing: the first packet it receives is the fence's reply.
    c.send(wrq('fence'), s.port);
    expectError(decode((await c.next()).msg), 2);
    release();
    assert.equal(decode((await a.next()).msg).op, 'DATA');
    assert.equal(decode((await b.next()).msg).op, 'DATA');
  });

  test('caps: maxTransfers bounds the whole server', async () => {
    const s = await start({
      maxTransfers: 1,
      lookup: () => new Promise<TftpLookupResult>(() => undefined), // never answers
    });
    const [a, b] = [await peer(), await peer()];
    a.send(rrq('small.cfg'), s.port);
    b.send(rrq('small.cfg'), s.port);
    const busy = (await s.waitFor((e) => e.event === 'tftp.transfer' && e.result === 'busy')) as TftpTransferEvent;
    assert.match(busy.reason ?? '', /1 transfers in progress$/);
  });

  test('refusal events are rate-limited and summarised', async () => {
    const s = await start({ maxEventsPerSecond: 5 });
    const p = await peer();
    for (let i = 0; i < 20; i++) p.send(Buffer.from([0, 99]), s.port);
    const sum = await s.waitFor((e) => e.event === 'tftp.suppressed');
    assert.equal(sum.event, 'tftp.suppressed');
    if (sum.event !== 'tftp.suppressed') return;
    const reported = s.events.filter((e) => e.event === 'tftp.bad-packet').length;
    // A burst of 5 passes; the bucket refills at 5/s, so at most a straggler more.
    assert.ok(reported >= 5 && reported <= 6, `${reported} reported`);
    assert.equal(reported + sum.count, 20);
    assert.deepEqual({ ...sum.by }, { 'bad-packet': sum.count });
  });

  test('block numbers roll over past 65535 (blksize 8, windowsize 64)', { timeout: 60_000 }, async () => {
    const big = pseudoRandomBytes(70_000 * 8 + 5, 9);
    const s = await startSipsec(new Map([['roll.bin', big]]), { maxBlksize: 1468 });
    servers.push(s);
    const r = await tftpGet({ port: s.port, file: 'roll.bin', options: { blksize: 8, windowsize: 64 }, reAckMs: 1000 });
    assert.equal(r.ok, true, String(r.failure));
    assert.equal(r.blocks, 70_001);
    assert.ok(r.data.equals(big));
  });

  test('close() aborts transfers in flight: the client is told, the event says so', async () => {
    const s = await startSipsec(files, { timeoutMs: 60_000 });
    const p = await peer();
    p.send(rrq('small.cfg'), s.port);
    assert.equal(decode((await p.next()).msg).op, 'DATA');
    assert.equal(s.server.activeTransfers, 1);
    await s.close();
    expectError(decode((await p.next()).msg), 0, /shutting down/);
    const ev = await s.transferOf('small.cfg');
    assert.equal(ev.result, 'error');
    assert.equal(s.server.activeTransfers, 0);
  });

  test('IPv6: serves on ::1 and reports [addr]:port', async () => {
    const s = await startSipsec(files, { host: '::1' });
    servers.push(s);
    const sock = dgram.createSocket('udp6');
    try {
      await new Promise<void>((resolve) => sock.bind(0, '::1', () => resolve()));
      const got = new Promise<{ msg: Buffer; port: number }>((resolve) => sock.once('message', (msg, r) => resolve({ msg, port: r.port })));
      sock.send(rrq('text.cfg'), s.port, '::1');
      const d = await got;
      const data = decode(d.msg);
      assert.equal(data.op, 'DATA');
      if (data.op === 'DATA') assert.ok(data.data.equals(TEXT));
      sock.send(ack(1), d.port, '::1');
      const ev = await s.transferOf('text.cfg');
      assert.equal(ev.result, 'ok');
      assert.match(ev.remote, /^\[::1\]:\d+$/);
    } finally {
      sock.close();
    }
  });
});
