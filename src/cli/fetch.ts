import { RuntimeFailure, UsageError } from '../errors.js';
import { createOffloadTarget } from '../offload/create-target.js';
import { fetchArchive } from '../offload/fetch-archive.js';
import { normalizeKey } from '../offload/layout.js';
import { parseTargetSpec } from '../offload/target-spec.js';

export interface FetchOptions {
  readonly key: string;
  readonly from: string;
  readonly directory: string;
  readonly s3Endpoint: string | undefined;
  readonly s3Region: string | undefined;
}

/** `fetch`: one offloaded archive back into a checkpoint directory, verified against its record. */
export async function runFetch(options: FetchOptions): Promise<string> {
  const spec = parseTargetSpec(options.from);
  if (!spec.ok) throw new UsageError(`--from: ${spec.reason}`);
  const key = normalizeKey(options.key);
  if (key === undefined) throw new UsageError(`${JSON.stringify(options.key)} is not a key <node>/<namespace>/<pod>/<container>/<archive> (or <node>/_unidentified/<archive>)`);
  const target = await createOffloadTarget(spec.value, { s3Endpoint: options.s3Endpoint, s3Region: options.s3Region });
  const result = await fetchArchive(target, key, options.directory);
  if (!result.ok) throw new RuntimeFailure(`fetch ${target.locationOf(key)}: ${result.reason}`);
  return `fetched ${result.file} (${result.record.size} bytes, sha256 ${result.record.sha256} as offloaded from node ${result.record.node})\n`;
}
