#!/usr/bin/env node
// Runs the compiled test suite (npm test builds first): with no arguments the
// whole suite on the default store (SQLite), then the PostgreSQL share of it
// (test/postgres-suite.txt). Arguments narrow it:
//   npm test -- pki          only dist/test/pki
//   npm test -- dist/test/sip/parser.test.js
//   npm test -- --store postgres [targets]   (no target: test/postgres-suite.txt)
//       the same tests with every new CA home's index in PostgreSQL: a private
//       server (Debian's postgresql, own port and data directory) is started
//       for the run, and SIPSEC_STORE gives each home its own schema.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

let argv = process.argv.slice(2);
const everything = argv.length === 0;
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
const toTargets = (list) => {
  const args = list.map((a) => (existsSync(a) ? a : `dist/test/${a}`));
  return args.length ? args : ['dist/test'];
};

async function runOn(kind, targets) {
  const env = { ...process.env };
  let pg;
  if (kind === 'postgres') {
    const { startPostgres } = await import('../dist/test/helpers/postgres.js');
    pg = await startPostgres();
    pg.createDatabase('sipsec_suite');
    env.SIPSEC_STORE = pg.url('sipsec_suite', 'schema={home}');
    console.error(`run-tests: PostgreSQL on 127.0.0.1:${pg.port}; every new CA home gets its own schema`);
  } else {
    delete env.SIPSEC_STORE;
  }
  const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=300000', ...targets], { stdio: 'inherit', env });
  pg?.stop();
  return r.status ?? 1;
}

const postgresSuite = () => readFileSync('test/postgres-suite.txt', 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
if (everything) {
  const a = await runOn('sqlite', ['dist/test']);
  console.error('run-tests: the PostgreSQL share of the suite (test/postgres-suite.txt)');
  const b = await runOn('postgres', postgresSuite());
  console.error(`run-tests: SQLite ${a === 0 ? 'passed' : 'FAILED'}, PostgreSQL ${b === 0 ? 'passed' : 'FAILED'}`);
  process.exit(a === 0 && b === 0 ? 0 : 1);
}
process.exit(await runOn(store, store === 'postgres' && argv.length === 0 ? postgresSuite() : toTargets(argv)));
