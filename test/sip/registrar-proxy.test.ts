import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { StatusEndpoint } from '../../src/sip/registrar/local-endpoint.js';
import type { SipRequest, SipResponse } from '../../src/sip/message/message.js';
import { registrarCa, startInProcess } from '../helpers/registrar-ca.js';
import { answerChallenge, header, newCallId, registerText, SipTestClient } from '../helpers/sip-client.js';

const SDP = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 20000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n';

interface Phone {
  c: SipTestClient;
  user: string;
  contact: string;
}

async function setup(t: { after(fn: () => unknown): void }) {
  const ca = await registrarCa([
    { name: 'telefono1', vendor: 'baresip', ext: '101' },
    { name: 'telefono2', vendor: 'baresip', ext: '102' },
    { name: 'spa1', vendor: 'cisco-spa', ext: '103', mac: '00:08:5d:11:22:33' },
  ]);
  t.after(() => ca.cleanup());
  const reg = await startInProcess(ca, { auth: 'cert', endpoints: [new StatusEndpoint('300', 486, true)] });
  t.after(() => reg.close());
  const phone = async (name: string, user: string): Promise<Phone> => {
    const pair = await ca.pair(name);
    const c = await SipTestClient.connect(reg.port, { ca: ca.caPem, cert: pair.cert, key: pair.key });
    t.after(() => c.close());
    // The Contact names a listening port nobody dials (Grandstream-style): routing must use the flow.
    const contact = `<sip:${user}@127.0.0.1:5999;transport=tls>`;
    const callId = newCallId();
    c.send(registerText({ user, domain: ca.domain, contact, callId, cseq: 1, localPort: c.localPort, expires: 600 }));
    assert.equal((await c.final(callId, 'REGISTER')).status, 200);
    return { c, user, contact: `sip:${user}@127.0.0.1:5999;transport=tls` };
  };
  return { ca, reg, phone };
}

function branch(): string {
  return `z9hG4bK${randomBytes(6).toString('hex')}`;
}

