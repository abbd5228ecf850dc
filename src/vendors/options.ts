import { z } from 'zod';

/**
 * Building blocks for vendor option schemas. Options arrive as strings
 * (`--option key=value`, CSV extra columns) and are stored after parsing, so
 * the same schema later re-reads its own output (phoneContext parses the
 * stored options again): every coercion here accepts both the string and
 * the already-coerced value.
 */

const TRUE_WORDS = ['1', 'true', 'yes', 'on'];
const FALSE_WORDS = ['0', 'false', 'no', 'off'];

/** yes/no, true/false, on/off, 1/0 (any case), or a boolean. */
export const yesNoOption = z.union([z.boolean(), z.string()]).transform((v, ctx) => {
  if (typeof v === 'boolean') return v;
  const s = v.trim().toLowerCase();
  if (TRUE_WORDS.includes(s)) return true;
  if (FALSE_WORDS.includes(s)) return false;
  ctx.addIssue({ code: 'custom', message: `expected yes or no (also true/false, on/off, 1/0), got '${v.slice(0, 40)}'` });
  return z.NEVER;
});

/** A whole number in [min, max], given as a number or a decimal string. */
export function intOption(min: number, max: number) {
  return z.union([z.number(), z.string()]).transform((v, ctx) => {
    const n = typeof v === 'number' ? v : /^\s*\d+\s*$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `expected a whole number from ${min} to ${max}, got '${String(v).slice(0, 40)}'` });
      return z.NEVER;
    }
    return n;
  });
}

/**
 * A password typed into a phone's admin UI: printable ASCII without the
 * characters that break one of the vendor formats (quotes, backslash, `&`,
 * `<`, `>`, `=`, `#`, `%`, `+`, whitespace).
 */
export const adminPasswordOption = z
  .string()
  .min(4, 'the admin password needs at least 4 characters')
  .max(64, 'the admin password may have at most 64 characters')
  .regex(/^[!$'()*,\-./0-9:;?@A-Z[\]^_`a-z{|}~]+$/, 'use letters, digits and punctuation other than quotes, \\ & < > = # % + or spaces');

/**
 * A strict object of vendor options: an unknown key is refused with the
 * list of the keys this vendor knows (typos must not be silently ignored).
 */
export function vendorOptions<Shape extends z.ZodRawShape>(vendor: string, shape: Shape) {
  const known = Object.keys(shape).sort();
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown ${vendor} option${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')}; known: ${known.length > 0 ? known.join(', ') : '(none)'}`
        : undefined,
  });
}
