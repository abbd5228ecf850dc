import { Command, CommanderError } from 'commander';
import { z } from 'zod';
import { SipsecError, isSipsecError, messageOf } from '../core/errors.js';
import { register as registerCa } from './commands/ca.js';
import { register as registerServer } from './commands/server.js';
import { register as registerPhone } from './commands/phone.js';
import { register as registerCert } from './commands/cert.js';
import { register as registerAstTlsCert } from './commands/ast-tls-cert.js';
import { register as registerDemo } from './commands/demo.js';
import { register as registerServe } from './commands/serve.js';
import { register as registerProvision } from './commands/provision.js';
import { register as registerVerify } from './commands/verify.js';
import { register as registerDhcp } from './commands/dhcp.js';
import { register as registerPbx } from './commands/pbx.js';
import { register as registerResync } from './commands/resync.js';
import { register as registerDoctor } from './commands/doctor.js';
import { register as registerCaPassphrase } from './commands/ca-passphrase.js';

export function buildProgram(): Command {
  const program = new Command('sipsec')
    .description('SIP phones on TLS + SRTP: a CA, per-vendor provisioning, TFTP/HTTPS boot server, and a registrar with an SRTP echo that proves it works')
    .option('--home <dir>', 'CA home directory (default: $SIPSEC_HOME or ./ca)')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false })
    .addHelpText(
      'after',
      `
Quick start:
  sipsec ca init --org "My Super Company" --domain pbx.mycompany.com
  sipsec server add pbx.mycompany.com --ip 10.0.1.133
  sipsec phone add telefono1 --vendor aastra --mac 00:08:5d:12:34:56 --ip 10.0.1.132 --ext 101
  sipsec serve
  sipsec verify telefono1

  sipsec demo        # everything above on this machine, no hardware, no root`,
    );
  program.exitOverride();
  for (const reg of [registerCa, registerCaPassphrase, registerServer, registerPhone, registerResync, registerCert, registerAstTlsCert, registerProvision, registerPbx, registerDhcp, registerServe, registerVerify, registerDoctor, registerDemo]) reg(program);
  // Every subcommand reports usage errors the same way.
  const walk = (c: Command) => {
    c.exitOverride();
    c.showHelpAfterError('(run with --help for usage)');
    c.commands.forEach(walk);
  };
  walk(program);
  return program;
}

/** Map any error to one line and an exit code: 2 for usage, 1 for everything else. */
export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    // commander already printed its message (unknown option, missing argument, ...).
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
    return e.exitCode === 0 ? 0 : 2;
  }
  if (isSipsecError(e)) {
    process.stderr.write(`${e.line()}\n`);
    return e.code === 'BAD_INPUT' ? 2 : 1;
  }
  if (e instanceof z.ZodError) {
    const issue = e.issues[0];
    process.stderr.write(`error: invalid ${issue?.path.join('.') || 'input'}: ${issue?.message ?? ''}\n`);
    return 2;
  }
  const err = new SipsecError('INTERNAL', messageOf(e), 'this is a bug in sipsec; run with SIPSEC_DEBUG=1 for the stack');
  process.stderr.write(`${err.line()}\n`);
  if (process.env.SIPSEC_DEBUG && e instanceof Error) process.stderr.write(`${e.stack ?? ''}\n`);
  return 1;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    // Commands that judge (verify, probe) set the exit code themselves.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    return reportError(e);
  }
}
