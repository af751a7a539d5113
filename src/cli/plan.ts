import { pino } from 'pino';
import { planRetention } from '../retention/plan.js';
import type { PolicyDocument } from '../retention/policy-document.js';
import type { DiskStats, PlannedDeletion, RetentionPlan, RetentionPolicy } from '../retention/types.js';
import { formatDuration } from '../retention/duration.js';
import { readDiskStats } from '../daemon/disk-stats.js';
import { formatAge, formatBytes, formatTable } from './format.js';
import { ConfigurationError, RuntimeFailure } from '../errors.js';
import { asConfigurationError } from './errors.js';
import { assertReadableDirectory } from './directory.js';
import { isStructured, renderData, renderingOf, type OutputFormat } from './output.js';
import type { InventorySnapshot } from '../inventory/types.js';
import { readClusterOnce, type ClusterView } from '../daemon/kubernetes-wiring.js';
import { podPlanInput } from '../daemon/pod-retention.js';
import { resolvePodArchiveOwners } from '../retention/pod-archive-orphans.js';
import { createPolicySources } from '../daemon/policy-sources.js';
import { scanCheckpointDirectory } from './scan-once.js';
import { describeDeletion } from '../server/views.js';
import { checkReadable, findUnreadable, unreadableFields, warnOnStderr } from './unreadable.js';
import type { TargetSpec } from '../offload/target-spec.js';
import { planPodArchives } from '../retention/pod-scope-policy.js';
import { plannedActions, type PlannedAction } from './plan-offload.js';
import { withPodDiskPressure } from './plan-pod-pressure.js';

export interface PlanOptions {
  readonly directory: string;
  readonly documents: readonly PolicyDocument[];
  readonly kubeconfigPath: string | undefined;
  readonly nodeName: string | undefined;
  /** Objects here may set every policy; objects elsewhere only their own namespace's (default checkpoint-exporter). */
  readonly exporterNamespace?: string;
  readonly env: NodeJS.ProcessEnv;
  /** Kept for compatibility: the same as `output: 'json'`. */
  readonly json?: boolean;
  readonly output?: OutputFormat;
  /** How far ahead of the clock a name's time may lie before the archive is future-dated (default 10m). */
  readonly futureToleranceMs?: number;
  readonly nowMs?: number;
  /** Where one-line warnings go (default stderr): archives that could not be read, policy conflicts. */
  readonly warn?: (line: string) => void;
  /** `--offload-to`: each deletion is an offload to this target, then a delete. */
  readonly offloadTo?: TargetSpec;
  /** The pod checkpoint directory (KEP-5823): the deletions of its archives are shown after the containers'; a missing one is left out. */
  readonly podDirectory?: string;
}

/**
 * What retention would delete right now and why; never deletes. Lists only deletions, unsatisfiable
 * limits and future-dated archives. A missing or unreadable directory is an error (exit 3), never
 * "nothing to delete"; so are archives none of which can be read (a user without read access): an
 * unreadable archive is unidentified, and a plan of nothing but those would say "nothing to delete".
 */
