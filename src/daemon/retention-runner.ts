import type { Logger } from 'pino';
import type { ArchiveIdentity } from '../archive/types.js';
import type { ArchiveIndex } from '../inventory/archive-index.js';
import type { ArchiveRecord, InventoryStatus } from '../inventory/types.js';
import type { RetentionMetrics } from '../metrics/retention-collector.js';
import type { ExecutionResult } from '../retention/execute.js';
import { usedPercent } from '../retention/plan-disk-pressure.js';
import { planRetention } from '../retention/plan.js';
import type { DiskStats, EffectiveLimit, OwnerLookup, PlannedDeletion, RetentionPlan, RetentionPolicy, UnsatisfiableLimit } from '../retention/types.js';

/** Archives planned per slice of a full run; between slices the loop yields to the event loop. */
export const DEFAULT_SLICE_ARCHIVES = 2_000;
/** How often owners are looked up again, so an orphan's grace period is checked even when nothing else happens. */
export const DEFAULT_OWNER_REFRESH_MS = 60_000;

export interface RetentionRunnerDeps {
  readonly inventory: {
    index(): ArchiveIndex;
    status(): InventoryStatus;
    /** Looks at these entries now, so the index no longer holds what was just unlinked. */
    refresh?(fileNames: Iterable<string>): Promise<void>;
  };
  policy(): RetentionPolicy;
  /** False until every policy source has been read once: planning on the defaults alone could delete what a cluster policy keeps. */
  policiesReady(): boolean;
  resolveOwners(identities: readonly ArchiveIdentity[]): Promise<OwnerLookup>;
  diskStats(): Promise<DiskStats>;
  /** Carries out a plan's deletions; what it reports is recorded as the run's deletions. */
  execute(plan: RetentionPlan): Promise<ExecutionResult | void>;
  readonly metrics: RetentionMetrics;
  readonly logger: Logger;
  now(): number;
  readonly sliceArchives?: number;
  /** How far ahead of the clock a name's time may lie before the archive is future-dated. */
  readonly futureToleranceMs?: number;
  /** 0 turns the periodic owner refresh off. */
  readonly ownerRefreshMs?: number;
}

/** Work done, for tests that guard against planning the whole directory once per archive. */
export interface RetentionWork {
  readonly fullRuns: number;
  readonly scopedRuns: number;
  /** planRetention calls, and the archives they were given in total. */
  readonly planCalls: number;
  readonly archivesPlanned: number;
}

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

export interface RetentionRunner {
  /** Plan everything again (start, policy change, resync, directory re-attached); coalesced. */
  requestFull(): void;
  /** Plan again the namespaces whose archives changed; coalesced. */
  namespacesChanged(namespaces: Iterable<string>): void;
  /** Asks for a full run and resolves when no run is pending or in flight. */
  trigger(): Promise<void>;
  /** Resolves when no run is pending or in flight. */
  settled(): Promise<void>;
  /** The plan in force: the latest plan of every namespace, plus the node-wide disk-pressure plan. */
  lastPlan(): RetentionPlan | undefined;
  lastRunMs(): number | undefined;
  /** What the runs deleted: the first run, the last one and the latest deletions. */
  history(): RetentionHistory;
  owners(): OwnerLookup | undefined;
  work(): RetentionWork;
  /** Stops accepting requests and waits for the run in flight (and its unlink) to finish. */
  stop(): Promise<void>;
}

interface PartPlan {
  readonly deletions: readonly PlannedDeletion[];
  readonly unsatisfiable: readonly UnsatisfiableLimit[];
  readonly effectiveLimits: readonly EffectiveLimit[];
  readonly futureDated: readonly string[];
}

const EMPTY_PART: PartPlan = Object.freeze({ deletions: [], unsatisfiable: [], effectiveLimits: [], futureDated: [] });
const UNKNOWN_OWNERS: OwnerLookup = () => ({ state: 'unknown', reason: 'owners not looked up yet' });
const yieldToEventLoop = (): Promise<void> => new Promise((wake) => setImmediate(wake));

/**
 * Runs retention incrementally. A change re-plans only the namespaces it touched (a namespace holds
 * every scope an archive counts in: its container, its pod, its namespace), plus the node-wide
 * disk-pressure check. A full run (at start, on a policy change, on resync) plans every namespace in
 * slices of about `sliceArchives` archives and yields to the event loop between slices, so neither
 * blocks the server for long whatever the size of the directory. Runs never overlap.
 */
