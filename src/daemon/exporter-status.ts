import type { InventoryStatus } from '../inventory/types.js';
import type { RetentionPlan } from '../retention/types.js';
import type { DirectoryState, ExporterStatus, StatusDeletion, StatusRun } from '../server/status-page.js';
import type { DiskStats } from '../retention/types.js';
import type { DeletionRecord, RetentionHistory, RunRecord } from './run-history.js';

/** What the status view reads from the running exporter's parts. */
export interface StatusSources {
  readonly version: string;
  readonly nodeName: string | undefined;
  readonly startedMs: number;
  readonly dryRun: boolean;
  inventory(): InventoryStatus;
  history(): RetentionHistory;
  lastPlan(): RetentionPlan | undefined;
  policySources(): readonly string[];
  lastReloadSuccessful(): boolean;
  blockedReason(): string | undefined;
  kubernetes(): { readonly configured: boolean; readonly apiUp: boolean };
  diskStats(): Promise<DiskStats>;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Missing and unreadable are different states: one is normal before the first checkpoint, the other blinds the exporter. */
export function directoryState(status: InventoryStatus): DirectoryState {
  if (!status.directoryReadable) return 'unreadable';
  // Absent with no problem reported: the first look at it has not finished yet.
  if (!status.directoryPresent) return status.directoryProblem === undefined ? 'scanning' : 'missing';
  return status.initialScanComplete ? 'watching' : 'scanning';
}

/**
 * Ready once the initial scan is complete (a missing directory completes it at once: nothing to wait
 * for), or once the directory cannot be read: an exporter that cannot see must stay scraped, so its
 * metrics say so. Not before the first look at the directory has finished.
 */
export function isReady(status: InventoryStatus): boolean {
  return status.initialScanComplete || !status.directoryReadable;
}

const describeRun = (run: RunRecord | undefined): StatusRun | null =>
  run === undefined
    ? null
    : {
        number: run.number,
        kind: run.kind,
        startedAt: iso(run.startedMs),
        finishedAt: iso(run.finishedMs),
        deleted: run.deleted,
        deletedBytes: run.deletedBytes,
        skipped: run.skipped,
        failed: run.failed,
      };

const describeDeletion = (d: DeletionRecord): StatusDeletion => ({
  file: d.fileName,
  namespace: d.namespace ?? null,
  pod: d.pod ?? null,
  container: d.container ?? null,
  reason: d.reason,
  detail: d.detail,
  sizeBytes: d.bytes,
  dryRun: d.dryRun,
  run: d.run,
  at: iso(d.atMs),
});

export async function buildExporterStatus(sources: StatusSources): Promise<ExporterStatus> {
  const inventory = sources.inventory();
  const history = sources.history();
  const plan = sources.lastPlan();
  let filesystem: ExporterStatus['directory']['filesystem'] = null;
  if (inventory.directoryPresent && inventory.directoryReadable) {
    try {
      const disk = await sources.diskStats();
      filesystem = { sizeBytes: disk.sizeBytes, availBytes: disk.availBytes };
    } catch {
      // Unknown: the page says so; checkpoint_retention_errors_total{operation="statfs"} counts statfs failures of retention.
    }
  }
  return {
    version: sources.version,
    node: sources.nodeName ?? null,
    startedAt: iso(sources.startedMs),
    ready: isReady(inventory),
    directory: {
      path: inventory.directory,
      state: directoryState(inventory),
      problem: inventory.directoryProblem ?? null,
      initialScanComplete: inventory.initialScanComplete,
      lastScan: inventory.lastScanTimestampMs === undefined ? null : iso(inventory.lastScanTimestampMs),
      filesystem,
    },
    archives: {
      identified: inventory.archives - inventory.unidentifiedArchives,
      identifiedBytes: inventory.identifiedBytes,
      unidentified: inventory.unidentifiedArchives,
      unidentifiedBytes: inventory.unidentifiedBytes,
      pending: inventory.pendingArchives,
      unrecognizedFiles: inventory.unrecognizedFiles,
      unrecognizedBytes: inventory.unrecognizedBytes,
    },
    policy: {
      sources: sources.policySources(),
      lastReloadSuccessful: sources.lastReloadSuccessful(),
      blockedReason: sources.blockedReason() ?? null,
    },
    retention: {
      dryRun: sources.dryRun,
      firstRun: describeRun(history.firstRun),
      lastRun: describeRun(history.lastRun),
      firstRunDeletions: history.firstRunDeletions.map(describeDeletion),
      recentDeletions: history.recentDeletions.map(describeDeletion),
      plannedDeletions: plan?.deletions.length ?? 0,
      unsatisfiableLimits: plan?.unsatisfiable.length ?? 0,
    },
    kubernetes: sources.kubernetes(),
  };
}
