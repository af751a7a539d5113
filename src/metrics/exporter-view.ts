import type { InventorySnapshot } from '../inventory/types.js';
import type { DiskStats, OwnerLookup, RetentionPlan } from '../retention/types.js';

/**
 * Everything the collectors read, as functions: values are computed at scrape time from the
 * current state, never copied into gauges by a timer.
 */
export interface ExporterView {
  snapshot(): InventorySnapshot;
  /** The owner view the last retention run used; undefined before the first run. */
  owners(): OwnerLookup | undefined;
  lastPlan(): RetentionPlan | undefined;
  lastRetentionRunMs(): number | undefined;
  kubernetesApiUp(): boolean;
  configStatus(): ConfigStatus;
  diskStats(): Promise<DiskStats>;
  readonly dryRun: boolean;
  readonly version: string;
}

export interface ConfigStatus {
  readonly lastReloadSuccessful: boolean;
  readonly lastSuccessMs: number | undefined;
}
