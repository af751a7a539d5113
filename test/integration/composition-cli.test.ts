import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDemoCheckpointDirectory, type DemoDirectory } from '../../src/demo/sample-archives.js';
import { sampleValue } from '../support/metrics-text.js';
import { MAIN, serveBinary, type ServedBinary } from '../support/serve-binary.js';
import { runCli, type CliRun } from '../support/serve-binary.js';
import { waitUntil } from '../support/wait.js';

/**
 * What fills the disk, through the built binary on the demo directory: `ls -o wide`, `inspect` and the
 * metrics of `serve` (worker threads, as deployed) show the composition, count the gzip archive as
 * identified and report the archive without checkpoint/inventory.img as not restorable.
 */


const cli = (args: string[]): Promise<CliRun> => runCli(args);

const MiB = 1024 * 1024;
const notebook = { namespace: 'data-science', pod: 'notebook-0', container: 'jupyter' };
const report = { namespace: 'batch', pod: 'nightly-report-28461520-q7w2z', container: 'report' };

describe('archive composition through the built binary', () => {
  let dir: string;
  let demo: DemoDirectory;

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does)`);
    dir = await mkdtemp(join(tmpdir(), 'composition-it-'));
    demo = await writeDemoCheckpointDirectory(dir, { now: new Date('2026-03-10T12:00:00Z') });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('ls -o wide shows each container’s composition and its unrestorable archives', async () => {
    const { code, stdout } = await cli(['ls', '--checkpoint-dir', dir, '-o', 'wide']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^NAMESPACE\s+POD\s+CONTAINER\s+ARCHIVES\s+PINNED\s+SIZE\s+MEMORY\s+CHECKPOINT-OTHER\s+ROOTFS-DIFF\s+OTHER\s+UNRESTORABLE\s+OLDEST\s+NEWEST$/m);
    expect(stdout).toMatch(/^data-science\s+notebook-0\s+jupyter\s+1\s+0\s+[\d.]+ KiB\s+24 MiB\s+[\d.]+ KiB\s+[\d.]+ KiB\s+0 B\s+0\s/m);
    expect(stdout).toMatch(/^batch\s+nightly-report-28461520-q7w2z\s+report\s+2\s+0\s+\S+ KiB\s+\S+ KiB\s+\S+ KiB\s+\S+ KiB\s+\S+ KiB\s+1\s/m);
    expect(stdout).toContain(`identified archives that cannot be restored: 1\n  ${demo.unrestorable[0] ?? ''}  checkpoint/inventory.img missing`);
    expect(stdout).toContain('1 not restorable, 1 compressed');
    expect(stdout).toContain('unidentified archives: 1');
  });

  it('ls --json still prints the archives API view', async () => {
    const { code, stdout } = await cli(['ls', '--checkpoint-dir', dir, '--json', '-o', 'wide']);
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toHaveProperty('archives');
  });

  it('refuses an unknown -o format with a clear message', async () => {
    const { code, stderr } = await cli(['ls', '--checkpoint-dir', dir, '-o', 'tall']);
    expect(code).not.toBe(0);
    // One line naming the value refused and the formats offered.
    expect(stderr).toMatch(/'tall'.*\bwide\b/);
  });

  it('inspect shows the gzip archive’s composition and a missing restore entry', async () => {
    const gzip = await cli(['inspect', join(dir, demo.compressed[0] ?? '')]);
    expect(gzip.code).toBe(0);
    expect(gzip.stdout).toMatch(/^identity: {3}namespace data-science, pod notebook-0, container jupyter$/m);
    expect(gzip.stdout).toMatch(/^compression: gzip \(24 MiB decompressed/m);
    expect(gzip.stdout).toMatch(/^ {2}memory +24 MiB +25165824/m);
    const unrestorable = await cli(['inspect', join(dir, demo.unrestorable[0] ?? '')]);
    expect(unrestorable.stdout).toContain('restorable: NO: checkpoint/inventory.img missing from the archive');
  });

  describe('serve', () => {
    let served: ServedBinary;
    let metrics = '';
    beforeAll(async () => {
      served = await serveBinary(['--checkpoint-dir', dir, '--dry-run', '--settle-time', '100ms']);
      await waitUntil(async () => (await fetch(`${served.url}readyz`)).status === 200, 'the initial scan');
      metrics = await served.metrics();
    });
    afterAll(() => served.stop());

    it('counts the gzip archive as identified, with its decompressed parts', async () => {
      expect(sampleValue(metrics, 'checkpoint_archives', notebook)).toBe(1);
      expect(sampleValue(metrics, 'checkpoint_archive_bytes', notebook)).toBe((await stat(join(dir, demo.compressed[0] ?? ''))).size);
      expect(sampleValue(metrics, 'checkpoint_archive_content_bytes', { ...notebook, part: 'memory' })).toBe(24 * MiB);
      expect(sampleValue(metrics, 'checkpoint_archive_content_bytes', { ...notebook, part: 'other' })).toBe(0);
      expect(sampleValue(metrics, 'checkpoint_unidentified_archives')).toBe(1);
    });

    it('reports the archive without checkpoint/inventory.img as not restorable', () => {
      expect(sampleValue(metrics, 'checkpoint_archives_unrestorable', report)).toBe(1);
      expect(metrics.match(/^checkpoint_archives_unrestorable\{/gm)).toHaveLength(1);
    });

    it('reports every collector’s success and duration in the first scrape the process serves', () => {
      // `metrics` is that first scrape: readiness was polled on /readyz.
      const named = [...metrics.matchAll(/^checkpoint_exporter_collector_success\{collector="([a-z]+)"\} 1$/gm)].map((match) => match[1]);
      expect(named).toEqual(['inventory', 'retention', 'filesystem', 'limits', 'containers']);
      for (const collector of named) expect(sampleValue(metrics, 'checkpoint_exporter_collector_duration_seconds', { collector: collector ?? '' })).toBeGreaterThanOrEqual(0);
    });

    it('publishes the four parts of every container, summing to its bytes for plain archives', () => {
      const cart = { namespace: 'shop-prod', pod: 'cart-7d9f8b6c4-x2k4p', container: 'cart-api' };
      const parts = ['memory', 'checkpoint_other', 'rootfs_diff', 'other'].map((part) => sampleValue(metrics, 'checkpoint_archive_content_bytes', { ...cart, part }) ?? NaN);
      expect(parts.reduce((a, b) => a + b, 0)).toBe(sampleValue(metrics, 'checkpoint_archive_bytes', cart));
    });
  });
});