export async function runPlan(opts: PlanOptions): Promise<string> {
  await assertReadableDirectory(opts.directory);
  const logger = pino({ level: 'warn' }, pino.destination({ dest: 2, sync: true }));
  const snapshot = await scanCheckpointDirectory(opts.directory);
  if (!snapshot.directoryPresent) throw new RuntimeFailure(`cannot read checkpoint directory ${opts.directory}: no such file or directory`);
  const unreadable = findUnreadable(snapshot);
  checkReadable(unreadable, opts.directory, opts.warn ?? warnOnStderr);
  let disk: DiskStats | undefined;
  try {
    disk = await readDiskStats(opts.directory);
  } catch {
    disk = undefined;
  }
  const pods = opts.podDirectory === undefined || opts.podDirectory === '' ? undefined : await scanCheckpointDirectory(opts.podDirectory, 'pod');
  const podSnapshot = pods?.directoryPresent === true ? pods : undefined;
  const cluster = await readClusterOnce({ snapshot, podSnapshot, kubeconfigPath: opts.kubeconfigPath, nodeName: opts.nodeName, env: opts.env, logger }).catch(asConfigurationError);
  // Without the cluster's policy objects the plan would show deletions the running exporter never makes.
  if (cluster.policyObjects === undefined) throw new RuntimeFailure('could not list CheckpointRestoreOperator objects from the API server in time');
  const policies = createPolicySources({
    configPath: undefined,
    // Problems are printed below, one line each; a JSON log line about them would only repeat them.
    logger: pino({ level: 'silent' }),
    now: Date.now,
    ...(opts.exporterNamespace !== undefined ? { exporterNamespace: opts.exporterNamespace } : {}),
  });
  policies.setFileDocuments(opts.documents);
  policies.setClusterObjects(cluster.policyObjects);
  // A one-shot plan has no earlier valid version of anything: an invalid object stops retention, as it
  // would in a freshly started exporter, so there is no plan to show, only the problems.
  const allowed = policies.retentionAllowed();
  if (!allowed.ok) throw new ConfigurationError([...policies.problems(), allowed.reason]);
  const nowMs = opts.nowMs ?? Date.now();
  const containerPlan = planRetention({
    snapshot,
    policy: policies.policy(),
    owners: cluster.owners,
    disk,
    nowMs,
    ...(opts.futureToleranceMs !== undefined ? { futureToleranceMs: opts.futureToleranceMs } : {}),
  });
  const warnings = policies.warnings().map((w) => `${w.source}: ${w.warning}`);
  // One line per field several sources set differently: the plan shows the setting that applies.
  const conflicts = policies.conflicts();
  for (const conflict of conflicts) (opts.warn ?? warnOnStderr)(`policy conflict: ${conflict.message}`);
  const podLimitsPlan =
    podSnapshot === undefined
      ? undefined
      : planPodsOnce(podSnapshot, cluster, { policy: policies.policy(), nowMs, warn: opts.warn ?? warnOnStderr, ...(opts.futureToleranceMs !== undefined ? { futureToleranceMs: opts.futureToleranceMs } : {}) });
  // Disk pressure takes pod archives too, one plan per filesystem, as serve plans it.
  const { plan, podPlan } =
    podSnapshot === undefined || podLimitsPlan === undefined || opts.podDirectory === undefined
      ? { plan: containerPlan, podPlan: podLimitsPlan }
      : await withPodDiskPressure({
          plan: containerPlan,
          snapshot,
          disk,
          podPlan: podLimitsPlan,
          pods: podSnapshot,
          podDirectory: opts.podDirectory,
          podCheckpoints: cluster.podCheckpoints ?? { kind: 'absent' },
          policy: policies.policy(),
          owners: cluster.owners,
          nowMs,
          ...(opts.futureToleranceMs !== undefined ? { futureToleranceMs: opts.futureToleranceMs } : {}),
        });
  const rendering = renderingOf(opts);
  const actionOf = opts.offloadTo === undefined ? undefined : plannedActions(opts.offloadTo, opts.nodeName);
  if (isStructured(rendering)) {
    // What this plan is of, not a serving exporter's state: `plan` never talks to one.
    return renderData(rendering, {
      directory: opts.directory,
      plannedAt: new Date(nowMs).toISOString(),
      policySources: policies.sources(),
      archivesConsidered: snapshot.archives.length,
      identifiedArchives: snapshot.archives.filter((a) => a.identity !== undefined).length,
      ...unreadableFields(unreadable),
      deletions: plan.deletions.map((d) => (actionOf ? { ...(describeDeletion(d) as object), ...actionOf(d) } : describeDeletion(d))),
      unsatisfiable: plan.unsatisfiable,
      futureDated: plan.futureDated ?? [],
      warnings,
      conflicts,
      ...(podPlan !== undefined ? { podDeletions: podPlan.deletions.map((d) => ({ ...(describeDeletion(d) as object), container: null })), podUnsatisfiable: podPlan.unsatisfiable } : {}),
    });
  }
  const text = formatPlan(plan, snapshot, { wide: rendering === 'wide', nowMs, warnings, ...(actionOf ? { actionOf } : {}) });
  // Pod-level archives are never offloaded: the executor of the pod directory has no offloader.
  return pods !== undefined && podPlan !== undefined ? `${text}\npod-level archives in ${opts.podDirectory ?? ''}:\n${formatPlan(podPlan, pods, { wide: rendering === 'wide', nowMs })}` : text;
}

/**
 * The pod-level plan as the running exporter would make it now: referenced archives kept, those in a
 * name/object disagreement kept and said on one line each, nothing at all while the PodCheckpoint objects
 * could not be listed, orphans by the same rule. A one-shot plan has no earlier sighting, so its orphan
 * clock starts now: only an `orphanGracePeriod` of 0s shows orphan deletions (as for container archives).
 */
