import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import grandstream from '../../src/vendors/grandstream.js';
import { encodeGrandstreamBinary } from '../../src/vendors/grandstream-binary.js';
import { FIXTURE_CA_PEM, FIXTURE_CERT_PEM, FIXTURE_KEY_LEGACY_PEM } from './fixture.js';
import { byPath, checkOptionRejected, checkOptionsRoundTrip, hardwareSuite, renderFixture, routeTable, text, type Rendering } from './hardware-checks.js';
import { findAll, parseXml, textOf, type XmlElement } from './xml-tree.js';

const MAC = '000b82123456';
const base = { phone: { mac: MAC } };
const XML_FILE = `cfg${MAC}.xml`;
const BIN_FILE = `cfg${MAC}`;

/**
 * The legacy binary file read back from its format description alone
 * (vendors.md §4.2), independently of the writer: length field, checksum,
 * MAC, CRLFCRLF, `&`-joined P-values ending in `&gnkey=0b82`, even padding.
 */
function readBinary(buf: Buffer, mac: string): Map<string, string> {
  assert.equal(buf.length % 2, 0, 'odd length: the body must be padded to 16-bit words');
  assert.ok(buf.length >= 16 + '&gnkey=0b82'.length);
  assert.equal(buf.readUInt32BE(0) * 2, buf.length, 'bytes 0-3: total length in 16-bit words, header included');
  let sum = 0;
  for (let i = 0; i < buf.length; i += 2) sum = (sum + ((buf[i]! << 8) | buf[i + 1]!)) % 65536;
  assert.equal(sum, 0, 'the 16-bit big-endian words of the whole file must sum to 0 mod 2^16');
  assert.equal(buf.subarray(6, 12).toString('hex'), mac, 'bytes 6-11: the MAC');
  assert.deepEqual([...buf.subarray(12, 16)], [0x0d, 0x0a, 0x0d, 0x0a], 'bytes 12-15: CR LF CR LF');
  let body = buf.subarray(16).toString('latin1');
  if (body.endsWith('\u0000')) body = body.slice(0, -1);
  assert.ok(!body.includes('\u0000'), 'NUL inside the body');
  assert.ok(body.endsWith('&gnkey=0b82'), 'the body must end with &gnkey=0b82');
  const pairs = body.slice(0, -'&gnkey=0b82'.length).split('&');
  const map = new Map<string, string>();
  for (const p of pairs) {
    const m = /^(P\d+)=([^&=]*)$/.exec(p);
    assert.ok(m, `not a P<n>=<value> pair: ${JSON.stringify(p)}`);
    assert.ok(!map.has(m[1]!), `${m[1]} twice`);
    map.set(m[1]!, m[2]!);
  }
  return map;
}

/** The XML file: <gs_provision version="1"><mac>…</mac><config version="1"><Pnnn>… with each P once. */
function readXml(f: string, mac: string): Map<string, string> {
  const root: XmlElement = parseXml(f);
  assert.equal(root.name, 'gs_provision');
  assert.equal(root.attrs.get('version'), '1');
  assert.equal(textOf(root, 'mac'), mac);
  const config = findAll(root, 'config');
  assert.equal(config.length, 1);
  assert.equal(config[0]!.attrs.get('version'), '1');
  const map = new Map<string, string>();
  for (const c of config[0]!.children) {
    assert.match(c.name, /^P\d+$/);
    assert.ok(!map.has(c.name), `${c.name} twice`);
    map.set(c.name, c.text);
  }
  return map;
}

const xmlValues = (r: Rendering) => readXml(text(byPath(r.files, XML_FILE)), MAC);
const binValues = (r: Rendering) => readBinary(byPath(r.files, BIN_FILE).content, MAC);

