import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parseArchiveName } from '../../../src/archive/archive-name.js';
import type { ArchiveIdentity, FileFingerprint, ParsedArchiveName } from '../../../src/archive/types.js';
import type { ArchiveIndex } from '../../../src/inventory/archive-index.js';
import type { EntryState } from '../../../src/inventory/entry-state.js';
import { createInventoryModel, type InventoryModel } from '../../../src/inventory/inventory-model.js';
import type { ArchiveRecord } from '../../../src/inventory/types.js';
import { archiveName } from './fixtures.js';

function parsed(fileName: string): ParsedArchiveName {
  const result = parseArchiveName(fileName);
  if (!result.ok) throw new Error(result.reason);
  return result.value;
}

const WEB: ArchiveIdentity = { namespace: 'shop', pod: 'web-0', container: 'nginx' };
const SIDE: ArchiveIdentity = { namespace: 'shop', pod: 'web-0', container: 'sidecar' };
const DB: ArchiveIdentity = { namespace: 'data', pod: 'db-0', container: 'postgres' };
const keyOf = (id: ArchiveIdentity): string => `${id.namespace}\u0000${id.pod}\u0000${id.container}`;

interface ArchiveName {
  readonly fileName: string;
  readonly identity: ArchiveIdentity;
}

/** Archives of three containers; WEB has one instant spelt two ways, so the index's tie-breaks matter. */
const ARCHIVES: readonly ArchiveName[] = [
  ...['2024-01-01T00:00:00Z', '2024-01-01T01:00:00+01:00', '2024-01-02T00:00:00Z'].map((stamp) => ({ fileName: archiveName('web-0', 'shop', 'nginx', stamp), identity: WEB })),
  ...['2024-01-01T00:00:00Z', '2024-01-03T00:00:00Z'].map((stamp) => ({ fileName: archiveName('web-0', 'shop', 'sidecar', stamp), identity: SIDE })),
  ...['2024-01-01T00:00:00Z', '2024-01-02T00:00:00Z'].map((stamp) => ({ fileName: archiveName('db-0', 'data', 'postgres', stamp), identity: DB })),
];
const PINS = ARCHIVES.map((a) => `${a.fileName}.keep`);
/** Pins being written (renamed to `.keep` once complete): they pin as well. */
const WRITING_PINS = ARCHIVES.map((a) => `${a.fileName}.keep.tmp`);
const FOREIGN = ['notes.txt', 'checkpoint-broken.tar'];

const print = (size: number, mtimeMs: number): FileFingerprint => ({ dev: 1, ino: size, size, mtimeMs });

function settledState(a: ArchiveName, fingerprint: FileFingerprint, identified: boolean): EntryState {
  return {
    kind: 'settled',
    record: Object.freeze<ArchiveRecord>({
      fileName: a.fileName,
      name: parsed(a.fileName),
      fingerprint,
      identity: identified ? a.identity : undefined,
      identitySources: identified ? ['cri-o'] : [],
      unidentifiedReason: identified ? undefined : 'no spec.dump',
      pinned: false,
    }),
  };
}

/**
 * The states each name may take, built once so the same state object can be set again (as the driver
 * does when nothing changed). Archive names take archive states or `unrecognized` (a symlink or a
 * directory under that name); pins take pin states or `unrecognized`; foreign names only `unrecognized`.
 */
