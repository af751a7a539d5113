import type { Logger } from 'pino';
import type { ArchiveIdentity } from '../archive/types.js';
import type { ArchiveIndex } from '../inventory/archive-index.js';
import type { ArchiveRecord, InventoryStatus } from '../inventory/types.js';
import type { RetentionMetrics } from '../metrics/retention-collector.js';
import type { ExecutionResult } from '../retention/execute.js';
import { planFilesystemDiskPressure, usedPercent, type PodPressureArchives } from '../retention/plan-disk-pressure.js';
import { planRetention } from '../retention/plan.js';
import type { DirectoryIdentity, DiskStats, OwnerLookup, PlannedDeletion, RetentionPlan, RetentionPolicy, UnsatisfiableLimit } from '../retention/types.js';
import { createPlanStore, type PlanStore } from './plan-store.js';
import { createReportOnce } from './report-once.js';
import { createRetentionScheduler, type Admission, type RunRequest } from './retention-scheduler.js';
import { createRunHistory, type RetentionHistory, type RunHistory } from './run-history.js';

/** Archives planned per slice of a full run; between slices the loop yields to the event loop. */
export const DEFAULT_SLICE_ARCHIVES = 2_000;
/** How often owners are looked up again, so an orphan's grace period is checked even when nothing else happens. */
export const DEFAULT_OWNER_REFRESH_MS = 60_000;
/**
 * How long disk pressure on the filesystem holding both directories waits, at start, for the pod
 * checkpoint directory's first scan and first list of PodCheckpoint objects (seconds, normally): long
 * enough for any that ends, short enough that one that never does (an archive that never settles, an
 * API server down) cannot hold the container archives' relief for long.
 */
export const POD_SCAN_WAIT_MS = 120_000;

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
  /** The pod checkpoint directory (`--pod-checkpoint-dir`), whose archives disk pressure takes too. */
  readonly podArchives?: PodPressureSource;
}

/**
 * What disk pressure needs of the pod checkpoint directory (KEP-5823). Its deletions go to its own
 * executor, which unlinks in that directory only; the container executor never sees them.
 */
export interface PodPressureSource {
  /** The device (st_dev) of the pod checkpoint directory while it is present; undefined otherwise. */
  device(): number | undefined;
  /**
   * True while what disk pressure may take from the pod directory is not known yet at start: the first
   * scan of a present, readable directory runs, or the PodCheckpoint objects were never listed.
   */
  pending(): boolean;
  /**
   * What disk pressure may take from it now; undefined while nothing of that directory may be deleted
   * (absent, its first scan not complete, the PodCheckpoint objects not known).
   */
  archives(): (PodPressureArchives & { readonly archives: readonly ArchiveRecord[]; readonly directoryIdentity: DirectoryIdentity }) | undefined;
  /** statfs of the pod checkpoint directory, for its own pass when it is on another filesystem. */
  diskStats(): Promise<DiskStats>;
  execute(plan: RetentionPlan): Promise<ExecutionResult>;
  /** Looks at these entries of the pod directory now, so the next plan does not see what was unlinked. */
  refresh(fileNames: Iterable<string>): Promise<void>;
}

/** Work done, for tests that guard against planning the whole directory once per archive. */
export interface RetentionWork {
  readonly fullRuns: number;
  readonly scopedRuns: number;
  /** Planner calls (a slice of namespaces, or the node-wide disk-pressure pass), and the archives they were given in total. */
  readonly planCalls: number;
  readonly archivesPlanned: number;
}

