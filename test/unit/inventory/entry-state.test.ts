import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parseArchiveName } from '../../../src/archive/archive-name.js';
import type { IdentityReadResult } from '../../../src/archive/identity.js';
import type { FileFingerprint, ParsedArchiveName } from '../../../src/archive/types.js';
import type { EntryObservation } from '../../../src/inventory/classify-entry.js';
import {
  completeIdentify,
  MAX_IDENTIFY_ATTEMPTS,
  observeEntry,
  retryDelayMs,
  type EntryState,
  type IdentifyOutcome,
} from '../../../src/inventory/entry-state.js';
import { archiveName } from './fixtures.js';

const SETTLE = 100;

function parsed(fileName: string): ParsedArchiveName {
  const result = parseArchiveName(fileName);
  if (!result.ok) throw new Error(result.reason);
  return result.value;
}

const NAME = parsed(archiveName('web-0', 'shop', 'nginx'));
const print = (size: number, mtimeMs = 1000): FileFingerprint => ({ dev: 1, ino: 2, size, mtimeMs });
/** One lstat of the archive; `ctimeMs` is when its inode last changed. */
const seen = (fingerprint: FileFingerprint, ctimeMs: number, name = NAME): EntryObservation => ({ kind: 'archive', name, fingerprint, ctimeMs });
const identified = (namespace: string, pod: string, container: string): IdentityReadResult => ({
  ok: true,
  value: { identity: { namespace, pod, container }, sources: ['cri-o'] },
});
const transient: IdentityReadResult = { ok: false, reason: 'cannot read: EIO: i/o error', retry: 'transient' };

/** An archive whose inode changed at 0, seen at 0 (pending) and again at the settle time (identifying). */
function identifyingState(name = NAME, fingerprint = print(10)): EntryState {
  const first = observeEntry(undefined, seen(fingerprint, 0, name), 0, SETTLE);
  const due = observeEntry(first.next, seen(fingerprint, 0, name), SETTLE, SETTLE);
  expect(due.identify).toBe(true);
  return due.next!;
}

function settledBy(outcome: IdentifyOutcome): Extract<EntryState, { kind: 'settled' }> {
  if (outcome.kind !== 'settled') throw new Error(`expected a settled outcome, got ${outcome.kind}`);
  return outcome.next;
}

