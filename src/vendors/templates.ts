import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import Handlebars from 'handlebars';

/**
 * Handlebars templates from templates/<vendor>/, compiled once per process.
 * `{{x}}` HTML/XML-escapes (right for XML formats); text formats
 * (`key: value`, INI) use `{{{x}}}` and the values are validated on input.
 */

// dist/src/vendors/ → repo root is three levels up; so is src/vendors/ under ts-node-like runs.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const candidates = [path.join(ROOT, 'templates'), path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'templates')];

export function templatesDir(): string {
  for (const c of candidates) {
    try {
      readFileSync(path.join(c, '.keep'));
      return c;
    } catch {
      // try the next
    }
  }
  return candidates[0]!;
}

const hb = Handlebars.create();
hb.registerHelper('eq', (a: unknown, b: unknown) => a === b);
hb.registerHelper('upper', (s: unknown) => String(s ?? '').toUpperCase());
hb.registerHelper('lower', (s: unknown) => String(s ?? '').toLowerCase());
hb.registerHelper('join', (list: unknown, sep: unknown) => (Array.isArray(list) ? list.join(typeof sep === 'string' ? sep : ',') : ''));

const cache = new Map<string, Handlebars.TemplateDelegate>();

/** Render templates/<vendor>/<name> with `data`. Strict: a missing variable is an error, not an empty string. */
export function renderTemplate(vendor: string, name: string, data: object): string {
  const key = `${vendor}/${name}`;
  let tpl = cache.get(key);
  if (!tpl) {
    const source = readFileSync(path.join(templatesDir(), vendor, name), 'utf8');
    tpl = hb.compile(source, { strict: true, noEscape: false });
    cache.set(key, tpl);
  }
  return tpl(data);
}
