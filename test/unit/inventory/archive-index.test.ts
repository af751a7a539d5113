import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parseArchiveName } from '../../../src/archive/archive-name.js';
import type { ArchiveIdentity } from '../../../src/archive/types.js';
import { containerKeyOf, createArchiveIndex, type ArchiveIndex } from '../../../src/inventory/archive-index.js';
import type { ArchiveRecord } from '../../../src/inventory/types.js';
import { archiveName } from './fixtures.js';

/** An index of a fixed list of records, added in this order. */
function indexArchives(archives: Iterable<ArchiveRecord>): ArchiveIndex {
  const index = createArchiveIndex();
  for (const record of archives) index.add(record);
  return index;
}

function record(identity: ArchiveIdentity | undefined, stamp: string, opts: { pod?: string; mtimeMs?: number; size?: number } = {}): ArchiveRecord {
  const pod = identity?.pod ?? opts.pod ?? 'p';
  const fileName = archiveName(pod, identity?.namespace ?? 'ns', identity?.container ?? 'c', stamp);
  const name = parseArchiveName(fileName);
  if (!name.ok) throw new Error(name.reason);
  return {
    fileName,
    name: name.value,
    fingerprint: { dev: 1, ino: 1, size: opts.size ?? 1, mtimeMs: opts.mtimeMs ?? 1 },
    identity,
    identitySources: identity === undefined ? [] : ['cri-o'],
    unidentifiedReason: identity === undefined ? 'no spec.dump' : undefined,
    pinned: false,
  };
}

const WEB = { namespace: 'shop', pod: 'web-0', container: 'nginx' };
const SIDE = { namespace: 'shop', pod: 'web-0', container: 'sidecar' };
const DB = { namespace: 'data', pod: 'db-0', container: 'postgres' };

/** The index as plain data: namespace → pod → container → file names, oldest first. */
function layout(index: ArchiveIndex): Record<string, Record<string, Record<string, string[]>>> {
  const out: Record<string, Record<string, Record<string, string[]>>> = {};
  for (const [namespace, pods] of index.namespaces) {
    out[namespace] = {};
    for (const [pod, containers] of pods) {
      out[namespace]![pod] = {};
      for (const [container, group] of containers) out[namespace]![pod]![container] = group.records.map((r) => r.fileName);
    }
  }
  return out;
}

const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The same layout computed directly: group by owner, sort by the name's instant, then mtime, then file name. */
function expectedLayout(records: Iterable<ArchiveRecord>): Record<string, Record<string, Record<string, string[]>>> {
  const out: Record<string, Record<string, Record<string, ArchiveRecord[]>>> = {};
  for (const r of records) {
    if (r.identity === undefined) continue;
    const { namespace, pod, container } = r.identity;
    ((out[namespace] ??= {})[pod] ??= {})[container] ??= [];
    out[namespace]![pod]![container]!.push(r);
  }
  const older = (a: ArchiveRecord, b: ArchiveRecord): number =>
    a.name.timestampMs !== b.name.timestampMs
      ? a.name.timestampMs - b.name.timestampMs
      : a.fingerprint.mtimeMs !== b.fingerprint.mtimeMs
        ? a.fingerprint.mtimeMs - b.fingerprint.mtimeMs
        : byCodeUnits(a.fileName, b.fileName);
  return Object.fromEntries(
    Object.entries(out).map(([ns, pods]) => [
      ns,
      Object.fromEntries(Object.entries(pods).map(([pod, cs]) => [pod, Object.fromEntries(Object.entries(cs).map(([c, list]) => [c, [...list].sort(older).map((r) => r.fileName)]))])),
    ]),
  );
}

