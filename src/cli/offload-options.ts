import { InvalidArgumentError, Option, type Command } from 'commander';
import { UsageError } from '../errors.js';
import { parseTargetSpec, type TargetSpec } from '../offload/target-spec.js';
import type { OffloadSettings } from '../offload/settings.js';
import { parseQuantity } from '../retention/quantity.js';

/** Two copies at once keep a link busy while one waits on a sync or a part upload, without starving the node. */
export const DEFAULT_OFFLOAD_CONCURRENCY = 2;
/** A copy slot count past this is a typo; each slot holds up to a few MiB of buffers. */
const MAX_OFFLOAD_CONCURRENCY = 32;


function targetFlag(value: string): TargetSpec {
  const parsed = parseTargetSpec(value);
  if (!parsed.ok) throw new InvalidArgumentError(`--offload-to: ${parsed.reason}`);
  return parsed.value;
}

function concurrencyFlag(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > MAX_OFFLOAD_CONCURRENCY) throw new InvalidArgumentError(`--offload-concurrency: expected a whole number from 1 to ${MAX_OFFLOAD_CONCURRENCY}, got "${value}"`);
  return parsed;
}

function bandwidthFlag(value: string): number {
  const parsed = parseQuantity(value);
  if (!parsed.ok) throw new InvalidArgumentError(`--offload-bandwidth: ${parsed.reason}`);
  return parsed.value;
}

function endpointFlag(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`--offload-s3-endpoint: ${JSON.stringify(value)} is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new InvalidArgumentError(`--offload-s3-endpoint: expected an http:// or https:// URL, got "${value}"`);
  return value;
}

/** The `serve` flags of offloading; every one has a default and help, like the rest (see options.ts). */
export function addOffloadOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--offload-to <target>', 'copy each archive retention deletes to a directory (a PVC, NFS, a second disk) or s3://bucket/prefix first, verified; a failed copy keeps the archive (default: off, archives are deleted)').argParser(targetFlag),
    )
    .addOption(new Option('--offload-s3-endpoint <url>', 'S3-compatible endpoint (MinIO, Ceph RGW, R2), addressed path-style; default: AWS S3').argParser(endpointFlag))
    .addOption(new Option('--offload-s3-region <region>', 'S3 region; default: the SDK\'s (AWS_REGION, the profile), else us-east-1'))
    .addOption(new Option('--offload-concurrency <n>', 'archives copied at once').default(DEFAULT_OFFLOAD_CONCURRENCY).argParser(concurrencyFlag))
    .addOption(new Option('--offload-bandwidth <bytes/s>', 'bytes per second for all copies together, a number or a quantity (50Mi); 0: no limit').default(0).argParser(bandwidthFlag))
    .addOption(
      new Option('--offload-disk-pressure-delete', 'under disk pressure, delete an archive whose offload failed 3 times in a row without a copy (default: keep it; the CheckpointOffloadFailing alert fires)').default(false),
    );
}

export function offloadOptionsOf(opts: Record<string, unknown>): OffloadSettings | undefined {
  const target = opts['offloadTo'] as TargetSpec | undefined;
  if (target === undefined) {
    for (const flag of ['offloadS3Endpoint', 'offloadS3Region'] as const) {
      if (opts[flag] !== undefined) throw new UsageError(`--${flag === 'offloadS3Endpoint' ? 'offload-s3-endpoint' : 'offload-s3-region'} needs --offload-to`);
    }
    return undefined;
  }
  return {
    target,
    s3Endpoint: opts['offloadS3Endpoint'] as string | undefined,
    s3Region: opts['offloadS3Region'] as string | undefined,
    concurrency: opts['offloadConcurrency'] as number,
    bandwidthBytesPerSecond: opts['offloadBandwidth'] as number,
    diskPressureDeletesUnoffloaded: opts['offloadDiskPressureDelete'] === true,
  };
}
