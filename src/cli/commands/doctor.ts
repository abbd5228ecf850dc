import type { Command } from 'commander';
import { SipsecError } from '../../core/errors.js';
import type { Finding } from '../../doctor/checks.js';
import { openStore } from '../context.js';
import { note, out, printJson } from '../output.js';

const MARK: Record<Finding['severity'], string> = { error: 'ERROR  ', warning: 'WARNING' };

/** One finding per line, with its fix indented below: read at a glance. */
export function formatFindings(findings: readonly Finding[]): string {
  return findings.map((f) => `${MARK[f.severity]} ${f.message}\n        fix: ${f.fix}`).join('\n');
}

/** What `ca config` and `phone add` show right after the change (stderr, so --json stays clean). */
export function printFindings(findings: readonly Finding[]): void {
  // Not `error:`: the command itself succeeded; this is what doctor would say about the result.
  for (const f of findings) note(`${f.severity === 'error' ? 'problem' : 'warning'}: ${f.message} (fix: ${f.fix})`);
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check a deployment before a phone boots: server certificate names, NTP, exposed secrets, expiry, CRL, CA key')
    .option('--expiring <days>', 'report certificates expiring within this many days', '30')
    .option('--out <dir>', 'also check this rendered tree (repeatable; trees written by provision render --out are checked anyway)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--json', 'print the findings as JSON')
    .addHelpText(
      'after',
      `
Exit status: 0 clean, 1 warnings only, 2 errors (for cron and monitoring).

Examples:
  sipsec doctor
  sipsec doctor --json | jq -r '.findings[] | select(.severity == "error") | .fix'
  sipsec doctor --out /srv/tftp
  sipsec doctor --expiring 60 || mail -s "sipsec doctor" admin@example.com < /dev/null`,
    )
    .action(async (o: { expiring: string; out?: string[]; json?: boolean }, cmd: Command) => {
      const days = Number(o.expiring);
      if (!Number.isInteger(days) || days < 0 || days > 3650) throw new SipsecError('BAD_INPUT', `--expiring must be a number of days (0-3650), not ${JSON.stringify(o.expiring)}`);
      const [{ doctorExitCode }, { runDoctor }] = await Promise.all([import('../../doctor/checks.js'), import('../../doctor/doctor.js')]);
      const store = await openStore(cmd);
      const findings = await runDoctor(store, { expiryDays: days, ...(o.out ? { out: o.out } : {}) });
      const code = doctorExitCode(findings);
      if (o.json) {
        printJson({ schema: 1, status: (['ok', 'warnings', 'errors'] as const)[code], findings, errors: findings.filter((f) => f.severity === 'error').length, warnings: findings.filter((f) => f.severity === 'warning').length });
      } else if (findings.length === 0) {
        out('no problems found');
      } else {
        out(formatFindings(findings));
        const e = findings.filter((f) => f.severity === 'error').length;
        out(`\n${e} error${e === 1 ? '' : 's'}, ${findings.length - e} warning${findings.length - e === 1 ? '' : 's'}`);
      }
      process.exitCode = code;
    });
}