describe('an index built from a list', () => {
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
    expect(index.unidentified.size).toBe(1);
    expect([...index.unidentified.keys()]).toEqual([archiveName('p', 'ns', 'c', '2024-01-02T00:00:00Z')]);
    expect(index.size).toBe(5);
    expect([...(index.namespaces.get('shop')?.get('web-0')?.keys() ?? [])].sort()).toEqual(['nginx', 'sidecar']);
  });

  it('orders archives of the same instant by mtime, then by file name, whatever the arrival order', () => {
    // Three spellings of one instant: the name's time ties, so mtime and then the file name decide.
    const a = record(WEB, '2024-01-01T00:00:00Z', { mtimeMs: 5 });
    const b = record(WEB, '2024-01-01T01:00:00+01:00', { mtimeMs: 5 });
    const c = record(WEB, '2024-01-01T00:00:00+00:00', { mtimeMs: 3 });
    expect([a.name.timestampMs, b.name.timestampMs]).toEqual([c.name.timestampMs, c.name.timestampMs]);
    const expected = [c.fileName, ...[a.fileName, b.fileName].sort()];
    for (const order of [[a, b, c], [c, b, a], [b, a, c], [b, c, a]]) {
      expect(indexArchives(order).ofContainer('shop', 'web-0', 'nginx').map((r) => r.fileName)).toEqual(expected);
    }
  });

  it('places every archive exactly once, oldest first (property)', () => {
    const label = fc.constantFrom('a', 'b', 'c-d');
    const identity = fc.option(fc.record({ namespace: label, pod: label, container: label }), { nil: undefined });
    const second = fc.integer({ min: 0, max: 59 }).map((s) => `2024-01-01T00:00:${String(s).padStart(2, '0')}Z`);
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(identity, second), { maxLength: 30, size: 'max', selector: ([id, stamp]) => `${JSON.stringify(id)} ${stamp}` }), (list) => {
        const archives = list.map(([id, stamp]) => record(id, stamp));
        const index = indexArchives(archives);
        let placed = index.unidentified.size;
        for (const pods of index.namespaces.values()) {
          for (const containers of pods.values()) {
            for (const group of containers.values()) {
              placed += group.records.length;
              expect(group.records.length).toBeGreaterThan(0);
              for (const r of group.records) expect(containerKeyOf(r.identity!)).toBe(group.key);
              for (let i = 1; i < group.records.length; i += 1) {
                expect(group.records[i - 1]!.name.timestampMs).toBeLessThanOrEqual(group.records[i]!.name.timestampMs);
              }
            }
          }
        }
        expect(placed).toBe(archives.length);
        expect(index.size).toBe(archives.length);
      }),
    );
  });
});

