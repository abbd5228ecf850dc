/**
 * sipsec's TFTP server against real clients: curl, atftp and the tftp-hpa
 * client (shared/peers.md §7 has how they behave against tftpd-hpa). Every
 * download is compared byte for byte; every process is bounded and killed.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TftpTransferEvent } from '../../src/provision/tftp/index.js';
import { requirePeer } from '../helpers/peers.js';
import { exchange, tftpGet } from './tftp-helpers/client.js';
import { pseudoRandomBytes, rrq } from './tftp-helpers/packets.js';
import { run } from './tftp-helpers/run.js';
import { startSipsec } from './tftp-helpers/server.js';
import type { TestServer } from './tftp-helpers/server.js';

const FILES = new Map<string, Buffer>([
  ['empty.cfg', Buffer.alloc(0)],
  ['one.cfg', Buffer.from('x')],
  ['b511.cfg', pseudoRandomBytes(511, 11)],
  ['b512.cfg', pseudoRandomBytes(512, 12)],
  ['b513.cfg', pseudoRandomBytes(513, 13)],
  ['phone.cfg', pseudoRandomBytes(3000, 14)],
  ['1m.bin', pseudoRandomBytes(1 << 20, 15)],
  ['5m.bin', pseudoRandomBytes(5 * 1024 * 1024, 16)],
  ['roll.bin', pseudoRandomBytes(70_000 * 8 + 5, 17)],
  ['text.cfg', Buffer.from('# config\nkey=value\r\nbare\rcr\n\n'.repeat(40), 'latin1')],
]);
for (let i = 0; i < 100; i++) FILES.set(`phone${i}.cfg`, pseudoRandomBytes(2048 + 61 * i, 100 + i));

let srv: TestServer;
let dir: string;
let curl: string;
let atftp: string;
let tftp: string;

before(async () => {
  curl = requirePeer('curl');
  atftp = requirePeer('atftp');
  tftp = requirePeer('tftp');
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'sipsec-tftp-'));
  srv = await startSipsec(FILES, { timeoutMs: 1000, maxPerIp: 128 });
});

after(async () => {
  await srv?.close();
  if (dir) await fs.rm(dir, { recursive: true, force: true });
});

let outSeq = 0;
const outFile = (): string => path.join(dir, `out-${outSeq++}`);
const url = (name: string): string => `tftp://127.0.0.1:${srv.port}/${name}`;

async function assertSame(file: string, name: string): Promise<void> {
  const got = await fs.readFile(file);
  const want = FILES.get(name)!;
  assert.equal(got.length, want.length, `${name}: length`);
  assert.ok(got.equals(want), `${name}: content differs`);
}

/** The latest transfer event for `file`, once there is one. */
async function lastEvent(file: string): Promise<TftpTransferEvent> {
  await srv.waitFor((e) => e.event === 'tftp.transfer' && e.file === file);
  const evs = srv.events.filter((e): e is TftpTransferEvent => e.event === 'tftp.transfer' && e.file === file);
  return evs[evs.length - 1];
}

describe('curl', () => {
  for (const name of ['empty.cfg', 'one.cfg', 'b511.cfg', 'b512.cfg', 'b513.cfg', 'phone.cfg', '1m.bin']) {
    test(`default options: ${name}`, async () => {
      const out = outFile();
      const r = await run(curl, ['-sS', '--max-time', '30', '-o', out, url(name)]);
      assert.equal(r.code, 0, r.output);
      await assertSame(out, name);
    });
  }

  test('--tftp-blksize 1428 (OACK with tsize, blksize, timeout)', async () => {
    const out = outFile();
    const r = await run(curl, ['-sS', '--max-time', '30', '--tftp-blksize', '1428', '-o', out, url('1m.bin')]);
    assert.equal(r.code, 0, r.output);
    await assertSame(out, '1m.bin');
    const ev = await srv.waitFor((e) => e.event === 'tftp.transfer' && e.file === '1m.bin' && e.blksize === 1428 && e.windowsize === 1);
    assert.equal(ev.event === 'tftp.transfer' && ev.requested.tsize, '0');
  });

  test('block-number rollover: 70,001 blocks of 8 bytes', { timeout: 120_000 }, async () => {
    const out = outFile();
    const r = await run(curl, ['-sS', '--max-time', '100', '--tftp-blksize', '8', '-o', out, url('roll.bin')], { timeoutMs: 110_000 });
    assert.equal(r.code, 0, r.output);
    await assertSame(out, 'roll.bin');
  });

  test('--path-as-is ../ is refused (error 2: curl exit 69, TFTP permission)', async () => {
    const r = await run(curl, ['-sS', '--max-time', '30', '--path-as-is', '-o', outFile(), `tftp://127.0.0.1:${srv.port}/../etc/passwd`]);
    assert.equal(r.code, 69, r.output);
    const ev = await lastEvent('../etc/passwd');
    assert.equal(ev.result, 'denied');
  });

  test('upload (WRQ) is refused', async () => {
    const src = path.join(dir, 'upload.txt');
    await fs.writeFile(src, 'hello');
    const r = await run(curl, ['-sS', '--max-time', '30', '-T', src, url('upload.txt')]);
    assert.equal(r.code, 69, r.output);
  });
});

