/**
 * XML escaping for vendor config files, done here rather than by
 * Handlebars' `{{x}}`: Handlebars also escapes `=` and backquote as numeric
 * character references (`&#x3D;`), and every PEM ends its base64 with `=`.
 * That is valid XML, but whether 2011-era phone firmware (Grandstream,
 * Cisco SPA, Snom) resolves numeric references was not found in any source
 * (vendors.md §4.2 only says "XML-escape &, <, >" [V] GS-XML), so values
 * are escaped minimally and templates print them with `{{{x}}}`.
 */

/** Element text: `&`, `<`, `>` only (GS-XML). */
export function xmlText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Attribute value in double quotes. Newlines and tabs become character
 * references: XML attribute-value normalisation (XML 1.0 §3.3.3) would turn
 * a literal newline into a space, which breaks a PEM.
 */
export function xmlAttr(value: string): string {
  return xmlText(value).replace(/"/g, '&quot;').replace(/\r/g, '&#13;').replace(/\n/g, '&#10;').replace(/\t/g, '&#9;');
}

/** Text inside `<!-- -->`: no `--` and no trailing `-` (XML 1.0 §2.5); entities are not read there. */
export function xmlComment(value: string): string {
  const s = value.replace(/[\u0000-\u001f]/g, ' ').replace(/-{2,}/g, '-');
  return s.endsWith('-') ? `${s} ` : s;
}
