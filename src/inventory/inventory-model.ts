import { pinFileNameOf, pinTargetOf as containerPinTargetOf, pinWritingFileNameOf } from '../archive/archive-name.js';
import type { ArchiveIdentity } from '../archive/types.js';
import { containerKeyOf, createArchiveIndex, type ArchiveIndex } from './archive-index.js';
import type { EntryState } from './entry-state.js';
import type { ArchiveRecord } from './types.js';

/**
 * What one entry adds to the views. It is a function of the entry's state and its pin partners' (see
 * contributionOf), recomputed whenever one of them changes, so what an entry added can be derived again
 * from the states before a change and taken back exactly: nothing per entry is stored for it but the
 * rare pinned copy of a record.
 */
type Contribution =
  /** The settled state's record, or its copy with the pin flag of the moment. */
  | { readonly kind: 'record'; readonly record: ArchiveRecord }
  | { readonly kind: 'pending' }
  | { readonly kind: 'unrecognized'; readonly size: number };

const PENDING: Contribution = Object.freeze({ kind: 'pending' });

/** Containers whose archives changed since the last `takeChanges()`. */
export interface ChangeSet {
  readonly containers: ReadonlyMap<string, ArchiveIdentity>;
  /** Something a snapshot shows changed (archives, pending, pins or unrecognized files). */
  readonly any: boolean;
}

/**
 * The inventory's state without any I/O: the entry of every directory name, and the views derived
 * from them (the archive index, the pending count, the unrecognized files), kept up to date one
 * entry at a time. Setting an entry touches that entry and its pin partner only, so the cost of an
 * event never depends on the size of the directory.
 */
export interface InventoryModel {
  get(fileName: string): EntryState | undefined;
  set(fileName: string, next: EntryState | undefined): void;
  names(): IterableIterator<string>;
  /** Archives not settled yet (pending or being identified). */
  unsettledNames(): IterableIterator<string>;
  clear(): void;
  readonly index: ArchiveIndex;
  readonly pendingArchives: number;
  readonly unrecognized: ReadonlyMap<string, number>;
  readonly unrecognizedBytes: number;
  readonly unidentifiedBytes: number;
  readonly identifiedBytes: number;
  /** Settled archives whose inode has other hard links, and their bytes: deleting one frees nothing. */
  readonly hardLinkedArchives: number;
  readonly hardLinkedBytes: number;
  takeChanges(): ChangeSet;
}

const isHardLinked = (record: ArchiveRecord): boolean => (record.fingerprint.nlink ?? 1) > 1;

const isArchiveState = (state: EntryState | undefined): boolean =>
  state !== undefined && (state.kind === 'pending' || state.kind === 'identifying' || state.kind === 'settled');

