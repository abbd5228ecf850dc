import { SipsecError } from '../core/errors.js';

/**
 * Prompts only when a person is there (stdin and stderr are TTYs) and a
 * value is missing; otherwise a missing value is an error naming the flag.
 * A script never hangs waiting for input.
 */
export function interactive(): boolean {
  return process.stdin.isTTY === true && process.stderr.isTTY === true;
}

export async function askText(flag: string, message: string, what: string): Promise<string> {
  if (!interactive()) throw new SipsecError('BAD_INPUT', `missing ${flag} (${what})`, `give ${flag} on the command line`);
  const { input } = await import('@inquirer/prompts');
  return input({ message, validate: (v) => (v.trim().length > 0 ? true : `${what} is required`) });
}

export async function askPassword(message: string, confirm: boolean): Promise<string> {
  const { password } = await import('@inquirer/prompts');
  const first = await password({ message, mask: '*', validate: (v) => (v.length >= 4 ? true : 'use at least 4 characters') });
  if (confirm) {
    const again = await password({ message: 'Repeat it:', mask: '*' });
    if (again !== first) throw new SipsecError('BAD_INPUT', 'the two passphrases differ', 'run the command again');
  }
  return first;
}

export async function askChoice(flag: string, message: string, what: string, choices: string[]): Promise<string> {
  if (!interactive()) throw new SipsecError('BAD_INPUT', `missing ${flag} (${what})`, `give ${flag}, one of: ${choices.join(', ')}`);
  const { select } = await import('@inquirer/prompts');
  return select({ message, choices: choices.map((c) => ({ name: c, value: c })) });
}
