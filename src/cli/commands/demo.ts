import { Command } from 'commander';
import { homeOf } from '../context.js';
import { printJson } from '../output.js';
import { probeJson, verifyJson } from '../json.js';

export function register(program: Command): void {
  program
    .command('demo')
    .description('the whole job on this machine: a demo CA and phone, serve on free ports, the phone provisioned, registered and calling the SRTP echo, and the verify report (no hardware, no root)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  sipsec demo\n  sipsec --home /tmp/demo demo --json')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const explicit = cmd.optsWithGlobals<{ home?: string }>().home ?? process.env.SIPSEC_HOME;
      const { runDemo } = await import('../../verify/demo.js');
      const result = await runDemo({ home: explicit ?? homeOf(cmd), explicitHome: explicit !== undefined, log: o.json ? () => undefined : (l) => process.stdout.write(`${l}\n`) });
      if (o.json) printJson({ ...result, probe: probeJson(result.probe), verify: verifyJson(result.verify) });
      if (!result.ok) process.exitCode = 1;
    });
}
