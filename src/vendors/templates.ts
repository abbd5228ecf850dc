import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';
import Handlebars from 'handlebars';

/**
 * Handlebars templates from templates/<vendor>/, compiled once per process.
 * `{{x}}` HTML/XML-escapes (right for XML formats); text formats
 * (`key: value`, INI) use `{{{x}}}` and the values are validated on input.
 */

/**
 * The repository's templates/ folder, found by walking up from this compiled
 * file to the first directory holding both package.json and templates/.keep:
 * the depth differs between dist/src/vendors/, a private --outDir build
 * (.build/<name>/src/vendors/) and running from src/.
 */
function findTemplatesDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'templates');
    if (existsSync(path.join(candidate, '.keep')) && existsSync(path.join(dir, 'package.json'))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  // Not found: name the conventional place so the read error says where it looked.
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'templates');
}

let templatesRoot: string | undefined;

export function templatesDir(): string {
  templatesRoot ??= findTemplatesDir();
  return templatesRoot;
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
