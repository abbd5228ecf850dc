import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { cleanup, sipsec, tmpDir } from '../helpers/cli.js';
import { CaStore } from '../../src/home/store.js';

async function makeCa(home: string, domain: string) {
  for (const args of [
    ['ca', 'init', '--org', 'Acme', '--domain', domain, '--key', 'p256', '--no-passphrase'],
    ['server', 'add', 'registrar', '--dns', 'localhost', '--ip', '127.0.0.1'],
    ['phone', 'add', 'telefono1', '--vendor', 'baresip', '--ext', '101'],
  ]) {
    const r = sipsec(['--home', home, ...args]);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  }
  const store = await CaStore.open(home);
  const pair = (name: string) => {
    const e = store.current(name)!;
    return { cert: readFileSync(store.paths.cert(e.serial)), key: readFileSync(store.paths.key(e.serial)) };
  };
  return { ca: readFileSync(path.join(home, 'ca.crt')), server: pair('registrar'), phone: pair('telefono1') };
}

interface Outcome {
  serverAuthorized: boolean | undefined;
  serverError: string | undefined;
  clientError: string | undefined;
  peerCn: string | undefined;
}

async function handshake(server: tls.SecureContextOptions & { ca: Buffer }, client: tls.ConnectionOptions): Promise<Outcome> {
  let serverAuthorized: boolean | undefined;
  let serverError: string | undefined;
  let peerCn: string | undefined;
  const srv = tls.createServer({ ...server, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, (s) => {
    serverAuthorized = s.authorized;
    serverError = s.authorizationError ? String(s.authorizationError) : undefined;
    peerCn = s.getPeerCertificate().subject?.CN as string | undefined;
    s.end('ok');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  const clientError = await new Promise<string | undefined>((resolve) => {
    const c = tls.connect({ ...client, host: '127.0.0.1', port, servername: 'localhost' }, () => {
      c.on('data', () => c.end());
      c.on('end', () => resolve(undefined));
    });
    c.on('error', (e) => resolve(e.message));
  });
  await new Promise((r) => srv.close(r));
  return { serverAuthorized, serverError, clientError, peerCn };
}

test('Node tls: a sipsec server and a sipsec phone authenticate each other; certificates from another CA are refused', async (t) => {
  const a = tmpDir();
  const b = tmpDir();
  t.after(() => {
    cleanup(a);
    cleanup(b);
  });
  const ours = await makeCa(a, 'pbx.mycompany.com');
  const other = await makeCa(b, 'other.test');

  const good = await handshake({ ...ours.server, ca: ours.ca }, { ...ours.phone, ca: ours.ca });
  assert.equal(good.clientError, undefined, 'the phone accepts the server (chain and name "localhost")');
  assert.equal(good.serverAuthorized, true, good.serverError);
  assert.equal(good.peerCn, 'telefono1');

  const foreignPhone = await handshake({ ...ours.server, ca: ours.ca }, { ...other.phone, ca: ours.ca });
  assert.equal(foreignPhone.serverAuthorized, false);
  assert.match(foreignPhone.serverError ?? '', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/);

  const foreignServer = await handshake({ ...other.server, ca: other.ca }, { ...ours.phone, ca: ours.ca });
  // With the chain sent (Node sends `ca` along) the phone sees a foreign root; with the leaf alone, the talk's message.
  assert.match(foreignServer.clientError ?? '', /unable to get local issuer certificate|self-signed certificate in certificate chain/);

  // The talk's second failure: the name dialled is not in the certificate.
  const wrongName = await handshake({ ...ours.server, ca: ours.ca }, { ...ours.phone, ca: ours.ca, checkServerIdentity: (_h, cert) => tls.checkServerIdentity('10.0.1.133', cert) });
  assert.match(wrongName.clientError ?? '', /IP: 10\.0\.1\.133 is not in the cert's list/);
});
