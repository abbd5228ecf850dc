import { promises as fs } from 'node:fs';
import { SipsecError, errnoCode, isSipsecError, messageOf } from '../core/errors.js';
import { parseCsv } from './csv.js';
import type { PhoneInput } from './phones.js';

/** Columns sipsec knows; anything else is a vendor option, checked by the vendor's schema. */
const KNOWN = ['name', 'vendor', 'mac', 'ext', 'ip', 'dns', 'secret', 'display_name', 'srtp', 'line', 'key', 'days'] as const;

export interface ImportRow {
  line: number;
  input: PhoneInput;
}

function splitList(v: string | undefined): string[] {
  return (v ?? '')
    .split(/[;\s]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/**
 * Read a phone CSV: the header row names the columns (any order, case-
 * insensitive, `display-name` = `display_name`); several IPs or DNS names
 * in one cell are separated by `;` or spaces. Errors name the file line.
 */
export async function readPhoneCsv(file: string): Promise<ImportRow[]> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    // A file the user named that does not exist is a bad argument (exit 2); one the system refuses is not.
    if (errnoCode(e) === 'ENOENT') throw new SipsecError('BAD_INPUT', `no such file: ${file}`, 'check the path of the CSV file');
    if (errnoCode(e) === 'EISDIR') throw new SipsecError('BAD_INPUT', `${file} is a folder, not a CSV file`, 'give the path of the CSV file');
    throw new SipsecError('UNREADABLE', `cannot read ${file}: ${messageOf(e)}`, 'check the path and permissions');
  }
  const rows = parseCsv(text, file);
  const header = rows.shift();
  if (!header) throw new SipsecError('BAD_INPUT', `${file} is empty`, 'the first row must name the columns, e.g. name,vendor,mac,ext,ip');
  const cols = header.cells.map((c) => c.trim().toLowerCase().replace(/-/g, '_'));
  for (const required of ['name', 'vendor']) {
    if (!cols.includes(required)) throw new SipsecError('BAD_INPUT', `${file} line ${header.line}: no '${required}' column`, `the header row must name the columns: ${KNOWN.join(',')}`);
  }
  const dup = cols.find((c, i) => cols.indexOf(c) !== i);
  if (dup) throw new SipsecError('BAD_INPUT', `${file} line ${header.line}: column '${dup}' appears twice`, 'name each column once');
  return rows.map((row) => {
    if (row.cells.length > cols.length) {
      throw new SipsecError('BAD_INPUT', `${file} line ${row.line}: ${row.cells.length} fields but the header has ${cols.length}`, 'quote fields that contain commas');
    }
    const get = (c: string): string | undefined => {
      const i = cols.indexOf(c);
      const v = i >= 0 ? row.cells[i] : undefined;
      return v === undefined || v === '' ? undefined : v;
    };
    const options: Record<string, string> = {};
    cols.forEach((c, i) => {
      if (!(KNOWN as readonly string[]).includes(c) && row.cells[i] !== undefined && row.cells[i] !== '') options[c] = row.cells[i]!;
    });
    return {
      line: row.line,
      input: {
        name: get('name') ?? '',
        vendor: get('vendor') ?? '',
        mac: get('mac'),
        ext: get('ext'),
        ips: splitList(get('ip')),
        dns: splitList(get('dns')),
        secret: get('secret'),
        displayName: get('display_name'),
        srtp: get('srtp'),
        line: get('line'),
        key: get('key'),
        days: get('days'),
        options,
      },
    };
  });
}

/** Prefix a row's error with its file line, keeping the hint. */
export function rowError(file: string, line: number, e: unknown): SipsecError {
  if (isSipsecError(e)) return new SipsecError(e.code, `${file} line ${line}: ${e.message}`, e.hint);
  return new SipsecError('BAD_INPUT', `${file} line ${line}: ${messageOf(e)}`);
}
