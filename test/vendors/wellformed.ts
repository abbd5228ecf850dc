/**
 * Small strict checkers for the config formats softphone modules render:
 * XML well-formedness (XML 1.0 subset: declaration, comments, elements,
 * quoted attributes, the five entities and character references, one root)
 * and INI-like files (sections, key=value lines, comments). They throw with
 * the line number of the first problem.
 */

const NAME = /^[A-Za-z_][A-Za-z0-9._:-]*$/;
const ENTITY = /^&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);/;

function lineAt(text: string, index: number): number {
  return text.slice(0, index).split('\n').length;
}

function checkText(text: string, start: number, s: string): void {
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '<') throw new Error(`line ${lineAt(text, start + i)}: raw '<' in text`);
    if (s[i] === '&' && !ENTITY.test(s.slice(i))) throw new Error(`line ${lineAt(text, start + i)}: bare '&' in text`);
  }
}

/** Throws unless `text` is a well-formed XML document; returns the root element's name. */
export function assertWellFormedXml(text: string): string {
  let i = 0;
  const stack: string[] = [];
  let root: string | undefined;
  let rootClosed = false;
  if (text.startsWith('\uFEFF')) i = 1;
  if (text.startsWith('<?xml', i)) {
    const end = text.indexOf('?>', i);
    if (end < 0) throw new Error('line 1: unterminated XML declaration');
    if (!/^<\?xml\s+version="1\.[0-9]"(\s+encoding="[A-Za-z0-9._-]+")?(\s+standalone="(yes|no)")?\s*\?>$/.test(text.slice(i, end + 2))) {
      throw new Error('line 1: malformed XML declaration');
    }
    i = end + 2;
  }
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const chunk = lt < 0 ? text.slice(i) : text.slice(i, lt);
    if (stack.length === 0) {
      if (chunk.trim() !== '') throw new Error(`line ${lineAt(text, i)}: text outside the root element`);
    } else {
      checkText(text, i, chunk);
    }
    if (lt < 0) break;
    i = lt;
    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4);
      if (end < 0) throw new Error(`line ${lineAt(text, i)}: unterminated comment`);
      if (text.slice(i + 4, end).includes('--')) throw new Error(`line ${lineAt(text, i)}: '--' inside a comment`);
      i = end + 3;
      continue;
    }
    if (text.startsWith('<?', i) || text.startsWith('<!', i)) throw new Error(`line ${lineAt(text, i)}: processing instructions, DOCTYPE and CDATA are not expected here`);
    const gt = text.indexOf('>', i);
    if (gt < 0) throw new Error(`line ${lineAt(text, i)}: unterminated tag`);
    const tag = text.slice(i + 1, gt);
    if (tag.startsWith('/')) {
      const name = tag.slice(1).trim();
      const open = stack.pop();
      if (open !== name) throw new Error(`line ${lineAt(text, i)}: </${name}> closes <${open ?? '(nothing)'}>`);
      if (stack.length === 0) rootClosed = true;
    } else {
      const selfClosing = tag.endsWith('/');
      const body = selfClosing ? tag.slice(0, -1) : tag;
      const m = /^([^\s/>]+)([\s\S]*)$/.exec(body);
      if (!m || !NAME.test(m[1]!)) throw new Error(`line ${lineAt(text, i)}: bad element name in <${tag}>`);
      const attrs = m[2]!;
      const seen = new Set<string>();
      const attrRe = /\s+([A-Za-z_][A-Za-z0-9._:-]*)\s*=\s*("([^"<]*)"|'([^'<]*)')/y;
      let pos = 0;
      while (pos < attrs.trimEnd().length) {
        attrRe.lastIndex = pos;
        const a = attrRe.exec(attrs);
        if (!a) throw new Error(`line ${lineAt(text, i)}: malformed attribute in <${m[1]}>`);
        if (seen.has(a[1]!)) throw new Error(`line ${lineAt(text, i)}: duplicate attribute ${a[1]}`);
        seen.add(a[1]!);
        checkText(text, i, a[3] ?? a[4] ?? '');
        pos = attrRe.lastIndex;
      }
      if (stack.length === 0) {
        if (root !== undefined) throw new Error(`line ${lineAt(text, i)}: a second root element <${m[1]}>`);
        root = m[1]!;
      }
      if (selfClosing) {
        if (stack.length === 0) rootClosed = true;
      } else {
        stack.push(m[1]!);
      }
    }
    i = gt + 1;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack[stack.length - 1]}>`);
  if (root === undefined || !rootClosed) throw new Error('no root element');
  return root;
}

export interface IniSection {
  name: string;
  entries: Array<[string, string]>;
}

/**
 * Parse an INI-like file strictly: every non-blank line is a comment (one
 * of `commentChars` first), a `[section]`, or `key=value` inside a section.
 * Sections may repeat (Asterisk types share names); returns them in order.
 */
export function parseIni(text: string, opts: { commentChars?: string[] } = {}): IniSection[] {
  const comments = opts.commentChars ?? ['#', ';'];
  const sections: IniSection[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, n) => {
    const line = raw.trim();
    if (line === '' || comments.some((c) => line.startsWith(c))) return;
    const sec = /^\[([^\][]+)\]$/.exec(line);
    if (sec) {
      sections.push({ name: sec[1]!, entries: [] });
      return;
    }
    const kv = /^([A-Za-z0-9_.:#-]+)\s*=\s*(.*)$/.exec(line);
    if (!kv) throw new Error(`line ${n + 1}: neither a section, a comment nor key=value: ${line.slice(0, 60)}`);
    const current = sections[sections.length - 1];
    if (!current) throw new Error(`line ${n + 1}: key=value before the first section`);
    current.entries.push([kv[1]!, kv[2]!]);
  });
  return sections;
}

/** The single section of that name as a key → value map; throws if missing, repeated, or a key repeats. */
export function iniSection(sections: IniSection[], name: string): Map<string, string> {
  const found = sections.filter((s) => s.name === name);
  if (found.length !== 1) throw new Error(`expected one [${name}] section, found ${found.length}`);
  const map = new Map<string, string>();
  for (const [k, v] of found[0]!.entries) {
    if (map.has(k)) throw new Error(`[${name}] sets ${k} twice`);
    map.set(k, v);
  }
  return map;
}
