import { Command, CommanderError } from 'commander';
import { z } from 'zod';
import { SipsecError, errnoCode, exitCodeOf, isSipsecError, messageOf } from '../core/errors.js';
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

/** `sipsec phone add`: the words a person types to reach a command. */
export function commandPath(c: Command): string {
  const names: string[] = [];
  for (let cur: Command | null = c; cur; cur = cur.parent) names.unshift(cur.name());
  return names.join(' ');
}

export function buildProgram(): Command {
  const program = new Command('sipsec')
    .description('SIP phones on TLS + SRTP: a CA, per-vendor provisioning, TFTP/HTTPS boot server, and a registrar with an SRTP echo that proves it works')
    .option('--home <dir>', 'CA home directory (default: $SIPSEC_HOME or ./ca)')
    .option('--store <url>', 'where the index lives: sqlite (in the home, the default) or postgres://... shared by several machines (default: $SIPSEC_STORE); a home remembers its store')
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
  // Every subcommand reports usage errors the same way, on one line like every other error:
  // `error: unknown option '--bogus' (see sipsec phone add --help)`.
  const walk = (c: Command) => {
    c.exitOverride();
    const usage = commandPath(c);
    c.configureOutput({ outputError: (str, write) => write(`${str.trim().replace(/\s*\n\s*/g, ' ')} (see ${usage} --help)\n`) });
    c.commands.forEach(walk);
  };
  walk(program);
  return program;
}

/** Map any error to one line and an exit code: 2 for bad input (usage, values, names...), 1 for everything else. */
export function reportError(e: unknown): number {
  if (e instanceof CommanderError) {
    // commander already printed its message (unknown option, missing argument, ...).
    if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help') return 0;
    return e.exitCode === 0 ? 0 : 2;
  }
  if (isSipsecError(e)) {
    process.stderr.write(`${e.line()}\n`);
    return exitCodeOf(e.code);
  }
  if (e instanceof z.ZodError) {
    const issue = e.issues[0];
    process.stderr.write(`error: invalid ${issue?.path.join('.') || 'input'}: ${issue?.message ?? ''}\n`);
    return 2;
  }
  // A write refused by the system (a subfolder made read-only, a full disk) is not a bug in sipsec.
  const sys = systemError(e);
  if (sys) {
    process.stderr.write(`${sys.line()}\n`);
    return 1;
  }
  const err = new SipsecError('INTERNAL', messageOf(e), 'this is a bug in sipsec; run with SIPSEC_DEBUG=1 for the stack');
  process.stderr.write(`${err.line()}\n`);
  if (process.env.SIPSEC_DEBUG && e instanceof Error) process.stderr.write(`${e.stack ?? ''}\n`);
  return 1;
}

const SYSTEM_HINTS: Record<string, string> = {
  EACCES: 'run sipsec as the user that owns these files, or fix their permissions',
  EPERM: 'run sipsec as the user that owns these files, or fix their permissions (chattr -i for an immutable file)',
  EROFS: 'the file system is mounted read-only',
  ENOSPC: 'the disk is full; free some space and run the command again',
  EDQUOT: 'the disk quota is used up; free some space and run the command again',
};

/** Node's system errors that mean "the system refused", told in one line with what to do. */
function systemError(e: unknown): SipsecError | undefined {
  const code = errnoCode(e);
  const hint = code ? SYSTEM_HINTS[code] : undefined;
  if (!hint || !(e instanceof Error)) return undefined;
  const uid = typeof process.getuid === 'function' ? ` (uid ${process.getuid()})` : '';
  const target = 'path' in e && typeof e.path === 'string' ? e.path : '';
  return new SipsecError('NOT_WRITABLE', `${target || 'a file'}: ${code}: the system refused access${uid}`, hint);
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
