import { promises as fs } from 'node:fs';
import { z } from 'zod';
import { SipsecError, errnoCode, isSipsecError, messageOf } from '../core/errors.js';
import type { CaStore } from '../home/store.js';
import type { Phone } from '../home/schema.js';
import { loadAllVendors } from '../vendors/registry.js';
import { parseCsv, detectSeparator, type Separator } from './csv.js';
import { planEdit, type PhoneEdit, type PlannedEdit } from './edit.js';
import { findConflicts, othersThan, validatePhone, type PhoneInput, type ValidPhone } from './phones.js';

/** Columns sipsec knows. `option:KEY` names a vendor option; a bare vendor option name is one too. */
export const KNOWN_COLUMNS = ['name', 'vendor', 'mac', 'ext', 'ip', 'dns', 'secret', 'display_name', 'srtp', 'line', 'key', 'days'] as const;
export type KnownColumn = (typeof KNOWN_COLUMNS)[number];
export const OPTION_PREFIX = 'option:';

export interface ImportRow {
  line: number;
  input: PhoneInput;
  /** The sipsec columns the sheet has (whatever the cell holds). */
  present: Set<KnownColumn>;
  /** Option columns that apply to this row's vendor and are empty here (an update unsets them). */
  emptyOptions: string[];
}

export interface PhoneSheet {
  file: string;
  separator: Separator;
  header: string[];
  rows: ImportRow[];
  /** One line per ignored column. */
  warnings: string[];
}

type Column = { kind: 'field'; field: KnownColumn } | { kind: 'option'; key: string; explicit: boolean } | { kind: 'ignored' };

function splitList(v: string | undefined): string[] {
  return (v ?? '')
    .split(/[;,\s]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** The option names each vendor's schema knows (its zod object's keys). */
async function vendorOptionKeys(): Promise<Map<string, Set<string>>> {
  const keys = new Map<string, Set<string>>();
  for (const v of await loadAllVendors()) {
    const schema = v.optionsSchema;
    keys.set(v.descriptor.id, new Set(schema instanceof z.ZodObject ? Object.keys(schema.shape) : []));
  }
  return keys;
}

function normalizeColumn(c: string): string {
  return c.trim().toLowerCase().replace(/-/g, '_');
}

function classify(col: string, anyOption: Set<string>): Column {
  if ((KNOWN_COLUMNS as readonly string[]).includes(col)) return { kind: 'field', field: col as KnownColumn };
  if (col.startsWith(OPTION_PREFIX)) return { kind: 'option', key: col.slice(OPTION_PREFIX.length).trim(), explicit: true };
  if (anyOption.has(col)) return { kind: 'option', key: col, explicit: false };
  return { kind: 'ignored' };
}

/**
 * Read a phone sheet: the header row names the columns (any order, case-
 * insensitive, `display-name` = `display_name`), the separator (`,` `;` or
 * tab) is detected from it; several IPs or DNS names in one cell are
 * separated by `;`, `,` or spaces. Columns that are not sipsec's are
 * ignored with one warning each. Errors name the file line.
 */
export async function readPhoneCsv(file: string): Promise<PhoneSheet> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (e) {
    // A file the user named that does not exist is a bad argument (exit 2); one the system refuses is not.
    if (errnoCode(e) === 'ENOENT') throw new SipsecError('BAD_INPUT', `no such file: ${file}`, 'check the path of the CSV file');
    if (errnoCode(e) === 'EISDIR') throw new SipsecError('BAD_INPUT', `${file} is a folder, not a CSV file`, 'give the path of the CSV file');
    throw new SipsecError('UNREADABLE', `cannot read ${file}: ${messageOf(e)}`, 'check the path and permissions');
  }
  return parsePhoneSheet(text, file);
}

