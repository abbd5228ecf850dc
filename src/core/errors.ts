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
  | 'INTERNAL';

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
