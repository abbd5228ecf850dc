import { formatMac } from '../pki/names.js';
import type { Phone } from '../home/schema.js';
import { writeCsv, type Separator } from './csv.js';
import { OPTION_PREFIX } from './import.js';

/**
 * The inventory written back in the import format, so that export, a
 * change in a spreadsheet and `phone import --update` round-trip. Secrets
 * are left out unless asked for; without a `secret` column an update keeps
 * every phone's secret.
 */

/** The columns of an export, in order; `secret` only with showSecret, then one `option:KEY` per option in use. */
export function exportColumns(phones: Phone[], showSecret: boolean): string[] {
  const keys = [...new Set(phones.flatMap((p) => Object.keys(p.options)))].sort();
  return ['name', 'vendor', 'mac', 'ext', 'ip', 'dns', 'display_name', 'srtp', 'line', ...(showSecret ? ['secret'] : []), ...keys.map((k) => `${OPTION_PREFIX}${k}`)];
}

function optionText(v: string | number | boolean): string {
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
}

function cellOf(p: Phone, column: string): string {
  if (column.startsWith(OPTION_PREFIX)) {
    const v = p.options[column.slice(OPTION_PREFIX.length)];
    return v === undefined ? '' : optionText(v);
  }
  switch (column) {
    case 'name':
      return p.name;
    case 'vendor':
      return p.vendor;
    case 'mac':
      return p.mac ? formatMac(p.mac, 'colon') : '';
    case 'ext':
      return p.ext ?? '';
    case 'ip':
      return p.ips.join(' ');
    case 'dns':
      return p.dns.join(' ');
    case 'display_name':
      return p.displayName ?? '';
    case 'srtp':
      return p.srtp;
    case 'line':
      return String(p.line);
    case 'secret':
      return p.secret;
    default:
      return '';
  }
}

/** The phones as a CSV sheet `phone import` reads. */
export function exportCsv(phones: Phone[], opts: { showSecret?: boolean; separator?: Separator } = {}): string {
  const columns = exportColumns(phones, opts.showSecret === true);
  return writeCsv([columns, ...phones.map((p) => columns.map((c) => cellOf(p, c)))], opts.separator ?? ',');
}

export interface ExportedPhone {
  name: string;
  vendor: string;
  mac: string | null;
  ext: string | null;
  ips: string[];
  dns: string[];
  displayName: string | null;
  srtp: string;
  line: number;
  options: Record<string, string | number | boolean>;
  /** Only with showSecret. */
  secret?: string;
}

/** The phones as data (`--json`): absent values are null, the secret only when asked for. */
export function exportJson(phones: Phone[], opts: { showSecret?: boolean } = {}): { schema: 1; phones: ExportedPhone[] } {
  return {
    schema: 1,
    phones: phones.map((p) => ({
      name: p.name,
      vendor: p.vendor,
      mac: p.mac ? formatMac(p.mac, 'colon') : null,
      ext: p.ext ?? null,
      ips: p.ips,
      dns: p.dns,
      displayName: p.displayName ?? null,
      srtp: p.srtp,
      line: p.line,
      options: p.options,
      ...(opts.showSecret ? { secret: p.secret } : {}),
    })),
  };
}