export function createInventoryModel(pinTargetOf: (fileName: string) => string | undefined = containerPinTargetOf): InventoryModel {
  const entries = new Map<string, EntryState>();
  const unsettled = new Set<string>();
  const index = createArchiveIndex();
  /** Settled records whose pin flag differs from their state's record: the copy the views hold, and the record it copies. */
  const pinnedCopies = new Map<string, { readonly base: ArchiveRecord; readonly record: ArchiveRecord }>();
  const unrecognized = new Map<string, number>();
  let unrecognizedBytes = 0;
  let unidentifiedBytes = 0;
  let identifiedBytes = 0;
  let hardLinkedArchives = 0;
  let hardLinkedBytes = 0;
  let pendingArchives = 0;
  let changedContainers = new Map<string, ArchiveIdentity>();
  let any = false;

  const touch = (record: ArchiveRecord): void => {
    any = true;
    if (record.identity !== undefined) changedContainers.set(containerKeyOf(record.identity), record.identity);
  };

  /** What the entry named `fileName` contributes given every entry's current state. */
  const contributionOf = (fileName: string): Contribution | undefined => {
    const state = entries.get(fileName);
    switch (state?.kind) {
      case undefined:
        return undefined;
      case 'settled': {
        // A finished pin or one being written (`.keep.tmp`, renamed to `.keep` once complete).
        const pinned = entries.get(pinFileNameOf(fileName))?.kind === 'pin' || entries.get(pinWritingFileNameOf(fileName))?.kind === 'pin';
        if (state.record.pinned === pinned) return { kind: 'record', record: state.record };
        // The same copy while nothing changed, so an unchanged archive is not reported as changed.
        const copy = pinnedCopies.get(fileName);
        return { kind: 'record', record: copy !== undefined && copy.base === state.record && copy.record.pinned === pinned ? copy.record : Object.freeze({ ...state.record, pinned }) };
      }
      case 'pending':
      case 'identifying':
        return PENDING;
      case 'pin':
        // A pin of an absent archive, finished or being written, protects nothing: it is counted as
        // unrecognized, so a stale pin (or one a crashed writer left half-written) stays visible.
        return isArchiveState(entries.get(state.target)) ? undefined : { kind: 'unrecognized', size: state.size };
      case 'unrecognized':
        return { kind: 'unrecognized', size: state.size };
    }
  };

  /** Takes back what the entry contributes, derived from the states before the change. */
  const retract = (fileName: string): Contribution | undefined => {
    const previous = contributionOf(fileName);
    if (previous === undefined) return undefined;
    if (previous.kind === 'record') {
      index.remove(previous.record);
      if (previous.record.identity === undefined) unidentifiedBytes -= previous.record.fingerprint.size;
      else identifiedBytes -= previous.record.fingerprint.size;
      if (isHardLinked(previous.record)) {
        hardLinkedArchives -= 1;
        hardLinkedBytes -= previous.record.fingerprint.size;
      }
    }
    else if (previous.kind === 'pending') pendingArchives -= 1;
    else {
      unrecognized.delete(fileName);
      unrecognizedBytes -= previous.size;
    }
    return previous;
  };

  const contribute = (fileName: string, previous: Contribution | undefined): void => {
    const next = contributionOf(fileName);
    const state = entries.get(fileName);
    if (next?.kind === 'record' && state?.kind === 'settled' && next.record !== state.record) pinnedCopies.set(fileName, { base: state.record, record: next.record });
    else pinnedCopies.delete(fileName);
    if (next !== undefined) {
      if (next.kind === 'record') {
        index.add(next.record);
        if (next.record.identity === undefined) unidentifiedBytes += next.record.fingerprint.size;
        else identifiedBytes += next.record.fingerprint.size;
        if (isHardLinked(next.record)) {
          hardLinkedArchives += 1;
          hardLinkedBytes += next.record.fingerprint.size;
        }
      }
      else if (next.kind === 'pending') pendingArchives += 1;
      else {
        unrecognized.set(fileName, next.size);
        unrecognizedBytes += next.size;
      }
    }
    if (sameContribution(previous, next)) return;
    any = true;
    if (previous?.kind === 'record') touch(previous.record);
    if (next?.kind === 'record') touch(next.record);
  };

  /** A pin of this archive present in the directory, finished or being written. */
  const presentPin = (pin: string): string | undefined => (entries.has(pin) ? pin : undefined);

  return {
    get: (fileName) => entries.get(fileName),
    set(fileName, next) {
      // The entries whose view depends on this one: a pin's archive, or an archive's pins (finished and
      // being written): the archive's pinned flag and a pin's own view depend on each other.
      const target = pinTargetOf(fileName);
      const partner = target ?? presentPin(pinFileNameOf(fileName));
      const otherPartner = target === undefined ? presentPin(pinWritingFileNameOf(fileName)) : undefined;
      const before = retract(fileName);
      const partnerBefore = partner === undefined ? undefined : retract(partner);
      const otherBefore = otherPartner === undefined ? undefined : retract(otherPartner);
      if (next === undefined) entries.delete(fileName);
      else entries.set(fileName, next);
      if (isArchiveState(next) && next?.kind !== 'settled') unsettled.add(fileName);
      else unsettled.delete(fileName);
      contribute(fileName, before);
      if (partner !== undefined) contribute(partner, partnerBefore);
      if (otherPartner !== undefined) contribute(otherPartner, otherBefore);
    },
    names: () => entries.keys(),
    unsettledNames: () => unsettled.values(),
    clear() {
      if (entries.size > 0) any = true;
      for (const [fileName, state] of entries) if (state.kind === 'settled') touch(pinnedCopies.get(fileName)?.record ?? state.record);
      entries.clear();
      unsettled.clear();
      pinnedCopies.clear();
      index.clear();
      unrecognized.clear();
      unrecognizedBytes = 0;
      unidentifiedBytes = 0;
      identifiedBytes = 0;
      hardLinkedArchives = 0;
      hardLinkedBytes = 0;
      pendingArchives = 0;
    },
    index,
    get pendingArchives() {
      return pendingArchives;
    },
    unrecognized,
    get unrecognizedBytes() {
      return unrecognizedBytes;
    },
    get unidentifiedBytes() {
      return unidentifiedBytes;
    },
    get identifiedBytes() {
      return identifiedBytes;
    },
    get hardLinkedArchives() {
      return hardLinkedArchives;
    },
    get hardLinkedBytes() {
      return hardLinkedBytes;
    },
    takeChanges() {
      const changes: ChangeSet = { containers: changedContainers, any };
      changedContainers = new Map();
      any = false;
      return changes;
    },
  };
}

function sameContribution(a: Contribution | undefined, b: Contribution | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.kind === 'record') return b.kind === 'record' && a.record === b.record;
  if (a.kind === 'pending') return b.kind === 'pending';
  return b.kind === 'unrecognized' && a.size === b.size;
}
