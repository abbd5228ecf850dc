import { SipsecError } from '../core/errors.js';

export interface CsvRow {
  /** 1-based line number in the file where the row starts. */
  line: number;
  cells: string[];
}

/** Field separators a phone sheet may use: spreadsheets in most of Europe save `;`, some tools tabs. */
export const SEPARATORS = [',', ';', '\t'] as const;
export type Separator = (typeof SEPARATORS)[number];

/**
 * The separator of a sheet, read from its first row (the header): the one
 * of `,` `;` tab that occurs most often outside quotes; `,` on a tie or
 * when none occurs (a one-column file).
 */
export function detectSeparator(text: string): Separator {
  const header = text.replace(/^\ufeff/, '').split(/\r?\n/).find((l) => l.trim() !== '' && !l.startsWith('#')) ?? '';
  const counts = new Map<string, number>();
  let inQuotes = false;
  for (const c of header) {
    if (c === '"') inQuotes = !inQuotes;
    else if (!inQuotes) counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let best: Separator = ',';
  for (const s of SEPARATORS) if ((counts.get(s) ?? 0) > (counts.get(best) ?? 0)) best = s;
  return best;
}

/**
 * RFC 4180 CSV: quoted fields with "" escapes and embedded newlines, CRLF
 * or LF, an optional UTF-8 BOM. Blank lines and lines starting with `#`
 * are skipped. A malformed quote is an error naming its line. The
 * separator is detected from the header row unless given.
 */
export function parseCsv(text: string, file = 'CSV', separator: Separator = detectSeparator(text)): CsvRow[] {
  const rows: CsvRow[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  while (i < text.length) {
    const startLine = line;
    const cells: string[] = [];
    let cell = '';
    let inQuotes = false;
    let quotedCell = false;
    for (; i < text.length; i++) {
      const c = text[i]!;
      if (inQuotes) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            cell += '"';
            i++;
          } else {
            inQuotes = false;
          }
        } else {
          if (c === '\n') line++;
          cell += c;
        }
        continue;
      }
      if (c === '"') {
        if (cell.trim() !== '') throw new SipsecError('BAD_INPUT', `${file} line ${line}: a quote inside an unquoted field`, 'quote the whole field and double inner quotes ("")');
        cell = '';
        inQuotes = true;
        quotedCell = true;
      } else if (c === separator) {
        cells.push(quotedCell ? cell : cell.trim());
        cell = '';
        quotedCell = false;
      } else if (c === '\r' && text[i + 1] === '\n') {
        continue;
      } else if (c === '\n') {
        i++;
        line++;
        break;
      } else {
        if (quotedCell && c.trim() !== '') throw new SipsecError('BAD_INPUT', `${file} line ${line}: text after a closing quote`, 'quote the whole field');
        if (!quotedCell) cell += c;
      }
    }
    if (inQuotes) throw new SipsecError('BAD_INPUT', `${file} line ${startLine}: unterminated quoted field`, 'close the quote');
    cells.push(quotedCell ? cell : cell.trim());
    const blank = cells.length === 1 && cells[0] === '';
    if (!blank && !cells[0]!.startsWith('#')) rows.push({ line: startLine, cells });
  }
  return rows;
}

/** One field as RFC 4180 writes it: quoted when it holds the separator, a quote, a line break or edge spaces. */
export function csvField(value: string, separator: Separator = ','): string {
  const needs = value.includes(separator) || /["\r\n]/.test(value) || value !== value.trim();
  return needs ? `"${value.replace(/"/g, '""')}"` : value;
}

/** Rows as CSV text (CRLF line ends, as RFC 4180 §2 and spreadsheets expect). */
export function writeCsv(rows: string[][], separator: Separator = ','): string {
  return rows.map((r) => r.map((c) => csvField(c, separator)).join(separator)).join('\r\n') + '\r\n';
}
