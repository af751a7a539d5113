import { describe, expect, it } from '@jest/globals';
import { parseArchiveName } from '../../../src/archive/archive-name.js';
import type { ParsedArchiveName } from '../../../src/archive/types.js';
import { buildSnapshot, type SnapshotMeta } from '../../../src/inventory/build-snapshot.js';
import type { EntryState } from '../../../src/inventory/entry-state.js';
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

function settled(fileName: string, size = 100): EntryState {
  return {
    kind: 'settled',
    record: {
      fileName,
      name: parsed(fileName),
      fingerprint: { dev: 1, ino: size, size, mtimeMs: 1 },
      identity: { namespace: 'shop', pod: 'web-0', container: 'nginx' },
      identitySources: ['cri-o'],
      unidentifiedReason: undefined,
      pinned: false,
    },
  };
}

function pending(fileName: string): EntryState {
  return { kind: 'pending', name: parsed(fileName), fingerprint: { dev: 1, ino: 1, size: 1, mtimeMs: 1 }, stableSinceMs: 0 };
}

const A = archiveName('web-0', 'shop', 'nginx', '2024-01-01T00:00:00Z');
const B = archiveName('web-0', 'shop', 'nginx', '2024-01-02T00:00:00Z');
const C = archiveName('web-0', 'shop', 'nginx', '2024-01-03T00:00:00Z');

describe('buildSnapshot', () => {
  it.each<[string, [string, EntryState][], { pinned: string[]; unrecognized: string[]; pending: number }]>([
    ['a pin beside its settled archive pins it', [[A, settled(A)], [`${A}.keep`, { kind: 'pin', target: A, size: 0 }]], { pinned: [A], unrecognized: [], pending: 0 }],
    ['a pin of an absent archive is unrecognized', [[`${B}.keep`, { kind: 'pin', target: B, size: 7 }]], { pinned: [], unrecognized: [`${B}.keep`], pending: 0 }],
    ['a pin of a still-pending archive waits for it', [[B, pending(B)], [`${B}.keep`, { kind: 'pin', target: B, size: 0 }]], { pinned: [], unrecognized: [], pending: 1 }],
    ['a pin whose target name is a foreign entry (e.g. a directory) is unrecognized', [[C, { kind: 'unrecognized', size: 0 }], [`${C}.keep`, { kind: 'pin', target: C, size: 2 }]], { pinned: [], unrecognized: [C, `${C}.keep`], pending: 0 }],
    ['an archive without a pin is not pinned', [[A, settled(A)], [B, settled(B)], [`${B}.keep`, { kind: 'pin', target: B, size: 0 }]], { pinned: [B], unrecognized: [], pending: 0 }],
  ])('%s', (_case, list, expected) => {
    const snapshot = buildSnapshot(new Map(list), META);
    expect(snapshot.archives.filter((record) => record.pinned).map((record) => record.fileName)).toEqual(expected.pinned);
    expect(snapshot.unrecognized.map((file) => file.fileName).sort()).toEqual([...expected.unrecognized].sort());
    expect(snapshot.pendingArchives).toBe(expected.pending);
  });

  it('counts every kind once and keeps the unrecognized bytes', () => {
    const snapshot = buildSnapshot(
      new Map<string, EntryState>([
        [A, settled(A)],
        [B, pending(B)],
        [C, { kind: 'identifying', name: parsed(C), fingerprint: { dev: 1, ino: 1, size: 1, mtimeMs: 1 } }],
        ['notes.txt', { kind: 'unrecognized', size: 42 }],
      ]),
      META,
    );
    expect(snapshot).toMatchObject({ ...META, pendingArchives: 2, unrecognized: [{ fileName: 'notes.txt', size: 42 }] });
    expect(snapshot.archives.map((record) => record.fileName)).toEqual([A]);
  });

  it('is immutable', () => {
    const snapshot = buildSnapshot(new Map([[A, settled(A)]]), META);
    expect(Object.isFrozen(snapshot)).toBe(true);
    expect(Object.isFrozen(snapshot.archives)).toBe(true);
    expect(() => (snapshot.archives as unknown as unknown[]).push(1)).toThrow(TypeError);
  });
});
