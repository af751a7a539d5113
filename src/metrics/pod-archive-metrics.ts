import type { ArchiveRecord, InventorySnapshot, InventoryStatus } from '../inventory/types.js';
import { familyHeader, sampleLine } from './exposition.js';

/**
 * Pod-level archives (KEP-5823) in families of their own, `checkpoint_pod_archive*`, labelled
 * `namespace,pod`: a sum over the container families never counts them twice, and a pod archive has
 * no container to label. Series are per pod with archives on this node, as bounded as the container
 * families (a pod contributes one series per family, four more for the parts). Rendered from the pod
 * inventory's snapshot, which is rebuilt only after the directory changed.
 */
export interface PodArchiveView {
  snapshot(): InventorySnapshot;
  status(): InventoryStatus;
  /** File names live PodCheckpoint objects reference; undefined while unknown; absent without an API server. */
  references?(): ReadonlySet<string> | undefined;
  /** Archives whose name and a PodCheckpoint object name different pods; undefined while the objects are not known. */
  identityConflicts?(): number | undefined;
}

export interface PodGroup {
  readonly namespace: string;
  readonly pod: string;
  count: number;
  bytes: number;
  oldestMs: number;
  newestMs: number;
  pinned: number;
  parts: [number, number, number, number] | undefined;
}

const PARTS = ['memory', 'checkpoint_other', 'rootfs_diff', 'other'] as const;

function partsOf(record: ArchiveRecord): [number, number, number, number] | undefined {
  if (record.memoryBytes === undefined || record.checkpointOtherBytes === undefined || record.rootfsDiffBytes === undefined || record.otherBytes === undefined) return undefined;
  return [record.memoryBytes, record.checkpointOtherBytes, record.rootfsDiffBytes, record.otherBytes];
}

/** One group per pod with identified archives, sorted by namespace and pod. */
export function groupPodArchives(archives: readonly ArchiveRecord[]): PodGroup[] {
  const groups = new Map<string, PodGroup>();
  for (const record of archives) {
    if (record.identity === undefined) continue;
    const { namespace, pod } = record.identity;
    const key = `${namespace}/${pod}`;
    let group = groups.get(key);
    if (group === undefined) {
      group = { namespace, pod, count: 0, bytes: 0, oldestMs: Infinity, newestMs: -Infinity, pinned: 0, parts: [0, 0, 0, 0] };
      groups.set(key, group);
    }
    group.count += 1;
    group.bytes += record.fingerprint.size;
    group.oldestMs = Math.min(group.oldestMs, record.name.timestampMs);
    group.newestMs = Math.max(group.newestMs, record.name.timestampMs);
    if (record.pinned) group.pinned += 1;
    const parts = partsOf(record);
    // A part is reported for a pod only when every archive of it could be walked: never an undercount.
    if (parts === undefined || group.parts === undefined) group.parts = undefined;
    else for (let i = 0; i < 4; i += 1) group.parts[i] = (group.parts[i] as number) + parts[i]!;
  }
  return [...groups.values()].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.pod.localeCompare(b.pod));
}

