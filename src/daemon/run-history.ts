import type { ExecutionResult } from '../retention/execute.js';

/** One archive a run deleted (or, in a dry run, would have). */
export interface DeletionRecord {
  readonly fileName: string;
  readonly namespace: string | undefined;
  readonly pod: string | undefined;
  readonly container: string | undefined;
  readonly reason: string;
  readonly detail: string;
  readonly bytes: number;
  readonly dryRun: boolean;
  /** The run that deleted it: 1 is the first run since the exporter started. */
  readonly run: number;
  readonly atMs: number;
}

/** What one retention run did, from the executor's own outcomes (not from the plan in force, which later runs replace). */
export interface RunRecord {
  readonly number: number;
  readonly kind: 'full' | 'scoped';
  readonly startedMs: number;
  readonly finishedMs: number;
  readonly deleted: number;
  readonly deletedBytes: number;
  readonly skipped: number;
  readonly failed: number;
}

export interface RetentionHistory {
  readonly firstRun: RunRecord | undefined;
  readonly lastRun: RunRecord | undefined;
  /** The first run's deletions, kept whatever came after. */
  readonly firstRunDeletions: readonly DeletionRecord[];
  /** The latest deletions, newest last, at most RECENT_DELETIONS of them. */
  readonly recentDeletions: readonly DeletionRecord[];
}

/** Deletions kept for the status view: enough to read what the last runs did, bounded whatever the rate. */
export const RECENT_DELETIONS = 100;

export interface RunHistory {
  /** Runs `body` as one retention run, numbered and recorded when it ends, whether it throws or not. */
  record(kind: RunRecord['kind'], body: () => Promise<void>): Promise<void>;
  /** Counts an execution's outcomes toward the run in progress and keeps its deletions. */
  noteExecution(result: ExecutionResult): void;
  history(): RetentionHistory;
}

/** The record of what the retention runs deleted: the first run, the last one and the latest deletions. */
export function createRunHistory(now: () => number): RunHistory {
  let runNumber = 0;
  let current: { deleted: number; deletedBytes: number; skipped: number; failed: number } | undefined;
  let firstRun: RunRecord | undefined;
  let lastRun: RunRecord | undefined;
  const firstRunDeletions: DeletionRecord[] = [];
  let recentDeletions: DeletionRecord[] = [];

  return {
    async record(kind, body) {
      runNumber += 1;
      const startedMs = now();
      current = { deleted: 0, deletedBytes: 0, skipped: 0, failed: 0 };
      try {
        await body();
      } finally {
        const record: RunRecord = { number: runNumber, kind, startedMs, finishedMs: now(), ...current };
        current = undefined;
        firstRun ??= record;
        lastRun = record;
      }
    },
    noteExecution(result) {
      const atMs = now();
      for (const outcome of result.outcomes) {
        if (current !== undefined) {
          if (outcome.outcome === 'skipped') current.skipped += 1;
          if (outcome.outcome === 'failed') current.failed += 1;
        }
        if (outcome.outcome !== 'deleted' && outcome.outcome !== 'would_delete') continue;
        const d = outcome.deletion;
        const record: DeletionRecord = {
          fileName: d.fileName,
          namespace: d.identity?.namespace,
          pod: d.identity?.pod,
          // A pod-level archive has no container.
          container: d.identity?.container === '' ? undefined : d.identity?.container,
          reason: d.reason,
          detail: d.detail,
          bytes: outcome.bytes,
          dryRun: outcome.outcome === 'would_delete',
          run: runNumber,
          atMs,
        };
        if (current !== undefined) {
          current.deleted += 1;
          current.deletedBytes += outcome.bytes;
        }
        if (runNumber === 1) firstRunDeletions.push(record);
        recentDeletions.push(record);
      }
      // Trimmed in halves, so keeping the latest costs one copy per RECENT_DELETIONS deletions.
      if (recentDeletions.length > 2 * RECENT_DELETIONS) recentDeletions = recentDeletions.slice(-RECENT_DELETIONS);
    },
    history: () => ({ firstRun, lastRun, firstRunDeletions, recentDeletions: recentDeletions.slice(-RECENT_DELETIONS) }),
  };
}
