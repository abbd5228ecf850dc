import type { Command } from 'commander';
import { SipsecError } from '../core/errors.js';
import { CaStore, type PassphraseSource } from '../home/store.js';
import { defaultHome } from '../home/paths.js';
import { readSecretFile } from '../home/operations.js';
import { askPassword, interactive } from './prompt.js';

export interface GlobalOpts {
  home?: string;
}

export function homeOf(cmd: Command): string {
  const opts = cmd.optsWithGlobals<GlobalOpts>();
  return opts.home ?? defaultHome();
}

export async function openStore(cmd: Command): Promise<CaStore> {
  return CaStore.open(homeOf(cmd));
}

/**
 * Where the CA passphrase comes from, in order: --passphrase-file, the
 * SIPSEC_CA_PASSPHRASE environment variable, a prompt on a TTY. With none
 * of them and no TTY it is an error, never a hang.
 */
export function passphraseSource(file: string | undefined, opts: { confirm?: boolean } = {}): PassphraseSource {
  let cached: string | undefined;
  return async () => {
    if (cached !== undefined) return cached;
    if (file) cached = await readSecretFile(file, 'passphrase');
    else if (process.env.SIPSEC_CA_PASSPHRASE) cached = process.env.SIPSEC_CA_PASSPHRASE;
    else if (interactive()) cached = await askPassword('CA passphrase:', opts.confirm ?? false);
    else throw new SipsecError('PASSPHRASE_REQUIRED', 'the CA key is encrypted and no passphrase was given', 'use --passphrase-file F or set SIPSEC_CA_PASSPHRASE');
    return cached;
  };
}

export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `--option key=value`, repeatable. */
export function collectOption(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  if (eq <= 0) throw new SipsecError('BAD_INPUT', `invalid --option '${value}'`, 'write it as --option key=value');
  return { ...previous, [value.slice(0, eq).trim()]: value.slice(eq + 1) };
}
