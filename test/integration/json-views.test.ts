import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSampleArchive, type SampleArchiveOptions } from '../../src/demo/sample-archives.js';
import { forEachConcurrent } from '../../src/concurrency.js';
import { MAX_VIEW_STREAMS, VIEW_RETRY_AFTER_SECONDS } from '../../src/server/json-views.js';
import { sampleValue } from '../support/metrics-text.js';
import { serveBinary, type ServedBinary } from '../support/serve-binary.js';
import { waitUntil } from '../support/wait.js';

/**
 * The archives view on the built binary, counted rather than timed: concurrent pulls of one version
 * share one serialization and get the same bytes, a change makes a new version, and a crowd of
 * clients gets complete bodies or 503s that the exporter counts. (Holding streams open, the probes
 * meanwhile and a failure halfway are in test/unit/server/json-views.test.ts, where a gate holds them.)
 */
const CONTAINERS = 150;
const PER_CONTAINER = 10;
const ARCHIVES = CONTAINERS * PER_CONTAINER;

const archive = (c: number, nth: number): SampleArchiveOptions => ({
  namespace: `team-${c % 15}`,
  pod: `api-${c}`,
  container: 'server',
  timestamp: new Date(Date.parse('2026-01-01T00:00:00Z') + nth * 60_000),
  runtime: 'cri-o',
  payloadBytes: 256,
});

interface ArchivesView {
  readonly archives: readonly { readonly file: string }[];
}

describe('JSON views on the built binary (counted, not timed)', () => {
  let dir: string;
  let exporter: ServedBinary;
  const counted = async (name: string): Promise<number> => sampleValue(await exporter.metrics(), name, { view: 'archives' }) ?? NaN;
  const serializations = (): Promise<number> => counted('checkpoint_http_view_serializations_total');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'json-views-'));
    const jobs = Array.from({ length: ARCHIVES }, (_, i) => i);
    await forEachConcurrent(jobs, 32, async (i) => {
      await writeSampleArchive(dir, archive(i % CONTAINERS, Math.floor(i / CONTAINERS)));
    });
    // Dry run: retention must not change the inventory under the test.
    exporter = await serveBinary(['--checkpoint-dir', dir, '--settle-time', '200ms', '--dry-run']);
    await waitUntil(async () => (await fetch(`${exporter.url}readyz`)).status === 200, 'readiness', 60_000);
  }, 120_000);
  afterAll(async () => {
    await exporter?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it(`serializes once for ${MAX_VIEW_STREAMS} concurrent pulls, which get identical, complete bodies`, async () => {
    expect(await serializations()).toBe(0);
    const bodies = await Promise.all(
      Array.from({ length: MAX_VIEW_STREAMS }, async () => {
        const res = await fetch(`${exporter.url}api/v1/archives`);
        expect(res.status).toBe(200);
        return res.text();
      }),
    );
    for (const body of bodies) expect(body).toBe(bodies[0]);
    expect((JSON.parse(bodies[0]!) as ArchivesView).archives).toHaveLength(ARCHIVES);
    expect(await serializations()).toBe(1);
  });

  it('answers a crowd with complete bodies of the same version or 503s with Retry-After, each one counted', async () => {
    const before = { serializations: await serializations(), rejected: await counted('checkpoint_http_view_requests_rejected_total') };
    const reference = await (await fetch(`${exporter.url}api/v1/archives`)).text();
    const answers = await Promise.all(
      Array.from({ length: 16 }, async () => {
        const res = await fetch(`${exporter.url}api/v1/archives`);
        return { status: res.status, retryAfter: res.headers.get('retry-after'), body: await res.text() };
      }),
    );
    const refused = answers.filter((answer) => answer.status === 503);
    for (const answer of answers.filter((a) => a.status !== 503)) {
      expect(answer.status).toBe(200);
      expect(answer.body).toBe(reference);
    }
    for (const answer of refused) {
      expect(answer.retryAfter).toBe(String(VIEW_RETRY_AFTER_SECONDS));
      expect(answer.body.trimEnd().split('\n')).toHaveLength(1);
    }
    expect(await counted('checkpoint_http_view_requests_rejected_total')).toBe(before.rejected + refused.length);
    // The inventory did not change: every body came from the bytes already made.
    expect(await serializations()).toBe(before.serializations);
  });

  it('serializes a new version after a change, once', async () => {
    const before = await serializations();
    const added = await writeSampleArchive(dir, archive(0, PER_CONTAINER));
    // Waiting on the metrics, not the view: every pull of a version in between would serialize it.
    await waitUntil(async () => {
      const text = await exporter.metrics();
      return sampleValue(text, 'checkpoint_identified_archives') === ARCHIVES + 1 && sampleValue(text, 'checkpoint_pending_archives') === 0;
    }, 'the new archive identified');
    const [first, second] = await Promise.all([fetch(`${exporter.url}api/v1/archives`), fetch(`${exporter.url}api/v1/archives`)]);
    const bodies = [await first!.text(), await second!.text()];
    expect(bodies[1]).toBe(bodies[0]);
    const files = (JSON.parse(bodies[0]!) as ArchivesView).archives.map((a) => a.file);
    expect(files).toHaveLength(ARCHIVES + 1);
    expect(files).toContain(added);
    expect(await serializations()).toBe(before + 1);
  });
});
