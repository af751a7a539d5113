import { describe, expect, it } from '@jest/globals';
import { parseArchiveName } from '../../../src/archive/archive-name.js';
import type { ArchiveIdentity, ParsedArchiveName } from '../../../src/archive/types.js';
import { buildSnapshot, type SnapshotMeta } from '../../../src/inventory/build-snapshot.js';
import type { EntryState } from '../../../src/inventory/entry-state.js';
import { createInventoryModel } from '../../../src/inventory/inventory-model.js';
import { archiveName } from './fixtures.js';

const META: SnapshotMeta = {
  directory: '/checkpoints',
  directoryPresent: true,
  directoryIdentity: { dev: 64769, ino: 1234 },
  initialScanComplete: true,
  lastScanTimestampMs: 5,
  lastScanDurationSeconds: 0.25,
};

function parsed(fileName: string): ParsedArchiveName {
  const result = parseArchiveName(fileName);
  if (!result.ok) throw new Error(result.reason);
  return result.value;
}

const NGINX: ArchiveIdentity = { namespace: 'shop', pod: 'web-0', container: 'nginx' };

/** A settled archive; `identity` null for an unidentified one. */
function settled(fileName: string, size = 100, identityOrNull: ArchiveIdentity | null = NGINX): EntryState {
  const identity = identityOrNull ?? undefined;
  return {
    kind: 'settled',
    record: {
      fileName,
      name: parsed(fileName),
      fingerprint: { dev: 1, ino: size, size, mtimeMs: 1 },
      identity,
      identitySources: identity === undefined ? [] : ['cri-o'],
      unidentifiedReason: identity === undefined ? 'no spec.dump' : undefined,
      pinned: false,
    },
  };
}

function pending(fileName: string): EntryState {
  return { kind: 'pending', name: parsed(fileName), fingerprint: { dev: 1, ino: 1, size: 1, mtimeMs: 1 }, stableSinceMs: 0 };
}

/** A model holding these entries, set in the order given. */
function modelOf(list: readonly (readonly [string, EntryState])[]) {
  const model = createInventoryModel();
  for (const [fileName, state] of list) model.set(fileName, state);
  return model;
}

const A = archiveName('web-0', 'shop', 'nginx', '2024-01-01T00:00:00Z');
const B = archiveName('web-0', 'shop', 'nginx', '2024-01-02T00:00:00Z');
const C = archiveName('web-0', 'shop', 'nginx', '2024-01-03T00:00:00Z');