export interface RetentionRunner {
  /** Plan everything again (start, policy change, resync, directory re-attached); coalesced. */
  requestFull(): void;
  /** Plan again the namespaces whose archives changed; coalesced. */
  namespacesChanged(namespaces: Iterable<string>): void;
  /** The pod checkpoint directory changed: a run that plans no namespace, only disk pressure; coalesced. */
  podArchivesChanged(): void;
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

/** What the plain functions of a run share: the runner's dependencies and the state it keeps between runs. */
interface RunContext {
  readonly deps: RetentionRunnerDeps;
  readonly store: PlanStore;
  readonly history: RunHistory;
  readonly work: { fullRuns: number; scopedRuns: number; planCalls: number; archivesPlanned: number };
  readonly sliceArchives: number;
  owners(): OwnerLookup | undefined;
  stopped(): boolean;
  /** Says once, and again when it changes, whether the pod checkpoint directory shares the container directory's filesystem. */
  notePodFilesystem(together: boolean): void;
  /** Whether disk pressure waits for the pod directory now (POD_SCAN_WAIT_MS from when it was first seen pending). */
  waitForPodScan(): boolean;
}

const UNKNOWN_OWNERS: OwnerLookup = () => ({ state: 'unknown', reason: 'owners not looked up yet' });
const yieldToEventLoop = (): Promise<void> => new Promise((wake) => setImmediate(wake));

/**
 * Runs retention incrementally. A change re-plans only the namespaces it touched (a namespace holds
 * every scope an archive counts in: its container, its pod, its namespace), plus the node-wide
 * disk-pressure check. A full run (at start, on a policy change, on resync) plans every namespace in
 * slices of about `sliceArchives` archives and yields to the event loop between slices, so neither
 * blocks the server for long whatever the size of the directory. Runs never overlap
 * (retention-scheduler.ts); the plan in force is kept in plan-store.ts, what was deleted in
 * run-history.ts.
 */
export function createRetentionRunner(deps: RetentionRunnerDeps): RetentionRunner {
  const { logger } = deps;
  const ownerRefreshMs = deps.ownerRefreshMs ?? DEFAULT_OWNER_REFRESH_MS;
  const store = createPlanStore();
  const history = createRunHistory(deps.now);
  const work = { fullRuns: 0, scopedRuns: 0, planCalls: 0, archivesPlanned: 0 };
  let lastRunMs: number | undefined;
  let owners: OwnerLookup | undefined;
  const reportChanges = createChangeReports(logger);

  const lookUpOwners = async (): Promise<boolean> => {
    const found = await resolveEveryOwner(deps);
    if (found !== undefined) owners = found;
    return found !== undefined;
  };

  const scheduler = createRetentionScheduler({
    admit: createAdmission(deps),
    run: (request) => runRequest(request),
    onError(error) {
      deps.metrics.recordError('plan');
      logger.error({ err: error }, 'retention run failed; nothing more deleted this run');
    },
  });

  let podFilesystem: boolean | undefined;
  const notePodFilesystem = (together: boolean): void => {
    if (podFilesystem === together) return;
    podFilesystem = together;
    logger.info(
      together
        ? 'the pod checkpoint directory is on the checkpoint directory\'s filesystem: disk pressure plans both directories\' archives together, oldest first'
        : 'the pod checkpoint directory is on another filesystem than the checkpoint directory: disk pressure plans its archives against that filesystem\'s usage, apart',
    );
  };
  let podScanSeenMs: number | undefined;
  const waitForPodScan = (): boolean => {
    if (deps.podArchives?.pending() !== true) {
      podScanSeenMs = undefined;
      return false;
    }
    const nowMs = deps.now();
    if (podScanSeenMs === undefined) {
      podScanSeenMs = nowMs;
      logger.info('disk pressure waits for the first scan of the pod checkpoint directory and the first list of PodCheckpoint objects (at most 2 minutes), so the oldest archives of both directories are compared');
    }
    return nowMs - podScanSeenMs < POD_SCAN_WAIT_MS;
  };
  const context: RunContext = {
    deps,
    store,
    history,
    work,
    sliceArchives: deps.sliceArchives ?? DEFAULT_SLICE_ARCHIVES,
    owners: () => owners,
    stopped: scheduler.isStopped,
    notePodFilesystem,
    waitForPodScan,
  };

  /** Plans these namespaces, then the node-wide disk pressure. */
  const planAndRelieve = async (namespaces: readonly string[]): Promise<void> => {
    const plannedFiles = await planNamespaces(context, namespaces);
    reportChanges(store);
    if (scheduler.isStopped()) return;
    await relieveDiskPressure(context, plannedFiles);
    lastRunMs = deps.now();
  };

  const fullRun = async (): Promise<void> => {
    work.fullRuns += 1;
    if (!(await lookUpOwners())) return;
    if (scheduler.isStopped()) return;
    const namespaces = [...deps.inventory.index().namespaces.keys()];
    store.retainNamespaces((namespace) => deps.inventory.index().namespaces.has(namespace));
    await planAndRelieve(namespaces);
  };

  const scopedRun = async (namespaces: readonly string[]): Promise<void> => {
    work.scopedRuns += 1;
    await planAndRelieve(namespaces);
  };

  const runRequest = async (request: RunRequest): Promise<void> => {
    if (!deps.inventory.status().directoryPresent) {
      store.clear();
      // No container archive to plan; the pod checkpoint directory's archives may still be under pressure.
      await history.record('full', () => relieveDiskPressure(context, new Set()));
      lastRunMs = deps.now();
      return;
    }
    const started = performance.now();
    await (request.kind === 'full' ? history.record('full', fullRun) : history.record('scoped', () => scopedRun(request.namespaces)));
    deps.metrics.observeRun?.(request.kind, (performance.now() - started) / 1000);
  };

  /** Looks owners up again and re-plans the namespaces holding orphans, whose grace periods may have run out. */
  const refreshOwners = async (): Promise<void> => {
    if (scheduler.isRunning() || owners === undefined || !deps.policiesReady()) return;
    if (!(await lookUpOwners()) || owners === undefined) return;
    const lookup = owners;
    const orphaned: string[] = [];
    for (const group of deps.inventory.index().containers()) {
      if (lookup(group.identity).state === 'orphan') orphaned.push(group.identity.namespace);
    }
    scheduler.namespacesChanged(orphaned);
  };
  const stopOwnerRefresh = repeatAfterEach(ownerRefreshMs, refreshOwners, scheduler.isStopped);

  return {
    requestFull: () => scheduler.requestFull(),
    namespacesChanged: (namespaces) => scheduler.namespacesChanged(namespaces),
    podArchivesChanged: () => scheduler.diskPressureChanged(),
    async trigger() {
      scheduler.requestFull();
      await scheduler.settled();
    },
    settled: () => scheduler.settled(),
    lastPlan: () => (lastRunMs === undefined && store.size === 0 ? undefined : store.merged()),
    lastRunMs: () => lastRunMs,
    history: () => history.history(),
    owners: () => owners,
    work: () => ({ ...work }),
    async stop() {
      stopOwnerRefresh();
      await scheduler.stop();
    },
  };
}

/** Whether pending requests may run now (see Admission); logs once that retention waits for the policy sources. */
function createAdmission(deps: RetentionRunnerDeps): () => Admission {
  let waitingLogged = false;
  return () => {
    if (!deps.policiesReady()) {
      if (!waitingLogged) deps.logger.info('retention waits until every policy source has a valid version (cluster policies listed, no refused object without one)');
      waitingLogged = true;
      // The policy source asks for a full run once it is ready.
      return 'discard';
    }
    const status = deps.inventory.status();
    // No directory: the run records itself as completed and empty, so retention does not look stalled.
    if (!status.directoryPresent) return 'run';
    // Planning on a partial view would count too few archives and pick the wrong oldest ones; the
    // inventory reports the completed scan as a change of everything, which asks for a full run.
    return status.initialScanComplete ? 'run' : 'hold';
  };
}

/** Plans these namespaces, a slice at a time, executing each slice's deletions before the next; returns the files planned. */
async function planNamespaces(context: RunContext, namespaces: readonly string[]): Promise<Set<string>> {
  const { deps, store } = context;
  const plannedFiles = new Set<string>();
  let batch: string[] = [];
  let archives: ArchiveRecord[] = [];
  const runBatch = async (): Promise<void> => {
    const plan = planArchives(context, archives);
    store.replaceNamespaces(batch, plan, archives);
    for (const d of plan.deletions) plannedFiles.add(d.fileName);
    if (plan.deletions.length > 0) await executeAndRecord(context, plan);
    batch = [];
    archives = [];
  };
  for (const namespace of namespaces) {
    if (context.stopped()) break;
    batch.push(namespace);
    for (const record of deps.inventory.index().recordsOfNamespace(namespace)) archives.push(record);
    if (archives.length >= context.sliceArchives) {
      await runBatch();
      await yieldToEventLoop();
    }
  }
  if (batch.length > 0 && !context.stopped()) await runBatch();
  return plannedFiles;
}

/** The limits of these archives (every archive of some namespaces), planned on the owners last looked up. */
function planArchives(context: RunContext, archives: readonly ArchiveRecord[]): RetentionPlan {
  const { deps, work } = context;
  work.planCalls += 1;
  work.archivesPlanned += archives.length;
  const directoryIdentity = directoryIdentityOf(deps.inventory.status());
  return planRetention({
    snapshot: directoryIdentity === undefined ? { archives } : { archives, directoryIdentity },
    policy: deps.policy(),
    owners: context.owners() ?? UNKNOWN_OWNERS,
    disk: undefined,
    nowMs: deps.now(),
    ...(deps.futureToleranceMs !== undefined ? { futureToleranceMs: deps.futureToleranceMs } : {}),
  });
}

/**
 * Node-wide: above the high mark, the oldest archives go until below the low mark. This needs every
 * archive at once, so it is one pass over the whole inventory; it runs only while the disk is above
 * the high mark. The limits were planned already: what the plan in force deletes counts as freed, and
 * the files this run planned are left out (gone, or going).
 *
 * One plan per filesystem, so no space is freed twice on paper: the pod checkpoint directory's
 * archives join the container archives' plan when both directories are on one device, and get a pass
 * of their own against their filesystem's usage when not. Each directory's deletions go to its own
 * executor.
 */
async function relieveDiskPressure(context: RunContext, plannedFiles: ReadonlySet<string>): Promise<void> {
  const { deps, store } = context;
  if (deps.policy().diskPressure === undefined) {
    store.setNodeDeletions([]);
    return;
  }
  const status = deps.inventory.status();
  const containerDevice = status.directoryPresent ? status.directoryIdentity?.dev : undefined;
  const pods = deps.podArchives;
  const podDevice = pods?.device();
  const together = podDevice !== undefined && podDevice === containerDevice;
  if (podDevice !== undefined && containerDevice !== undefined) context.notePodFilesystem(together);
  // Planned before the pod directory is listed (or its objects), the filesystem's plan would take container
  // archives in place of older pod archives; the completed scan and the objects becoming known ask for a run.
  const waiting = podDevice !== undefined && context.waitForPodScan();

  const passes: (FilesystemPass | undefined)[] = [];
  if (containerDevice !== undefined && !(together && waiting)) {
    passes.push(
      await planFilesystem(context, {
        filesystem: together ? 'filesystem of the checkpoint and pod checkpoint directories' : 'filesystem',
        diskStats: () => deps.diskStats(),
        containerArchives: () => {
          const archives: ArchiveRecord[] = [];
          for (const group of deps.inventory.index().containers()) {
            for (const record of group.records) if (!plannedFiles.has(record.fileName)) archives.push(record);
          }
          return archives;
        },
        pods: together ? pods : undefined,
      }),
    );
  }
  if (pods !== undefined && podDevice !== undefined && !together && !waiting) {
    passes.push(await planFilesystem(context, { filesystem: "pod checkpoint directory's filesystem", diskStats: () => pods.diskStats(), containerArchives: () => [], pods }));
  }
  const planned = passes.filter((pass): pass is FilesystemPass => pass !== undefined);
  // Every statfs failed: the plan in force stays as it was.
  if (planned.length === 0 && passes.length > 0) return;
  store.setNodeDeletions(planned.flatMap((pass) => [...pass.containers, ...pass.pods]));
  const directoryIdentity = directoryIdentityOf(status);
  for (const pass of planned) {
    if (pass.containers.length > 0) {
      await executeAndRecord(context, pressurePlan(pass.containers, directoryIdentity));
    }
    if (pass.pods.length > 0 && pods !== undefined && pass.podDirectory !== undefined) {
      // The container deletions ran first (with --offload-to, copies can take minutes): the PodCheckpoint
      // objects may have moved on. An archive referenced now, in a disagreement now, or while the objects
      // are not known is not deleted by this plan; the next run plans again.
      const podDeletions = podDeletionsStillAllowed(pass.pods, pods, deps.policy());
      if (podDeletions.length > 0) {
        await executeAndRecord(context, pressurePlan(podDeletions, pass.podDirectory), { execute: (plan) => pods.execute(plan), refresh: (fileNames) => pods.refresh(fileNames) });
      }
    }
  }
}

/** Planned pod-level deletions still allowed by what the pod directory's source says now (see relieveDiskPressure). */
function podDeletionsStillAllowed(deletions: readonly PlannedDeletion[], pods: PodPressureSource, policy: RetentionPolicy): PlannedDeletion[] {
  const now = pods.archives();
  if (now === undefined) return [];
  const listed = new Set(now.archives.map((record) => record.fileName));
  const keepReferenced = !policy.global.deleteReferencedPodCheckpoints;
  return deletions.filter((deletion) => listed.has(deletion.fileName) && !(keepReferenced && now.referenced.has(deletion.fileName)));
}

interface FilesystemPass {
  readonly containers: readonly PlannedDeletion[];
  readonly pods: readonly PlannedDeletion[];
  /** The pod checkpoint directory the pod deletions were planned on. */
  readonly podDirectory: DirectoryIdentity | undefined;
}

const pressurePlan = (deletions: readonly PlannedDeletion[], directoryIdentity: DirectoryIdentity | undefined): RetentionPlan => ({
  deletions,
  unsatisfiable: [],
  effectiveLimits: [],
  futureDated: [],
  ...(directoryIdentity === undefined ? {} : { directoryIdentity }),
});

/** The disk-pressure plan of one filesystem; undefined when its statfs failed (counted, logged). */
async function planFilesystem(
  context: RunContext,
  pass: { readonly filesystem: string; diskStats(): Promise<DiskStats>; containerArchives(): ArchiveRecord[]; readonly pods: PodPressureSource | undefined },
): Promise<FilesystemPass | undefined> {
  const { deps, store, work } = context;
  const policy = deps.policy();
  const pressure = policy.diskPressure;
  if (pressure === undefined) return { containers: [], pods: [], podDirectory: undefined };
  let disk: DiskStats;
  try {
    disk = await pass.diskStats();
  } catch (error) {
    deps.metrics.recordError('statfs');
    deps.logger.warn({ err: error }, `statfs of the ${pass.filesystem} failed; disk pressure retention skipped this run`);
    return undefined;
  }
  const percent = usedPercent(disk);
  if (percent === undefined || percent <= pressure.highThresholdPercent) return { containers: [], pods: [], podDirectory: undefined };
  const archives = pass.containerArchives();
  // Undefined while nothing of the pod directory may be deleted: its archives are then left out, so a
  // container archive hard-linked to one of them frees nothing and is not taken either.
  const podArchives = pass.pods?.archives();
  work.planCalls += 1;
  work.archivesPlanned += archives.length + (podArchives?.archives.length ?? 0);
  const plan = planFilesystemDiskPressure({
    archives,
    alreadyPlanned: archives.length === 0 ? new Set<string>() : store.plannedFileNames(),
    ...(podArchives === undefined ? {} : { podArchives }),
    disk,
    policy,
    owners: context.owners() ?? UNKNOWN_OWNERS,
    nowMs: deps.now(),
    filesystem: pass.filesystem,
    ...(deps.futureToleranceMs !== undefined ? { futureToleranceMs: deps.futureToleranceMs } : {}),
  });
  return { containers: plan.containers, pods: plan.pods, podDirectory: podArchives?.directoryIdentity };
}

/**
 * Executes a plan, records what was deleted, and makes the index reflect the unlinks before anything
 * is planned again: otherwise the next plan, made before the watch events of these unlinks arrive,
 * would see the files still there and pick them (or their neighbours) a second time.
 */
async function executeAndRecord(
  context: RunContext,
  plan: RetentionPlan,
  directory: { execute(plan: RetentionPlan): Promise<ExecutionResult | void>; refresh?(fileNames: Iterable<string>): Promise<void> } = {
    execute: (p) => context.deps.execute(p),
    ...(context.deps.inventory.refresh === undefined ? {} : { refresh: (fileNames) => context.deps.inventory.refresh?.(fileNames) ?? Promise.resolve() }),
  },
): Promise<void> {
  const { deps } = context;
  const result = await directory.execute(plan);
  try {
    await directory.refresh?.(plan.deletions.map((d) => d.fileName));
  } catch (error) {
    deps.logger.warn({ err: error }, 'refreshing the inventory after deletions failed; the watch will catch up');
  }
  if (result !== undefined) context.history.noteExecution(result);
}

/** Every owner of the inventory's containers; undefined (counted, logged, nothing deleted) when the lookup fails. */
async function resolveEveryOwner(deps: RetentionRunnerDeps): Promise<OwnerLookup | undefined> {
  const identities: ArchiveIdentity[] = [];
  for (const group of deps.inventory.index().containers()) identities.push(group.identity);
  try {
    return await deps.resolveOwners(identities);
  } catch (error) {
    deps.metrics.recordError('plan');
    deps.logger.error({ err: error }, 'resolving archive owners failed; nothing deleted');
    return undefined;
  }
}

const directoryIdentityOf = (status: InventoryStatus): RetentionPlan['directoryIdentity'] =>
  status.directoryIdentity === undefined ? undefined : { dev: status.directoryIdentity.dev, ino: status.directoryIdentity.ino };

/** Unsatisfiable limits and future-dated archives of the plan in force, each logged once when it appears (and a limit once when it is met again). */
function createChangeReports(logger: Logger): (store: PlanStore) => void {
  const unsatisfiable = createReportOnce<UnsatisfiableLimit>({
    appeared: (_key, u) => logger.warn({ limit: u }, `retention limit unsatisfiable: ${u.detail}`),
    cleared: (key) => logger.info({ limit: key }, 'retention limit satisfiable again'),
  });
  // Counted in checkpoint_future_dated_archives as well.
  const futureDated = createReportOnce<string>({
    appeared: (fileName) =>
      logger.warn({ fileName }, 'checkpoint archive is future-dated (its name lies ahead of the clock beyond the tolerance): not counted toward limits and not deleted until its time has come'),
  });
  return (store) => {
    const limits: [string, UnsatisfiableLimit][] = [];
    const files: [string, string][] = [];
    for (const part of store.parts()) {
      for (const u of part.unsatisfiable) limits.push([`${u.namespace}/${u.pod}/${u.container}/${u.limit}`, u]);
      for (const fileName of part.futureDated) files.push([fileName, fileName]);
    }
    unsatisfiable(limits);
    futureDated(files);
  };
}

/** Calls `task` every `ms` (0: never), the next wait starting once it has finished; returns the stop. */
function repeatAfterEach(ms: number, task: () => Promise<void>, stopped: () => boolean): () => void {
  let timer: NodeJS.Timeout | undefined;
  const arm = (): void => {
    if (ms <= 0 || stopped()) return;
    timer = setTimeout(() => {
      timer = undefined;
      void task().finally(arm);
    }, ms);
    timer.unref();
  };
  arm();
  return () => {
    if (timer !== undefined) clearTimeout(timer);
  };
}