describe('atftp', () => {
  test('no options (512-byte lock-step)', async () => {
    const out = outFile();
    const r = await run(atftp, ['-g', '-r', 'phone.cfg', '-l', out, '127.0.0.1', String(srv.port)]);
    assert.equal(r.code, 0, r.output);
    await assertSame(out, 'phone.cfg');
  });

  test('--option "blksize 1428"', async () => {
    const out = outFile();
    const r = await run(atftp, ['--option', 'blksize 1428', '-g', '-r', '1m.bin', '-l', out, '127.0.0.1', String(srv.port)]);
    assert.equal(r.code, 0, r.output);
    await assertSame(out, '1m.bin');
  });

  test('5 MB with --option "windowsize 16" (RFC 7440) and blksize 1428', { timeout: 60_000 }, async () => {
    const out = outFile();
    const r = await run(atftp, ['--option', 'blksize 1428', '--option', 'windowsize 16', '-g', '-r', '5m.bin', '-l', out, '127.0.0.1', String(srv.port)]);
    assert.equal(r.code, 0, r.output);
    await assertSame(out, '5m.bin');
    const ev = await srv.waitFor((e) => e.event === 'tftp.transfer' && e.file === '5m.bin' && e.windowsize === 16);
    assert.equal(ev.event === 'tftp.transfer' && ev.result, 'ok');
  });

  test('absolute path and WRQ are refused', async () => {
    const abs = await run(atftp, ['-g', '-r', '/etc/passwd', '-l', outFile(), '127.0.0.1', String(srv.port)]);
    assert.notEqual(abs.code, 0);
    assert.match(abs.output, /absolute file name/);
    const src = path.join(dir, 'up-atftp.txt');
    await fs.writeFile(src, 'hello');
    const put = await run(atftp, ['-p', '-l', src, '-r', 'up-atftp.txt', '127.0.0.1', String(srv.port)]);
    assert.notEqual(put.code, 0);
    assert.match(put.output, /read-only/);
  });
});

describe('tftp-hpa client', () => {
  test('binary mode', async () => {
    const out = outFile();
    const r = await run(tftp, ['127.0.0.1', String(srv.port), '-m', 'binary', '-c', 'get', '1m.bin', out]);
    assert.equal(r.code, 0, r.output);
    await assertSame(out, '1m.bin');
  });

  test('netascii mode: the client undoes our LF→CR LF and CR→CR NUL exactly', async () => {
    const out = outFile();
    const r = await run(tftp, ['127.0.0.1', String(srv.port), '-m', 'netascii', '-c', 'get', 'text.cfg', out]);
    assert.equal(r.code, 0, r.output);
    await assertSame(out, 'text.cfg');
    const ev = await lastEvent('text.cfg');
    assert.equal(ev.mode, 'netascii');
    assert.ok((ev.size ?? 0) > FILES.get('text.cfg')!.length);
  });

  test('commands on stdin, as an interactive session would send them', async () => {
    const out = outFile();
    // (tftp-hpa 5.2 mis-reads a piped "connect host port", so the host is an argument.)
    const r = await run(tftp, ['127.0.0.1', String(srv.port)], { input: `binary\nget phone.cfg ${out}\nquit\n` });
    assert.equal(r.code, 0, r.output);
    await assertSame(out, 'phone.cfg');
  });

  test('traversal and backslash names are refused with error 2', async () => {
    for (const name of ['../etc/passwd', '..\\..\\boot.ini', 'cfg/../../x']) {
      const r = await run(tftp, ['127.0.0.1', String(srv.port), '-m', 'binary', '-c', 'get', name, outFile()]);
      // tftp-hpa exits 0 even on a server error; the message is what counts.
      assert.match(r.output, /Error code 2: /, `${name}: ${r.output}`);
    }
  });

  test('put is refused with error 2 (access violation)', async () => {
    const src = path.join(dir, 'up-hpa.txt');
    await fs.writeFile(src, 'hello');
    const r = await run(tftp, ['127.0.0.1', String(srv.port), '-m', 'binary', '-c', 'put', src, 'up-hpa.txt']);
    assert.match(r.output, /Error code 2: write requests are refused: this server is read-only/);
  });
});