export async function parsePhoneSheet(text: string, file: string): Promise<PhoneSheet> {
  const separator = detectSeparator(text);
  const rows = parseCsv(text, file, separator);
  const header = rows.shift();
  if (!header) throw new SipsecError('BAD_INPUT', `${file} is empty`, 'the first row must name the columns, e.g. name,vendor,mac,ext,ip');
  const cols = header.cells.map(normalizeColumn);
  for (const required of ['name', 'vendor']) {
    if (!cols.includes(required)) {
      throw new SipsecError('BAD_INPUT', `${file} line ${header.line}: no '${required}' column`, `the header row must name the columns (separated by , ; or tab): ${KNOWN_COLUMNS.join(',')}`);
    }
  }
  const dup = cols.find((c, i) => cols.indexOf(c) !== i);
  if (dup) throw new SipsecError('BAD_INPUT', `${file} line ${header.line}: column '${dup}' appears twice`, 'name each column once');
  const optionKeys = await vendorOptionKeys();
  const anyOption = new Set([...optionKeys.values()].flatMap((s) => [...s]));
  const kinds = cols.map((c) => classify(c, anyOption));
  const bad = kinds.find((k) => k.kind === 'option' && k.key === '');
  if (bad) throw new SipsecError('BAD_INPUT', `${file} line ${header.line}: an '${OPTION_PREFIX}' column without a name`, `write it as ${OPTION_PREFIX}KEY, e.g. ${OPTION_PREFIX}model`);
  const present = new Set(kinds.flatMap((k) => (k.kind === 'field' ? [k.field] : [])));
  const warnings: string[] = [];
  // Named as the sheet writes them, so they can be found in it.
  const ignored = header.cells.filter((_, i) => kinds[i]!.kind === 'ignored').map((c) => c.trim());
  if (ignored.length > 0) {
    warnings.push(`${file}: column${ignored.length > 1 ? 's' : ''} ${ignored.map((c) => `'${c}'`).join(', ')} ignored: not sipsec's (write ${OPTION_PREFIX}KEY for a vendor option)`);
  }
  // A bare option column for a vendor that does not have that option: the cell is not for it.
  const notForVendor = new Map<string, Set<number>>();
  const out = rows.map((row): ImportRow => {
    if (row.cells.length > cols.length) {
      throw new SipsecError('BAD_INPUT', `${file} line ${row.line}: ${row.cells.length} fields but the header has ${cols.length}`, `quote fields that contain the separator '${separator === '\t' ? 'tab' : separator}'`);
    }
    const cell = (i: number): string | undefined => {
      const v = row.cells[i];
      return v === undefined || v === '' ? undefined : v;
    };
    const get = (c: KnownColumn): string | undefined => {
      const i = cols.indexOf(c);
      return i >= 0 ? cell(i) : undefined;
    };
    const vendor = (get('vendor') ?? '').trim().toLowerCase();
    const options: Record<string, string> = {};
    const emptyOptions: string[] = [];
    kinds.forEach((k, i) => {
      if (k.kind !== 'option') return;
      const applies = k.explicit || optionKeys.get(vendor)?.has(k.key) === true;
      const v = cell(i);
      if (!applies) {
        if (v !== undefined && optionKeys.has(vendor)) notForVendor.set(`${cols[i]}\u0000${vendor}`, (notForVendor.get(`${cols[i]}\u0000${vendor}`) ?? new Set()).add(row.line));
        return;
      }
      if (v === undefined) emptyOptions.push(k.key);
      else options[k.key] = v;
    });
    return {
      line: row.line,
      present,
      emptyOptions,
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
  for (const [k, lines] of notForVendor) {
    const [col, vendor] = k.split('\u0000');
    warnings.push(`${file}: column '${col}' is not a ${vendor} option: ignored on line${lines.size > 1 ? 's' : ''} ${[...lines].join(', ')}`);
  }
  return { file, separator, header: cols, rows: out, warnings };
}

/** Prefix a row's error with its file line, keeping the hint. */
export function rowError(file: string, line: number, e: unknown): SipsecError {
  if (isSipsecError(e)) return new SipsecError(e.code, `${file} line ${line}: ${e.message}`, e.hint);
  return new SipsecError('BAD_INPUT', `${file} line ${line}: ${messageOf(e)}`);
}

/**
 * What a row changes on an existing phone. A row describes the phone as
 * `phone add` would read it, for the columns the sheet has: an empty cell
 * means what it means there (no MAC, no extension, SRTP mandatory, line 1),
 * except `secret`, where an empty cell keeps the current secret. Columns
 * the sheet lacks, and options it has no column for, are kept.
 */
export function rowEdit(row: ImportRow, before: Phone): PhoneEdit {
  const has = (c: KnownColumn) => row.present.has(c);
  const i = row.input;
  const edit: PhoneEdit = {};
  if (has('mac')) edit.mac = i.mac ?? null;
  if (has('ip')) edit.ips = i.ips ?? [];
  if (has('dns')) edit.dns = i.dns ?? [];
  if (has('ext')) edit.ext = i.ext ?? null;
  if (has('display_name')) edit.displayName = i.displayName ?? null;
  if (has('srtp')) edit.srtp = i.srtp ?? 'mandatory';
  if (has('line')) edit.line = i.line ?? 1;
  if (i.secret !== undefined) edit.secret = i.secret;
  if (i.key !== undefined) edit.key = i.key;
  if (i.days !== undefined) edit.days = i.days;
  const options = Object.fromEntries(Object.entries(i.options ?? {}).map(([k, v]) => [k, String(v)]));
  if (Object.keys(options).length > 0) edit.options = options;
  const unset = row.emptyOptions.filter((k) => Object.hasOwn(before.options, k));
  if (unset.length > 0) edit.unsetOptions = unset;
  return edit;
}

/** `add`: every row must be a new phone; `update`: existing ones are changed in place; `skip-existing`: left alone. */
export type ImportMode = 'add' | 'update' | 'skip-existing';

export interface ImportPlan {
  add: ValidPhone[];
  update: PlannedEdit[];
  /** Existing phones whose row changes nothing. */
  unchanged: string[];
  /** Existing phones left alone (--skip-existing). */
  skipped: string[];
  /** Rows naming existing phones without --update or --skip-existing (one error in `errors` covers them all). */
  existing: Array<{ name: string; line: number }>;
  /** Every problem, each naming its file line; nothing may be committed while there is one. */
  errors: SipsecError[];
  /** Lines of the rows in error (a row may have several). */
  badLines: number[];
}

function existingPhone(store: CaStore, name: string): Phone | undefined {
  const n = name.trim();
  return store.index.phones.find((p) => p.name === n) ?? store.index.phones.find((p) => p.name.toLowerCase() === n.toLowerCase());
}

/**
 * Validate a sheet against the inventory without writing anything: new
 * phones, changes to existing ones (same rules as `phone edit`), and every
 * clash of the result (names, MACs, SIP users), each reported at the line
 * of the row that causes it (for a duplicate, the later row).
 */
export async function planImport(store: CaStore, sheet: PhoneSheet, mode: ImportMode): Promise<ImportPlan> {
  const plan: ImportPlan = { add: [], update: [], unchanged: [], skipped: [], existing: [], errors: [], badLines: [] };
  const fail = (line: number, e: unknown) => {
    plan.errors.push(rowError(sheet.file, line, e));
    if (!plan.badLines.includes(line)) plan.badLines.push(line);
  };
  const defaults = { key: store.config.leafKey, days: store.config.leafDays, now: store.clock() };
  const seen = new Map<string, number>();
  const existingRows = plan.existing;
  // Phones this sheet adds or changes, in row order, for the clash check of the result.
  const batch: Array<{ line: number; phone: Phone }> = [];
  for (const row of sheet.rows) {
    const key = row.input.name.trim().toLowerCase();
    const first = seen.get(key);
    if (first !== undefined && key !== '') {
      fail(row.line, new SipsecError('DUPLICATE', `${row.input.name.trim()}: the name appears again (first at line ${first})`, 'give each phone one row'));
      continue;
    }
    seen.set(key, row.line);
    const before = existingPhone(store, row.input.name);
    try {
      if (!before) {
        const valid = await validatePhone(row.input, defaults);
        plan.add.push(valid);
        batch.push({ line: row.line, phone: valid.phone });
      } else if (mode === 'add') {
        existingRows.push({ name: before.name, line: row.line });
      } else if (mode === 'skip-existing') {
        plan.skipped.push(before.name);
      } else {
        const vendor = row.input.vendor.trim().toLowerCase();
        if (vendor !== before.vendor) {
          throw new SipsecError('BAD_INPUT', `${before.name} is a ${before.vendor} phone, the row says '${row.input.vendor}'`, `a phone cannot change vendor: remove it (sipsec phone remove ${before.name}) and add it again`);
        }
        const edit = await planEdit(store, before, rowEdit(row, before));
        if (edit.changed.length === 0) plan.unchanged.push(before.name);
        else {
          plan.update.push(edit);
          batch.push({ line: row.line, phone: edit.phone });
        }
      }
    } catch (e) {
      fail(row.line, e);
    }
  }
  if (existingRows.length > 0) {
    const list = existingRows.slice(0, 5).map((r) => `${r.name} (line ${r.line})`).join(', ');
    const more = existingRows.length > 5 ? ` and ${existingRows.length - 5} more` : '';
    plan.errors.push(
      new SipsecError('DUPLICATE', `${sheet.file}: ${existingRows.length} row(s) name phones already in the inventory: ${list}${more}`, 'run again with --update to change them in place, or --skip-existing to add only the new ones'),
    );
    for (const r of existingRows) if (!plan.badLines.includes(r.line)) plan.badLines.push(r.line);
  }
  const others = othersThan(
    store.index,
    plan.update.map((u) => u.before.name),
  );
  for (const c of findConflicts(
    batch.map((b) => b.phone),
    others,
  )) {
    fail(batch[c.at]!.line, new SipsecError('DUPLICATE', c.message));
  }
  return plan;
}