function invite(from: Phone, to: string, callId: string, fromTag: string, extra: string[] = [], body = SDP): string {
  return [
    `INVITE sip:${to}@pbx.test SIP/2.0`,
    `Via: SIP/2.0/TLS 127.0.0.1:${from.c.localPort};branch=${branch()};rport`,
    'Max-Forwards: 70',
    `From: <sip:${from.user}@pbx.test>;tag=${fromTag}`,
    `To: <sip:${to}@pbx.test>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    `Contact: <${from.contact}>`,
    'Content-Type: application/sdp',
    ...extra,
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}

/** The UAS side answering a request it received through the proxy: all Vias, its To tag. */
function answer(req: SipRequest, status: number, toTag: string, extra: string[] = [], body = ''): string {
  const lines = [`SIP/2.0 ${status} ${status === 200 ? 'OK' : status === 180 ? 'Ringing' : status === 487 ? 'Request Terminated' : 'X'}`];
  for (const v of req.headers.all('via')) lines.push(`Via: ${v}`);
  for (const r of req.headers.all('record-route')) lines.push(`Record-Route: ${r}`);
  lines.push(`From: ${header(req, 'from')}`, `To: ${header(req, 'to')}${/;tag=/.test(header(req, 'to') ?? '') ? '' : `;tag=${toTag}`}`, `Call-ID: ${header(req, 'call-id')}`, `CSeq: ${header(req, 'cseq')}`);
  lines.push(...extra, `Content-Length: ${Buffer.byteLength(body)}`, '', body);
  return lines.join('\r\n');
}

test('proxy: an INVITE between two registered phones goes over their TLS flows, record-routed; in-dialog ACK and BYE follow the route', async (t) => {
  const { reg, phone } = await setup(t);
  const a = await phone('telefono1', '101');
  const b = await phone('telefono2', '102');
  const callId = newCallId();
  a.c.send(invite(a, '102', callId, 'atag'));
  const trying = (await a.c.next((m) => m.kind === 'response' && m.status === 100)) as SipResponse;
  assert.equal(header(trying, 'call-id'), callId);
  const inv = await b.c.request((r) => r.method === 'INVITE');
  assert.equal(inv.uri, b.contact, 'retargeted to the binding');
  const vias = inv.headers.all('via');
  assert.equal(vias.length, 2);
  assert.match(vias[0]!, new RegExp(`^SIP/2\\.0/TLS 127\\.0\\.0\\.1:${reg.port};branch=z9hG4bK`));
  assert.match(vias[1]!, /received=127\.0\.0\.1;rport=\d+/, 'the caller Via stamped (RFC 3581)');
  const rr = inv.headers.all('record-route');
  assert.equal(rr.length, 1, 'one interface: one Record-Route');
  assert.match(rr[0]!, new RegExp(`^<sip:127\\.0\\.0\\.1:${reg.port};transport=tls;lr;ftag=atag;fa=[0-9a-f]+;fb=[0-9a-f]+>$`));
  assert.equal(header(inv, 'max-forwards'), '69');
  assert.equal(inv.body.toString(), SDP, 'SDP relayed untouched');

  b.c.send(answer(inv, 180, 'btag', [`Contact: <${b.contact}>`]));
  const ringing = (await a.c.next((m) => m.kind === 'response' && m.status === 180)) as SipResponse;
  assert.equal(ringing.headers.all('via').length, 1, 'our Via removed');
  b.c.send(answer(inv, 200, 'btag', [`Contact: <${b.contact}>`, 'Content-Type: application/sdp'], SDP));
  const ok = await a.c.final(callId, 'INVITE');
  assert.equal(ok.status, 200);
  assert.equal(ok.body.toString(), SDP);
  assert.deepEqual(ok.headers.all('record-route'), rr);
  const proxied = await reg.waitFor((e) => e.event === 'call.proxy');
  assert.equal(proxied.phone, 'telefono1');
  assert.equal(proxied.callee, 'telefono2');
  assert.equal(proxied.status, 200);

  // The caller's route set is the Record-Route reversed (§12.1.2); its ACK and BYE carry it.
  const toB = `To: <sip:102@pbx.test>;tag=btag`;
  a.c.send([`ACK ${b.contact} SIP/2.0`, `Via: SIP/2.0/TLS 127.0.0.1:${a.c.localPort};branch=${branch()}`, `Route: ${rr[0]}`, 'Max-Forwards: 70', `From: <sip:101@pbx.test>;tag=atag`, toB, `Call-ID: ${callId}`, 'CSeq: 1 ACK', 'Content-Length: 0', '', ''].join('\r\n'));
  const ack = await b.c.request((r) => r.method === 'ACK');
  assert.equal(ack.headers.all('route').length, 0, 'our Route popped');
  // The callee hangs up: its route set is the Record-Route as received.
  b.c.send([`BYE ${a.contact} SIP/2.0`, `Via: SIP/2.0/TLS 127.0.0.1:${b.c.localPort};branch=${branch()}`, `Route: ${rr[0]}`, 'Max-Forwards: 70', `From: <sip:102@pbx.test>;tag=btag`, `To: <sip:101@pbx.test>;tag=atag`, `Call-ID: ${callId}`, 'CSeq: 1 BYE', 'Content-Length: 0', '', ''].join('\r\n'));
  const bye = await a.c.request((r) => r.method === 'BYE');
  assert.equal(bye.uri, a.contact);
  a.c.send(answer(bye, 200, 'atag'));
  assert.equal((await b.c.final(callId, 'BYE')).status, 200);
  await reg.waitFor((e) => e.event === 'call.end' && e.callId === callId);
});

test('proxy: CANCEL of a ringing call reaches the callee; 487 comes back; the ACK for it stays hop by hop', async (t) => {
  const { phone } = await setup(t);
  const a = await phone('telefono1', '101');
  const b = await phone('telefono2', '102');
  const callId = newCallId();
  const text = invite(a, '102', callId, 'atag2');
  a.c.send(text);
  const inv = await b.c.request((r) => r.method === 'INVITE');
  b.c.send(answer(inv, 180, 'btag2'));
  await a.c.next((m) => m.kind === 'response' && m.status === 180);
  const viaLine = /^Via: .*$/m.exec(text)![0];
  a.c.send([`CANCEL sip:102@pbx.test SIP/2.0`, viaLine, 'Max-Forwards: 70', 'From: <sip:101@pbx.test>;tag=atag2', 'To: <sip:102@pbx.test>', `Call-ID: ${callId}`, 'CSeq: 1 CANCEL', 'Content-Length: 0', '', ''].join('\r\n'));
  assert.equal((await a.c.final(callId, 'CANCEL')).status, 200);
  const cancel = await b.c.request((r) => r.method === 'CANCEL');
  assert.equal(header(cancel, 'via')?.split(',')[0], header(inv, 'via')?.split(',')[0], 'same branch as the INVITE it cancels (§9.1)');
  b.c.send(answer(cancel, 200, 'btag2'));
  b.c.send(answer(inv, 487, 'btag2'));
  assert.equal((await a.c.final(callId, 'INVITE')).status, 487);
  const ack = await b.c.request((r) => r.method === 'ACK');
  assert.equal(ack.headers.all('via').length, 1, 'the proxy acknowledged the 487 itself (§17.1.1.3)');
});

test('proxy: unknown target 404, a known phone not registered 480, a local extension answers, an unidentified caller gets 407', async (t) => {
  const { ca, reg, phone } = await setup(t);
  const a = await phone('telefono1', '101');
  const nobody = newCallId();
  a.c.send(invite(a, '555', nobody, 't1'));
  const r404 = await a.c.final(nobody, 'INVITE');
  assert.equal(r404.status, 404);
  assert.match(header(r404, 'warning') ?? '', /no phone or extension 555/);
  const unreg = newCallId();
  a.c.send(invite(a, '103', unreg, 't2'));
  const r480 = await a.c.final(unreg, 'INVITE');
  assert.equal(r480.status, 480);
  assert.match(header(r480, 'warning') ?? '', /spa1 is not registered/);
  const local = newCallId();
  a.c.send(invite(a, '300', local, 't3'));
  await a.c.next((m) => m.kind === 'response' && m.status === 180 && header(m, 'call-id') === local);
  assert.equal((await a.c.final(local, 'INVITE')).status, 486);
  await reg.waitFor((e) => e.event === 'dialog.end' && e.reason === 'rejected');

  // A spoofed From on an identified flow.
  const spoof = newCallId();
  a.c.send(invite(a, '300', spoof, 't4').replace('From: <sip:101@pbx.test>', 'From: <sip:102@pbx.test>'));
  const r403 = await a.c.final(spoof, 'INVITE');
  assert.equal(r403.status, 403);
  assert.match(header(r403, 'warning') ?? '', /is not telefono1's AOR/);

  // No certificate, no registration on this connection: proxy digest (407), then allowed.
  const anon = await SipTestClient.connect(reg.port, { ca: ca.caPem });
  t.after(() => anon.close());
  const spa: Phone = { c: anon, user: '103', contact: 'sip:103@127.0.0.1:5999;transport=tls' };
  const id = newCallId();
  anon.send(invite(spa, '300', id, 't5'));
  const challenge = await anon.final(id, 'INVITE');
  assert.equal(challenge.status, 407);
  assert.equal(challenge.headers.all('proxy-authenticate').length, 1, 'MD5 alone by default');
  const authz = answerChallenge(challenge, { username: '103', password: ca.secret('spa1'), method: 'INVITE', uri: 'sip:300@pbx.test' });
  anon.send(invite(spa, '300', id, 't5', [`Proxy-Authorization: ${authz}`]).replace('CSeq: 1 INVITE', 'CSeq: 2 INVITE'));
  const busy = await anon.next((m) => m.kind === 'response' && m.status === 486 && (header(m, 'cseq') ?? '').startsWith('2 '));
  assert.equal((busy as SipResponse).status, 486);
});

test('OPTIONS to the registrar is answered 200; CRLF keep-alive gets a pong', async (t) => {
  const { ca, reg } = await setup(t);
  const c = await SipTestClient.connect(reg.port, { ca: ca.caPem });
  t.after(() => c.close());
  const id = newCallId();
  c.send([`OPTIONS sip:pbx.test SIP/2.0`, `Via: SIP/2.0/TLS 127.0.0.1:${c.localPort};branch=${branch()}`, 'Max-Forwards: 70', 'From: <sip:probe@pbx.test>;tag=1', 'To: <sip:pbx.test>', `Call-ID: ${id}`, 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', ''].join('\r\n'));
  const ok = await c.final(id, 'OPTIONS');
  assert.equal(ok.status, 200);
  assert.match(header(ok, 'allow') ?? '', /REGISTER/);
  c.send('\r\n\r\n');
  c.send([`OPTIONS sip:pbx.test SIP/2.0`, `Via: SIP/2.0/TLS 127.0.0.1:${c.localPort};branch=${branch()}`, 'Max-Forwards: 70', 'From: <sip:probe@pbx.test>;tag=1', 'To: <sip:pbx.test>', `Call-ID: ${id}`, 'CSeq: 2 OPTIONS', 'Content-Length: 0', '', ''].join('\r\n'));
  await c.next((m) => m.kind === 'response' && (header(m, 'cseq') ?? '').startsWith('2 '));
  assert.equal(c.pongs, 1);
});
