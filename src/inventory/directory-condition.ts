import type { Logger } from 'pino';
import type { ProbeResult } from './directory-io.js';
import type { ScanOperation } from './types.js';

/**
 * Whether the directory can be seen, and why not: missing (nothing to measure, nothing to delete, no
 * alert) is told apart from unreadable (it exists but cannot be stat-ed, watched or listed: what was
 * known stays, and an alert fires). Each change of cause is logged once.
 */
export interface DirectoryCondition {
  readonly present: boolean;
  readonly readable: boolean;
  /** Why the directory cannot be seen, as last reported. */
  readonly problem: string | undefined;
  setPresent(present: boolean): void;
  /** A probe that failed for another reason than "gone" (EACCES, EIO): counted and reported; true when so. */
  unreadable(probe: ProbeResult): boolean;
  /** Counts the failure and, once per change of cause, logs why the directory cannot be seen. */
  markUnreadable(operation: ScanOperation, problem: string): void;
  /** It could be listed: says so once if it could not before. */
  markReadable(): void;
  /** It is not there (or not a directory): logged once until it appears. */
  markMissing(reason: string): void;
}

export interface DirectoryConditionDeps {
  readonly directory: string;
  readonly logger: Logger;
  readonly pollIntervalMs: number;
  readonly scanErrors: Record<ScanOperation, number>;
  /** Called when what the status reports changed. */
  readonly changed: () => void;
  /** A missing directory is normal (the pod checkpoint directory while the kubelet's gate is off): said at info, not warn. */
  readonly missingIsNormal?: boolean | undefined;
}

export function createDirectoryCondition({ directory, logger, pollIntervalMs, scanErrors, changed, missingIsNormal }: DirectoryConditionDeps): DirectoryCondition {
  let present = false;
  let readable = true;
  let problem: string | undefined;
  let reported: 'missing' | 'unreadable' | undefined;

  function markUnreadable(operation: ScanOperation, cause: string): void {
    scanErrors[operation] += 1;
    const changedCause = readable || problem !== cause;
    readable = false;
    problem = cause;
    if (changedCause) {
      logger.error(
        { directory, reason: cause },
        `checkpoint directory exists but cannot be read (${cause}): nothing in it is measured or deleted until it can; retrying every ${pollIntervalMs / 1000}s`,
      );
      reported = 'unreadable';
      changed();
    }
  }

  return {
    get present() {
      return present;
    },
    get readable() {
      return readable;
    },
    get problem() {
      return problem;
    },
    setPresent(value) {
      present = value;
    },
    unreadable(probe) {
      if (probe.ok || probe.gone) return false;
      markUnreadable('stat', `cannot stat it: ${probe.reason}`);
      return true;
    },
    markUnreadable,
    markReadable() {
      if (!readable || reported !== undefined) {
        logger.info({ directory }, reported === 'missing' ? 'checkpoint directory appeared; watching it' : 'checkpoint directory readable again');
      }
      readable = true;
      problem = undefined;
      reported = undefined;
    },
    markMissing(reason) {
      present = false;
      readable = true;
      problem = reason;
      if (reported !== 'missing') {
        logger[missingIsNormal === true ? 'info' : 'warn']({ directory, reason }, 'checkpoint directory does not exist; waiting for it to appear');
        reported = 'missing';
      }
    },
  };
}
