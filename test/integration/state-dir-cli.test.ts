import { afterEach, describe, expect, it, jest } from '@jest/globals';
import { readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir, writeSampleArchive, type SampleArchiveOptions } from '../support/archives.js';
import { sampleValue } from '../support/metrics-text.js';
import { serveBinary, type ServedBinary } from '../support/serve-binary.js';
import { waitUntil } from '../support/wait.js';

jest.setTimeout(90_000);

/** What the archives look like from outside: per-container and node-level families, not counters of work. */
const VIEW = /^checkpoint_(archives|archive_bytes|archive_content_bytes|archive_oldest_timestamp_seconds|archive_newest_timestamp_seconds|archives_unrestorable|directory_archives|directory_bytes|unidentified)[^ ]*[{ ]/;

function viewOf(metrics: string): string[] {
  return metrics
    .split('\n')
    .filter((line) => VIEW.test(line))
    .sort();
}

/** Every exporter started, stopped at the end even when an assertion failed first. */
const started: ServedBinary[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((exporter) => exporter.stop()));
});

async function startReady(dir: string, state: string): Promise<{ exporter: ServedBinary; metrics: string }> {
  const exporter = await serveBinary(['--checkpoint-dir', dir, '--state-dir', state, '--settle-time', '50ms']);
  started.push(exporter);
  await waitUntil(async () => (await fetch(`${exporter.url}readyz`)).status === 200, 'readiness', 30_000);
  return { exporter, metrics: await exporter.metrics() };
}

const ARCHIVES: SampleArchiveOptions[] = [
  ...Array.from({ length: 8 }, (_, i): SampleArchiveOptions => ({
    namespace: `team-${i % 3}`,
    pod: `api-${i % 4}`,
    container: i % 2 === 0 ? 'server' : 'sidecar',
    timestamp: new Date(Date.UTC(2026, 0, 1, 0, i)),
    runtime: i % 2 === 0 ? 'cri-o' : 'containerd',
    payloadBytes: 1024 * (i + 1),
  })),
  // No Kubernetes annotations: unidentified, and kept so.
  { namespace: 'team-9', pod: 'batch-0', container: 'job', timestamp: new Date(Date.UTC(2026, 0, 2)), runtime: 'none' },
];

describe('serve --state-dir (the built binary)', () => {
  it('restarts without reading any archive, with the same metrics; a damaged or changed index reads again and agrees', async () => {
    const dir = await makeTempDir();
    const state = await makeTempDir('checkpoint-state-');
    try {
      const names: string[] = [];
      for (const options of ARCHIVES) names.push(await writeSampleArchive(dir.dir, options));

      const first = await startReady(dir.dir, state.dir);
      expect(sampleValue(first.metrics, 'checkpoint_archive_reads_total')).toBe(ARCHIVES.length);
      expect(sampleValue(first.metrics, 'checkpoint_index_reused_total')).toBe(0);
      const view = viewOf(first.metrics);
      expect(view.some((line) => line.startsWith('checkpoint_archive_content_bytes{'))).toBe(true);
      await first.exporter.stop();
      expect(await readdir(state.dir)).toEqual(['archives.index']);

      const second = await startReady(dir.dir, state.dir);
      expect(sampleValue(second.metrics, 'checkpoint_archive_reads_total')).toBe(0);
      expect(sampleValue(second.metrics, 'checkpoint_index_reused_total')).toBe(ARCHIVES.length);
      expect(viewOf(second.metrics)).toEqual(view);
      await second.exporter.stop();

      // One byte of the body flipped: the checksum fails, the file is not used, every archive is read.
      const path = join(state.dir, 'archives.index');
      const bytes = await readFile(path);
      const at = bytes.length - 40;
      bytes[at] = (bytes[at] as number) ^ 0x01;
      await writeFile(path, bytes);
      const third = await startReady(dir.dir, state.dir);
      expect(sampleValue(third.metrics, 'checkpoint_index_rejected_files_total')).toBe(1);
      expect(sampleValue(third.metrics, 'checkpoint_archive_reads_total')).toBe(ARCHIVES.length);
      expect(viewOf(third.metrics)).toEqual(view);
      // Stopped cleanly, it writes a good index again.
      await third.exporter.stop();

      // One archive's mtime moved (its size and name unchanged): only that one is read.
      const touched = join(dir.dir, names[0] as string);
      await utimes(touched, new Date(), new Date(Date.UTC(2026, 0, 1, 1)));
      const fourth = await startReady(dir.dir, state.dir);
      expect(sampleValue(fourth.metrics, 'checkpoint_archive_reads_total')).toBe(1);
      expect(sampleValue(fourth.metrics, 'checkpoint_index_reused_total')).toBe(ARCHIVES.length - 1);
      expect(viewOf(fourth.metrics)).toEqual(view);
      await fourth.exporter.stop();

      // An index of another directory (the same files, another path) is not used.
      const other = await makeTempDir();
      try {
        for (const options of ARCHIVES) await writeSampleArchive(other.dir, options);
        const elsewhere = await startReady(other.dir, state.dir);
        expect(sampleValue(elsewhere.metrics, 'checkpoint_index_rejected_files_total')).toBe(1);
        expect(sampleValue(elsewhere.metrics, 'checkpoint_archive_reads_total')).toBe(ARCHIVES.length);
        await elsewhere.exporter.stop();
      } finally {
        await other.remove();
      }
    } finally {
      await dir.remove();
      await state.remove();
    }
  });

  it('without --state-dir writes nothing and counts every read', async () => {
    const dir = await makeTempDir();
    try {
      for (const options of ARCHIVES.slice(0, 3)) await writeSampleArchive(dir.dir, options);
      const exporter = await serveBinary(['--checkpoint-dir', dir.dir]);
      started.push(exporter);
      await waitUntil(async () => (await fetch(`${exporter.url}readyz`)).status === 200, 'readiness', 30_000);
      const metrics = await exporter.metrics();
      expect(sampleValue(metrics, 'checkpoint_archive_reads_total')).toBe(3);
      expect(sampleValue(metrics, 'checkpoint_index_reused_total')).toBe(0);
      await exporter.stop();
    } finally {
      await dir.remove();
    }
  });
});
