#!/usr/bin/env node
// Rewrites the event catalog table in README.md (between the events:begin/end markers)
// from the zod schemas in src/events, as compiled in dist/ (run `npm run build` first).
// `--check` only compares and exits 1 when README.md is out of date.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const compiled = path.join(root, 'dist/src/events/table.js');
let table;
try {
  table = await import(compiled);
} catch (e) {
  console.error(`error: cannot load ${path.relative(root, compiled)}: ${e.message} (run npm run build first)`);
  process.exit(1);
}
const readmePath = path.join(root, 'README.md');
const readme = readFileSync(readmePath, 'utf8');
const next = table.withEventsTable(readme);
if (next === undefined) {
  console.error(`error: README.md has no ${table.TABLE_BEGIN} ... ${table.TABLE_END} block (add the two markers where the table belongs)`);
  process.exit(1);
}
if (process.argv.includes('--check')) {
  if (next !== readme) {
    console.error('README.md event table is out of date: run npm run build && npm run events:table');
    process.exit(1);
  }
  process.exit(0);
}
if (next !== readme) writeFileSync(readmePath, next);
console.log(next === readme ? 'README.md event table is up to date' : 'README.md event table rewritten');