describe('observeEntry', () => {
  it('starts a new archive written just now as pending and asks to look again after the settle time', () => {
    const transition = observeEntry(undefined, seen(print(10), 500), 500, SETTLE);
    expect(transition.next).toMatchObject({ kind: 'pending', stableSinceMs: 500, fingerprint: print(10) });
    expect(transition.recheckAtMs).toBe(600);
    expect(transition.identify).toBe(false);
  });

  it.each([
    ['changed one millisecond short of the settle time: pending', 500 - SETTLE + 1, 'pending', false],
    ['changed exactly the settle time ago: identify now', 500 - SETTLE, 'identifying', true],
    ['changed long ago: identify now', -1_000_000, 'identifying', true],
  ])('a first sight of an archive whose inode %s', (_case, ctimeMs, kind, identify) => {
    const transition = observeEntry(undefined, seen(print(10), ctimeMs), 500, SETTLE);
    expect(transition.next?.kind).toBe(kind);
    expect(transition.identify).toBe(identify);
    if (identify) {
      // Nothing to wait for: no second look is scheduled.
      expect(transition.recheckAtMs).toBeUndefined();
      expect(transition.next).toEqual({ kind: 'identifying', name: NAME, fingerprint: print(10), attempt: 1 });
    } else {
      expect(transition.recheckAtMs).toBe(600);
    }
  });

  it.each([
    ['before the settle time: keep waiting', 599, 'pending', false],
    ['exactly at the settle time: identify', 600, 'identifying', true],
    ['after the settle time: identify', 900, 'identifying', true],
  ])('same fingerprint %s', (_case, at, kind, identify) => {
    const first = observeEntry(undefined, seen(print(10), 500), 500, SETTLE);
    const again = observeEntry(first.next, seen(print(10), 500), at, SETTLE);
    expect(again.next?.kind).toBe(kind);
    expect(again.identify).toBe(identify);
    if (kind === 'pending') {
      // The very same state: nothing changed, and the settle clock did not restart.
      expect(again.next).toBe(first.next);
      expect(again.recheckAtMs).toBe(600);
    } else {
      expect(again.next).toMatchObject({ fingerprint: print(10), attempt: 1 });
    }
  });

  it.each([
    ['size grew', print(11)],
    ['mtime moved', print(10, 2000)],
    ['inode replaced', { ...print(10), ino: 3 }],
    ['device changed', { ...print(10), dev: 9 }],
  ])('restarts the settle clock when the %s', (_case, changed) => {
    const first = observeEntry(undefined, seen(print(10), 0), 0, SETTLE);
    const again = observeEntry(first.next, seen(changed, 250), 250, SETTLE);
    expect(again.next).toMatchObject({ kind: 'pending', stableSinceMs: 250, fingerprint: changed });
    expect(again.recheckAtMs).toBe(350);
    expect(again.identify).toBe(false);
  });

  it('reads new bytes at once when their inode has not changed for the settle time (e.g. a file moved in long after it was written)', () => {
    const first = observeEntry(undefined, seen(print(10), 0), 0, SETTLE);
    const replaced = observeEntry(first.next, seen({ ...print(10), ino: 7 }, -1_000), 50, SETTLE);
    expect(replaced.next).toEqual({ kind: 'identifying', name: NAME, fingerprint: { ...print(10), ino: 7 }, attempt: 1 });
    expect(replaced.identify).toBe(true);
  });

  it('does not ask to identify again while a read of the same bytes is under way', () => {
    const identifying = identifyingState();
    const again = observeEntry(identifying, seen(print(10), 0), SETTLE + 50, SETTLE);
    expect(again.next).toBe(identifying);
    expect(again.identify).toBe(false);
    expect(again.recheckAtMs).toBeUndefined();
  });

  it('sends an archive being identified back to pending when its bytes change', () => {
    const identifying = identifyingState();
    const again = observeEntry(identifying, seen(print(12), SETTLE + 5), SETTLE + 5, SETTLE);
    expect(again.next).toMatchObject({ kind: 'pending', fingerprint: print(12), stableSinceMs: SETTLE + 5 });
  });

  it('keeps a settled archive as it is while its fingerprint holds: it is never read twice', () => {
    const identifying = identifyingState();
    const settled = settledBy(completeIdentify(identifying, identifying, identified('shop', 'web-0', 'nginx')));
    const later = observeEntry(settled, seen(print(10), 0), 1_000_000, SETTLE);
    expect(later.next).toBe(settled);
    expect(later.identify).toBe(false);
  });

  it('takes a new link count into a settled record without reading the archive again: a backup linked it, the bytes are the same', () => {
    const identifying = identifyingState(NAME, { ...print(10), nlink: 1 });
    const settled = settledBy(completeIdentify(identifying, identifying, identified('shop', 'web-0', 'nginx')));
    // `cp -al` elsewhere: the inode's ctime moves on and nlink grows; dev, ino, size and mtime hold.
    const linked = observeEntry(settled, seen({ ...print(10), nlink: 2 }, 5_000), 5_000, SETTLE);
    expect(linked.identify).toBe(false);
    expect(linked.recheckAtMs).toBeUndefined();
    expect(linked.next).toEqual({ kind: 'settled', record: { ...settled.record, fingerprint: { ...print(10), nlink: 2 } } });
    expect(Object.isFrozen((linked.next as typeof settled).record)).toBe(true);
    // Seen again with that count: the very same state, nothing to commit.
    expect(observeEntry(linked.next, seen({ ...print(10), nlink: 2 }, 5_000), 6_000, SETTLE).next).toBe(linked.next);
    // The backup removed: back to one link.
    expect(observeEntry(linked.next, seen({ ...print(10), nlink: 1 }, 7_000), 7_000, SETTLE).next).toMatchObject({ kind: 'settled', record: { fingerprint: { nlink: 1 } } });
  });

  it('keeps the settle clock of a pending archive when only its link count changes, and identifies with the count of the moment', () => {
    const first = observeEntry(undefined, seen({ ...print(10), nlink: 1 }, 500), 500, SETTLE);
    const linked = observeEntry(first.next, seen({ ...print(10), nlink: 2 }, 550), 550, SETTLE);
    expect(linked.next).toMatchObject({ kind: 'pending', stableSinceMs: 500, fingerprint: { nlink: 2 } });
    expect(linked.recheckAtMs).toBe(600);
    const due = observeEntry(linked.next, seen({ ...print(10), nlink: 2 }, 550), 600, SETTLE);
    expect(due.next).toEqual({ kind: 'identifying', name: NAME, fingerprint: { ...print(10), nlink: 2 }, attempt: 1 });
    expect(due.identify).toBe(true);
  });

  it.each([
    ['pending when the new bytes were just written', 10_000, 'pending'],
    ['identifying at once when the new inode is old', 0, 'identifying'],
  ])('turns a settled archive replaced by new bytes back into %s', (_case, ctimeMs, kind) => {
    const identifying = identifyingState();
    const settled = settledBy(completeIdentify(identifying, identifying, identified('shop', 'web-0', 'nginx')));
    const transition = observeEntry(settled, seen(print(99), ctimeMs), 10_000, SETTLE);
    expect(transition.next).toMatchObject({ kind, fingerprint: print(99) });
  });

  it.each([
    ['a vanished entry is dropped', { kind: 'missing' } as const, undefined, false],
    ['an unchanged foreign file keeps its very state', { kind: 'unrecognized', size: 5 } as const, 'unrecognized', true],
    ['a foreign file that grew gets a new state', { kind: 'unrecognized', size: 6 } as const, 'unrecognized', false],
    ['a foreign file that became a pin gets a pin state', { kind: 'pin', target: NAME.fileName, size: 5 } as const, 'pin', false],
  ])('%s', (_case, observation, kind, same) => {
    const previous: EntryState = { kind: 'unrecognized', size: 5 };
    const transition = observeEntry(previous, observation, 0, SETTLE);
    expect(transition.next?.kind).toBe(kind);
    // The driver commits a transition exactly when `next` is a different object.
    expect(transition.next === previous).toBe(same);
    expect(transition.identify).toBe(false);
  });

  it.each([
    ['the same pin keeps its very state', { kind: 'pin', target: NAME.fileName, size: 3 } as const, true],
    ['a pin whose size changed gets a new state', { kind: 'pin', target: NAME.fileName, size: 4 } as const, false],
    ['a pin of another target gets a new state', { kind: 'pin', target: 'other.tar', size: 3 } as const, false],
  ])('%s', (_case, observation, same) => {
    const previous: EntryState = { kind: 'pin', target: NAME.fileName, size: 3 };
    const transition = observeEntry(previous, observation, 0, SETTLE);
    expect(transition.next).toEqual({ kind: 'pin', target: observation.target, size: observation.size });
    expect(transition.next === previous).toBe(same);
  });

  it('treats an archive name that now holds a foreign entry (e.g. replaced by a symlink) as unrecognized', () => {
    const identifying = identifyingState();
    const transition = observeEntry(identifying, { kind: 'unrecognized', size: 0 }, SETTLE + 1, SETTLE);
    expect(transition.next).toEqual({ kind: 'unrecognized', size: 0 });
  });
});

