import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { ArchiveIdentity } from '../../../src/archive/types.js';
import {
  addToBucket,
  bucketKeyOf,
  eventMessageOf,
  eventTargetOf,
  MAX_EVENT_MESSAGE_LENGTH,
  type DeletionBucket,
} from '../../../src/kubernetes/event-aggregator.js';
import { DELETION_REASONS, type DeletionReason, type PlannedDeletion } from '../../../src/retention/types.js';

function deletion(identity: ArchiveIdentity | undefined, reason: DeletionReason, fileName = 'checkpoint-x.tar', detail = 'why'): PlannedDeletion {
  return {
    fileName,
    fingerprint: { dev: 1, ino: 2, size: 3, mtimeMs: 4 },
    identity,
    reason,
    limitValue: undefined,
    scope: { level: 'node' },
    policySource: 'test',
    detail,
  };
}

const web: ArchiveIdentity = { namespace: 'shop', pod: 'web-0', container: 'nginx' };

describe('event targets and keys', () => {
  it.each<[string, ArchiveIdentity | undefined, object]>([
    ['identified archive → its pod', web, { kind: 'Pod', namespace: 'shop', name: 'web-0' }],
    ['unidentified archive → the node, in default', undefined, { kind: 'Node', namespace: 'default', name: 'node-a' }],
  ])('%s', (_name, identity, expected) => {
    expect(eventTargetOf(deletion(identity, 'orphan'), 'node-a')).toEqual(expected);
  });

  it.each<[string, PlannedDeletion, PlannedDeletion, boolean]>([
    ['same owner and reason', deletion(web, 'count', 'a.tar'), deletion(web, 'count', 'b.tar'), true],
    ['different reason', deletion(web, 'count'), deletion(web, 'age'), false],
    ['different container', deletion(web, 'count'), deletion({ ...web, container: 'sidecar' }, 'count'), false],
    ['different pod', deletion(web, 'count'), deletion({ ...web, pod: 'web-1' }, 'count'), false],
    ['dash-shifted names do not collide', deletion({ namespace: 'a-b', pod: 'c', container: 'd' }, 'count'), deletion({ namespace: 'a', pod: 'b-c', container: 'd' }, 'count'), false],
  ])('%s', (_name, a, b, same) => {
    expect(bucketKeyOf(a, 'n') === bucketKeyOf(b, 'n')).toBe(same);
  });
});

describe('addToBucket', () => {
  it('sums counts and bytes and keeps the first and latest instants', () => {
    let bucket: DeletionBucket | undefined;
    bucket = addToBucket(bucket, deletion(web, 'count', 'a.tar'), 100, 10, 'n');
    bucket = addToBucket(bucket, deletion(web, 'count', 'b.tar'), 250, 20, 'n');
    expect(bucket).toMatchObject({ count: 2, bytes: 350, lastFile: 'b.tar', lastBytes: 250, firstMs: 10, lastMs: 20 });
  });

  it.each([
    ['negative', -5],
    ['NaN', Number.NaN],
    ['infinite', Number.POSITIVE_INFINITY],
  ])('treats a %s size as zero bytes', (_name, bytes) => {
    expect(addToBucket(undefined, deletion(web, 'age'), bytes, 0, 'n').bytes).toBe(0);
  });
});

describe('eventMessageOf', () => {
  it.each<[string, number, string]>([
    ['one deletion names the file, size and reason', 1, 'Deleted checkpoint archive b.tar (200 bytes) of container nginx, reason count: why'],
    ['several lead with the totals', 2, 'Deleted 2 checkpoint archives (300 bytes) of container nginx, reason count; latest b.tar (200 bytes): why'],
  ])('%s', (_name, count, expected) => {
    let bucket = addToBucket(undefined, deletion(web, 'count', count === 1 ? 'b.tar' : 'a.tar'), count === 1 ? 200 : 100, 0, 'n');
    if (count === 2) bucket = addToBucket(bucket, deletion(web, 'count', 'b.tar'), 200, 1, 'n');
    expect(eventMessageOf(bucket)).toBe(expected);
  });

  it('stays within the message limit and keeps the totals when the detail is huge (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 3000 }), fc.integer({ min: 1, max: 50 }), fc.constantFrom(...DELETION_REASONS), (detail, count, reason) => {
        let bucket: DeletionBucket | undefined;
        for (let i = 0; i < count; i++) bucket = addToBucket(bucket, deletion(web, reason, 'f.tar', detail), 1, i, 'n');
        const message = eventMessageOf(bucket as DeletionBucket);
        expect(message.length).toBeLessThanOrEqual(MAX_EVENT_MESSAGE_LENGTH);
        expect(message).toContain(`reason ${reason}`);
        if (count > 1) expect(message.startsWith(`Deleted ${count} checkpoint archives (${count} bytes)`)).toBe(true);
      }),
    );
  });
});