const STATES = new Map<string, readonly EntryState[]>();
for (const a of ARCHIVES) {
  const name = parsed(a.fileName);
  STATES.set(a.fileName, [
    { kind: 'pending', name, fingerprint: print(10, 5), stableSinceMs: 0 },
    { kind: 'identifying', name, fingerprint: print(10, 5), attempt: 1 },
    { kind: 'identifying', name, fingerprint: print(10, 5), attempt: 3 },
    settledState(a, print(10, 5), true),
    // Same instant and name, other mtime: moves within its group.
    settledState(a, print(20, 1), true),
    settledState(a, print(30, 5), false),
    // The same bytes also linked elsewhere (a backup).
    settledState(a, { ...print(10, 5), nlink: 2 }, true),
    { kind: 'unrecognized', size: 0 },
  ]);
}
ARCHIVES.forEach((a, i) => {
  STATES.set(WRITING_PINS[i]!, [
    { kind: 'pin', target: a.fileName, size: 0 },
    { kind: 'pin', target: a.fileName, size: 9 },
    { kind: 'unrecognized', size: 0 },
  ]);
  STATES.set(PINS[i]!, [
    { kind: 'pin', target: a.fileName, size: 0 },
    { kind: 'pin', target: a.fileName, size: 4 },
    { kind: 'unrecognized', size: 0 },
  ]);
});
for (const name of FOREIGN) STATES.set(name, [{ kind: 'unrecognized', size: 7 }, { kind: 'unrecognized', size: 11 }]);
const NAMES = [...STATES.keys()];

const isArchiveState = (state: EntryState | undefined): boolean => state?.kind === 'pending' || state?.kind === 'identifying' || state?.kind === 'settled';
const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const older = (a: ArchiveRecord, b: ArchiveRecord): number =>
  a.name.timestampMs - b.name.timestampMs || a.fingerprint.mtimeMs - b.fingerprint.mtimeMs || byCodeUnits(a.fileName, b.fileName);

interface Views {
  /** Container key → its records, oldest first. */
  readonly containers: Map<string, ArchiveRecord[]>;
  readonly unidentified: ArchiveRecord[];
  readonly pendingArchives: number;
  readonly unsettled: string[];
  readonly unrecognized: [string, number][];
  readonly unrecognizedBytes: number;
  readonly unidentifiedBytes: number;
  readonly hardLinked: readonly [number, number];
}

/** What the views must be, computed from scratch from the entries alone. */
function reference(entries: ReadonlyMap<string, EntryState>): Views {
  const containers = new Map<string, ArchiveRecord[]>();
  const unidentified: ArchiveRecord[] = [];
  const unrecognized: [string, number][] = [];
  const unsettled: string[] = [];
  let unidentifiedBytes = 0;
  const hardLinked: [number, number] = [0, 0];
  for (const [fileName, state] of entries) {
    if (state.kind === 'settled' && (state.record.fingerprint.nlink ?? 1) > 1) {
      hardLinked[0] += 1;
      hardLinked[1] += state.record.fingerprint.size;
    }
    if (state.kind === 'settled') {
      const record = { ...state.record, pinned: entries.get(`${fileName}.keep`)?.kind === 'pin' || entries.get(`${fileName}.keep.tmp`)?.kind === 'pin' };
      if (record.identity === undefined) {
        unidentified.push(record);
        unidentifiedBytes += record.fingerprint.size;
      } else {
        const key = keyOf(record.identity);
        containers.set(key, [...(containers.get(key) ?? []), record]);
      }
    } else if (state.kind === 'pending' || state.kind === 'identifying') {
      unsettled.push(fileName);
    } else if (state.kind === 'unrecognized') {
      unrecognized.push([fileName, state.size]);
    } else if (!isArchiveState(entries.get(state.target))) {
      // A pin protecting nothing is a stray file.
      unrecognized.push([fileName, state.size]);
    }
  }
  for (const records of containers.values()) records.sort(older);
  return {
    containers,
    unidentified: unidentified.sort((a, b) => byCodeUnits(a.fileName, b.fileName)),
    pendingArchives: unsettled.length,
    unsettled: unsettled.sort(byCodeUnits),
    unrecognized: unrecognized.sort((a, b) => byCodeUnits(a[0], b[0])),
    unrecognizedBytes: unrecognized.reduce((sum, [, size]) => sum + size, 0),
    unidentifiedBytes,
    hardLinked,
  };
}