describe('load and robustness', () => {
  test('100 concurrent transfers, all byte-exact', { timeout: 120_000 }, async () => {
    const before = srv.events.length;
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => tftpGet({ port: srv.port, file: `phone${i}.cfg`, options: i % 2 ? { blksize: 1428, tsize: 0 } : {}, reAckMs: 1000 })),
    );
    results.forEach((r, i) => {
      assert.equal(r.ok, true, `phone${i}: ${String(r.failure)}`);
      assert.ok(r.data.equals(FILES.get(`phone${i}.cfg`)!), `phone${i}.cfg differs`);
    });
    await srv.waitFor(() => srv.events.slice(before).filter((e) => e.event === 'tftp.transfer' && e.result === 'ok').length >= 100);
  });

  test('30 real client processes at once (curl, atftp, tftp-hpa)', { timeout: 120_000 }, async () => {
    const jobs: Array<Promise<void>> = [];
    for (let i = 0; i < 10; i++) {
      const name = `phone${i}.cfg`;
      const a = outFile();
      const b = outFile();
      const c = outFile();
      jobs.push(run(curl, ['-sS', '--max-time', '60', '-o', a, url(name)], { timeoutMs: 70_000 }).then(async (r) => {
        assert.equal(r.code, 0, r.output);
        await assertSame(a, name);
      }));
      jobs.push(run(atftp, ['--option', 'blksize 1428', '-g', '-r', name, '-l', b, '127.0.0.1', String(srv.port)], { timeoutMs: 70_000 }).then(async (r) => {
        assert.equal(r.code, 0, r.output);
        await assertSame(b, name);
      }));
      jobs.push(run(tftp, ['127.0.0.1', String(srv.port), '-m', 'binary', '-c', 'get', name, c], { timeoutMs: 70_000 }).then(async (r) => {
        assert.equal(r.code, 0, r.output);
        await assertSame(c, name);
      }));
    }
    await Promise.all(jobs);
  });

  test('5 MB with windowsize 32 and blksize 1428 (our client; tftp-hpa and curl have no windowsize)', { timeout: 60_000 }, async () => {
    const r = await tftpGet({ port: srv.port, file: '5m.bin', options: { blksize: 1428, windowsize: 32, tsize: 0 }, reAckMs: 1000 });
    assert.equal(r.ok, true, String(r.failure));
    assert.ok(r.data.equals(FILES.get('5m.bin')!));
    assert.deepEqual(r.oack, { blksize: '1428', windowsize: '32', tsize: String(5 * 1024 * 1024) });
  });

  test('after a burst of malformed packets, real clients are still served', async () => {
    const junk = [Buffer.alloc(0), Buffer.from([0]), Buffer.from([0, 9, 9, 9]), Buffer.from('\x00\x01nonul', 'latin1'), rrq('x', 'octet', { blksize: '9'.repeat(250) }), Buffer.alloc(9000, 1)];
    await Promise.all(junk.map((pkt) => exchange(srv.port, pkt, { waitMs: 300 })));
    const out = outFile();
    const r = await run(curl, ['-sS', '--max-time', '30', '-o', out, url('phone.cfg')]);
    assert.equal(r.code, 0, r.output);
    await assertSame(out, 'phone.cfg');
  });
});
