/** Generated checkpoint directories for the benchmarks: real tar archives laid out as CRI-O writes them. */
import { mkdir } from 'node:fs/promises';
import { writeSampleArchive, type SampleArchiveOptions } from '../src/demo/sample-archives.js';
import { forEachConcurrent } from '../src/concurrency.js';

export interface DirectoryShape {
  readonly archives: number;
  readonly containers: number;
}

export interface ContainerRef {
  readonly namespace: string;
  readonly pod: string;
  readonly container: string;
}

/** 100 containers per namespace, two containers per pod. */
export function containerOf(index: number): ContainerRef {
  return { namespace: `team-${Math.floor(index / 100)}`, pod: `api-${Math.floor(index / 2)}`, container: index % 2 === 0 ? 'server' : 'sidecar' };
}

const BASE_MS = Date.parse('2026-01-01T00:00:00Z');

export function archiveOptions(container: ContainerRef, timestamp: Date): SampleArchiveOptions {
  // An 8 KiB memory image: about 20 KiB per archive with the other entries, spec.dump near the end.
  return { ...container, timestamp, runtime: 'cri-o', payloadBytes: 8 * 1024 };
}

/** Writes `archives` archives spread evenly over `containers` containers, each a minute apart per container. */
export async function writeDirectory(dir: string, shape: DirectoryShape): Promise<void> {
  await mkdir(dir, { recursive: true });
  const perContainer = Math.ceil(shape.archives / shape.containers);
  const jobs = Array.from({ length: shape.archives }, (_, i) => i);
  await forEachConcurrent(jobs, 32, async (i) => {
    const container = containerOf(i % shape.containers);
    const nth = Math.floor(i / shape.containers);
    if (nth >= perContainer) return;
    await writeSampleArchive(dir, archiveOptions(container, new Date(BASE_MS + nth * 60_000)));
  });
}