export function createRetentionRunner(deps: RetentionRunnerDeps): RetentionRunner {
  const { logger } = deps;
  const sliceArchives = deps.sliceArchives ?? DEFAULT_SLICE_ARCHIVES;
  const ownerRefreshMs = deps.ownerRefreshMs ?? DEFAULT_OWNER_REFRESH_MS;
  let fullRequested = false;
  const dirty = new Set<string>();
  let running: Promise<void> | undefined;
  let stopped = false;
  let waitingLogged = false;
  let lastRunMs: number | undefined;
  let owners: OwnerLookup | undefined;
  const parts = new Map<string, PartPlan>();
  let nodePart: PartPlan = EMPTY_PART;
  let merged: RetentionPlan | undefined;
  let unsatisfiableKeys = new Set<string>();
  let ownerTimer: NodeJS.Timeout | undefined;
  const work = { fullRuns: 0, scopedRuns: 0, planCalls: 0, archivesPlanned: 0 };
  let runNumber = 0;
  let current: { deleted: number; deletedBytes: number; skipped: number; failed: number } | undefined;
  let firstRun: RunRecord | undefined;
  let lastRun: RunRecord | undefined;
  const firstRunDeletions: DeletionRecord[] = [];
  let recentDeletions: DeletionRecord[] = [];

  /**
   * Executes a plan, records what was deleted, and makes the index reflect the unlinks before anything
   * is planned again: otherwise the next plan, made before the watch events of these unlinks arrive,
   * would see the files still there and pick them (or their neighbours) a second time.
   */
  const executeAndRecord = async (plan: RetentionPlan): Promise<void> => {
    const result = await deps.execute(plan);
    try {
      await deps.inventory.refresh?.(plan.deletions.map((d) => d.fileName));
    } catch (error) {
      logger.warn({ err: error }, 'refreshing the inventory after deletions failed; the watch will catch up');
    }
    if (result === undefined) return;
    const atMs = deps.now();
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
        container: d.identity?.container,
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
    if (recentDeletions.length > 2 * RECENT_DELETIONS) recentDeletions = recentDeletions.slice(-RECENT_DELETIONS);
  };

  /** Runs one retention run, numbered and recorded. */
  const recordedRun = async (kind: RunRecord['kind'], body: () => Promise<void>): Promise<void> => {
    runNumber += 1;
    const startedMs = deps.now();
    current = { deleted: 0, deletedBytes: 0, skipped: 0, failed: 0 };
    try {
      await body();
    } finally {
      const record: RunRecord = { number: runNumber, kind, startedMs, finishedMs: deps.now(), ...current };
      current = undefined;
      firstRun ??= record;
      lastRun = record;
    }
  };

  const reportUnsatisfiable = (): void => {
    // Logged once per change, not on every run, so a long-standing pin does not flood the log.
    const next = new Map<string, UnsatisfiableLimit>();
    for (const part of parts.values()) for (const u of part.unsatisfiable) next.set(`${u.namespace}/${u.pod}/${u.container}/${u.limit}`, u);
    for (const [key, u] of next) {
      if (!unsatisfiableKeys.has(key)) logger.warn({ limit: u }, `retention limit unsatisfiable: ${u.detail}`);
    }
    for (const key of unsatisfiableKeys) {
      if (!next.has(key)) logger.info({ limit: key }, 'retention limit satisfiable again');
    }
    unsatisfiableKeys = new Set(next.keys());
  };

  let futureDatedLogged = new Set<string>();
  const reportFutureDated = (): void => {
    // Logged once per archive while it stays future-dated; counted in checkpoint_future_dated_archives.
    const now = new Set<string>();
    for (const part of parts.values()) for (const fileName of part.futureDated) now.add(fileName);
    for (const fileName of now) {
      if (!futureDatedLogged.has(fileName)) {
        logger.warn({ fileName }, 'checkpoint archive is future-dated (its name lies ahead of the clock beyond the tolerance): not counted toward limits and not deleted until its time has come');
      }
    }
    futureDatedLogged = now;
  };

  const allIdentities = (): ArchiveIdentity[] => {
    const identities: ArchiveIdentity[] = [];
    for (const group of deps.inventory.index().containers()) identities.push(group.identity);
    return identities;
  };

  const lookUpOwners = async (): Promise<boolean> => {
    try {
      owners = await deps.resolveOwners(allIdentities());
      return true;
    } catch (error) {
      deps.metrics.recordError('plan');
      logger.error({ err: error }, 'resolving archive owners failed; nothing deleted');
      return false;
    }
  };

  const directoryIdentityOf = (status: InventoryStatus): RetentionPlan['directoryIdentity'] =>
    status.directoryIdentity === undefined ? undefined : { dev: status.directoryIdentity.dev, ino: status.directoryIdentity.ino };

  const plan = (archives: readonly ArchiveRecord[], disk: DiskStats | undefined): RetentionPlan => {
    work.planCalls += 1;
    work.archivesPlanned += archives.length;
    const status = deps.inventory.status();
    const directoryIdentity = directoryIdentityOf(status);
    return planRetention({
      snapshot: directoryIdentity === undefined ? { archives } : { archives, directoryIdentity },
      policy: deps.policy(),
      owners: owners ?? UNKNOWN_OWNERS,
      disk,
      nowMs: deps.now(),
      ...(deps.futureToleranceMs !== undefined ? { futureToleranceMs: deps.futureToleranceMs } : {}),
    });
  };

  /** Plans these namespaces, a slice at a time, executing each slice's deletions before the next. */
  const planNamespaces = async (namespaces: readonly string[]): Promise<Set<string>> => {
    const plannedFiles = new Set<string>();
    let batch: string[] = [];
    let archives: ArchiveRecord[] = [];
    const runBatch = async (): Promise<void> => {
      const result = plan(archives, undefined);
      const byNamespace = new Map<string, { deletions: PlannedDeletion[]; unsatisfiable: UnsatisfiableLimit[]; effectiveLimits: EffectiveLimit[]; futureDated: string[] }>();
      const partOf = (namespace: string) => {
        let part = byNamespace.get(namespace);
        if (part === undefined) byNamespace.set(namespace, (part = { deletions: [], unsatisfiable: [], effectiveLimits: [], futureDated: [] }));
        return part;
      };
      const namespaceOfFile = new Map<string, string>();
      for (const record of archives) if (record.identity !== undefined) namespaceOfFile.set(record.fileName, record.identity.namespace);
      for (const fileName of result.futureDated ?? []) partOf(namespaceOfFile.get(fileName) ?? '').futureDated.push(fileName);
      for (const d of result.deletions) partOf(d.identity?.namespace ?? '').deletions.push(d);
      for (const u of result.unsatisfiable) partOf(u.namespace).unsatisfiable.push(u);
      for (const l of result.effectiveLimits) partOf(l.namespace).effectiveLimits.push(l);
      for (const namespace of batch) {
        const part = byNamespace.get(namespace);
        if (part === undefined) parts.delete(namespace);
        else parts.set(namespace, part);
      }
      merged = undefined;
      for (const d of result.deletions) plannedFiles.add(d.fileName);
      if (result.deletions.length > 0) await executeAndRecord(result);
      batch = [];
      archives = [];
    };
    for (const namespace of namespaces) {
      if (stopped) break;
      batch.push(namespace);
      for (const record of deps.inventory.index().recordsOfNamespace(namespace)) archives.push(record);
      if (archives.length >= sliceArchives) {
        await runBatch();
        await yieldToEventLoop();
      }
    }
    if (batch.length > 0 && !stopped) await runBatch();
    reportUnsatisfiable();
    reportFutureDated();
    return plannedFiles;
  };

  /**
   * Node-wide: above the high mark, the oldest archives go until below the low mark. This needs every
   * archive at once, so it is one pass over the whole inventory; it runs only while the disk is above
   * the high mark.
   */
  const checkDiskPressure = async (plannedFiles: ReadonlySet<string>): Promise<void> => {
    const pressure = deps.policy().diskPressure;
    if (pressure === undefined) {
      if (nodePart.deletions.length > 0) merged = undefined;
      nodePart = EMPTY_PART;
      return;
    }
    let disk: DiskStats;
    try {
      disk = await deps.diskStats();
    } catch (error) {
      deps.metrics.recordError('statfs');
      logger.warn({ err: error }, 'statfs failed; disk pressure retention skipped this run');
      return;
    }
    const percent = usedPercent(disk);
    if (percent === undefined || percent <= pressure.highThresholdPercent) {
      if (nodePart.deletions.length > 0) merged = undefined;
      nodePart = EMPTY_PART;
      return;
    }
    const archives: ArchiveRecord[] = [];
    for (const group of deps.inventory.index().containers()) {
      for (const record of group.records) if (!plannedFiles.has(record.fileName)) archives.push(record);
    }
    const result = plan(archives, disk);
    nodePart = { deletions: result.deletions.filter((d) => d.reason === 'disk_pressure'), unsatisfiable: [], effectiveLimits: [], futureDated: [] };
    merged = undefined;
    if (nodePart.deletions.length > 0) await executeAndRecord({ ...result, deletions: nodePart.deletions });
  };

  const fullRun = async (): Promise<void> => {
    work.fullRuns += 1;
    if (!(await lookUpOwners())) return;
    if (stopped) return;
    const namespaces = [...deps.inventory.index().namespaces.keys()];
    for (const namespace of parts.keys()) if (!deps.inventory.index().namespaces.has(namespace)) parts.delete(namespace);
    merged = undefined;
    const plannedFiles = await planNamespaces(namespaces);
    if (stopped) return;
    await checkDiskPressure(plannedFiles);
    lastRunMs = deps.now();
  };

  const scopedRun = async (namespaces: readonly string[]): Promise<void> => {
    work.scopedRuns += 1;
    const plannedFiles = await planNamespaces(namespaces);
    if (stopped) return;
    await checkDiskPressure(plannedFiles);
    lastRunMs = deps.now();
  };

  const loop = async (): Promise<void> => {
    while (!stopped && (fullRequested || dirty.size > 0)) {
      if (!deps.policiesReady()) {
        if (!waitingLogged) logger.info('retention waits until every policy source has a valid version (cluster policies listed, no refused object without one)');
        waitingLogged = true;
        // The policy source asks for a full run once it is ready.
        fullRequested = false;
        dirty.clear();
        return;
      }
      const status = deps.inventory.status();
      // Nothing to plan without a directory: a completed, empty run, so retention does not look stalled.
      if (!status.directoryPresent) {
        fullRequested = false;
        dirty.clear();
        parts.clear();
        nodePart = EMPTY_PART;
        merged = undefined;
        await recordedRun('full', async () => undefined);
        lastRunMs = deps.now();
        return;
      }
      // Planning on a partial view would count too few archives and pick the wrong oldest ones; the
      // inventory reports the completed scan as a change of everything, which asks for a full run.
      if (!status.initialScanComplete) return;
      const started = performance.now();
      if (fullRequested) {
        fullRequested = false;
        dirty.clear();
        await recordedRun('full', fullRun);
        deps.metrics.observeRun?.('full', (performance.now() - started) / 1000);
      } else {
        const namespaces = [...dirty];
        dirty.clear();
        await recordedRun('scoped', () => scopedRun(namespaces));
        deps.metrics.observeRun?.('scoped', (performance.now() - started) / 1000);
      }
    }
  };

  const kick = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    running ??= (async () => {
      try {
        await loop();
      } catch (error) {
        deps.metrics.recordError('plan');
        logger.error({ err: error }, 'retention run failed; nothing more deleted this run');
      }
    })().finally(() => {
      running = undefined;
      // A request that arrived while the loop was returning.
      if (!stopped && (fullRequested || dirty.size > 0) && deps.policiesReady() && deps.inventory.status().initialScanComplete) void kick();
    });
    return running;
  };

  const settled = async (): Promise<void> => {
    while (running !== undefined) await running;
  };

  const armOwnerRefresh = (): void => {
    if (ownerRefreshMs <= 0 || stopped) return;
    ownerTimer = setTimeout(() => {
      ownerTimer = undefined;
      void refreshOwners().finally(armOwnerRefresh);
    }, ownerRefreshMs);
    ownerTimer.unref();
  };

  /** Looks owners up again and re-plans the namespaces holding orphans, whose grace periods may have run out. */
  const refreshOwners = async (): Promise<void> => {
    if (running !== undefined || owners === undefined || !deps.policiesReady()) return;
    if (!(await lookUpOwners()) || owners === undefined) return;
    const lookup = owners;
    for (const group of deps.inventory.index().containers()) {
      if (lookup(group.identity).state === 'orphan') dirty.add(group.identity.namespace);
    }
    if (dirty.size > 0) void kick();
  };
  armOwnerRefresh();

  return {
    requestFull() {
      fullRequested = true;
      void kick();
    },
    namespacesChanged(namespaces) {
      for (const namespace of namespaces) dirty.add(namespace);
      if (dirty.size > 0) void kick();
    },
    async trigger() {
      fullRequested = true;
      void kick();
      await settled();
    },
    settled,
    lastPlan() {
      if (lastRunMs === undefined && parts.size === 0) return undefined;
      if (merged === undefined) {
        const deletions: PlannedDeletion[] = [];
        const unsatisfiable: UnsatisfiableLimit[] = [];
        const effectiveLimits: EffectiveLimit[] = [];
        const futureDated: string[] = [];
        for (const part of parts.values()) {
          for (const d of part.deletions) deletions.push(d);
          for (const u of part.unsatisfiable) unsatisfiable.push(u);
          for (const l of part.effectiveLimits) effectiveLimits.push(l);
          for (const f of part.futureDated) futureDated.push(f);
        }
        for (const d of nodePart.deletions) deletions.push(d);
        merged = { deletions, unsatisfiable, effectiveLimits, futureDated };
      }
      return merged;
    },
    lastRunMs: () => lastRunMs,
    history: () => ({ firstRun, lastRun, firstRunDeletions, recentDeletions: recentDeletions.slice(-RECENT_DELETIONS) }),
    owners: () => owners,
    work: () => ({ ...work }),
    async stop() {
      stopped = true;
      if (ownerTimer !== undefined) clearTimeout(ownerTimer);
      await settled();
    },
  };
}