describe('grandstream', () => {
  hardwareSuite(
    grandstream,
    {
      golden: 'grandstream',
      overrides: base,
      // Boot order (vendors.md §4.1): cfg<mac> (2011 firmware), cfg<mac>.bin (current KB name), cfg<mac>.xml.
      references: () => [BIN_FILE, `${BIN_FILE}.bin`, XML_FILE, XML_FILE.toUpperCase()],
      addressesSeen: () => ['sip.example.net:5071', 'time.example.net'],
      structure: (r) => {
        xmlValues(r);
        binValues(r);
      },
    },
    test,
  );

  test('binary known answer: one pair, computed by hand from the format', () => {
    const hex = '00000010d624000b821234560d0a0d0a50313d6126676e6b65793d3062383200';
    assert.equal(encodeGrandstreamBinary(MAC, [{ key: 'P1', value: 'a' }]).toString('hex'), hex);
  });

  test('the independent reader refuses a damaged binary file', () => {
    const good = byPath(renderFixture(grandstream, base).files, BIN_FILE).content;
    readBinary(good, MAC);
    const flipped = Buffer.from(good);
    flipped[20] = flipped[20]! ^ 0x01;
    assert.throws(() => readBinary(flipped, MAC), /sum to 0/);
    const short = Buffer.from(good);
    short.writeUInt32BE(short.readUInt32BE(0) - 1, 0);
    assert.throws(() => readBinary(short, MAC), /length/);
    assert.throws(() => readBinary(good, '000b82123457'), /MAC/);
  });

  test('cfg<mac>.bin is an alias of the binary file', () => {
    const r = renderFixture(grandstream, base);
    const table = routeTable(grandstream, r.files);
    assert.equal(table.lookup(`${BIN_FILE}.bin`)?.path, BIN_FILE);
    assert.equal(table.lookup(BIN_FILE)?.contentType, 'application/octet-stream');
  });

  test('XML: TLS, sips, SRTP forced, server host:port, credentials, inline PEM certificate and key, CA, NTP', () => {
    const r = renderFixture(grandstream, base);
    const v = xmlValues(r);
    assert.equal(v.get('P47'), 'pbx.mycompany.com:5061');
    assert.equal(v.get('P130'), '2');
    assert.equal(v.get('P2329'), '1');
    assert.equal(v.get('P183'), '2');
    assert.equal(v.get('P35'), '101');
    assert.equal(v.get('P36'), '101');
    assert.equal(v.get('P34'), r.ctx.phone.secret);
    assert.equal(v.get('P3'), 'Telefono Uno');
    assert.equal(v.get('P271'), '1');
    assert.equal(v.get('P280'), FIXTURE_CERT_PEM);
    assert.equal(v.get('P279'), FIXTURE_KEY_LEGACY_PEM);
    assert.equal(v.get('P281'), '');
    assert.equal(v.get('P8433'), FIXTURE_CA_PEM);
    assert.equal(v.get('P30'), '10.0.1.1');
    // Server validation off by default: 2011 firmware has no slot for sipsec's CA.
    assert.equal(v.get('P2311'), '0');
    assert.equal(v.get('P8463'), '0');
  });

  test('binary: the TLS/SRTP essentials, never a PEM, and agrees with the XML', () => {
    const r = renderFixture(grandstream, base);
    const bin = binValues(r);
    const xml = xmlValues(r);
    for (const p of ['P47', 'P130', 'P2329', 'P183', 'P35', 'P36', 'P34', 'P3', 'P271', 'P30']) assert.equal(bin.get(p), xml.get(p), p);
    for (const p of ['P280', 'P279', 'P281', 'P8433']) assert.equal(bin.has(p), false, `${p} must not be in the binary file`);
    assert.ok(!byPath(r.files, BIN_FILE).content.includes('-----BEGIN'));
    assert.equal(byPath(r.files, BIN_FILE).holdsKey, false);
    assert.equal(byPath(r.files, XML_FILE).holdsKey, true);
  });

  test('values the binary form cannot carry are left to the XML, and the operator is told', () => {
    const r = renderFixture(grandstream, { phone: { mac: MAC, displayName: 'José & Co = 100%', secret: 'abc=def+ghi%12' } });
    const bin = binValues(r);
    assert.equal(bin.has('P3'), false);
    assert.equal(bin.has('P270'), false);
    assert.equal(bin.has('P34'), false);
    assert.equal(bin.get('P47'), 'pbx.mycompany.com:5061');
    const xml = xmlValues(r);
    assert.equal(xml.get('P3'), 'José & Co = 100%');
    assert.equal(xml.get('P34'), 'abc=def+ghi%12');
    const lines = grandstream.instructions!(r.ctx).join('\n');
    assert.match(lines, /P34 \(authenticate password\)/);
    assert.ok(!lines.includes('abc=def'), 'the secret itself must not be printed');
  });

  test('SRTP: mandatory 2, optional 1, off 0 in both files', () => {
    for (const [srtp, p183] of [['mandatory', '2'], ['optional', '1'], ['off', '0']] as const) {
      const r = renderFixture(grandstream, { phone: { mac: MAC, srtp } });
      assert.equal(xmlValues(r).get('P183'), p183, srtp);
      assert.equal(binValues(r).get('P183'), p183, srtp);
    }
  });

  test('options: admin password (P2) and server validation', () => {
    const opts = checkOptionsRoundTrip(grandstream, { admin_password: 'S3cure!pw', validate_server: 'yes' });
    assert.deepEqual(opts, { admin_password: 'S3cure!pw', validate_server: true });
    const r = renderFixture(grandstream, { phone: { mac: MAC, options: { admin_password: 'S3cure!pw', validate_server: 'yes' } } });
    assert.equal(xmlValues(r).get('P2'), 'S3cure!pw');
    assert.equal(binValues(r).get('P2'), 'S3cure!pw');
    assert.equal(xmlValues(r).get('P2311'), '1');
    assert.equal(xmlValues(r).get('P8463'), '1');
    checkOptionRejected(grandstream, { admin_password: 'a&b=c' }, /use letters, digits and punctuation/);
    checkOptionRejected(grandstream, { admin_password: 'ab' }, /at least 4/);
    checkOptionRejected(grandstream, { validate_server: 'perhaps' }, /expected yes or no/);
  });

  test('only account 1 is provisioned; another line number is reported, not silently used', () => {
    const r = renderFixture(grandstream, { phone: { mac: MAC, line: 2 } });
    assert.equal(xmlValues(r).get('P47'), 'pbx.mycompany.com:5061');
    assert.match(grandstream.instructions!(r.ctx).join('\n'), /only account 1 is provisioned; line 2 was ignored/);
  });

  test('declares the crypto lifetime quirk for the registrar', () => {
    assert.equal(grandstream.descriptor.srtp.sendsLifetime, true);
  });
});
