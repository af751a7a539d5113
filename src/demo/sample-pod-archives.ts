import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { formatArchiveTimestamp } from '../archive/archive-name.js';
import { formatPodArchiveName } from '../archive/pod-archive-name.js';
import { sampleArchiveEntries, type SampleRuntime } from './sample-archives.js';
import { writeTarFile, type TarEntrySpec } from './tar-writer.js';

/**
 * Pod-level checkpoint archives (KEP-5823) as the kubelet names them, `checkpoint-<pod>_<namespace>-<time>.tar`.
 * Inside, the layout the runtimes use today for a pod: the pod's own record (`pod.options`, `pod.dump`)
 * and one directory per container holding what that container's own checkpoint archive holds (the CRIU
 * images under `checkpoint/`, spec.dump, config.dump, rootfs-diff.tar), in that runtime's order.
 */
export interface SamplePodArchiveOptions {
  readonly namespace: string;
  readonly pod: string;
  readonly containers: readonly string[];
  readonly timestamp: Date | string;
  readonly runtime?: SampleRuntime;
  /** Memory-pages image of each container. Default 16 KiB. */
  readonly payloadBytes?: number;
  readonly mtime?: Date;
  /** Use this file name instead of the kubelet-style one. */
  readonly fileName?: string;
}

export function samplePodArchiveName(options: SamplePodArchiveOptions): string {
  if (options.fileName !== undefined) return options.fileName;
  const timestampText = typeof options.timestamp === 'string' ? options.timestamp : formatArchiveTimestamp(options.timestamp);
  return formatPodArchiveName(options.pod, options.namespace, timestampText);
}

export function samplePodArchiveEntries(options: SamplePodArchiveOptions): TarEntrySpec[] {
  const runtime = options.runtime ?? 'cri-o';
  const podRecord = { name: options.pod, namespace: options.namespace, containers: options.containers };
  const entries: TarEntrySpec[] = [
    { name: 'pod.options', body: JSON.stringify({ version: 1, containers: Object.fromEntries(options.containers.map((container) => [container, `${container}/`])) }) },
    { name: 'pod.dump', body: JSON.stringify(podRecord) },
  ];
  for (const container of options.containers) {
    entries.push({ name: `${container}/`, type: 'directory' });
    const inner = sampleArchiveEntries({
      namespace: options.namespace,
      pod: options.pod,
      container,
      timestamp: options.timestamp,
      runtime,
      ...(options.payloadBytes === undefined ? {} : { payloadBytes: options.payloadBytes }),
    });
    for (const entry of inner) entries.push({ ...entry, name: `${container}/${entry.name}` });
  }
  return entries;
}

/** Writes a pod-level archive into `dir`; returns its file name. */
export async function writeSamplePodArchive(dir: string, options: SamplePodArchiveOptions): Promise<string> {
  const fileName = samplePodArchiveName(options);
  const path = join(dir, fileName);
  await writeTarFile(path, samplePodArchiveEntries(options), { format: 'ustar', mtime: options.mtime });
  if (options.mtime !== undefined) await fs.utimes(path, options.mtime, options.mtime);
  return fileName;
}
