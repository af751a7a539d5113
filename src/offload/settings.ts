import type { TargetSpec } from './target-spec.js';

/** `--offload-*` as validated by the CLI; the daemon builds the target and the offloader from it. */
export interface OffloadSettings {
  readonly target: TargetSpec;
  readonly s3Endpoint: string | undefined;
  readonly s3Region: string | undefined;
  readonly concurrency: number;
  readonly bandwidthBytesPerSecond: number;
  readonly diskPressureDeletesUnoffloaded: boolean;
}
