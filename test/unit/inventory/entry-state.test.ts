import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parseArchiveName } from '../../../src/archive/archive-name.js';
import type { FileFingerprint, IdentifiedArchive, ParsedArchiveName, Result } from '../../../src/archive/types.js';
import type { EntryObservation } from '../../../src/inventory/classify-entry.js';
import { completeIdentify, observeEntry, type EntryState } from '../../../src/inventory/entry-state.js';
import { archiveName } from './fixtures.js';

const SETTLE = 100;

function parsed(fileName: string): ParsedArchiveName {
  const result = parseArchiveName(fileName);
  if (!result.ok) throw new Error(result.reason);
  return result.value;
}

const NAME = parsed(archiveName('web-0', 'shop', 'nginx'));
const print = (size: number, mtimeMs = 1000): FileFingerprint => ({ dev: 1, ino: 2, size, mtimeMs });
const seen = (fingerprint: FileFingerprint): EntryObservation => ({ kind: 'archive', name: NAME, fingerprint });
const identified = (namespace: string, pod: string, container: string): Result<IdentifiedArchive> => ({
  ok: true,
  value: { identity: { namespace, pod, container }, sources: ['cri-o'] },
});

/** Drives one archive from first sight to settled with the given identity answer. */
function settle(answer: Result<IdentifiedArchive>): EntryState | undefined {
  const first = observeEntry(undefined, seen(print(10)), 0, SETTLE);
  const due = observeEntry(first.next, seen(print(10)), SETTLE, SETTLE);
  const startedFrom = due.next!;
  const verifying = completeIdentify(startedFrom, startedFrom, answer);
  return observeEntry(verifying, seen(print(10)), SETTLE + 1, SETTLE).next;
}