describe('createArchiveIndex', () => {
  it('adds and removes one archive at a time, returning the group it joined or left', () => {
    const index = createArchiveIndex();
    const first = record(WEB, '2024-01-02T00:00:00Z');
    const older = record(WEB, '2024-01-01T00:00:00Z');
    const group = index.add(first);
    expect(group).toMatchObject({ key: containerKeyOf(WEB), identity: WEB });
    expect(index.add(older)).toBe(group);
    expect(group!.records).toEqual([older, first]);
    expect(index.containerByKey(containerKeyOf(WEB))).toBe(group);
    expect([...index.containers()]).toEqual([group]);
    expect(index.size).toBe(2);

    expect(index.remove(older)).toBe(group);
    expect(group!.records).toEqual([first]);
    expect(index.size).toBe(1);
  });

  it('removes exactly the record object given: an equal copy or an absent record changes nothing', () => {
    const index = createArchiveIndex();
    const r = record(WEB, '2024-01-01T00:00:00Z');
    index.add(r);
    expect(index.remove({ ...r })).toBeUndefined();
    expect(index.remove(record(SIDE, '2024-01-01T00:00:00Z'))).toBeUndefined();
    expect(index.ofContainer('shop', 'web-0', 'nginx')).toEqual([r]);
    expect(index.size).toBe(1);

    const lost = record(undefined, '2024-01-01T00:00:00Z');
    index.add(lost);
    expect(index.remove({ ...lost })).toBeUndefined();
    expect(index.unidentified.get(lost.fileName)).toBe(lost);
    expect(index.size).toBe(2);
    expect(index.remove(lost)).toBeUndefined();
    expect(index.unidentified.size).toBe(0);
    expect(index.size).toBe(1);
  });

  it('drops a container, its pod and its namespace once their last archive is gone', () => {
    const index = createArchiveIndex();
    const web = record(WEB, '2024-01-01T00:00:00Z');
    const side = record(SIDE, '2024-01-01T00:00:00Z');
    const db = record(DB, '2024-01-01T00:00:00Z');
    for (const r of [web, side, db]) index.add(r);
    index.remove(web);
    expect(layout(index)).toEqual({ shop: { 'web-0': { sidecar: [side.fileName] } }, data: { 'db-0': { postgres: [db.fileName] } } });
    expect(index.containerByKey(containerKeyOf(WEB))).toBeUndefined();
    index.remove(side);
    expect(index.namespaces.has('shop')).toBe(false);
    expect([...index.containers()].map((g) => g.key)).toEqual([containerKeyOf(DB)]);
    // A group formed again later is a fresh one.
    const again = index.add(web);
    expect(again?.records).toEqual([web]);
  });

  it('lists the identified archives of one namespace', () => {
    const index = indexArchives([record(WEB, '2024-01-01T00:00:00Z'), record(SIDE, '2024-01-02T00:00:00Z'), record(DB, '2024-01-01T00:00:00Z'), record(undefined, '2024-01-01T00:00:00Z')]);
    expect(index.recordsOfNamespace('shop').map((r) => r.identity?.container).sort()).toEqual(['nginx', 'sidecar']);
    expect(index.recordsOfNamespace('data')).toHaveLength(1);
    expect(index.recordsOfNamespace('none')).toEqual([]);
    // A fresh array: the caller may keep it across an await.
    const list = index.recordsOfNamespace('shop');
    list.pop();
    expect(index.recordsOfNamespace('shop')).toHaveLength(2);
  });

  it('forgets everything on clear', () => {
    const index = createArchiveIndex();
    index.add(record(WEB, '2024-01-01T00:00:00Z'));
    index.add(record(undefined, '2024-01-01T00:00:00Z'));
    index.clear();
    expect(index.size).toBe(0);
    expect(index.namespaces.size).toBe(0);
    expect(index.unidentified.size).toBe(0);
    expect([...index.containers()]).toEqual([]);
  });

  it('after any sequence of adds and removes equals an index of the archives present, built from scratch (property)', () => {
    const pool = [
      // One instant spelt three ways: ties on the name's time, then on mtime for two of them.
      ...['2024-01-01T00:00:00Z', '2024-01-01T00:00:00+00:00', '2024-01-01T01:00:00+01:00', '2024-01-02T00:00:00Z'].flatMap((stamp) => [
        record(WEB, stamp, { mtimeMs: stamp.endsWith('+00:00') ? 0 : 9 }),
        record(SIDE, stamp),
        record(DB, stamp),
        record(undefined, stamp, { pod: 'lost-0' }),
      ]),
    ];
    const op = fc.tuple(fc.boolean(), fc.integer({ min: 0, max: pool.length - 1 }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60, size: 'max' }), (ops) => {
        const index = createArchiveIndex();
        const present = new Set<ArchiveRecord>();
        for (const [add, at] of ops) {
          const r = pool[at]!;
          if (add && !present.has(r)) {
            index.add(r);
            present.add(r);
          } else if (!add) {
            index.remove(r);
            present.delete(r);
          }
        }
        expect(layout(index)).toEqual(expectedLayout(present));
        expect([...index.unidentified.values()].sort((a, b) => byCodeUnits(a.fileName, b.fileName))).toEqual(
          [...present].filter((r) => r.identity === undefined).sort((a, b) => byCodeUnits(a.fileName, b.fileName)),
        );
        expect(index.size).toBe(present.size);
        const keys = new Set([...present].flatMap((r) => (r.identity === undefined ? [] : [containerKeyOf(r.identity)])));
        expect([...index.containers()].map((g) => g.key).sort()).toEqual([...keys].sort());
        for (const key of keys) expect(index.containerByKey(key)?.key).toBe(key);
        // Arrival order never matters.
        expect(layout(indexArchives([...present].reverse()))).toEqual(layout(index));
      }),
    );
  });
});
