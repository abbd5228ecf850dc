#!/usr/bin/env node
// Runs the compiled test suite (npm test builds first). Arguments narrow it:
//   npm test -- pki          only dist/test/pki
//   npm test -- dist/test/sip/parser.test.js
//   npm test -- --store postgres [targets]
//       the same tests with every new CA home's index in PostgreSQL: a private
//       server (Debian's postgresql, own port and data directory) is started
//       for the run, and SIPSEC_STORE gives each home its own schema.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

let argv = process.argv.slice(2);
let store = 'sqlite';
const at = argv.indexOf('--store');
if (at >= 0) {
  store = argv[at + 1] ?? '';
  argv = argv.filter((_, i) => i !== at && i !== at + 1);
}
if (store !== 'sqlite' && store !== 'postgres') {
  console.error(`run-tests: --store must be sqlite or postgres, not ${JSON.stringify(store)}`);
  process.exit(2);
}
// `--store postgres` with no target runs the tests named in test/postgres-suite.txt (the README says why those).
if (store === 'postgres' && argv.length === 0) {
  argv = readFileSync('test/postgres-suite.txt', 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
}
const args = argv.map((a) => (existsSync(a) ? a : `dist/test/${a}`));
const targets = args.length ? args : ['dist/test'];
const env = { ...process.env };
let pg;
if (store === 'postgres') {
  const { startPostgres } = await import('../dist/test/helpers/postgres.js');
  pg = await startPostgres();
  pg.createDatabase('sipsec_suite');
  env.SIPSEC_STORE = pg.url('sipsec_suite', 'schema={home}');
  console.error(`run-tests: PostgreSQL on 127.0.0.1:${pg.port}; every new CA home gets its own schema`);
}
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=300000', ...targets], { stdio: 'inherit', env });
pg?.stop();
process.exit(r.status ?? 1);
