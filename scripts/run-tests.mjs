#!/usr/bin/env node
// Runs the compiled test suite (npm test builds first). Arguments narrow it:
//   npm test -- pki          only dist/test/pki
//   npm test -- dist/test/sip/parser.test.js
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const args = process.argv.slice(2).map((a) => (existsSync(a) ? a : `dist/test/${a}`));
const targets = args.length ? args : ['dist/test'];
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=300000', ...targets], { stdio: 'inherit' });
process.exit(r.status ?? 1);
