import type { ExporterStatus } from '../../src/server/status-page.js';

/** A status as a serving exporter reports it, for tests of the views that render it. */
export function sampleStatus(overrides: { directory?: Partial<ExporterStatus['directory']>; retention?: Partial<ExporterStatus['retention']> } = {}): ExporterStatus {
  return {
    version: '1.2.3',
    node: 'node-a',
    startedAt: '2026-12-01T00:00:00.000Z',
    ready: true,
    directory: {
      path: '/var/lib/kubelet/checkpoints',
      state: 'watching',
      problem: null,
      initialScanComplete: true,
      lastScan: '2026-12-01T00:00:05.000Z',
      filesystem: { sizeBytes: 100 * 2 ** 30, availBytes: 40 * 2 ** 30 },
      ...overrides.directory,
    },
    archives: { identified: 12, identifiedBytes: 3 * 2 ** 20, unidentified: 1, unidentifiedBytes: 1024, pending: 0, unrecognizedFiles: 1, unrecognizedBytes: 57 },
    policy: { sources: ['file policy.yaml (document 1)'], lastReloadSuccessful: true, blockedReason: null },
    retention: {
      dryRun: false,
      firstRun: { number: 1, kind: 'full', startedAt: '2026-12-01T00:00:06.000Z', finishedAt: '2026-12-01T00:00:06.100Z', deleted: 1, deletedBytes: 2048, skipped: 0, failed: 0 },
      lastRun: { number: 2, kind: 'scoped', startedAt: '2026-12-01T00:00:07.000Z', finishedAt: '2026-12-01T00:00:07.010Z', deleted: 0, deletedBytes: 0, skipped: 0, failed: 0 },
      firstRunDeletions: [
        {
          file: 'checkpoint-web_shop-app-2026-11-30T00:00:00Z.tar',
          namespace: 'shop',
          pod: 'web',
          container: 'app',
          reason: 'count',
          detail: 'container shop/web/app has 11 archives, limit 10 (default)',
          sizeBytes: 2048,
          dryRun: false,
          run: 1,
          at: '2026-12-01T00:00:06.100Z',
        },
      ],
      recentDeletions: [],
      plannedDeletions: 0,
      unsatisfiableLimits: 0,
      ...overrides.retention,
    },
    kubernetes: { configured: false, apiUp: false },
  };
}
