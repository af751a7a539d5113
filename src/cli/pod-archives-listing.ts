import type { InventorySnapshot } from '../inventory/types.js';
import { groupPodArchives } from '../metrics/pod-archive-metrics.js';
import { formatAge, formatBytes, formatTable } from './format.js';

/** One pod-level archive (KEP-5823) in `ls -o json|yaml`. */
export interface PodArchiveView {
  readonly fileName: string;
  readonly namespace: string;
  readonly pod: string;
  readonly bytes: number;
  readonly timestamp: string;
  readonly pinned: boolean;
}

export function describePodArchives(snapshot: InventorySnapshot): PodArchiveView[] {
  return snapshot.archives
    .filter((record) => record.identity !== undefined)
    .map((record) => ({
      fileName: record.fileName,
      namespace: record.identity!.namespace,
      pod: record.identity!.pod,
      bytes: record.fingerprint.size,
      timestamp: new Date(record.name.timestampMs).toISOString(),
      pinned: record.pinned,
    }))
    .sort((a, b) => a.fileName.localeCompare(b.fileName));
}

/** The pod-level archives' section of `ls`: one row per pod, then the directory's other files. */
export function formatPodArchives(snapshot: InventorySnapshot, directory: string, nowMs: number): string {
  const rows = groupPodArchives(snapshot.archives).map((g) => [g.namespace, g.pod, String(g.count), String(g.pinned), formatBytes(g.bytes), formatAge(g.oldestMs, nowMs), formatAge(g.newestMs, nowMs)]);
  const lines = [`pod-level archives in ${directory}:`, formatTable(['NAMESPACE', 'POD', 'ARCHIVES', 'PINNED', 'SIZE', 'OLDEST', 'NEWEST'], rows), ''];
  lines.push(`unrecognized files: ${snapshot.unrecognized.length}`);
  for (const f of snapshot.unrecognized) lines.push(`  ${f.fileName}  ${formatBytes(f.size)}`);
  if (snapshot.pendingArchives > 0) lines.push(`archives still being written: ${snapshot.pendingArchives}`);
  return `${lines.join('\n')}\n`;
}