export function renderPodArchiveFamilies(view: PodArchiveView): string {
  const status = view.status();
  const groups = groupPodArchives(view.snapshot().archives);
  const labels = (g: PodGroup): [string, string][] => [
    ['namespace', g.namespace],
    ['pod', g.pod],
  ];
  const out: string[] = [];
  const family = (name: string, help: string, sample: (g: PodGroup) => number | undefined): void => {
    out.push(familyHeader(name, help, 'gauge'));
    for (const g of groups) {
      const value = sample(g);
      if (value !== undefined) out.push(sampleLine(name, labels(g), value));
    }
  };
  const scalar = (name: string, help: string, value: number): void => {
    out.push(familyHeader(name, help, 'gauge'), sampleLine(name, [], value));
  };
  scalar('checkpoint_pod_directory_present', '1 when the pod checkpoint directory exists; 0 while it is missing, which is normal where the PodLevelCheckpointRestore gate is off.', status.directoryPresent ? 1 : 0);
  scalar('checkpoint_pod_directory_readable', '0 while stat, watch or listing of the pod checkpoint directory fails for a reason other than its absence; 1 otherwise, also while it is missing.', status.directoryReadable ? 1 : 0);
  scalar('checkpoint_pod_archives_total_bytes', 'Bytes of every settled pod-level archive on this node (the sum of checkpoint_pod_archive_bytes).', status.identifiedBytes + status.unidentifiedBytes);
  scalar('checkpoint_pod_pending_archives', 'Pod archive-named files still being written (not settled yet).', status.pendingArchives);
  scalar('checkpoint_pod_unrecognized_files', 'Files in the pod checkpoint directory that are neither pod archives nor their pins.', status.unrecognizedFiles);
  family('checkpoint_pod_archives', 'Settled pod-level checkpoint archives of the pod (KEP-5823).', (g) => g.count);
  family('checkpoint_pod_archive_bytes', 'Bytes of the settled pod-level checkpoint archives of the pod.', (g) => g.bytes);
  family('checkpoint_pod_archive_oldest_timestamp_seconds', 'Time written in the name of the oldest pod-level archive of the pod, in seconds since the epoch.', (g) => g.oldestMs / 1000);
  family('checkpoint_pod_archive_newest_timestamp_seconds', 'Time written in the name of the newest pod-level archive of the pod, in seconds since the epoch.', (g) => g.newestMs / 1000);
  family('checkpoint_pod_archives_pinned', 'Pod-level archives of the pod pinned by a .keep (or .keep.tmp) entry. Absent where none is pinned.', (g) => (g.pinned > 0 ? g.pinned : undefined));
  out.push(
    familyHeader(
      'checkpoint_pod_archive_content_bytes',
      "Bytes of the pod's pod-level archives by part, read from tar headers (the parts of each container's directory in the archive, and the pod's own files as other). Absent for a pod with an archive whose headers could not be walked.",
      'gauge',
    ),
  );
  for (const g of groups) {
    if (g.parts === undefined) continue;
    PARTS.forEach((part, i) => out.push(sampleLine('checkpoint_pod_archive_content_bytes', [...labels(g), ['part', part]], g.parts![i]!)));
  }
  const references = view.references?.();
  if (references !== undefined) {
    const snapshot = view.snapshot();
    const unreferenced = groupPodArchives(snapshot.archives.filter((record) => !references.has(record.fileName)));
    const referenced = groupPodArchives(snapshot.archives.filter((record) => references.has(record.fileName)));
    out.push(familyHeader('checkpoint_pod_archives_referenced', "Pod-level archives of the pod that a PodCheckpoint object references (status.checkpointLocation): kept, a restore the API offers. Absent where none is, and while the objects are not known.", 'gauge'));
    for (const g of referenced) out.push(sampleLine('checkpoint_pod_archives_referenced', [['namespace', g.namespace], ['pod', g.pod]], g.count));
    out.push(familyHeader('checkpoint_pod_archives_orphaned', 'Pod-level archives of the pod that no PodCheckpoint object references (where the API serves checkpoint.k8s.io, every archive without an object). Absent where there are none, and while the objects are not known.', 'gauge'));
    for (const g of unreferenced) out.push(sampleLine('checkpoint_pod_archives_orphaned', [['namespace', g.namespace], ['pod', g.pod]], g.count));
  }
  // One number for the node: a disagreement has two namespaces (the name's and the object's), and the
  // warning line it logs names the file, both pods and the object.
  const conflicts = view.identityConflicts?.();
  if (conflicts !== undefined) {
    scalar(
      'checkpoint_pod_archive_identity_conflicts',
      "Pod-level archives whose name and a PodCheckpoint object pointing at them name different pods: kept whatever the policy says and left out of both pods' limits. Absent while the objects are not known.",
      conflicts,
    );
  }
  return out.join('');
}
