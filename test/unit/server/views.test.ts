import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { ArchiveIdentity, IdentitySource } from '../../../src/archive/types.js';
import type { ArchiveRecord, InventorySnapshot, UnrecognizedFile } from '../../../src/inventory/types.js';
import { DELETION_REASONS, type PlannedDeletion, type RetentionPlan, type UnsatisfiableLimit } from '../../../src/retention/types.js';
import { describeArchives, describeDeletion, streamArchives, streamPlan } from '../../../src/server/views.js';
import { archiveRecord, inventorySnapshot } from '../../support/snapshots.js';

/** What the plan view must equal, built whole: the head, every deletion described, the unsatisfiable limits as they are. */
const describePlan = (plan: RetentionPlan | undefined, lastRunMs: number | undefined, dryRun: boolean): unknown => ({
  dryRun,
  lastRun: lastRunMs === undefined ? null : new Date(lastRunMs).toISOString(),
  deletions: (plan?.deletions ?? []).map(describeDeletion),
  unsatisfiable: plan?.unsatisfiable ?? [],
});

/** Any text, including quotes, backslashes, control characters, U+2028 and lone surrogates. */
const text = fc.string({ unit: 'binary', maxLength: 12 });
const label = fc.constantFrom('shop', 'web-0', 'nginx', 'a-b', 'x');
const identity: fc.Arbitrary<ArchiveIdentity | undefined> = fc.option(fc.record({ namespace: label, pod: label, container: label }), { nil: undefined });
const instant = fc.integer({ min: Date.UTC(1970, 0, 1), max: Date.UTC(2200, 0, 1) });
const size = fc.oneof(fc.nat(), fc.maxSafeNat());
const sources = fc.subarray<IdentitySource>(['cri-o', 'containerd', 'criu']);

const record: fc.Arbitrary<ArchiveRecord> = fc
  .record({ fileName: text, identity, timestampMs: instant, size, mtimeMs: instant, pinned: fc.boolean(), sources, reason: text })
  .map(({ fileName, identity: id, timestampMs, size: bytes, mtimeMs, pinned, sources: identitySources, reason }) => ({
    fileName,
    name: { fileName, pod: id?.pod ?? 'p', namespaceContainer: 'n-c', timestampText: new Date(timestampMs).toISOString(), timestampMs },
    fingerprint: { dev: 1, ino: 2, size: bytes, mtimeMs },
    identity: id,
    identitySources: id === undefined ? [] : identitySources,
    unidentifiedReason: id === undefined ? reason : undefined,
    pinned,
  }));

const unrecognizedFile: fc.Arbitrary<UnrecognizedFile> = fc.record({ fileName: text, size });

const snapshot: fc.Arbitrary<InventorySnapshot> = fc
  .record({
    directory: text,
    directoryPresent: fc.boolean(),
    initialScanComplete: fc.boolean(),
    pendingArchives: fc.nat(),
    archives: fc.array(record, { maxLength: 6 }),
    unrecognized: fc.array(unrecognizedFile, { maxLength: 4 }),
    // Now and then enough items for several chunks.
    times: fc.constantFrom(1, 1, 1, 170),
  })
  .map(({ archives, unrecognized, times, ...head }) => ({
    ...inventorySnapshot(Array.from({ length: times }, () => archives).flat(), Array.from({ length: times }, () => unrecognized).flat()),
    ...head,
  }));

const deletion: fc.Arbitrary<PlannedDeletion> = fc.record({
  fileName: text,
  fingerprint: fc.record({ dev: fc.nat(), ino: fc.nat(), size, mtimeMs: instant }),
  identity,
  reason: fc.constantFrom(...DELETION_REASONS),
  limitValue: fc.option(size, { nil: undefined }),
  scope: fc.oneof(
    fc.record({ level: fc.constant('container' as const), namespace: label, pod: label, container: label }),
    fc.record({ level: fc.constant('namespace' as const), namespace: label }),
    fc.constant({ level: 'node' as const }),
  ),
  policySource: text,
  detail: text,
});

const unsatisfiable: fc.Arbitrary<UnsatisfiableLimit> = fc.record({
  namespace: label,
  pod: fc.oneof(label, fc.constant('')),
  container: fc.oneof(label, fc.constant('')),
  limit: fc.constantFrom('count' as const, 'size' as const, 'total_size' as const, 'age' as const),
  value: size,
  policySource: text,
  detail: text,
});

const plan: fc.Arbitrary<RetentionPlan | undefined> = fc.option(
  fc
    .record({ deletions: fc.array(deletion, { maxLength: 5 }), unsatisfiable: fc.array(unsatisfiable, { maxLength: 3 }), times: fc.constantFrom(1, 1, 1, 120) })
    .map(({ deletions, unsatisfiable: limits, times }) => ({
      deletions: Array.from({ length: times }, () => deletions).flat(),
      unsatisfiable: limits,
      effectiveLimits: [],
    })),
  { nil: undefined },
);

