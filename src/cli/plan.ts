import { pino } from 'pino';
import { planRetention } from '../retention/plan.js';
import type { PolicyDocument } from '../retention/policy-document.js';
import type { DiskStats } from '../retention/types.js';
import { formatDuration } from '../retention/duration.js';
import { readDiskStats } from '../daemon/disk-stats.js';
import { formatBytes, formatTable } from './format.js';
import { ConfigurationError, UsageError } from './configuration.js';
import { readClusterOnce } from '../daemon/kubernetes-wiring.js';
import { createPolicySources } from '../daemon/policy-sources.js';
import { scanCheckpointDirectory } from './scan-once.js';
import { describePlan } from '../server/views.js';

export interface PlanOptions {
  readonly directory: string;
  readonly documents: readonly PolicyDocument[];
  readonly kubeconfigPath: string | undefined;
  readonly nodeName: string | undefined;
  /** Objects here may set every policy; objects elsewhere only their own namespace's (default checkpoint-exporter). */
  readonly exporterNamespace?: string;
  readonly env: NodeJS.ProcessEnv;
  readonly json: boolean;
}

/** What retention would delete right now and why; never deletes. Lists only deletions and unsatisfiable limits. */
export async function runPlan(opts: PlanOptions): Promise<string> {
  const logger = pino({ level: 'warn' }, pino.destination({ dest: 2, sync: true }));
  const snapshot = await scanCheckpointDirectory(opts.directory);
  let disk: DiskStats | undefined;
  try {
    disk = await readDiskStats(opts.directory);
  } catch {
    disk = undefined;
  }
  const cluster = await readClusterOnce({ snapshot, kubeconfigPath: opts.kubeconfigPath, nodeName: opts.nodeName, env: opts.env, logger });
  // Without the cluster's policy objects the plan would show deletions the running exporter never makes.
  if (cluster.policyObjects === undefined) throw new UsageError('could not list CheckpointRestoreOperator objects from the API server in time');
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
  const plan = planRetention({ snapshot, policy: policies.policy(), owners: cluster.owners, disk, nowMs: Date.now() });
  const warnings = policies.warnings().map((w) => `${w.source}: ${w.warning}`);
  if (opts.json) return `${JSON.stringify({ ...(describePlan(plan, undefined, true) as object), warnings }, null, 2)}\n`;

  const lines: string[] = [];
  if (warnings.length > 0) lines.push('policy warnings:', ...warnings.map((w) => `  ${w}`), '');
  if (plan.deletions.length === 0) lines.push('nothing to delete');
  else {
    const total = plan.deletions.reduce((sum, d) => sum + d.fingerprint.size, 0);
    lines.push(`would delete ${plan.deletions.length} archives (${formatBytes(total)}):`);
    lines.push(
      formatTable(
        ['ARCHIVE', 'SIZE', 'REASON', 'LIMIT', 'SCOPE', 'POLICY', 'DETAIL'],
        plan.deletions.map((d) => [
          d.fileName,
          formatBytes(d.fingerprint.size),
          d.reason,
          limitText(d.reason, d.limitValue),
          scopeText(d.scope),
          d.policySource,
          d.detail,
        ]),
      ),
    );
  }
  if (plan.unsatisfiable.length > 0) {
    lines.push('', 'unsatisfiable limits (pinned archives block them):');
    lines.push(
      formatTable(
        ['NAMESPACE', 'POD', 'CONTAINER', 'LIMIT', 'VALUE', 'POLICY', 'DETAIL'],
        plan.unsatisfiable.map((u) => [u.namespace, u.pod || '*', u.container || '*', u.limit, String(u.value), u.policySource, u.detail]),
      ),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The limit in the unit of its reason: archives, bytes or a duration. */
function limitText(reason: string, value: number | undefined): string {
  if (value === undefined) return '-';
  if (reason === 'size' || reason === 'total_size') return formatBytes(value);
  if (reason === 'age') return formatDuration(value);
  return String(value);
}

function scopeText(scope: { level: string; namespace?: string; pod?: string; container?: string }): string {
  const parts = [scope.namespace, scope.pod, scope.container].filter((p): p is string => p !== undefined && p !== '');
  return parts.length === 0 ? scope.level : `${scope.level} ${parts.join('/')}`;
}