describe('observeEntry', () => {
  it('starts a new archive as pending and asks to look again after the settle time', () => {
    const transition = observeEntry(undefined, seen(print(10)), 500, SETTLE);
    expect(transition.next).toMatchObject({ kind: 'pending', stableSinceMs: 500 });
    expect(transition.recheckAtMs).toBe(600);
    expect(transition.identify).toBe(false);
    expect(transition.changed).toBe(true);
  });

  it.each([
    ['before the settle time: keep waiting', 599, 'pending', false],
    ['exactly at the settle time: identify', 600, 'identifying', true],
    ['after the settle time: identify', 900, 'identifying', true],
  ])('same fingerprint %s', (_case, at, kind, identify) => {
    const first = observeEntry(undefined, seen(print(10)), 500, SETTLE);
    const again = observeEntry(first.next, seen(print(10)), at, SETTLE);
    expect(again.next?.kind).toBe(kind);
    expect(again.identify).toBe(identify);
  });

  it.each([
    ['size grew', print(11)],
    ['mtime moved', print(10, 2000)],
    ['inode replaced', { ...print(10), ino: 3 }],
  ])('restarts the settle clock when the %s', (_case, changed) => {
    const first = observeEntry(undefined, seen(print(10)), 0, SETTLE);
    const again = observeEntry(first.next, seen(changed), 250, SETTLE);
    expect(again.next).toMatchObject({ kind: 'pending', stableSinceMs: 250, fingerprint: changed });
    expect(again.recheckAtMs).toBe(350);
  });

  it('settles only after an lstat that follows the identity read shows the same bytes', () => {
    const first = observeEntry(undefined, seen(print(10)), 0, SETTLE);
    const identifying = observeEntry(first.next, seen(print(10)), SETTLE, SETTLE).next!;
    const verifying = completeIdentify(identifying, identifying, identified('shop', 'web-0', 'nginx'));
    expect(verifying?.kind).toBe('verifying');
    const changedDuringRead = observeEntry(verifying, seen(print(12)), SETTLE + 5, SETTLE);
    expect(changedDuringRead.next?.kind).toBe('pending');
    expect(changedDuringRead.settled).toBe(false);
    const unchanged = observeEntry(verifying, seen(print(10)), SETTLE + 5, SETTLE);
    expect(unchanged.settled).toBe(true);
    expect(unchanged.next).toMatchObject({ kind: 'settled', record: { identity: { namespace: 'shop', pod: 'web-0', container: 'nginx' } } });
  });

  it('discards an identity read whose entry changed in the meantime', () => {
    const first = observeEntry(undefined, seen(print(10)), 0, SETTLE);
    const identifying = observeEntry(first.next, seen(print(10)), SETTLE, SETTLE).next!;
    const replaced = observeEntry(identifying, seen(print(20)), SETTLE + 1, SETTLE).next;
    expect(completeIdentify(replaced, identifying, identified('shop', 'web-0', 'nginx'))).toBeUndefined();
    expect(completeIdentify(undefined, identifying, identified('shop', 'web-0', 'nginx'))).toBeUndefined();
  });

  it.each([
    ['an unreadable identity keeps its reason', { ok: false, reason: 'spec.dump missing' } as const, 'spec.dump missing'],
    ['a pod that contradicts the name', identified('shop', 'web-9', 'nginx'), 'spec.dump names pod "web-9"'],
    ['a namespace/container split that contradicts the name', identified('shop-nginx', 'web-0', 'x'), 'does not match "shop-nginx"'],
  ])('records the archive as unidentified when %s', (_case, answer, reason) => {
    const state = settle(answer);
    expect(state?.kind).toBe('settled');
    if (state?.kind !== 'settled') return;
    expect(state.record.identity).toBeUndefined();
    expect(state.record.identitySources).toEqual([]);
    expect(state.record.unidentifiedReason).toContain(reason);
  });

  it('accepts a namespace/container split that matches the name even when both contain "-"', () => {
    const name = parsed(archiveName('web-0', 'shop-eu', 'api-server'));
    const first = observeEntry(undefined, { kind: 'archive', name, fingerprint: print(1) }, 0, SETTLE);
    const identifying = observeEntry(first.next, { kind: 'archive', name, fingerprint: print(1) }, SETTLE, SETTLE).next!;
    const verifying = completeIdentify(identifying, identifying, identified('shop-eu', 'web-0', 'api-server'));
    const settled = observeEntry(verifying, { kind: 'archive', name, fingerprint: print(1) }, SETTLE, SETTLE).next;
    expect(settled).toMatchObject({ kind: 'settled', record: { unidentifiedReason: undefined, identity: { namespace: 'shop-eu' } } });
  });

  it.each([
    ['a vanished entry is dropped', { kind: 'missing' } as const, undefined, true],
    ['an unchanged foreign file changes nothing', { kind: 'unrecognized', size: 5 } as const, 'unrecognized', false],
    ['a foreign file that grew is a change', { kind: 'unrecognized', size: 6 } as const, 'unrecognized', true],
  ])('%s', (_case, observation, kind, changed) => {
    const previous: EntryState = { kind: 'unrecognized', size: 5 };
    const transition = observeEntry(previous, observation, 0, SETTLE);
    expect(transition.next?.kind).toBe(kind);
    expect(transition.changed).toBe(changed);
  });

  it('turns a settled archive replaced by new bytes back into a pending one', () => {
    const state = settle(identified('shop', 'web-0', 'nginx'));
    const transition = observeEntry(state, seen(print(99)), 10_000, SETTLE);
    expect(transition.next?.kind).toBe('pending');
    expect(transition.changed).toBe(true);
  });

  it('never asks to identify bytes that were not seen unchanged for the whole settle time (property)', () => {
    const step = fc.record({ advanceMs: fc.integer({ min: 0, max: 3 * SETTLE }), size: fc.integer({ min: 0, max: 3 }) });
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => {
        let state: EntryState | undefined;
        let at = 0;
        // When the bytes now on disk were first seen, and whether anything else was seen since.
        let sameSince = 0;
        let lastSize: number | undefined;
        for (const { advanceMs, size } of steps) {
          at += advanceMs;
          if (size !== lastSize) sameSince = at;
          lastSize = size;
          const transition = observeEntry(state, seen(print(size)), at, SETTLE);
          if (transition.identify) expect(at - sameSince).toBeGreaterThanOrEqual(SETTLE);
          state = transition.next;
          // An identity read completes with whatever the disk showed then; an lstat confirms it.
          if (state?.kind === 'identifying') state = completeIdentify(state, state, identified('shop', 'web-0', 'nginx'));
        }
      }),
    );
  });
});