/** The same views read from the model. */
function viewsOf(model: InventoryModel): Views {
  const containers = new Map<string, ArchiveRecord[]>();
  for (const [namespace, pods] of model.index.namespaces) {
    for (const [pod, byContainer] of pods) {
      for (const [container, group] of byContainer) {
        if (group.identity.namespace !== namespace || group.identity.pod !== pod || group.identity.container !== container) {
          expect(group.identity).toEqual({ namespace, pod, container });
        }
        containers.set(keyOf(group.identity), group.records.map((r) => ({ ...r })));
      }
    }
  }
  const unsettled = [...model.unsettledNames()].sort(byCodeUnits);
  return {
    containers,
    unidentified: [...model.index.unidentified.values()].map((r) => ({ ...r })).sort((a, b) => byCodeUnits(a.fileName, b.fileName)),
    pendingArchives: model.pendingArchives,
    unsettled,
    unrecognized: [...model.unrecognized].sort((a, b) => byCodeUnits(a[0], b[0])),
    unrecognizedBytes: model.unrecognizedBytes,
    unidentifiedBytes: model.unidentifiedBytes,
    hardLinked: [model.hardLinkedArchives, model.hardLinkedBytes],
  };
}

/** The index's other ways in (size, by key, by name) agree with its nested maps. */
function checkIndexConsistency(index: ArchiveIndex, views: Views): void {
  let settled = views.unidentified.length;
  for (const records of views.containers.values()) settled += records.length;
  const problems: string[] = [];
  if (index.size !== settled) problems.push(`size ${index.size}, expected ${settled}`);
  const keys = [...index.containers()].map((g) => g.key).sort(byCodeUnits);
  if (keys.join('|') !== [...views.containers.keys()].sort(byCodeUnits).join('|')) problems.push(`containers() lists ${JSON.stringify(keys)}`);
  for (const [key, records] of views.containers) {
    const group = index.containerByKey(key);
    if (group === undefined) {
      problems.push(`containerByKey misses ${JSON.stringify(key)}`);
      continue;
    }
    if (group.records.map((r) => r.fileName).join('|') !== records.map((r) => r.fileName).join('|')) problems.push(`containerByKey(${JSON.stringify(key)}) differs`);
    const { namespace, pod, container } = group.identity;
    if (index.ofContainer(namespace, pod, container) !== group.records) problems.push(`ofContainer differs for ${JSON.stringify(key)}`);
  }
  expect(problems).toEqual([]);
}

/** Views as comparable text (Maps as sorted entry lists). */
function plain(v: Views): string {
  return JSON.stringify({ ...v, containers: [...v.containers].sort((x, y) => byCodeUnits(x[0], y[0])) });
}

const sameRecords = (a: readonly ArchiveRecord[] | undefined, b: readonly ArchiveRecord[] | undefined): boolean =>
  JSON.stringify(a ?? []) === JSON.stringify(b ?? []);

type Op = { readonly kind: 'set'; readonly name: string; readonly state: number | undefined } | { readonly kind: 'take' } | { readonly kind: 'clear' };

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 20, arbitrary: fc.record({ kind: fc.constant('set' as const), name: fc.constantFrom(...NAMES), state: fc.option(fc.nat({ max: 7 }), { nil: undefined }) }) },
  { weight: 4, arbitrary: fc.constant({ kind: 'take' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'clear' as const }) },
);

