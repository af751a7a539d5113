import type { ArchiveIndex } from '../inventory/archive-index.js';
import type { InventoryStatus } from '../inventory/types.js';
import type { PodArchiveView } from './pod-archive-metrics.js';
import type { DiskStats, OwnerLookup, RetentionPlan, RetentionPolicy } from '../retention/types.js';

/**
 * Everything the collectors read, as functions: values are computed at scrape time from the
 * current state, never copied into gauges by a timer.
 */
export interface ExporterView {
  index(): ArchiveIndex;
  status(): InventoryStatus;
  /** The owner view the last retention run used; undefined before the first run. */
  owners(): OwnerLookup | undefined;
  lastPlan(): RetentionPlan | undefined;
  lastRetentionRunMs(): number | undefined;
  policy(): RetentionPolicy;
  kubernetesApiUp(): boolean;
  configStatus(): ConfigStatus;
  diskStats(): Promise<DiskStats>;
  /** Work done since start: how often the inventory built a snapshot and retention planned. */
  work(): ExporterWork;
  readonly dryRun: boolean;
  readonly version: string;
  /** Per-container detail: all (default, also `true`), counts (composition per namespace) or none (also `false`). */
  readonly containerMetrics?: import('./container-metrics.js').ContainerMetricsLevel | boolean;
  /** The pod checkpoint directory's inventory (KEP-5823), when one is watched. */
  readonly podArchives?: PodArchiveView | undefined;
}

export interface ConfigStatus {
  readonly lastReloadSuccessful: boolean;
  readonly lastSuccessMs: number | undefined;
}

export interface ExporterWork {
  readonly snapshotBuilds: number;
  readonly fullRuns: number;
  readonly scopedRuns: number;
  readonly archivesPlanned: number;
}
