/**
 * planRetention over 10k and 100k archives spread across 1,000 containers with mixed policies, against
 * a naive baseline (group by container, sort, keep the newest N) in the same run.
 * Runnable alone: `npx tsx bench/planner.ts`.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { ArchiveRecord, InventorySnapshot } from '../src/inventory/types.js';
import { mergePolicies } from '../src/retention/merge-policies.js';
import { planRetention } from '../src/retention/plan.js';
import { parsePolicyDocument } from '../src/retention/policy-document.js';
import type { DiskStats, OwnerLookup, RetentionPolicy } from '../src/retention/types.js';
import { inventorySnapshot } from '../test/support/snapshots.js';

const NAMESPACES = 50;
const PODS_PER_NAMESPACE = 10;
const CONTAINERS_PER_POD = 2;
const SIZES = [10_000, 100_000] as const;
const REPEATS = 7;
const T0 = Date.UTC(2024, 0, 1);
const MiB = 1024 * 1024;

/** Deterministic pseudo-random numbers, so every run plans over the same archives. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1_664_525) + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

function buildArchives(total: number): ArchiveRecord[] {
  const next = random(total);
  const containers = NAMESPACES * PODS_PER_NAMESPACE * CONTAINERS_PER_POD;
  const archives: ArchiveRecord[] = [];
  for (let i = 0; i < total; i += 1) {
    const c = i % containers;
    const namespace = `ns-${Math.floor(c / (PODS_PER_NAMESPACE * CONTAINERS_PER_POD))}`;
    const pod = `pod-${Math.floor(c / CONTAINERS_PER_POD) % PODS_PER_NAMESPACE}`;
    const container = `c-${c % CONTAINERS_PER_POD}`;
    const timestampMs = T0 + Math.floor(next() * 30 * 86_400_000);
    const timestampText = new Date(timestampMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const fileName = `checkpoint-${pod}_${namespace}-${container}-${timestampText}-${i}.tar`;
    archives.push({
      fileName,
      name: { fileName, pod, namespaceContainer: `${namespace}-${container}`, timestampText, timestampMs },
      fingerprint: { dev: 1, ino: i + 1, size: Math.floor(1 * MiB + next() * 60 * MiB), mtimeMs: timestampMs + 500 },
      identity: i % 97 === 0 ? undefined : { namespace, pod, container },
      identitySources: ['cri-o'],
      unidentifiedReason: i % 97 === 0 ? 'benchmark' : undefined,
      pinned: i % 53 === 0,
    });
  }
  return archives;
}

function buildPolicy(): RetentionPolicy {
  const limits = (i: number) => ({ maxCheckpoints: 5 + (i % 7), maxTotalSize: `${200 + (i % 5) * 100}Mi`, maxCheckpointAge: '21d', retainOrphan: i % 2 === 0 });
  const spec = {
    globalPolicy: {
      retainOrphan: false,
      maxCheckpointsPerContainer: 8,
      maxCheckpointsPerPod: 14,
      maxCheckpointsPerNamespace: 200,
      maxCheckpointSize: '55Mi',
      maxTotalSizePerPod: '600Mi',
      maxCheckpointAge: '25d',
    },
    namespacePolicies: Array.from({ length: 10 }, (_, i) => ({ namespace: `ns-${i * 5}`, ...limits(i) })),
    podPolicies: Array.from({ length: 50 }, (_, i) => ({ namespace: `ns-${i}`, pod: `pod-${i % PODS_PER_NAMESPACE}`, ...limits(i) })),
    containerPolicies: Array.from({ length: 100 }, (_, i) => ({ namespace: `ns-${i % NAMESPACES}`, pod: `pod-${(i * 3 + Math.floor(i / NAMESPACES)) % PODS_PER_NAMESPACE}`, container: `c-${i % 2}`, ...limits(i) })),
    diskPressure: { highThresholdPercent: 85, lowThresholdPercent: 80, keepNewestPerContainer: 1 },
  };
  const parsed = parsePolicyDocument({ apiVersion: 'criu.org/v1', kind: 'CheckpointRestoreOperator', metadata: { namespace: 'ops', name: 'bench' }, spec }, 'bench');
  if (!parsed.ok) throw new Error(parsed.reason);
  return mergePolicies([parsed.value]);
}

/** The baseline: what a per-container cron job does: group, sort by the name's time, keep the newest N. */
function naiveKeepNewest(archives: readonly ArchiveRecord[], keep: number): string[] {
  const groups = new Map<string, ArchiveRecord[]>();
  for (const a of archives) {
    if (!a.identity) continue;
    const key = `${a.identity.namespace}/${a.identity.pod}/${a.identity.container}`;
    const list = groups.get(key);
    if (list) list.push(a);
    else groups.set(key, [a]);
  }
  const doomed: string[] = [];
  for (const list of groups.values()) {
    list.sort((x, y) => x.name.timestampMs - y.name.timestampMs);
    for (const a of list.slice(0, Math.max(0, list.length - keep))) doomed.push(a.fileName);
  }
  return doomed;
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function time<T>(run: () => T): { ms: number; value: T } {
  const samples: number[] = [];
  let value = run(); // warm-up, also the value reported
  for (let i = 0; i < REPEATS; i += 1) {
    const start = performance.now();
    value = run();
    samples.push(performance.now() - start);
  }
  return { ms: median(samples), value };
}

const formatMs = (ms: number): string => `${ms.toFixed(ms < 10 ? 2 : 1)} ms`;

export async function runPlannerBenchmark(): Promise<string> {
  const policy = buildPolicy();
  const owners: OwnerLookup = (id) => (id.pod === 'pod-9' ? { state: 'orphan', sinceMs: T0 } : id.pod === 'pod-8' ? { state: 'unknown', reason: 'bench' } : { state: 'alive' });
  const rows: string[] = [];
  for (const total of SIZES) {
    const archives = buildArchives(total);
    const used = archives.reduce((sum, a) => sum + a.fingerprint.size, 0);
    // A filesystem 90 % full, so disk pressure planning runs too.
    const disk: DiskStats = { sizeBytes: Math.round(used / 0.9), freeBytes: Math.round(used / 0.9) - used, availBytes: Math.round(used / 0.9) - used };
    const snapshot: InventorySnapshot = inventorySnapshot(archives);
    const planned = time(() => planRetention({ snapshot, policy, owners, disk, nowMs: T0 + 31 * 86_400_000 }));
    const naive = time(() => naiveKeepNewest(archives, 8));
    rows.push(
      `| ${total.toLocaleString('en-US')} | ${formatMs(planned.ms)} | ${Math.round((total / planned.ms) * 1000).toLocaleString('en-US')} | ${planned.value.deletions.length.toLocaleString('en-US')} | ${formatMs(naive.ms)} | ${(planned.ms / naive.ms).toFixed(1)}× |`,
    );
  }
  return [
    '## Retention planner',
    '',
    `\`planRetention\` over archives spread evenly across ${(NAMESPACES * PODS_PER_NAMESPACE * CONTAINERS_PER_POD).toLocaleString('en-US')} containers`,
    `(${NAMESPACES} namespaces × ${PODS_PER_NAMESPACE} pods × ${CONTAINERS_PER_POD} containers): every global field set, 10 namespace, 50 pod and 100 container`,
    'policies, orphans with retainOrphan false, about 2 % pinned and 1 % unidentified, and a 90 %-full filesystem so disk pressure',
    `planning runs. Median of ${REPEATS} runs after a warm-up. The baseline only groups by container, sorts and keeps the newest 8.`,
    '',
    '| Archives | planRetention | Archives/s | Planned deletions | Baseline (per-container sort) | Planner / baseline |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.stdout.write(`${await runPlannerBenchmark()}\n`);
}