describe('buildSnapshot', () => {
  it.each<[string, [string, EntryState][], { pinned: string[]; unrecognized: string[]; pending: number }]>([
    ['a pin beside its settled archive pins it', [[A, settled(A)], [`${A}.keep`, { kind: 'pin', target: A, size: 0 }]], { pinned: [A], unrecognized: [], pending: 0 }],
    ['a pin that arrives before its archive pins it too', [[`${A}.keep`, { kind: 'pin', target: A, size: 0 }], [A, settled(A)]], { pinned: [A], unrecognized: [], pending: 0 }],
    ['a pin of an absent archive is unrecognized', [[`${B}.keep`, { kind: 'pin', target: B, size: 7 }]], { pinned: [], unrecognized: [`${B}.keep`], pending: 0 }],
    ['a pin of a still-pending archive waits for it', [[B, pending(B)], [`${B}.keep`, { kind: 'pin', target: B, size: 0 }]], { pinned: [], unrecognized: [], pending: 1 }],
    ['a pin whose target name is a foreign entry (e.g. a directory) is unrecognized', [[C, { kind: 'unrecognized', size: 0 }], [`${C}.keep`, { kind: 'pin', target: C, size: 2 }]], { pinned: [], unrecognized: [C, `${C}.keep`], pending: 0 }],
    ['an archive without a pin is not pinned', [[A, settled(A)], [B, settled(B)], [`${B}.keep`, { kind: 'pin', target: B, size: 0 }]], { pinned: [B], unrecognized: [], pending: 0 }],
  ])('%s', (_case, list, expected) => {
    const snapshot = buildSnapshot(modelOf(list), META);
    expect(snapshot.archives.filter((record) => record.pinned).map((record) => record.fileName)).toEqual(expected.pinned);
    expect(snapshot.unrecognized.map((file) => file.fileName).sort()).toEqual([...expected.unrecognized].sort());
    expect(snapshot.pendingArchives).toBe(expected.pending);
  });

  it('keeps an unidentified archive, with its pin, among the archives', () => {
    const snapshot = buildSnapshot(modelOf([[A, settled(A, 5, null)], [`${A}.keep`, { kind: 'pin', target: A, size: 0 }]]), META);
    expect(snapshot.archives).toEqual([expect.objectContaining({ fileName: A, identity: undefined, pinned: true, unidentifiedReason: 'no spec.dump' })]);
  });

  it('counts every kind once and keeps the unrecognized bytes', () => {
    const snapshot = buildSnapshot(
      modelOf([
        [A, settled(A)],
        [B, pending(B)],
        [C, { kind: 'identifying', name: parsed(C), fingerprint: { dev: 1, ino: 1, size: 1, mtimeMs: 1 }, attempt: 1 }],
        ['notes.txt', { kind: 'unrecognized', size: 42 }],
      ]),
      META,
    );
    expect(snapshot).toMatchObject({ ...META, pendingArchives: 2, unrecognized: [{ fileName: 'notes.txt', size: 42 }] });
    expect(snapshot.archives.map((record) => record.fileName)).toEqual([A]);
  });

  it('lists archives by container, oldest first within each, then the unidentified ones', () => {
    const side = (stamp: string): string => archiveName('web-0', 'shop', 'sidecar', stamp);
    const lost = archiveName('lost-0', 'x', 'y', '2023-01-01T00:00:00Z');
    const sideIdentity = { ...NGINX, container: 'sidecar' };
    const snapshot = buildSnapshot(
      modelOf([
        [lost, settled(lost, 9, null)],
        [C, settled(C)],
        [side('2024-01-05T00:00:00Z'), settled(side('2024-01-05T00:00:00Z'), 100, sideIdentity)],
        [A, settled(A)],
        [side('2024-01-04T00:00:00Z'), settled(side('2024-01-04T00:00:00Z'), 100, sideIdentity)],
        [B, settled(B)],
      ]),
      META,
    );
    const names = snapshot.archives.map((r) => r.fileName);
    expect(names).toHaveLength(6);
    // Each container's archives are contiguous and in age order, whatever the order they were set in.
    const nginxAt = names.indexOf(A);
    expect(names.slice(nginxAt, nginxAt + 3)).toEqual([A, B, C]);
    const sidecarAt = names.indexOf(side('2024-01-04T00:00:00Z'));
    expect(names.slice(sidecarAt, sidecarAt + 2)).toEqual([side('2024-01-04T00:00:00Z'), side('2024-01-05T00:00:00Z')]);
    // The unidentified one comes last, although it is the oldest.
    expect(names[5]).toBe(lost);
  });

  it('follows the model: a later build sees removals and pins taken away', () => {
    const model = modelOf([[A, settled(A)], [`${A}.keep`, { kind: 'pin', target: A, size: 3 }], [B, settled(B)]]);
    const before = buildSnapshot(model, META);
    model.set(`${A}.keep`, undefined);
    model.set(B, undefined);
    const after = buildSnapshot(model, META);
    expect(after.archives.map((r) => [r.fileName, r.pinned])).toEqual([[A, false]]);
    // An earlier snapshot is not changed by what happened since.
    expect(before.archives.map((r) => [r.fileName, r.pinned])).toEqual([
      [A, true],
      [B, false],
    ]);
  });

  it('is immutable', () => {
    const snapshot = buildSnapshot(modelOf([[A, settled(A)], ['notes.txt', { kind: 'unrecognized', size: 1 }]]), META);
    expect(Object.isFrozen(snapshot)).toBe(true);
    expect(Object.isFrozen(snapshot.archives)).toBe(true);
    expect(Object.isFrozen(snapshot.unrecognized)).toBe(true);
    expect(Object.isFrozen(snapshot.unrecognized[0])).toBe(true);
    expect(() => (snapshot.archives as unknown as unknown[]).push(1)).toThrow(TypeError);
  });
});
