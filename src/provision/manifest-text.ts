/**
 * The text of a manifest as sipsec writes it: `{"schema": 1, "files": {...}}`
 * with one `"path": "owner"` entry per line, paths sorted. A fleet's manifest
 * lists tens of thousands of paths and every change to a phone reads it,
 * so the form sipsec writes is read back by one sticky regex straight into a
 * Map (about half the time of JSON.parse into an object, then entries, then
 * checks, at 30,000 paths); anything else is left to the full JSON reader.
 */

const HEAD = '{\n "schema": 1,\n "files": {\n';
const TAIL = '\n }\n}\n';
const EMPTY = '{\n "schema": 1,\n "files": {}\n}\n';

/**
 * One entry line: a path with no quote, backslash or newline (so no JSON
 * escape), a well-formed owner, then `,` or the end of the file.
 */
const ENTRY = /  "([^"\\\n]+)": "((?:phone|vendor):[A-Za-z0-9._-]+)"(,\n|\n }\n}\n$)/y;

/** The same text `JSON.stringify({ schema: 1, files }, null, 1)` gives, without building the object. */
export function manifestText(files: ReadonlyMap<string, string>): string {
  if (files.size === 0) return EMPTY;
  // Kept in order by the reader and mostly appended to: the sort sees a nearly sorted list.
  const rels = [...files.keys()].sort();
  const lines = rels.map((rel) => `  ${JSON.stringify(rel)}: ${JSON.stringify(files.get(rel))}`);
  return `${HEAD}${lines.join(',\n')}${TAIL}`;
}

/**
 * The entries of a manifest in exactly the form manifestText writes, or
 * undefined for any other text (older sipsec, an edit by hand, an escape in
 * a path, something broken): the caller then reads it as JSON. Paths are
 * not checked here.
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
