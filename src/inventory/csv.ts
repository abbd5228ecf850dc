import { SipsecError } from '../core/errors.js';

export interface CsvRow {
  /** 1-based line number in the file where the row starts. */
  line: number;
  cells: string[];
}

/**
 * RFC 4180 CSV: quoted fields with "" escapes and embedded newlines, CRLF
 * or LF, an optional UTF-8 BOM. Blank lines and lines starting with `#`
 * are skipped. A malformed quote is an error naming its line.
 */
export function parseCsv(text: string, file = 'CSV'): CsvRow[] {
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
      } else if (c === ',') {
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
