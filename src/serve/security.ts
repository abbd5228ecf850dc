/**
 * What SIP and HTTPS authentication share: one lockout per source address
 * (a guess at a phone's SIP secret counts the same whichever port it is
 * tried on: the HTTP password is that secret) and one security log in
 * Asterisk's format, the file fail2ban reads.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { FailureTracker, type LockoutOptions } from '../auth/lockout.js';

export interface SecurityLog {
  write(line: string): void;
  close(): Promise<void>;
}

export interface SharedSecurity {
  /** undefined: lockout off (`--lockout-failures 0`). */
  lockout: FailureTracker | undefined;
  log: SecurityLog;
}

/**
 * The security log fail2ban reads: Asterisk security-event lines
 * (lockout.ts), 0640 in the CA home. Written synchronously: lines are
 * rare (failures only, and the lockout bounds them), must be in order,
 * and must be on disk when fail2ban looks.
 */
export function securityLog(file: string): SecurityLog {
  let fd: number | undefined;
  return {
    write(line) {
      try {
        fd ??= openSync(file, 'a', 0o640);
        writeSync(fd, line + '\n');
      } catch {
        // a full disk must not stop the server; the event stream still has the line
      }
    },
    close: async () => {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

/** null: no lockout; undefined: fail2ban's `[asterisk]` defaults (lockout.ts). */
export function sharedSecurity(file: string, lockout: LockoutOptions | null | undefined): SharedSecurity {
  return { lockout: lockout === null ? undefined : new FailureTracker(lockout ?? {}), log: securityLog(file) };
}
