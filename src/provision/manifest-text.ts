/**
 * The text of a manifest as sipsec writes it: `{"schema": 1, "files": {...}}`
 * with one `"path": "owner"` entry per line, paths sorted. A fleet's manifest
 * lists tens of thousands of paths and every change to one phone reads it:
 * that text is queried where it lies (a search for a path's line, or for an
 * owner's lines, ~0.3 ms each at 34,000 paths) and edited by splicing lines,
 * never parsed whole unless a render needs all of it. Anything else is left
 * to the JSON reader (src/provision/manifest.ts).
 */

const HEAD = '{\n "schema": 1,\n "files": {\n';
const TAIL = '\n }\n}\n';
const EMPTY = '{\n "schema": 1,\n "files": {}\n}\n';

/** One entry line: a path with no quote, backslash or newline (so no JSON escape), a well-formed owner. */
const LINE = '  "[^"\\\\\\n]+": "(?:phone|vendor):[A-Za-z0-9._-]+"';
/** The whole text in exactly the form manifestText writes (2 ms at 34,000 paths: no backtracking). */
const WHOLE = new RegExp(`^\\{\\n "schema": 1,\\n "files": \\{\\n(?:${LINE},\\n)*${LINE}\\n \\}\\n\\}\\n$`);
/**
 * A path in such a text that is unsafe: a `.` or `..` part, an empty part, a
 * leading or trailing `/` (backslashes and NULs cannot be there: they would be escaped).
 */
const UNSAFE = /"\.{1,2}[/"]|\/\.{1,2}[/"]|\/\/|"\/|\/"/;
/** One entry line of the whole text, read in turn. */
const ENTRY = /  "([^"\\\n]+)": "((?:phone|vendor):[A-Za-z0-9._-]+)"(,\n|\n }\n}\n$)/y;

/** Past this many look-ups (a render of many phones) the text is parsed once and looked up in a Map. */
const SEARCHES = 64;

/** The same text `JSON.stringify({ schema: 1, files }, null, 1)` gives for sorted paths, without building the object. */
export function manifestText(files: ReadonlyMap<string, string>): string {
  if (files.size === 0) return EMPTY;
  const rels = [...files.keys()].sort();
  const lines = rels.map((rel) => `  ${JSON.stringify(rel)}: ${JSON.stringify(files.get(rel))}`);
  return `${HEAD}${lines.join(',\n')}${TAIL}`;
}

/**
 * The entries of a manifest in exactly the form manifestText writes, or
 * undefined for any other text (older or hand-edited, an escape in a path,
 * something broken). Paths are not checked here.
 */
export function parseManifestText(text: string): Map<string, string> | undefined {
  if (text === EMPTY) return new Map();
  if (!text.startsWith(HEAD) || !text.endsWith(TAIL)) return undefined;
  const files = new Map<string, string>();
  ENTRY.lastIndex = HEAD.length;
  for (;;) {
    const m = ENTRY.exec(text);
    if (!m) return undefined;
    // A path listed twice: JSON.parse keeps the last, as this does.
    files.set(m[1]!, m[2]!);
    if (m[3] !== ',\n') return files;
  }
}

/** A splice of the entry lines: `at` is an offset in ManifestText's `lines`. */
interface Splice {
  at: number;
  drop: number;
  insert: string;
  /** At one offset, the line dropped first, then the inserts in path order. */
  rank: number;
  rel: string;
}

/**
 * A manifest text in sipsec's own form with every path safe, queried
 * without parsing it whole. Immutable: edits give a new text.
 */
export class ManifestText {
  /**
   * The entry lines, each `  "path": "owner",\n`, after one `\n`: the
   * line of a path is found by searching for `\n  "path": "`.
   */
  readonly #lines: string;
  #searches = 0;
  #parsed: Map<string, string> | undefined;

  private constructor(lines: string) {
    this.#lines = lines;
  }

  /** The text as a ManifestText, or undefined when it is not in sipsec's form or lists an unsafe path. */
  static of(text: string): ManifestText | undefined {
    if (text === EMPTY) return new ManifestText('\n');
    if (!WHOLE.test(text) || UNSAFE.test(text)) return undefined;
    return new ManifestText(`\n${text.slice(HEAD.length, text.length - TAIL.length)},\n`);
  }

