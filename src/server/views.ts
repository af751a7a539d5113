import type { ArchiveRecord, InventorySnapshot, UnrecognizedFile } from '../inventory/types.js';
import type { PlannedDeletion, RetentionPlan } from '../retention/types.js';

/** Items serialized between two yields to the event loop when a view is streamed. */
const ITEMS_PER_CHUNK = 500;

const describeArchive = (a: ArchiveRecord): unknown => ({
  file: a.fileName,
  namespace: a.identity?.namespace ?? null,
  pod: a.identity?.pod ?? null,
  container: a.identity?.container ?? null,
  identified: a.identity !== undefined,
  identitySources: a.identitySources,
  unidentifiedReason: a.unidentifiedReason ?? null,
  sizeBytes: a.fingerprint.size,
  timestamp: new Date(a.name.timestampMs).toISOString(),
  pinned: a.pinned,
});

const describeUnrecognized = (f: UnrecognizedFile): unknown => ({ file: f.fileName, sizeBytes: f.size });

/** One planned deletion as the plan API and `plan -o json` show it. */
export const describeDeletion = (d: PlannedDeletion): unknown => ({
  file: d.fileName,
  namespace: d.identity?.namespace ?? null,
  pod: d.identity?.pod ?? null,
  // A pod-level archive (KEP-5823) has no container: null, as `plan` shows it.
  container: d.identity?.container === '' ? null : (d.identity?.container ?? null),
  sizeBytes: d.fingerprint.size,
  reason: d.reason,
  limit: d.limitValue ?? null,
  scope: d.scope,
  policy: d.policySource,
  detail: d.detail,
});

const archivesHead = (snapshot: InventorySnapshot) => ({
  directory: snapshot.directory,
  directoryPresent: snapshot.directoryPresent,
  initialScanComplete: snapshot.initialScanComplete,
  pendingArchives: snapshot.pendingArchives,
});

const planHead = (lastRunMs: number | undefined, dryRun: boolean) => ({
  dryRun,
  lastRun: lastRunMs === undefined ? null : new Date(lastRunMs).toISOString(),
});

const byFileName = <T extends { readonly fileName: string }>(items: readonly T[]): T[] => [...items].sort((a, b) => (a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0));

/**
 * JSON for `ls -o json` (and, streamed, the archives API): identity, size, timestamp and pin state, by
 * file basename. `sorted` orders by file name, so two runs of a command on the same directory print the
 * same (archives settle in no particular order); the API skips that sort of the whole inventory.
 */
export function describeArchives(snapshot: InventorySnapshot, options: { readonly sorted?: boolean } = {}): unknown {
  const archives = options.sorted === true ? byFileName(snapshot.archives) : snapshot.archives;
  const unrecognized = options.sorted === true ? byFileName(snapshot.unrecognized) : snapshot.unrecognized;
  return { ...archivesHead(snapshot), archives: archives.map(describeArchive), unrecognized: unrecognized.map(describeUnrecognized) };
}

type Field = readonly [name: string, items: readonly unknown[], describe: (item: never) => unknown];

/**
 * An object with some array fields, serialized a chunk of items at a time with a yield to the event
 * loop between chunks: 100,000 archives never hold the loop for one long JSON.stringify. The text is
 * exactly JSON.stringify of the same object.
 */
async function* streamObject(head: Record<string, unknown>, fields: readonly Field[]): AsyncGenerator<string> {
  const headText = JSON.stringify(head);
  yield headText.slice(0, -1);
  let first = headText === '{}';
  for (const [name, items, describe] of fields) {
    yield `${first ? '' : ','}${JSON.stringify(name)}:[`;
    first = false;
    for (let start = 0; start < items.length; start += ITEMS_PER_CHUNK) {
      const chunk = items.slice(start, start + ITEMS_PER_CHUNK).map((item) => JSON.stringify((describe as (item: unknown) => unknown)(item)));
      yield `${start === 0 ? '' : ','}${chunk.join(',')}`;
      await new Promise((wake) => setImmediate(wake));
    }
    yield ']';
  }
  yield '}\n';
}

/** GET /api/v1/archives, streamed. */
export function streamArchives(snapshot: InventorySnapshot): AsyncGenerator<string> {
  return streamObject(archivesHead(snapshot), [
    ['archives', snapshot.archives, describeArchive],
    ['unrecognized', snapshot.unrecognized, describeUnrecognized],
  ]);
}

/** GET /api/v1/plan, streamed. */
export function streamPlan(plan: RetentionPlan | undefined, lastRunMs: number | undefined, dryRun: boolean): AsyncGenerator<string> {
  return streamObject(planHead(lastRunMs, dryRun), [
    ['deletions', plan?.deletions ?? [], describeDeletion],
    ['unsatisfiable', plan?.unsatisfiable ?? [], (u: unknown) => u],
  ]);
}
