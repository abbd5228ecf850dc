/**
 * The layers of src/ and what each may import (issue 10 §1), as a table,
 * and the checker that holds the import graph against it.
 *
 * Floors, bottom up:
 *  - ground: core and events import no other src folder (except each
 *    other), so anything can depend on them;
 *  - library and protocol: pki (crypto, on core only), SIP by its own
 *    layers, SDP, SRTP, media, digest auth, the TFTP server. They take what
 *    they need from the application through small interfaces passed in
 *    (an identity resolver, an event sink) and never import it;
 *  - application: the CA home, inventory, vendors, provisioning, serve,
 *    verify, pbx exports, the CLI. They may import any floor below and
 *    each other, but no two folders may import each other in a circle.
 *
 * Within sip/ the layers stack as in SIP.js's core: message (syntax) <
 * transport < transaction < registrar (the application of SIP).
 */
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';

export type Floor = 'ground' | 'library' | 'protocol' | 'application';

export interface Layer {
  /** Folder below src/, e.g. `sip/transport`; the longest match owns a file. */
  folder: string;
  floor: Floor;
  /** An allow-list that replaces the floor's rule (folders below src/). */
  only?: readonly string[];
  /** For sip/ layers: the other sip/ layers this one may import. */
  sip?: readonly string[];
  what: string;
}

export const LAYERS: readonly Layer[] = [
  { folder: 'core', floor: 'ground', what: 'errors, atomic writes, locks, addresses' },
  { folder: 'events', floor: 'ground', what: 'the typed event catalog' },
  { folder: 'pki', floor: 'library', only: ['core'], what: 'keys, certificates, CRL, PKCS#12' },
  { folder: 'sip/message', floor: 'protocol', sip: [], what: 'SIP syntax: parser, serializer, validation' },
  { folder: 'sip/transport', floor: 'protocol', sip: ['sip/message'], what: 'framing, TLS flows, the plain-SIP diagnostic' },
  { folder: 'sip/transaction', floor: 'protocol', sip: ['sip/message', 'sip/transport'], what: 'RFC 3261 §17 transactions' },
  { folder: 'sip/registrar', floor: 'protocol', sip: ['sip/message', 'sip/transport', 'sip/transaction'], what: 'registrar, proxy, local endpoints' },
  { folder: 'sdp', floor: 'protocol', what: 'SDP, SDES, offer/answer' },
  { folder: 'srtp', floor: 'protocol', what: 'SRTP/SRTCP' },
  { folder: 'media', floor: 'protocol', what: 'RTP, the SRTP echo' },
  { folder: 'auth', floor: 'protocol', what: 'digest auth and lockout (SIP and HTTP)' },
  { folder: 'provision/tftp', floor: 'protocol', what: 'the TFTP server' },
  { folder: 'home', floor: 'application', what: 'the CA home and its records' },
  { folder: 'inventory', floor: 'application', what: 'phones, CSV import' },
  { folder: 'vendors', floor: 'application', what: 'one module per phone vendor' },
  { folder: 'provision', floor: 'application', what: 'routes, rendering, HTTPS provisioning' },
  { folder: 'serve', floor: 'application', what: '`sipsec serve` wiring' },
  { folder: 'verify', floor: 'application', what: 'verify, probe, demo' },
  { folder: 'doctor', floor: 'application', what: 'doctor: deployment checks before a phone boots' },
  { folder: 'pbx', floor: 'application', what: 'Asterisk/Kamailio exports' },
  { folder: 'cli', floor: 'application', what: 'commands' },
];

/** One import: from a file to a file, both relative to src/ (`sip/registrar/server.ts`). */
export interface ImportEdge {
  from: string;
  to: string;
  specifier: string;
  line: number;
}


/** The layer a file (relative to src/) belongs to: the longest folder that contains it. */
export function layerOf(file: string): Layer | undefined {
  let best: Layer | undefined;
  for (const l of LAYERS) {
    if (file.startsWith(l.folder + '/') && (!best || l.folder.length > best.folder.length)) best = l;
  }
  return best;
}