describe('completeIdentify', () => {
  it('settles an identified archive with its identity and sources', () => {
    const identifying = identifyingState();
    const outcome = completeIdentify(identifying, identifying, identified('shop', 'web-0', 'nginx'));
    const settled = settledBy(outcome);
    expect(settled.record).toEqual({
      fileName: NAME.fileName,
      name: NAME,
      fingerprint: print(10),
      identity: { namespace: 'shop', pod: 'web-0', container: 'nginx' },
      identitySources: ['cri-o'],
      unidentifiedReason: undefined,
      pinned: false,
      identifiedWith: print(10),
    });
    expect(Object.isFrozen(settled.record)).toBe(true);
    expect(Object.isFrozen(settled.record.identity)).toBe(true);
  });

  it('keeps the fingerprint an identity was read with when only the link count or ctime moves after it', () => {
    const identifying = identifyingState();
    const settled = settledBy(completeIdentify(identifying, identifying, identified('shop', 'web-0', 'nginx')));
    const read = settled.record.fingerprint;
    const moved = { ...read, nlink: 2, ctimeMs: 5_000 };
    const next = observeEntry(settled, seen(moved, SETTLE + 1), SETTLE + 1, SETTLE).next;
    expect(next?.kind === 'settled' && next.record.fingerprint).toEqual(moved);
    expect(next?.kind === 'settled' && next.record.identifiedWith).toBe(read);
  });

  it.each([
    ['the entry moved on to other bytes', (from: EntryState) => observeEntry(from, seen(print(20), SETTLE + 1), SETTLE + 1, SETTLE).next],
    ['the entry vanished', () => undefined],
    ['the entry is being read again from an equal but newer state', (from: EntryState) => ({ ...from })],
  ])('discards a read as stale when %s', (_case, current) => {
    const identifying = identifyingState();
    expect(completeIdentify(current(identifying), identifying, identified('shop', 'web-0', 'nginx'))).toEqual({ kind: 'stale' });
  });

  it('discards a read that did not start from an identifying state', () => {
    const pending = observeEntry(undefined, seen(print(10), 0), 0, SETTLE).next!;
    expect(completeIdentify(pending, pending, identified('shop', 'web-0', 'nginx'))).toEqual({ kind: 'stale' });
  });

  it('asks to look at the entry again when the opened file was not the one listed', () => {
    const identifying = identifyingState();
    const outcome = completeIdentify(identifying, identifying, { ok: false, reason: 'changed since it was listed', retry: 'changed' });
    expect(outcome).toEqual({ kind: 'changed' });
  });

  it('retries a transient read error with doubling delays, then leaves the archive unidentified with the reason', () => {
    let state = identifyingState();
    const delays: number[] = [];
    for (let attempt = 1; attempt < MAX_IDENTIFY_ATTEMPTS; attempt += 1) {
      const outcome = completeIdentify(state, state, transient);
      if (outcome.kind !== 'retry') throw new Error(`attempt ${attempt}: expected a retry, got ${outcome.kind}`);
      expect(outcome.next).toMatchObject({ kind: 'identifying', attempt: attempt + 1, fingerprint: print(10) });
      delays.push(outcome.delayMs);
      state = outcome.next;
    }
    expect(delays).toEqual(Array.from({ length: MAX_IDENTIFY_ATTEMPTS - 1 }, (_, i) => retryDelayMs(i + 1)));
    // Doubling, from one second.
    expect(delays.slice(0, 3)).toEqual([1_000, 2_000, 4_000]);
    const last = settledBy(completeIdentify(state, state, transient));
    expect(last.record.identity).toBeUndefined();
    expect(last.record.unidentifiedReason).toBe('cannot read: EIO: i/o error');
  });

  it('caps the retry delay at a minute', () => {
    expect(retryDelayMs(1)).toBe(1_000);
    expect(retryDelayMs(6)).toBe(32_000);
    expect(retryDelayMs(7)).toBe(60_000);
    expect(retryDelayMs(50)).toBe(60_000);
    for (let attempt = 1; attempt < 60; attempt += 1) expect(retryDelayMs(attempt + 1)).toBeGreaterThanOrEqual(retryDelayMs(attempt));
  });

  it('settles a permanent read failure at once as unidentified', () => {
    const identifying = identifyingState();
    const settled = settledBy(completeIdentify(identifying, identifying, { ok: false, reason: 'unreadable tar: bad checksum' }));
    expect(settled.record).toMatchObject({ identity: undefined, identitySources: [], unidentifiedReason: 'unreadable tar: bad checksum' });
  });

  it.each([
    ['an unreadable identity keeps its reason', { ok: false, reason: 'spec.dump missing' } as const, 'spec.dump missing'],
    ['a pod that contradicts the name', identified('shop', 'web-9', 'nginx'), 'spec.dump names pod "web-9"'],
    ['a namespace/container split that contradicts the name', identified('shop-nginx', 'web-0', 'x'), 'does not match "shop-nginx"'],
  ])('records the archive as unidentified when %s', (_case, answer, reason) => {
    const identifying = identifyingState();
    const settled = settledBy(completeIdentify(identifying, identifying, answer));
    expect(settled.record.identity).toBeUndefined();
    expect(settled.record.identitySources).toEqual([]);
    expect(settled.record.unidentifiedReason).toContain(reason);
  });

  it('accepts a namespace/container split that matches the name even when both contain "-"', () => {
    const name = parsed(archiveName('web-0', 'shop-eu', 'api-server'));
    const identifying = identifyingState(name, print(1));
    const settled = settledBy(completeIdentify(identifying, identifying, identified('shop-eu', 'web-0', 'api-server')));
    expect(settled.record).toMatchObject({ unidentifiedReason: undefined, identity: { namespace: 'shop-eu', pod: 'web-0', container: 'api-server' } });
  });

  it('stores identity strings through the intern function and shares one sources array per combination', () => {
    const asked: string[] = [];
    const pool = new Map<string, string>();
    const intern = <T extends string>(value: T): T => {
      asked.push(value);
      if (!pool.has(value)) pool.set(value, value);
      return pool.get(value) as T;
    };
    const a = identifyingState();
    const other = parsed(archiveName('web-0', 'shop', 'nginx', '2024-02-01T00:00:00Z'));
    const b = identifyingState(other);
    const answer: IdentityReadResult = { ok: true, value: { identity: { namespace: 'shop', pod: 'web-0', container: 'nginx' }, sources: ['cri-o', 'containerd'] } };
    const first = settledBy(completeIdentify(a, a, answer, intern)).record;
    const second = settledBy(completeIdentify(b, b, { ok: true, value: { identity: { namespace: 'shop', pod: 'web-0', container: 'nginx' }, sources: ['cri-o', 'containerd'] } }, intern)).record;
    // The identity's three names, then the name's pod and namespace-container parts, per archive.
    expect(asked).toEqual(['shop', 'web-0', 'nginx', 'web-0', 'shop-nginx', 'shop', 'web-0', 'nginx', 'web-0', 'shop-nginx']);
    expect(second.name).toEqual(expect.objectContaining({ pod: 'web-0', namespaceContainer: 'shop-nginx', timestampText: '2024-02-01T00:00:00Z' }));
    expect(first.identitySources).toEqual(['cri-o', 'containerd']);
    expect(second.identitySources).toBe(first.identitySources);
    expect(Object.isFrozen(first.identitySources)).toBe(true);
    // Not the caller's array: changing it later cannot change a record.
    expect(first.identitySources).not.toBe(answer.ok ? answer.value.sources : undefined);
  });

  it('interns only the parts of the name for an unidentified archive (its identity is not kept)', () => {
    const asked: string[] = [];
    const intern = <T extends string>(value: T): T => {
      asked.push(value);
      return value;
    };
    const identifying = identifyingState();
    settledBy(completeIdentify(identifying, identifying, identified('shop', 'web-9', 'nginx'), intern));
    expect(asked).toEqual([identifying.kind === 'identifying' ? identifying.name.pod : '', identifying.kind === 'identifying' ? identifying.name.namespaceContainer : '']);
  });
});