describe('inventory model', () => {
  it('keeps its views equal to a from-scratch computation over its entries, and reports every container that changed (property)', () => {
    fc.assert(
      fc.property(fc.array(opArbitrary, { maxLength: 120, size: 'max' }), (ops) => {
        const model = createInventoryModel();
        const entries = new Map<string, EntryState>();
        let taken = reference(entries);

        const take = (): void => {
          const changes = model.takeChanges();
          const now = reference(entries);
          for (const [key, identity] of changes.containers) expect(keyOf(identity)).toBe(key);
          for (const key of new Set([...taken.containers.keys(), ...now.containers.keys()])) {
            if (!sameRecords(taken.containers.get(key), now.containers.get(key))) {
              expect({ key, reported: changes.containers.has(key) }).toEqual({ key, reported: true });
            }
          }
          // Anything a snapshot shows (archives, pins, pending count, stray files) changed: `any` says so.
          if (!sameViews(taken, now)) expect(changes.any).toBe(true);
          taken = now;
        };

        for (const op of ops) {
          if (op.kind === 'take') take();
          else if (op.kind === 'clear') {
            model.clear();
            entries.clear();
          } else {
            const choices = STATES.get(op.name)!;
            const next = op.state === undefined ? undefined : choices[op.state % choices.length];
            model.set(op.name, next);
            if (next === undefined) entries.delete(op.name);
            else entries.set(op.name, next);
          }
          // Checked after every step, not only at the end: each intermediate state is a final state too.
          // Compared as text first (fast); a difference is then shown by expect.
          const expected = reference(entries);
          const actual = viewsOf(model);
          if (plain(actual) !== plain(expected)) expect(actual).toEqual(expected);
          if (NAMES.some((name) => model.get(name) !== entries.get(name))) {
            expect(NAMES.map((name) => model.get(name))).toEqual(NAMES.map((name) => entries.get(name)));
          }
          const names = [...model.names()].sort(byCodeUnits);
          if (names.join('|') !== [...entries.keys()].sort(byCodeUnits).join('|')) expect(names).toEqual([...entries.keys()].sort(byCodeUnits));
          checkIndexConsistency(model.index, expected);
        }
        take();
        // Nothing changed since: nothing is reported.
        const quiet = model.takeChanges();
        expect({ containers: [...quiet.containers.keys()], any: quiet.any }).toEqual({ containers: [], any: false });
      }),
      { numRuns: 200 },
    );
  });

  it('reports both the pin and the container when a pin comes and goes, and nothing when an entry is set to what it was', () => {
    const model = createInventoryModel();
    const a = ARCHIVES[0]!;
    const settled = STATES.get(a.fileName)![3]!;
    model.set(a.fileName, settled);
    expect([...model.takeChanges().containers.keys()]).toEqual([keyOf(WEB)]);

    model.set(`${a.fileName}.keep`, { kind: 'pin', target: a.fileName, size: 0 });
    expect(model.index.ofContainer('shop', 'web-0', 'nginx')[0]?.pinned).toBe(true);
    expect(model.takeChanges()).toMatchObject({ any: true, containers: new Map([[keyOf(WEB), WEB]]) });

    model.set(a.fileName, settled);
    expect(model.takeChanges()).toMatchObject({ any: false, containers: new Map() });

    model.set(a.fileName, undefined);
    // The pin now protects nothing: it counts as a stray file with its bytes.
    expect([...model.unrecognized]).toEqual([[`${a.fileName}.keep`, 0]]);
    expect(model.takeChanges()).toMatchObject({ any: true, containers: new Map([[keyOf(WEB), WEB]]) });
  });

  it('keeps an archive pinned throughout the writing of its pin: .keep.tmp written, renamed to .keep', () => {
    const model = createInventoryModel();
    const a = ARCHIVES[0]!;
    model.set(a.fileName, STATES.get(a.fileName)![3]!);
    model.takeChanges();
    const pinned = (): boolean | undefined => model.index.ofContainer('shop', 'web-0', 'nginx').find((r) => r.fileName === a.fileName)?.pinned;

    model.set(`${a.fileName}.keep.tmp`, { kind: 'pin', target: a.fileName, size: 0 });
    expect(pinned()).toBe(true);
    expect(model.takeChanges()).toMatchObject({ any: true, containers: new Map([[keyOf(WEB), WEB]]) });
    model.set(`${a.fileName}.keep.tmp`, { kind: 'pin', target: a.fileName, size: 9 });
    expect(pinned()).toBe(true);
    // rename(2): the new name appears, then the old one is gone (an inotify watch reports them in that order).
    model.set(`${a.fileName}.keep`, { kind: 'pin', target: a.fileName, size: 9 });
    expect(pinned()).toBe(true);
    model.set(`${a.fileName}.keep.tmp`, undefined);
    expect(pinned()).toBe(true);
    // The pin of the moment changed nothing a planner reads: no container is reported.
    expect(model.takeChanges().containers.size).toBe(0);
    expect([...model.unrecognized]).toEqual([]);

    model.set(`${a.fileName}.keep`, undefined);
    expect(pinned()).toBe(false);
    expect(model.takeChanges()).toMatchObject({ any: true, containers: new Map([[keyOf(WEB), WEB]]) });
  });

  it('counts a pin being written whose archive is absent as a stray file, like a finished one, and attaches it when the archive appears', () => {
    const model = createInventoryModel();
    const a = ARCHIVES[0]!;
    model.set(`${a.fileName}.keep.tmp`, { kind: 'pin', target: a.fileName, size: 9 });
    expect([...model.unrecognized]).toEqual([[`${a.fileName}.keep.tmp`, 9]]);
    expect(model.unrecognizedBytes).toBe(9);
    model.set(a.fileName, STATES.get(a.fileName)![3]!);
    expect([...model.unrecognized]).toEqual([]);
    expect(model.unrecognizedBytes).toBe(0);
    expect(model.index.ofContainer('shop', 'web-0', 'nginx')[0]?.pinned).toBe(true);
  });

  it('counts settled archives with other hard links, and their bytes, as their link counts come and go', () => {
    const model = createInventoryModel();
    const [a, b] = [ARCHIVES[0]!, ARCHIVES[5]!];
    const linked = (archive: ArchiveName, nlink: number, size: number): EntryState => settledState(archive, { ...print(size, 5), nlink }, true);
    model.set(a.fileName, linked(a, 1, 10));
    model.set(b.fileName, linked(b, 2, 30));
    expect([model.hardLinkedArchives, model.hardLinkedBytes]).toEqual([1, 30]);
    model.set(a.fileName, linked(a, 3, 10));
    expect([model.hardLinkedArchives, model.hardLinkedBytes]).toEqual([2, 40]);
    model.set(b.fileName, linked(b, 1, 30));
    expect([model.hardLinkedArchives, model.hardLinkedBytes]).toEqual([1, 10]);
    // A link count changed is a change of the record: its container is re-planned.
    expect(model.takeChanges().containers.has(keyOf(DB))).toBe(true);
    model.set(a.fileName, undefined);
    expect([model.hardLinkedArchives, model.hardLinkedBytes]).toEqual([0, 0]);
    model.set(b.fileName, linked(b, 2, 30));
    model.clear();
    expect([model.hardLinkedArchives, model.hardLinkedBytes]).toEqual([0, 0]);
  });

  it('reports every container it held when cleared, and empties every view', () => {
    const model = createInventoryModel();
    model.set(ARCHIVES[0]!.fileName, STATES.get(ARCHIVES[0]!.fileName)![3]!);
    model.set(ARCHIVES[5]!.fileName, STATES.get(ARCHIVES[5]!.fileName)![3]!);
    model.set(ARCHIVES[6]!.fileName, STATES.get(ARCHIVES[6]!.fileName)![0]!);
    model.set('notes.txt', { kind: 'unrecognized', size: 7 });
    model.takeChanges();
    model.clear();
    const changes = model.takeChanges();
    expect(changes.any).toBe(true);
    expect([...changes.containers.keys()].sort()).toEqual([keyOf(WEB), keyOf(DB)].sort());
    expect(viewsOf(model)).toEqual(reference(new Map()));
    expect(model.index.size).toBe(0);
  });
});

/** Equal in everything a snapshot shows. */
function sameViews(a: Views, b: Views): boolean {
  const shown = (v: Views): string =>
    JSON.stringify([[...v.containers].sort((x, y) => byCodeUnits(x[0], y[0])), v.unidentified, v.pendingArchives, v.unrecognized]);
  return shown(a) === shown(b);
}