/** Why `from` may not import `to` (layers differ), or undefined when it may. */
function refusal(from: Layer, to: Layer): string | undefined {
  if (from.only) return from.only.includes(to.folder) ? undefined : `${from.folder} may import only ${from.only.join(', ')}`;
  switch (from.floor) {
    case 'ground':
      return to.floor === 'ground' ? undefined : `${from.folder} is on the ground floor: it imports no other src folder`;
    case 'library':
    case 'protocol':
      if (to.floor === 'application') return `protocol folder ${from.folder} imports application folder ${to.folder} (pass an interface in instead)`;
      if (from.sip && to.folder.startsWith('sip/') && !from.sip.includes(to.folder)) {
        return `${from.folder} may import only ${from.sip.length ? from.sip.join(', ') : 'no other sip layer'} within sip/`;
      }
      return undefined;
    case 'application':
      return undefined;
  }
}

/** Every import that breaks the table, as `file:line imports 'specifier': why`. */
export function layerViolations(edges: readonly ImportEdge[]): string[] {
  const out: string[] = [];
  for (const e of edges) {
    const from = layerOf(e.from);
    const to = layerOf(e.to);
    const where = `src/${e.from}:${e.line} imports '${e.specifier}'`;
    if (!from) out.push(`${where}: src/${path.dirname(e.from)} is not in the layer table (test/architecture/layers.ts)`);
    else if (!to) out.push(`${where}: src/${path.dirname(e.to)} is not in the layer table (test/architecture/layers.ts)`);
    else if (from !== to) {
      const why = refusal(from, to);
      if (why) out.push(`${where}: ${why}`);
    }
  }
  return out;
}

/**
 * Circles between folders (Tarjan's strongly connected components on the
 * folder graph), each named by its folders and one import per step.
 */
export function folderCycles(edges: readonly ImportEdge[]): string[] {
  const next = new Map<string, Map<string, ImportEdge>>();
  for (const e of edges) {
    const a = layerOf(e.from)?.folder;
    const b = layerOf(e.to)?.folder;
    if (!a || !b || a === b) continue;
    const m = next.get(a) ?? new Map<string, ImportEdge>();
    if (!m.has(b)) m.set(b, e);
    next.set(a, m);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of (next.get(v) ?? new Map()).keys()) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const c: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      c.push(w);
    } while (w !== v);
    if (c.length > 1) components.push(c.sort());
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((c) => {
    const inside = new Set(c);
    const steps: string[] = [];
    for (const a of c) {
      for (const [b, e] of next.get(a) ?? []) {
        if (inside.has(b)) steps.push(`${a} -> ${b} (src/${e.from}:${e.line} imports '${e.specifier}')`);
      }
    }
    return `folders ${c.join(', ')} import each other in a circle: ${steps.join('; ')}`;
  });
}

/** The relative imports of one source text: static, re-exports, dynamic `import()`. */
export function importsOf(file: string, text: string, exists: (file: string) => boolean): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const ref of ts.preProcessFile(text, true, true).importedFiles) {
    const specifier = ref.fileName;
    if (!specifier.startsWith('.')) continue;
    const joined = path.posix.normalize(path.posix.join(path.posix.dirname(file), specifier));
    const candidates = [joined.replace(/\.js$/, '.ts'), `${joined}.ts`, `${joined}/index.ts`, joined];
    const to = candidates.find(exists) ?? joined;
    const line = text.slice(0, ref.pos).split('\n').length;
    edges.push({ from: file, to, specifier, line });
  }
  return edges;
}

/** The import graph of a src/ tree on disk. */
export function readImportGraph(srcRoot: string): ImportEdge[] {
  const files = (readdirSync(srcRoot, { recursive: true }) as string[])
    .map((f) => f.split(path.sep).join('/'))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
  const known = new Set(files);
  return files.sort().flatMap((f) => importsOf(f, readFileSync(path.join(srcRoot, f), 'utf8'), (x) => known.has(x)));
}