async function collect(stream: AsyncIterable<string>): Promise<string[]> {
  const chunks: string[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

/**
 * Chunks with, for each, how many turns of the event loop a setImmediate ticker had made when it
 * arrived: a stream that yields between chunks lets the ticker run.
 */
async function collectWithTicks(stream: AsyncIterable<string>): Promise<{ chunk: string; ticks: number }[]> {
  let ticks = 0;
  let running = true;
  const tick = (): void => {
    ticks += 1;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const out: { chunk: string; ticks: number }[] = [];
  try {
    for await (const chunk of stream) out.push({ chunk, ticks });
  } finally {
    running = false;
  }
  return out;
}

describe('streamed views', () => {
  it('stream exactly the JSON of describeArchives, for any archives and stray files (property)', async () => {
    await fc.assert(
      fc.asyncProperty(snapshot, async (s) => {
        const streamed = (await collect(streamArchives(s))).join('');
        expect(streamed).toBe(`${JSON.stringify(describeArchives(s))}\n`);
        expect(JSON.parse(streamed)).toEqual(describeArchives(s));
      }),
      { numRuns: 100 },
    );
  });

  it('stream exactly the JSON of describePlan, with or without a plan and a last run (property)', async () => {
    await fc.assert(
      fc.asyncProperty(plan, fc.option(instant, { nil: undefined }), fc.boolean(), async (p, lastRunMs, dryRun) => {
        const streamed = (await collect(streamPlan(p, lastRunMs, dryRun))).join('');
        expect(streamed).toBe(`${JSON.stringify(describePlan(p, lastRunMs, dryRun))}\n`);
        expect(JSON.parse(streamed)).toEqual(describePlan(p, lastRunMs, dryRun));
      }),
      { numRuns: 100 },
    );
  });

  it('describes an archive by its fields', () => {
    const cart = { namespace: 'shop', pod: 'cart-0', container: 'api' };
    const identified = archiveRecord(cart, { timestamp: '2026-01-01T10:00:00Z', size: 100, pinned: true });
    const lost = archiveRecord(undefined, { timestamp: '2026-01-02T00:00:00+05:30', size: 7, pod: 'x-0' });
    expect(describeArchives(inventorySnapshot([identified, lost], [{ fileName: 'notes.txt', size: 9 }]))).toEqual({
      directory: '/checkpoints',
      directoryPresent: true,
      initialScanComplete: true,
      pendingArchives: 0,
      archives: [
        { file: identified.fileName, ...cart, identified: true, identitySources: ['cri-o'], unidentifiedReason: null, sizeBytes: 100, timestamp: '2026-01-01T10:00:00.000Z', pinned: true },
        {
          file: lost.fileName,
          namespace: null,
          pod: null,
          container: null,
          identified: false,
          identitySources: [],
          unidentifiedReason: 'spec.dump has no identity annotations',
          sizeBytes: 7,
          timestamp: '2026-01-01T18:30:00.000Z',
          pinned: false,
        },
      ],
      unrecognized: [{ file: 'notes.txt', sizeBytes: 9 }],
    });
  });

  it.each([
    ['archives', 1_200, (n: number) => streamArchives(inventorySnapshot(manyArchives(n)))],
    ['plan deletions', 1_001, (n: number) => streamPlan({ deletions: manyDeletions(n), unsatisfiable: [], effectiveLimits: [] }, 0, true)],
  ])('streams %s in chunks of at most 500 items and yields to the event loop between them', async (_case, count, stream) => {
    const chunks = await collectWithTicks(stream(count));
    const itemChunks = chunks.filter(({ chunk }) => chunk.includes('"file":'));
    expect(itemChunks).toHaveLength(Math.ceil(count / 500));
    const perChunk = itemChunks.map(({ chunk }) => chunk.split('"file":').length - 1);
    expect(perChunk.reduce((a, b) => a + b, 0)).toBe(count);
    for (const n of perChunk) expect(n).toBeLessThanOrEqual(500);
    // The event loop turned between every two chunks of items.
    for (let i = 1; i < itemChunks.length; i += 1) expect(itemChunks[i]!.ticks).toBeGreaterThan(itemChunks[i - 1]!.ticks);
    expect(JSON.parse(chunks.map(({ chunk }) => chunk).join(''))).toBeDefined();
  });

  it('sends a small view in one chunk of items', async () => {
    const chunks = await collect(streamArchives(inventorySnapshot(manyArchives(3))));
    expect(chunks.filter((chunk) => chunk.includes('"file":'))).toHaveLength(1);
  });
});

function manyArchives(count: number): ArchiveRecord[] {
  const id = { namespace: 'shop', pod: 'cart-0', container: 'api' };
  return Array.from({ length: count }, (_, i) => archiveRecord(id, { timestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString().replace('.000', ''), size: i }));
}

function manyDeletions(count: number): PlannedDeletion[] {
  return manyArchives(count).map((a) => ({
    fileName: a.fileName,
    fingerprint: a.fingerprint,
    identity: a.identity,
    reason: 'count',
    limitValue: 10,
    scope: { level: 'container', ...a.identity },
    policySource: 'default',
    detail: 'over the limit',
  }));
}
