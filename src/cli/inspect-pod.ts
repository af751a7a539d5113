import { lstat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pinFileNamesOf } from '../archive/archive-name.js';
import { readPodArchiveContents } from '../archive/pod-archive-contents.js';
import { parsePodArchiveName } from '../archive/pod-archive-name.js';
import { codeOf, RuntimeFailure, UsageError } from '../errors.js';
import { DEFAULT_FUTURE_TOLERANCE_MS } from '../defaults.js';
import { mergePolicies } from '../retention/merge-policies.js';
import { planPodArchives } from '../retention/pod-scope-policy.js';
import { assertReadableDirectory } from './directory.js';
import { describeErrno } from './errors.js';
import { formatAge, formatBytes, formatTable } from './format.js';
import type { InspectOptions } from './inspect-options.js';
import { isStructured, renderData, renderingOf } from './output.js';
import { scanCheckpointDirectory } from './scan-once.js';

/** The directory name the kubelet writes pod-level archives to: an archive there is read as one. */
export const POD_CHECKPOINT_DIRECTORY_NAME = 'pod-checkpoints';

/**
 * Whether `inspect` reads this archive as a pod-level one (KEP-5823): its name is a pod archive's and
 * either it is not a container archive's, or it lies in a `pod-checkpoints` directory (a name like
 * `checkpoint-web-0_shop-prod-<time>.tar` is both).
 */
export function isPodArchivePath(path: string, containerNameOk: boolean): boolean {
  if (!parsePodArchiveName(basename(path)).ok) return false;
  return !containerNameOk || basename(dirname(path)) === POD_CHECKPOINT_DIRECTORY_NAME;
}

/**
 * `inspect` of a pod-level archive: its identity from the name, its pin, what its headers show
 * (entries, composition, each container directory's bytes) and what the pod scope of the policy would
 * do with it, from a plan of its whole directory made from the files alone (nothing is deleted). The
 * PodCheckpoint objects are not read (serve keeps an archive one references, unless
 * deleteReferencedPodCheckpoints), so the verdict says so; orphans, cluster policies and disk pressure
 * are `plan`'s.
 */
export async function runPodInspect(opts: InspectOptions): Promise<{ ok: boolean; output: string }> {
  const { path } = opts;
  const fileName = basename(path);
  const directory = dirname(path);
  const name = parsePodArchiveName(fileName);
  if (!name.ok) throw new UsageError(`${path}: ${name.reason}`);
  await assertReadableDirectory(directory, 'directory');
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    throw new RuntimeFailure(`cannot read archive ${path}: ${describeErrno(error)}`);
  }
  if (!stats.isFile()) throw new UsageError(`${path} is not a regular file (symbolic links are never followed)`);
  const read = await readPodArchiveContents(path);
  if (!read.ok) throw new RuntimeFailure(read.reason);
  let pin: string | undefined;
  for (const candidate of pinFileNamesOf(fileName)) {
    try {
      await lstat(join(directory, candidate));
      pin = candidate;
      break;
    } catch (error) {
      if (codeOf(error) !== 'ENOENT') throw new RuntimeFailure(`cannot check the pin ${join(directory, candidate)}: ${describeErrno(error)}`);
    }
  }
  const nowMs = opts.nowMs ?? Date.now();
  const snapshot = await scanCheckpointDirectory(directory, 'pod');
  const plan = planPodArchives({ snapshot, policy: mergePolicies(opts.documents ?? []), nowMs, futureToleranceMs: opts.futureToleranceMs ?? DEFAULT_FUTURE_TOLERANCE_MS });
  const deletion = plan.deletions.find((d) => d.fileName === fileName);
  const retention = deletion === undefined ? { action: 'keep' as const } : { action: 'delete' as const, reason: deletion.reason, detail: deletion.detail };
  const contents = read.value;
  const { namespace, pod, timestampMs } = name.value;
  const policyOrigin = opts.policyOrigin ?? 'the defaults (no --config)';
  const rendering = renderingOf(opts);
  if (isStructured(rendering)) {
    return {
      ok: true,
      output: renderData(rendering, {
        path,
        kind: 'pod',
        namespace,
        pod,
        timestamp: new Date(timestampMs).toISOString(),
        sizeBytes: stats.size,
        pinned: pin !== undefined,
        pin: pin ?? null,
        entries: contents?.entries ?? null,
        contents: contents?.contents ?? null,
        containers: contents === undefined ? null : Object.fromEntries(contents.containers),
        retention: { policy: policyOrigin, podCheckpointObjects: 'not consulted', ...retention },
      }),
    };
  }
  const lines = [
    `archive:   ${path}`,
    'kind:      pod-level checkpoint (KEP-5823): identity from the name',
    `namespace: ${namespace}`,
    `pod:       ${pod}`,
    `time:      ${new Date(timestampMs).toISOString()} (${formatAge(timestampMs, nowMs)} ago)`,
    `size:      ${formatBytes(stats.size)} (${stats.size} bytes)`,
    `pinned:    ${pin === undefined ? 'no' : `yes (${pin})`}`,
    `retention: ${deletion === undefined ? 'kept' : `would be deleted (${deletion.reason}): ${deletion.detail}`}`,
    `           by ${policyOrigin} and the files alone: PodCheckpoint objects not consulted (an archive one references is kept unless deleteReferencedPodCheckpoints: true); orphans, cluster policies and disk pressure are left to \`plan\`; nothing is deleted`,
  ];
  if (contents === undefined) lines.push('contents:  unknown (the tar headers could not be walked)');
  else {
    const c = contents.contents;
    lines.push(
      `entries:   ${contents.entries}`,
      `contents:  memory ${formatBytes(c.memoryBytes)}, checkpoint_other ${formatBytes(c.checkpointOtherBytes)}, rootfs_diff ${formatBytes(c.rootfsDiffBytes)}, other ${formatBytes(c.otherBytes)}`,
    );
    if (contents.containers.size > 0) lines.push('containers:', formatTable(['  CONTAINER', 'SIZE'], [...contents.containers].map(([container, bytes]) => [`  ${container}`, formatBytes(bytes)])));
  }
  return { ok: true, output: `${lines.join('\n')}\n` };
}
