/**
 * A small strict XML reader for the hardware vendor tests: it refuses
 * anything that is not well-formed XML 1.0 (the subset vendor files use:
 * declaration, comments, elements, quoted attributes, the five predefined
 * entities and character references, CDATA, one root) and returns the
 * element tree with entities decoded and attribute values normalised as
 * XML 1.0 §3.3.3 says (a literal newline in an attribute reads as a space),
 * so tests can look values up the way a conforming phone parser would.
 */

export interface XmlElement {
  name: string;
  attrs: Map<string, string>;
  children: XmlElement[];
  /** Concatenated character data directly inside this element (entities decoded). */
  text: string;
  line: number;
}

const NAME_START = 'A-Za-z_:';
const NAME_RE = new RegExp(`^[${NAME_START}][${NAME_START}0-9.\\-]*$`);
const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

class XmlError extends Error {}

function lineOf(text: string, index: number): number {
  let n = 1;
  for (let i = 0; i < index && i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

/** Decode entity and character references; throws on a bare `&` or an unknown entity. */
function decode(raw: string, where: () => string): string {
  let out = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c !== '&') {
      out += c;
      continue;
    }
    const semi = raw.indexOf(';', i);
    if (semi < 0) throw new XmlError(`${where()}: bare '&'`);
    const ref = raw.slice(i + 1, semi);
    if (/^#[0-9]+$/.test(ref)) out += String.fromCodePoint(Number(ref.slice(1)));
    else if (/^#x[0-9A-Fa-f]+$/.test(ref)) out += String.fromCodePoint(parseInt(ref.slice(2), 16));
    else if (Object.hasOwn(PREDEFINED, ref)) out += PREDEFINED[ref]!;
    else throw new XmlError(`${where()}: unknown entity &${ref};`);
    i = semi;
  }
  return out;
}

function checkChars(s: string, where: () => string): void {
  // XML 1.0 Char: no C0 controls other than tab, LF, CR.
  if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(s)) throw new XmlError(`${where()}: control character`);
}

/** Parse `text` strictly; returns the root element or throws with a line number. */
export function parseXml(text: string): XmlElement {
  checkChars(text, () => 'document');
  let i = 0;
  const at = (idx: number) => () => `line ${lineOf(text, idx)}`;
  if (text.startsWith('<?xml')) {
    const end = text.indexOf('?>');
    const decl = text.slice(0, end + 2);
    if (end < 0 || !/^<\?xml\s+version="1\.0"(\s+encoding="[A-Za-z][A-Za-z0-9._-]*")?(\s+standalone="(yes|no)")?\s*\?>$/i.test(decl)) {
      throw new XmlError('line 1: malformed XML declaration');
    }
    i = end + 2;
  } else if (/^\s*<\?xml/i.test(text)) {
    throw new XmlError('the XML declaration must be the very first thing in the file');
  }
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    const chunk = lt < 0 ? text.slice(i) : text.slice(i, lt);
    if (chunk.length > 0) {
      if (chunk.includes(']]>')) throw new XmlError(`${at(i)()}: ']]>' in text`);
      const top = stack[stack.length - 1];
      if (!top) {
        if (chunk.trim() !== '') throw new XmlError(`${at(i)()}: text outside the root element`);
      } else {
        top.text += decode(chunk, at(i));
      }
    }
    if (lt < 0) break;
    i = lt;
    if (text.startsWith('<!--', i)) {
      const end = text.indexOf('-->', i + 4);
      if (end < 0) throw new XmlError(`${at(i)()}: unterminated comment`);
      const body = text.slice(i + 4, end);
      if (body.includes('--') || body.endsWith('-')) throw new XmlError(`${at(i)()}: '--' inside a comment`);
      i = end + 3;
      continue;
    }
    if (text.startsWith('<![CDATA[', i)) {
      const top = stack[stack.length - 1];
      if (!top) throw new XmlError(`${at(i)()}: CDATA outside the root element`);
      const end = text.indexOf(']]>', i);
      if (end < 0) throw new XmlError(`${at(i)()}: unterminated CDATA`);
      top.text += text.slice(i + 9, end);
      i = end + 3;
      continue;
    }
    if (text.startsWith('<!', i)) throw new XmlError(`${at(i)()}: DOCTYPE and declarations are not expected in vendor files`);
    if (text.startsWith('<?', i)) {
      const end = text.indexOf('?>', i);
      if (end < 0) throw new XmlError(`${at(i)()}: unterminated processing instruction`);
      if (/^<\?xml[\s?]/i.test(text.slice(i, i + 6))) throw new XmlError(`${at(i)()}: XML declaration not at the start`);
      i = end + 2;
      continue;
    }
    // A tag: find its end outside quoted attribute values.
    let j = i + 1;
    let quote: string | undefined;
    for (; j < text.length; j++) {
      const c = text[j]!;
      if (quote) {
        if (c === quote) quote = undefined;
        else if (c === '<') throw new XmlError(`${at(j)()}: '<' inside an attribute value`);
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '>') break;
      else if (c === '<') throw new XmlError(`${at(i)()}: unterminated tag`);
    }
    if (j >= text.length) throw new XmlError(`${at(i)()}: unterminated tag`);
    const tag = text.slice(i + 1, j);
    if (tag.startsWith('/')) {
      const name = tag.slice(1).replace(/\s+$/, '');
      const open = stack.pop();
      if (!open || open.name !== name) throw new XmlError(`${at(i)()}: </${name}> closes <${open?.name ?? '(nothing)'}>`);
    } else {
      const selfClosing = tag.endsWith('/');
      const body = selfClosing ? tag.slice(0, -1) : tag;
      const m = /^([^\s/>]+)([\s\S]*)$/.exec(body);
      if (!m || !NAME_RE.test(m[1]!)) throw new XmlError(`${at(i)()}: bad element name in <${tag.slice(0, 40)}>`);
      const el: XmlElement = { name: m[1]!, attrs: new Map(), children: [], text: '', line: lineOf(text, i) };
      const attrText = m[2]!;
      const attrRe = /\s+([A-Za-z_:][A-Za-z0-9_:.-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/y;
      let pos = 0;
      while (attrText.slice(pos).trim() !== '') {
        attrRe.lastIndex = pos;
        const a = attrRe.exec(attrText);
        if (!a) throw new XmlError(`${at(i)()}: malformed attribute in <${el.name}>`);
        if (el.attrs.has(a[1]!)) throw new XmlError(`${at(i)()}: duplicate attribute ${a[1]} in <${el.name}>`);
        // §3.3.3: literal whitespace characters in a value read as spaces; references keep theirs.
        el.attrs.set(a[1]!, decode((a[2] ?? a[3] ?? '').replace(/[\t\n\r]/g, ' '), at(i)));
        pos = attrRe.lastIndex;
      }
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(el);
      else if (root) throw new XmlError(`${at(i)()}: a second root element <${el.name}>`);
      else root = el;
      if (!selfClosing) stack.push(el);
    }
    i = j + 1;
  }
  if (stack.length > 0) throw new XmlError(`unclosed <${stack[stack.length - 1]!.name}>`);
  if (!root) throw new XmlError('no root element');
  return root;
}

/** Every element below (and including) `el`, depth first. */
export function allElements(el: XmlElement): XmlElement[] {
  return [el, ...el.children.flatMap(allElements)];
}

/** The elements named `name` anywhere under `el`. */
export function findAll(el: XmlElement, name: string): XmlElement[] {
  return allElements(el).filter((e) => e.name === name);
}

/** The text of the one element named `name`; throws if there is not exactly one. */
export function textOf(el: XmlElement, name: string): string {
  const found = findAll(el, name);
  if (found.length !== 1) throw new Error(`expected one <${name}>, found ${found.length}`);
  return found[0]!.text;
}

/** Every attribute anywhere under `el`, name → value (throws if a name repeats across elements). */
export function attributes(el: XmlElement): Map<string, string> {
  const map = new Map<string, string>();
  for (const e of allElements(el)) {
    for (const [k, v] of e.attrs) {
      if (map.has(k)) throw new Error(`attribute ${k} appears twice`);
      map.set(k, v);
    }
  }
  return map;
}
