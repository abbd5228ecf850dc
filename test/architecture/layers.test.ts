/**
 * The import direction of src/ (issue 10 §1): protocol folders never import
 * the application, the ground floor imports nothing above it, the sip/
 * layers stack, and no two folders import each other in a circle. The
 * table and the rules are in layers.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../helpers/cli.js';
import { folderCycles, importsOf, layerOf, layerViolations, readImportGraph, type ImportEdge } from './layers.js';

const SRC = path.join(repoRoot(), 'src');

function report(lines: string[]): string {
  return `\n  ${lines.join('\n  ')}\n`;
}

test('every file of src/ belongs to a layer of the table', () => {
  const files = (readdirSync(SRC, { recursive: true }) as string[]).map((f) => f.split(path.sep).join('/')).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length > 100, `expected the sources under ${SRC}`);
  const orphans = files.filter((f) => !layerOf(f)).map((f) => `src/${f}: add its folder to LAYERS in test/architecture/layers.ts`);
  assert.deepEqual(orphans, [], report(orphans));
});

test('src/ imports only in the allowed direction', () => {
  const edges = readImportGraph(SRC);
  assert.ok(edges.length > 300, `expected the import graph of ${SRC}, read ${edges.length} imports`);
  const bad = layerViolations(edges);
  assert.deepEqual(bad, [], report(bad));
});

test('no two folders of src/ import each other in a circle', () => {
  const cycles = folderCycles(readImportGraph(SRC));
  assert.deepEqual(cycles, [], report(cycles));
});

// ------------------------------------------------------------ the checker catches what it should

const edge = (from: string, to: string): ImportEdge => ({ from, to, specifier: path.posix.relative(path.posix.dirname(from), to).replace(/\.ts$/, '.js'), line: 1 });

test('the checker names each kind of violation on a fake graph', () => {
  const bad = layerViolations([
    edge('sip/registrar/server.ts', 'home/schema.ts'),
    edge('sip/transport/tls.ts', 'sip/transaction/transaction.ts'),
    edge('sip/message/parser.ts', 'sip/transport/flow.ts'),
    edge('core/net.ts', 'srtp/packet.ts'),
    edge('pki/x509.ts', 'home/store.ts'),
    edge('pki/x509.ts', 'sdp/sdp.ts'),
    edge('provision/tftp/server.ts', 'provision/routes.ts'),
    edge('media/echo.ts', 'serve/events.ts'),
    edge('attic/old.ts', 'core/net.ts'),
  ]);
  assert.equal(bad.length, 9, report(bad));
  assert.match(bad[0]!, /^src\/sip\/registrar\/server\.ts:1 imports '\.\.\/\.\.\/home\/schema\.js': protocol folder sip\/registrar imports application folder home/);
  assert.match(bad[1]!, /sip\/transport may import only sip\/message within sip\//);
  assert.match(bad[2]!, /sip\/message may import only no other sip layer/);
  assert.match(bad[3]!, /core is on the ground floor/);
  assert.match(bad[4]!, /pki may import only core/);
  assert.match(bad[5]!, /pki may import only core/);
  assert.match(bad[6]!, /protocol folder provision\/tftp imports application folder provision/);
  assert.match(bad[7]!, /protocol folder media imports application folder serve/);
  assert.match(bad[8]!, /src\/attic is not in the layer table/);
});

test('the checker lets the allowed directions through', () => {
  const ok = layerViolations([
    edge('serve/serve.ts', 'sip/registrar/server.ts'),
    edge('sip/registrar/server.ts', 'sip/transaction/transaction.ts'),
    edge('sip/registrar/server.ts', 'auth/digest.ts'),
    edge('sip/transaction/transaction.ts', 'sip/transport/flow.ts'),
    edge('sip/transport/tls.ts', 'sip/message/message.ts'),
    edge('home/schema.ts', 'sdp/policy.ts'),
    edge('events/catalog.ts', 'core/errors.ts'),
    edge('provision/http.ts', 'provision/tftp/server.ts'),
    edge('sip/message/parser.ts', 'sip/message/uri.ts'),
  ]);
  assert.deepEqual(ok, []);
});

test('the checker finds a circle between folders and names its imports', () => {
  const cycles = folderCycles([
    edge('serve/services.ts', 'verify/verify.ts'),
    edge('verify/verify.ts', 'cli/output.ts'),
    edge('cli/output.ts', 'serve/serve.ts'),
    edge('cli/main.ts', 'home/store.ts'),
  ]);
  assert.equal(cycles.length, 1, report(cycles));
  assert.match(cycles[0]!, /^folders cli, serve, verify import each other in a circle: /);
  assert.match(cycles[0]!, /serve -> verify \(src\/serve\/services\.ts:1 imports '\.\.\/verify\/verify\.js'\)/);
  assert.deepEqual(folderCycles([edge('cli/main.ts', 'home/store.ts'), edge('home/store.ts', 'pki/x509.ts')]), []);
});

test('the reader sees static, re-export and dynamic imports, and skips comments and strings', () => {
  const text = [
    "import type { Phone } from '../../home/schema.js';",
    "export { negotiate } from '../../sdp/answer.js';",
    "export * from './bindings.js';",
    '// import { x } from "../../serve/commented.js";',
    "const s = \"import y from '../../serve/string.js'\";",
    'async function later() {',
    "  return import('../../serve/identity.js');",
    '}',
    "import { readFileSync } from 'node:fs';",
  ].join('\n');
  const files = new Set(['home/schema.ts', 'sdp/answer.ts', 'sip/registrar/bindings.ts', 'serve/identity.ts']);
  const edges = importsOf('sip/registrar/server.ts', text, (f) => files.has(f));
  assert.deepEqual(
    edges.map((e) => `${e.line} ${e.to}`),
    ['1 home/schema.ts', '2 sdp/answer.ts', '3 sip/registrar/bindings.ts', '7 serve/identity.ts'],
  );
  assert.equal(layerViolations(edges).length, 2);
});
