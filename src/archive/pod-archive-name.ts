/**
 * Names of pod-level checkpoint archives (KEP-5823): the kubelet writes one archive per pod under its
 * pod checkpoint directory, named `checkpoint-<pod>_<namespace>-<RFC 3339 time>.tar`. Unlike a
 * container archive's name this one is unambiguous (there is no container part), so the name alone
 * gives the pod's identity; the archive's content is the runtime's and never needed for it.
 *
 * Parsed fail-closed with the container names' rules (length cap, prefix, suffix, one `_`, the same
 * timestamp reading) and Kubernetes' own name rules: the pod a DNS-1123 subdomain, the namespace a
 * DNS-1123 label. Anything else is not a pod archive, so it is never counted, read or deleted as one.
 */
import { MAX_ARCHIVE_NAME_LENGTH, readTimestampAtEnd } from './archive-name.js';
import { isDns1123Label, isDns1123Subdomain } from './kubernetes-names.js';
import type { Result } from './types.js';

const PREFIX = 'checkpoint-';
const SUFFIX = '.tar';

export interface ParsedPodArchiveName {
  readonly fileName: string;
  readonly pod: string;
  readonly namespace: string;
  readonly timestampText: string;
  readonly timestampMs: number;
}

function fail(fileName: string, why: string): Result<never> {
  return { ok: false, reason: `not a pod checkpoint archive name (${JSON.stringify(fileName.slice(0, 80))}): ${why}` };
}

/** Parses `checkpoint-<pod>_<namespace>-<timestamp>.tar`. */
export function parsePodArchiveName(fileName: string): Result<ParsedPodArchiveName> {
  if (fileName.length > MAX_ARCHIVE_NAME_LENGTH) return fail(fileName, `longer than ${MAX_ARCHIVE_NAME_LENGTH} characters`);
  if (!fileName.startsWith(PREFIX)) return fail(fileName, `does not start with "${PREFIX}"`);
  if (!fileName.endsWith(SUFFIX)) return fail(fileName, `does not end with "${SUFFIX}"`);
  const stem = fileName.slice(PREFIX.length, fileName.length - SUFFIX.length);
  const stamp = readTimestampAtEnd(stem);
  if (!stamp.ok) return fail(fileName, stamp.reason);

  const head = stem.slice(0, stamp.value.index);
  const underscore = head.indexOf('_');
  if (underscore === -1) return fail(fileName, 'no "_" between pod and namespace');
  if (head.indexOf('_', underscore + 1) !== -1) return fail(fileName, 'more than one "_" (pod and namespace names never contain it)');
  const pod = head.slice(0, underscore);
  const namespace = head.slice(underscore + 1);
  if (pod.length === 0) return fail(fileName, 'empty pod name');
  if (!isDns1123Subdomain(pod)) return fail(fileName, 'pod name is not a DNS-1123 subdomain');
  if (namespace.length === 0) return fail(fileName, 'empty namespace');
  if (!isDns1123Label(namespace)) return fail(fileName, 'namespace is not a DNS-1123 label');
  return { ok: true, value: { fileName, pod, namespace, timestampText: stamp.value.timestampText, timestampMs: stamp.value.timestampMs } };
}

/** The file name the kubelet gives a checkpoint of a whole pod. */
export function formatPodArchiveName(pod: string, namespace: string, timestampText: string): string {
  return `${PREFIX}${pod}_${namespace}-${timestampText}${SUFFIX}`;
}

/** For `<archive>.keep` and `<archive>.keep.tmp` beside a pod archive: `<archive>` when it is a pod archive name. */
export function podPinTargetOf(fileName: string): string | undefined {
  // The same two pin names as beside a container archive (see archive-name.ts): a pin being written pins.
  for (const suffix of ['.keep.tmp', '.keep']) {
    if (!fileName.endsWith(suffix)) continue;
    const target = fileName.slice(0, fileName.length - suffix.length);
    return parsePodArchiveName(target).ok ? target : undefined;
  }
  return undefined;
}