function planPodsOnce(
  pods: InventorySnapshot,
  cluster: ClusterView,
  opts: { readonly policy: RetentionPolicy; readonly nowMs: number; readonly futureToleranceMs?: number; readonly warn: (line: string) => void },
): RetentionPlan {
  const state = cluster.podCheckpoints ?? { kind: 'absent' };
  const input = podPlanInput(pods, state);
  if (input === undefined) {
    opts.warn('PodCheckpoint objects could not be listed from the API server in time: the exporter deletes no pod-level archive while they are not known');
    return { deletions: [], futureDated: [], unsatisfiable: [], effectiveLimits: [] };
  }
  for (const conflict of input.conflicts) opts.warn(conflict.message);
  const conflicting = new Set(input.conflicts.map((c) => c.fileName));
  const orphans = resolvePodArchiveOwners(input.snapshot.archives, { objects: state.kind, referenced: input.referenced, conflicting, pods: cluster.podOwners }, new Map(), { nowMs: opts.nowMs, monotonicMs: 0 });
  return planPodArchives({
    snapshot: input.snapshot,
    referenced: input.referenced,
    orphans: orphans.ownerOf,
    policy: opts.policy,
    nowMs: opts.nowMs,
    ...(opts.futureToleranceMs !== undefined ? { futureToleranceMs: opts.futureToleranceMs } : {}),
  });
}

const containerOf = (identity: { namespace: string; pod: string; container: string } | undefined): string =>
  identity === undefined ? '-' : identity.container === '' ? `${identity.namespace}/${identity.pod}` : `${identity.namespace}/${identity.pod}/${identity.container}`;

/**
 * The `plan` tables. By default one compact row per deletion (archive, container, size, reason, age)
 * that fits 160 columns; `wide` adds the limit and the sentence saying which scope and which policy
 * chose it (the scope and the policy are in that sentence, and apart in `-o json`).
 */
export function formatPlan(
  plan: RetentionPlan,
  snapshot: Pick<InventorySnapshot, 'archives'>,
  opts: { readonly wide: boolean; readonly nowMs: number; readonly warnings?: readonly string[]; readonly actionOf?: (deletion: PlannedDeletion) => PlannedAction },
): string {
  const { wide, nowMs } = opts;
  const timeOf = new Map(snapshot.archives.map((a) => [a.fileName, a.name.timestampMs]));
  const ageOf = (fileName: string): string => {
    const ms = timeOf.get(fileName);
    return ms === undefined ? '-' : formatAge(ms, nowMs);
  };
  const lines: string[] = [];
  const warnings = opts.warnings ?? [];
  if (warnings.length > 0) lines.push('policy warnings:', ...warnings.map((w) => `  ${w}`), '');
  if (plan.deletions.length === 0) lines.push('nothing to delete');
  else {
    const total = plan.deletions.reduce((sum, d) => sum + d.fingerprint.size, 0);
    lines.push(`would delete ${plan.deletions.length} archives (${formatBytes(total)}):`);
    const header = wide ? ['ARCHIVE', 'CONTAINER', 'SIZE', 'AGE', 'REASON', 'LIMIT', 'DETAIL'] : ['ARCHIVE', 'CONTAINER', 'SIZE', 'REASON', 'AGE'];
    const rows = plan.deletions.map((d) =>
      wide
        ? [d.fileName, containerOf(d.identity), formatBytes(d.fingerprint.size), ageOf(d.fileName), d.reason, limitText(d.reason, d.limitValue), d.detail]
        : [d.fileName, containerOf(d.identity), formatBytes(d.fingerprint.size), d.reason, ageOf(d.fileName)],
    );
    // With --offload-to: what happens to each (offload, then delete), and with -o wide where the copy goes.
    const { actionOf } = opts;
    if (actionOf) {
      header.push(...(wide ? ['ACTION', 'OFFLOAD-TO'] : ['ACTION']));
      plan.deletions.forEach((d, index) => {
        const { action, offloadTo } = actionOf(d);
        rows[index]?.push(...(wide ? [action, offloadTo ?? '-'] : [action]));
      });
    }
    lines.push(formatTable(header, rows));
  }
  if (plan.unsatisfiable.length > 0) {
    lines.push('', 'unsatisfiable limits (pinned archives block them):');
    const header = wide ? ['SCOPE', 'LIMIT', 'VALUE', 'POLICY', 'DETAIL'] : ['SCOPE', 'LIMIT', 'VALUE', 'POLICY'];
    const rows = plan.unsatisfiable.map((u) => {
      const row = [[u.namespace, u.pod || '*', u.container || '*'].join('/'), u.limit, limitText(u.limit, u.value), u.policySource];
      if (wide) row.push(u.detail);
      return row;
    });
    lines.push(formatTable(header, rows));
  }
  const future = plan.futureDated ?? [];
  if (future.length > 0) {
    lines.push('', `future-dated archives, set aside (neither counted nor deleted until their time comes): ${future.length}`);
    for (const fileName of future) lines.push(`  ${fileName}  ${ageOf(fileName)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The limit in the unit of its reason: archives, bytes or a duration. */
export function limitText(reason: string, value: number | undefined): string {
  if (value === undefined) return '-';
  if (reason === 'size' || reason === 'total_size') return formatBytes(value);
  if (reason === 'age') return formatDuration(value);
  return String(value);
}
