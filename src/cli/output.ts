/**
 * Printing: every command collects a plain result; these print it as a
 * table or key/value block for people, or as JSON for scripts.
 */

/** Version of every `--json` shape (README "JSON output"); bumped only when a field changes meaning or goes away. */
export const JSON_SCHEMA = 1;

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

/**
 * `--json`: an object printed at top level carries `"schema": 1` first; a
 * value that is absent is printed as null, never left out (a script reads
 * `.ntp` and gets null, not a missing key); arrays (listings) stay arrays.
 */
export function printJson(data: unknown): void {
  let body = data;
  if (isPlainObject(data)) {
    const { schema: _theirs, ...rest } = data;
    body = { schema: JSON_SCHEMA, ...rest };
  }
  process.stdout.write(JSON.stringify(body, (_key, value: unknown) => (value === undefined ? null : value), 2) + '\n');
}

export function table(rows: Array<Record<string, string>>, columns: Array<[key: string, title: string]>): string {
  if (rows.length === 0) return '';
  const widths = columns.map(([key, title]) => Math.max(title.length, ...rows.map((r) => (r[key] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(columns.map(([, t]) => t)), ...rows.map((r) => line(columns.map(([k]) => r[k] ?? '')))].join('\n') + '\n';
}

export function keyValues(pairs: Array<[string, string | number | boolean | undefined]>): string {
  const shown = pairs.filter(([, v]) => v !== undefined && v !== '');
  const width = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${String(v)}`).join('\n') + '\n';
}

export function out(text: string): void {
  process.stdout.write(text);
}

/** Status lines go to stderr so stdout stays clean for data (PEM, JSON). */
export function note(text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function shortDate(iso: string): string {
  return iso.slice(0, 10);
}

/** A single-line progress bar on stderr (only on a TTY; silent in pipes and CI logs). */
export function progress(label: string): { update(done: number, total: number): void; end(): void } {
  const tty = process.stderr.isTTY === true;
  let last = -1;
  return {
    update(done, total) {
      if (!tty) return;
      const pct = total === 0 ? 100 : Math.floor((done * 100) / total);
      if (pct === last && done !== total) return;
      last = pct;
      const width = 30;
      const fill = Math.round((pct * width) / 100);
      process.stderr.write(`\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${done}/${total}`);
    },
    end() {
      if (tty && last >= 0) process.stderr.write('\n');
    },
  };
}