  get(rel: string): string | undefined {
    const parsed = this.#map(1);
    if (parsed) return parsed.get(rel);
    const line = this.#lineOf(rel);
    return line && this.#lines.slice(line.owner, line.end - 3);
  }

  /** Every path and its owner (parsed once). */
  all(): ReadonlyMap<string, string> {
    this.#parsed ??= parseManifestText(this.text()) ?? new Map();
    return this.#parsed;
  }

  /** The paths these owners have, in the text's order. */
  ownedBy(owners: ReadonlySet<string>): Array<[string, string]> {
    const parsed = this.#map(owners.size);
    if (parsed) return [...parsed].filter(([, owner]) => owners.has(owner));
    const found: Array<[string, string]> = [];
    for (const owner of owners) {
      const needle = `": "${owner}",\n`;
      for (let i = this.#lines.indexOf(needle); i >= 0; i = this.#lines.indexOf(needle, i + 1)) {
        const start = this.#lines.lastIndexOf('\n', i) + 1;
        found.push([this.#lines.slice(start + 3, i), owner]);
      }
    }
    // In path order, as a Map's entries would be.
    return found.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /** The whole text again (manifestText's form). */
  text(): string {
    if (this.#lines === '\n') return EMPTY;
    return `${HEAD}${this.#lines.slice(1, -2)}${TAIL}`;
  }

  /** The text with these paths set (added, or given another owner) and those dropped, still sorted. */
  edited(set: ReadonlyArray<readonly [string, string]>, drop: readonly string[]): string {
    // Each edit searches the text once: many of them (a full render, an import) go through the Map instead.
    if (set.length + drop.length > SEARCHES) {
      const next = new Map(this.all());
      for (const [rel, owner] of set) next.set(rel, owner);
      for (const rel of drop) next.delete(rel);
      return manifestText(next);
    }
    const splices: Splice[] = [];
    const dropLine = (rel: string) => {
      const line = this.#lineOf(rel);
      if (line) splices.push({ at: line.start, drop: line.end - line.start, insert: '', rank: 0, rel });
    };
    for (const rel of drop) dropLine(rel);
    for (const [rel, owner] of set) {
      dropLine(rel);
      splices.push({ at: this.#insertAt(rel), drop: 0, insert: `  ${JSON.stringify(rel)}: ${JSON.stringify(owner)},\n`, rank: 1, rel });
    }
    splices.sort((a, b) => a.at - b.at || a.rank - b.rank || (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
    const pieces: string[] = [];
    let kept = 0;
    for (const s of splices) {
      pieces.push(this.#lines.slice(kept, Math.max(kept, s.at)), s.insert);
      kept = Math.max(kept, s.at + s.drop);
    }
    pieces.push(this.#lines.slice(kept));
    return new ManifestText(pieces.join('')).text();
  }

  /** The parsed Map when there is one, or once `more` searches would pass SEARCHES. */
  #map(more: number): Map<string, string> | undefined {
    if (this.#parsed) return this.#parsed;
    this.#searches += more;
    if (this.#searches > SEARCHES) this.all();
    return this.#parsed;
  }

  /** Where a path's line starts and ends (after its `\n`), and where its owner starts. */
  #lineOf(rel: string): { start: number; owner: number; end: number } | undefined {
    // A path with a quote, backslash or newline cannot be in this form (it would be escaped).
    if (/["\\\n]/.test(rel)) return undefined;
    const head = `\n  "${rel}": "`;
    const i = this.#lines.indexOf(head);
    if (i < 0) return undefined;
    return { start: i + 1, owner: i + head.length, end: this.#lines.indexOf('\n', i + 1) + 1 };
  }

  /** The offset of the first line whose path sorts after `rel` (binary search: the lines are sorted). */
  #insertAt(rel: string): number {
    const lines = this.#lines;
    let lo = 1;
    let hi = lines.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const start = lines.lastIndexOf('\n', mid - 1) + 1;
      const lineRel = lines.slice(start + 3, lines.indexOf('": "', start));
      if (lineRel < rel) lo = lines.indexOf('\n', start) + 1;
      else hi = start;
    }
    return lo;
  }
}
