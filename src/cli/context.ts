import type { Command } from 'commander';
import { SipsecError } from '../core/errors.js';
import type { CaStore, PassphraseSource } from '../home/store.js';
import { defaultHome } from '../home/paths.js';
import { askPassword, interactive } from './prompt.js';

export interface GlobalOpts {
  home?: string;
  store?: string;
}

/** The store given for this command: --store, and SIPSEC_STORE as the default (a bound home keeps its own). */
export function storeOf(cmd: Command): { store: string | undefined; storeDefault: string | undefined } {
  // SIPSEC_STORE read here, not through store-spec.ts: start-up stays light.
  const env = process.env.SIPSEC_STORE;
  return { store: cmd.optsWithGlobals<GlobalOpts>().store, storeDefault: env && env.trim() !== '' ? env : undefined };
}

export function homeOf(cmd: Command): string {
  const opts = cmd.optsWithGlobals<GlobalOpts>();
  return opts.home ?? defaultHome();
}

/**
 * Open the CA home and settle the renewal overlaps that ended while no
 * serve was watching (home/supersede.ts): every command does it, so an old
 * certificate never outlives its grace period by more than the next command.
 */
export async function openStore(cmd: Command): Promise<CaStore> {
  // Loaded here, not at start-up: `--help` and the commands that never open the home skip the store.
  const { CaStore } = await import('../home/store.js');
  const store = await CaStore.open(homeOf(cmd), storeOf(cmd));
  if (store.overlapCerts().length > 0) {
    const { sweepSupersedes } = await import('../home/supersede.js');
    try {
      const { settled, crlWritten } = await sweepSupersedes(store, {
        keyPhones: async (names) => {
          const { buildRoutes } = await import('../provision/routes.js');
          const table = await buildRoutes(store, store.index.phones.filter((p) => names.includes(p.name)));
          return new Set(names.filter((n) => table.forPhone(n).some((r) => r.holdsKey)));
        },
      });
      for (const x of settled) {
        const why = x.why === 'grace' ? 'its grace period is over' : x.why === 'presented' ? 'the phone presented its new certificate' : 'the phone fetched its new files';
        process.stderr.write(`note: revoked the old certificate ${x.serial} of ${x.name} as superseded (${why})\n`);
      }
      if (settled.length > 0 && !crlWritten) process.stderr.write('note: the CA key is encrypted: run sipsec ca crl so the CRL lists them (sipsec serve already refuses them)\n');
    } catch (e) {
      process.stderr.write(`warning: could not settle renewal overlaps: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  }
  return store;
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
    if (file) cached = await (await import('../home/operations.js')).readSecretFile(file, 'passphrase');
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
