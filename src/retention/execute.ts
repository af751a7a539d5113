import { lstat, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { pinFileNamesOf } from '../archive/archive-name.js';
import { codeOf } from '../errors.js';
import type { DirectoryIdentity, PlannedDeletion, RetentionObserver, RetentionPlan } from './types.js';

export interface RetentionExecutorDeps {
  /** The checkpoint directory the plan was made for; nothing outside it is ever touched. */
  readonly directory: string;
  readonly dryRun: boolean;
  readonly logger: Logger;
  readonly observer: RetentionObserver;
  /** With `--offload-to`: every archive is copied and verified elsewhere before its unlink (see src/offload). */
  readonly offloader?: ArchiveOffloader;
}

/**
 * Copies an archive off the node before the executor unlinks it. The executor asks only for archives
 * that passed every unlink check, and checks them all again after the copy, right before the unlink.
 */
export interface ArchiveOffloader {
  /** Where the archive would go, for a dry run; undefined when it cannot be offloaded. */
  locationOf(deletion: PlannedDeletion): string | undefined;
  /** Never throws. `deleteAnyway`: the copy failed but the configuration lets this deletion go ahead. */
  offload(deletion: PlannedDeletion): Promise<{ readonly ok: true; readonly location: string } | { readonly ok: false; readonly reason: string; readonly deleteAnyway: boolean }>;
}

type OffloadVerdict = Awaited<ReturnType<ArchiveOffloader['offload']>>;

export type DeletionOutcome =
  /** `offloadedTo`: the verified copy, with `--offload-to`. */
  | { readonly deletion: PlannedDeletion; readonly outcome: 'deleted'; readonly bytes: number; readonly offloadedTo?: string }
  | { readonly deletion: PlannedDeletion; readonly outcome: 'would_delete'; readonly bytes: number; readonly offloadTo?: string }
  /** A check failed or the file was already gone: nothing was unlinked. */
  | { readonly deletion: PlannedDeletion; readonly outcome: 'skipped'; readonly reason: string }
  | { readonly deletion: PlannedDeletion; readonly outcome: 'failed'; readonly reason: string };

export interface ExecutionResult {
  readonly dryRun: boolean;
  readonly outcomes: readonly DeletionOutcome[];
  readonly deleted: number;
  readonly wouldDelete: number;
  readonly skipped: number;
  readonly failed: number;
  /** Bytes of the files unlinked (or that would be, in a dry run). */
  readonly bytes: number;
}

export interface RetentionExecutor {
  execute(plan: RetentionPlan): Promise<ExecutionResult>;
  /** Resolves once no execution is in flight, so shutdown never abandons an unlink half-way. */
  idle(): Promise<void>;
}

type Verdict = { readonly ok: true; readonly bytes: number } | { readonly ok: false; readonly operation: 'lstat' | 'verify' | undefined; readonly reason: string; readonly error?: unknown };

/** A plain base name: no separator, no NUL, not `.` or `..`, and joined it lands directly in the directory. */
function checkName(directory: string, fileName: string): string | undefined {
  if (fileName === '' || fileName === '.' || fileName === '..') return `file name ${JSON.stringify(fileName)} is not a plain name`;
  if (fileName.includes('/') || fileName.includes('\0')) return `file name ${JSON.stringify(fileName)} contains a path separator or NUL`;
  const root = path.resolve(directory);
  const target = path.resolve(path.join(root, fileName));
  if (path.dirname(target) !== root || path.basename(target) !== fileName) return `file name ${JSON.stringify(fileName)} does not resolve inside ${root}`;
  return undefined;
}

/**
 * The directory path must still lead (through symlinks, as the inventory follows it) to the directory
 * the plan was made on: a hard link of a planned file in another directory has the same fingerprint.
 */
async function checkDirectory(directory: string, planned: DirectoryIdentity | undefined): Promise<Verdict | undefined> {
  if (!planned) return { ok: false, operation: 'verify', reason: 'the plan does not say which checkpoint directory it was made on' };
  let stats;
  try {
    stats = await stat(directory);
  } catch (error) {
    return { ok: false, operation: 'verify', reason: `cannot stat the checkpoint directory: ${codeOf(error) ?? String(error)}`, error };
  }
  if (stats.dev !== planned.dev || stats.ino !== planned.ino) {
    return { ok: false, operation: 'verify', reason: 'the checkpoint directory is not the one planned (device or inode changed)' };
  }
  return undefined;
}

/**
 * Everything that must hold just before an unlink. Any doubt is a refusal: the directory must be the
 * one planned, the file the same regular file (device, inode, size, mtime) the planner saw, and not
 * pinned since. A window between these checks and the unlink remains (no unlink-by-inode exists);
 * the directory is checked last so the window is as short as a single stat.
 */
async function verify(directory: string, directoryIdentity: DirectoryIdentity | undefined, deletion: PlannedDeletion): Promise<Verdict> {
  const nameProblem = checkName(directory, deletion.fileName);
  if (nameProblem) return { ok: false, operation: 'verify', reason: nameProblem };
  const target = path.join(directory, deletion.fileName);

  let stats;
  try {
    stats = await lstat(target);
  } catch (error) {
    if (codeOf(error) === 'ENOENT') return { ok: false, operation: undefined, reason: 'already gone' };
    return { ok: false, operation: 'lstat', reason: `lstat failed: ${codeOf(error) ?? String(error)}`, error };
  }
  if (stats.isSymbolicLink()) return { ok: false, operation: 'verify', reason: 'is a symbolic link' };
  if (!stats.isFile()) return { ok: false, operation: 'verify', reason: 'is not a regular file' };
  const planned = deletion.fingerprint;
  const changed = (['dev', 'ino', 'size', 'mtimeMs'] as const).filter((field) => stats[field] !== planned[field]);
  if (changed.length > 0) return { ok: false, operation: 'verify', reason: `changed since planning (${changed.join(', ')})` };
  // Disk pressure deletes for the space an unlink frees: a link added since planning (a backup made
  // with cp -al) means this unlink would free nothing. Other reasons delete whatever the links.
  if (deletion.reason === 'disk_pressure' && !(planned.nlink !== undefined && stats.nlink <= planned.nlink)) {
    return { ok: false, operation: 'verify', reason: `hard-linked since planning (${stats.nlink} links, ${planned.nlink ?? 'unknown'} planned): deleting it would free no space` };
  }

  // Both names, as the inventory reads them: a pin being written (`.keep.tmp`, renamed to `.keep` once
  // complete) pins already, so an archive is never deleted in the window in which it is being pinned.
  for (const pin of pinFileNamesOf(deletion.fileName)) {
    try {
      await lstat(path.join(directory, pin));
      return { ok: false, operation: 'verify', reason: `pinned since planning (${pin})` };
    } catch (error) {
      if (codeOf(error) !== 'ENOENT') {
        return { ok: false, operation: 'verify', reason: `cannot tell whether it is pinned (${pin}): ${codeOf(error) ?? String(error)}`, error };
      }
    }
  }
  const directoryProblem = await checkDirectory(directory, directoryIdentity);
  if (directoryProblem) return directoryProblem;
  return { ok: true, bytes: stats.size };
}

/**
 * The only code that unlinks. Executions are serialized: a second plan waits for the first, so two
 * plans never race over one file and `idle()` can await the unlink in flight.
 */
export function createRetentionExecutor(deps: RetentionExecutorDeps): RetentionExecutor {
  const { directory, dryRun, logger, observer, offloader } = deps;
  let tail: Promise<unknown> = Promise.resolve();

  /** Copies an archive that passes every check now; undefined (nothing copied) for one that does not, which runOne then reports. */
  const offloadFirst = async (deletion: PlannedDeletion, directoryIdentity: DirectoryIdentity | undefined): Promise<OffloadVerdict | undefined> => {
    if (offloader === undefined || dryRun) return undefined;
    if (!(await verify(directory, directoryIdentity, deletion)).ok) return undefined;
    return offloader.offload(deletion).catch((error: unknown) => ({ ok: false as const, reason: `offload failed: ${String(error)}`, deleteAnyway: false }));
  };

  const runOne = async (deletion: PlannedDeletion, directoryIdentity: DirectoryIdentity | undefined, offloading: Promise<OffloadVerdict | undefined>): Promise<DeletionOutcome> => {
    const context = { file: deletion.fileName, reason: deletion.reason, detail: deletion.detail, policySource: deletion.policySource };
    // The copy comes first; every check below runs again after it, right before the unlink.
    const offloaded = await offloading;
    if (offloaded && !offloaded.ok) {
      if (!offloaded.deleteAnyway) {
        logger.warn({ ...context, skipped: offloaded.reason }, 'retention: keeping archive: its offload failed');
        return { deletion, outcome: 'skipped', reason: offloaded.reason };
      }
      logger.warn({ ...context, offloadFailure: offloaded.reason }, 'retention: offload keeps failing; disk pressure deletes the archive without a copy (--offload-disk-pressure-delete)');
    }
    const verdict = await verify(directory, directoryIdentity, deletion);
    if (!verdict.ok) {
      if (verdict.operation === undefined) {
        logger.info({ ...context, skipped: verdict.reason }, 'retention: archive already gone; nothing to delete');
      } else {
        logger.warn({ ...context, skipped: verdict.reason }, 'retention: not deleting archive');
        observer.onError(verdict.operation, deletion, verdict.error ?? new Error(verdict.reason));
      }
      return { deletion, outcome: 'skipped', reason: verdict.reason };
    }
    if (dryRun) {
      const offloadTo = offloader?.locationOf(deletion);
      if (offloadTo !== undefined) {
        logger.info({ ...context, bytes: verdict.bytes, offloadTo }, `retention: would offload archive to ${offloadTo}, then delete it (dry run)`);
        return { deletion, outcome: 'would_delete', bytes: verdict.bytes, offloadTo };
      }
      logger.info({ ...context, bytes: verdict.bytes }, 'retention: would delete archive (dry run)');
      return { deletion, outcome: 'would_delete', bytes: verdict.bytes };
    }
    try {
      await unlink(path.join(directory, deletion.fileName));
    } catch (error) {
      const reason = `unlink failed: ${codeOf(error) ?? String(error)}`;
      logger.error({ ...context, err: error }, 'retention: deleting archive failed');
      observer.onError('unlink', deletion, error);
      return { deletion, outcome: 'failed', reason };
    }
    if (offloaded?.ok) {
      logger.info({ ...context, bytes: verdict.bytes, offloadedTo: offloaded.location }, `retention: deleted archive; offloaded to ${offloaded.location}`);
      // The Event's message carries the detail: it says where the archive went.
      observer.onDeleted({ ...deletion, detail: `${deletion.detail}; offloaded to ${offloaded.location}` }, verdict.bytes);
      return { deletion, outcome: 'deleted', bytes: verdict.bytes, offloadedTo: offloaded.location };
    }
    logger.info({ ...context, bytes: verdict.bytes }, 'retention: deleted archive');
    observer.onDeleted(deletion, verdict.bytes);
    return { deletion, outcome: 'deleted', bytes: verdict.bytes };
  };

  const run = async (plan: RetentionPlan): Promise<ExecutionResult> => {
    const outcomes: DeletionOutcome[] = [];
    const seen = new Set<string>();
    const deletions: PlannedDeletion[] = [];
    for (const deletion of plan.deletions) {
      // A plan never lists a file twice; if one did, the second attempt could only fail or mislead.
      if (seen.has(deletion.fileName)) continue;
      seen.add(deletion.fileName);
      deletions.push(deletion);
    }
    // Copies start together (the offloader bounds how many run at once); unlinks stay one at a time, in plan order.
    const offloads = deletions.map((deletion) => offloadFirst(deletion, plan.directoryIdentity));
    for (const [index, deletion] of deletions.entries()) outcomes.push(await runOne(deletion, plan.directoryIdentity, offloads[index] ?? Promise.resolve(undefined)));
    const count = (outcome: DeletionOutcome['outcome']): number => outcomes.filter((o) => o.outcome === outcome).length;
    const bytes = outcomes.reduce((sum, o) => sum + (o.outcome === 'deleted' || o.outcome === 'would_delete' ? o.bytes : 0), 0);
    return { dryRun, outcomes, deleted: count('deleted'), wouldDelete: count('would_delete'), skipped: count('skipped'), failed: count('failed'), bytes };
  };

  return {
    execute(plan) {
      const result = tail.then(() => run(plan));
      tail = result.catch(() => undefined);
      return result;
    },
    async idle() {
      let current: Promise<unknown>;
      do {
        current = tail;
        await current;
      } while (current !== tail);
    },
  };
}
