import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parseArchiveName } from '../../../src/archive/archive-name.js';
import type { ArchiveIdentity } from '../../../src/archive/types.js';
import { indexArchives } from '../../../src/inventory/archive-index.js';
import type { ArchiveRecord } from '../../../src/inventory/types.js';
import { archiveName } from './fixtures.js';

function record(identity: ArchiveIdentity | undefined, stamp: string, pod = identity?.pod ?? 'p'): ArchiveRecord {
  const fileName = archiveName(pod, identity?.namespace ?? 'ns', identity?.container ?? 'c', stamp);
  const name = parseArchiveName(fileName);
  if (!name.ok) throw new Error(name.reason);
  return {
    fileName,
    name: name.value,
    fingerprint: { dev: 1, ino: 1, size: 1, mtimeMs: 1 },
    identity,
    identitySources: identity === undefined ? [] : ['cri-o'],
    unidentifiedReason: identity === undefined ? 'no spec.dump' : undefined,
    pinned: false,
  };
}

const WEB = { namespace: 'shop', pod: 'web-0', container: 'nginx' };
const SIDE = { namespace: 'shop', pod: 'web-0', container: 'sidecar' };

describe('indexArchives', () => {
  it('groups by namespace, pod and container, oldest first, and keeps unidentified archives apart', () => {
    const index = indexArchives([
      record(WEB, '2024-01-03T00:00:00Z'),
      record(SIDE, '2024-01-01T00:00:00Z'),
      record(WEB, '2024-01-01T00:00:00Z'),
      record(undefined, '2024-01-02T00:00:00Z'),
      record(WEB, '2024-01-02T00:00:00Z'),
    ]);
    expect(index.ofContainer('shop', 'web-0', 'nginx').map((r) => r.name.timestampText)).toEqual([
      '2024-01-01T00:00:00Z',
      '2024-01-02T00:00:00Z',
      '2024-01-03T00:00:00Z',
    ]);
    expect(index.ofContainer('shop', 'web-0', 'sidecar')).toHaveLength(1);
    expect(index.ofContainer('shop', 'web-1', 'nginx')).toEqual([]);
    expect(index.unidentified).toHaveLength(1);
    expect([...(index.namespaces.get('shop')?.get('web-0')?.keys() ?? [])].sort()).toEqual(['nginx', 'sidecar']);
  });

  it('places every archive exactly once (property)', () => {
    const label = fc.constantFrom('a', 'b', 'c-d');
    const identity = fc.option(fc.record({ namespace: label, pod: label, container: label }), { nil: undefined });
    const second = fc.integer({ min: 0, max: 59 }).map((s) => `2024-01-01T00:00:${String(s).padStart(2, '0')}Z`);
    fc.assert(
      fc.property(fc.array(fc.tuple(identity, second), { maxLength: 30 }), (list) => {
        const archives = list.map(([id, stamp]) => record(id, stamp));
        const index = indexArchives(archives);
        let placed = index.unidentified.length;
        for (const pods of index.namespaces.values()) {
          for (const containers of pods.values()) {
            for (const group of containers.values()) {
              placed += group.length;
              for (let i = 1; i < group.length; i += 1) {
                expect(group[i - 1]!.name.timestampMs).toBeLessThanOrEqual(group[i]!.name.timestampMs);
              }
            }
          }
        }
        expect(placed).toBe(archives.length);
      }),
    );
  });
});
