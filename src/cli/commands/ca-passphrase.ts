import type { Command } from 'commander';
import { SipsecError } from '../../core/errors.js';
import { askPassword, interactive } from '../prompt.js';
import { openStore, passphraseSource } from '../context.js';
import { note, printJson } from '../output.js';

export function register(program: Command): void {
  const ca = program.commands.find((c) => c.name() === 'ca');
  if (!ca) throw new Error('ca command must be registered first');
  ca.command('passphrase')
    .description('encrypt the CA key with a passphrase, change it, or (--remove) store it unencrypted')
    .option('--new-passphrase-file <file>', 'the new passphrase (asked for on a terminal when missing)')
    .option('--passphrase-file <file>', 'the current passphrase, when the key is encrypted')
    .option('--remove', 'store the key unencrypted (not recommended)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  sipsec ca passphrase --new-passphrase-file ~/.sipsec-pass\n  sipsec ca passphrase --passphrase-file old.txt --new-passphrase-file new.txt')
    .action(async (o: { newPassphraseFile?: string; passphraseFile?: string; remove?: boolean; json?: boolean }, cmd: Command) => {
      if (o.remove && o.newPassphraseFile) throw new SipsecError('BAD_INPUT', '--remove and --new-passphrase-file contradict each other', 'give one of them');
      const [{ readSecretFile }, { changeCaPassphrase }] = await Promise.all([import('../../home/operations.js'), import('../../home/passphrase.js')]);
      let next: string | undefined;
      if (!o.remove) {
        if (o.newPassphraseFile) next = await readSecretFile(o.newPassphraseFile, 'new passphrase');
        else if (interactive()) next = await askPassword('New CA passphrase:', true);
        else throw new SipsecError('PASSPHRASE_REQUIRED', 'no new passphrase given', 'use --new-passphrase-file F (or --remove)');
      }
      const store = await openStore(cmd);
      const r = await changeCaPassphrase(store, passphraseSource(o.passphraseFile), next);
      if (o.json) return printJson({ schema: 1, encrypted: r.encrypted, key: store.paths.caKey });
      note(r.encrypted ? `the CA key ${store.paths.caKey} is now encrypted (PBES2, AES-256)` : `the CA key ${store.paths.caKey} is now stored unencrypted`);
    });
}