describe('settling (property)', () => {
  /**
   * A writer and an observer on one archive. Each step the clock advances; the writer may write (new
   * size and mtime, ctime = now); the observer may lstat. When an lstat asks for an identity read, the
   * writer may write once more before the read opens the file, as on a real disk; the read reports
   * `changed` exactly when the file opened is not the one listed.
   */
  const step = fc.record({
    advanceMs: fc.integer({ min: 0, max: 3 * SETTLE }),
    write: fc.boolean(),
    look: fc.boolean(),
    writeDuringRead: fc.boolean(),
  });

  it('identifies only bytes unchanged for the settle time, settles only what was on disk, and always settles once the writer stops', () => {
    fc.assert(
      fc.property(fc.integer({ min: -10 * SETTLE, max: 0 }), fc.array(step, { minLength: 1, maxLength: 40, size: 'max' }), (createdAt, steps) => {
        let at = 0;
        let onDisk = print(0, createdAt);
        let ctimeMs = createdAt;
        let state: EntryState | undefined;
        let writes = 0;
        const write = (): void => {
          writes += 1;
          onDisk = print(writes, at);
          ctimeMs = at;
        };
        const look = (): void => {
          const transition = observeEntry(state, seen(onDisk, ctimeMs), at, SETTLE);
          if (transition.identify) {
            // The bytes being read have not changed for the whole settle time.
            expect(at - ctimeMs).toBeGreaterThanOrEqual(SETTLE);
            expect(transition.next).toMatchObject({ kind: 'identifying', fingerprint: onDisk });
          }
          state = transition.next;
        };
        const read = (writeDuringRead: boolean): void => {
          if (state?.kind !== 'identifying') return;
          const startedFrom = state;
          if (writeDuringRead) write();
          const answer: IdentityReadResult = sameBytes(onDisk, startedFrom.fingerprint)
            ? identified('shop', 'web-0', 'nginx')
            : { ok: false, reason: 'changed since it was listed', retry: 'changed' };
          const outcome = completeIdentify(state, startedFrom, answer);
          if (outcome.kind === 'settled') {
            // Only the bytes the file holds are ever recorded as final.
            expect(outcome.next.record.fingerprint).toEqual(onDisk);
            expect(outcome.next.record.identity).toEqual({ namespace: 'shop', pod: 'web-0', container: 'nginx' });
            state = outcome.next;
          } else {
            expect(outcome.kind).toBe('changed');
            look();
          }
        };
        for (const s of steps) {
          at += s.advanceMs;
          if (s.write) write();
          if (s.look) {
            look();
            read(s.writeDuringRead);
          }
        }
        // The writer stops: one look after the settle time starts (or has) a read of exactly these bytes,
        // and that read settles the archive as it is.
        at += SETTLE;
        look();
        expect(['identifying', 'settled']).toContain(state?.kind);
        read(false);
        expect(state).toMatchObject({ kind: 'settled', record: { fingerprint: onDisk } });
      }),
    );
  });
});

function sameBytes(a: FileFingerprint, b: FileFingerprint): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs;
}
