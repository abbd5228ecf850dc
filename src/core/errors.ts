/**
 * One error type for everything sipsec reports to a person: a stable code
 * for scripts, what failed, and what to do next. The CLI prints
 * `error: <message> (<hint>)` and exits non-zero.
 */
export type ErrorCode =
  | 'CA_EXISTS'
  | 'CA_MISSING'
  | 'CA_CORRUPT'
  | 'WRONG_PASSPHRASE'
  | 'PASSPHRASE_REQUIRED'
  | 'BAD_INPUT'
  | 'BAD_NAME'
  | 'BAD_MAC'
  | 'BAD_IP'
  | 'BAD_DNS'
  | 'UNKNOWN_VENDOR'
  | 'DUPLICATE'
  | 'NOT_FOUND'
  | 'UNREADABLE'
  | 'LOCKED'
  | 'UNSUPPORTED'
  | 'BIND_FAILED'
  | 'NOT_RUNNING'
  | 'PEER_MISSING'
  | 'TIMEOUT'
  | 'BUSY'
  | 'FOREIGN_FILES'
  | 'NOT_WRITABLE'
  | 'ALREADY_RUNNING'
  | 'STORE_UNREACHABLE'
  | 'INTERNAL';

/**
 * The codes that mean "the command was given bad input" (flags, values,
 * names, MACs, IPs, duplicates, CSV rows, a passphrase that cannot be
 * asked for): exit code 2, as README says. Everything else exits 1.
 * (NOT_FOUND and CA_EXISTS stay 1: they report the state of the CA home,
 * which the same command may meet or not on another day.)
 */
export const BAD_INPUT_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'BAD_INPUT',
  'BAD_NAME',
  'BAD_MAC',
  'BAD_IP',
  'BAD_DNS',
  'UNKNOWN_VENDOR',
  'DUPLICATE',
  'PASSPHRASE_REQUIRED',
]);

export function exitCodeOf(code: ErrorCode): 1 | 2 {
  return BAD_INPUT_CODES.has(code) ? 2 : 1;
}

export class SipsecError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, hint?: string) {
    super(message);
    this.name = 'SipsecError';
    this.code = code;
    this.hint = hint;
  }

  /** The one-line form the CLI prints. */
  line(): string {
    return this.hint ? `error: ${this.message} (${this.hint})` : `error: ${this.message}`;
  }
}

export function isSipsecError(e: unknown): e is SipsecError {
  return e instanceof SipsecError;
}

/** Node's system errors carry a string code; this narrows unknown catches. */
export function errnoCode(e: unknown): string | undefined {
  if (typeof e === 'object' && e !== null && 'code' in e) {
    const code = (e as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
