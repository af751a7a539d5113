import type { FileFingerprint, IdentifiedArchive, ParsedArchiveName, Result } from '../archive/types.js';
import type { ArchiveRecord } from './types.js';
import type { EntryObservation } from './classify-entry.js';
import { sameFingerprint } from './fingerprint.js';

/**
 * What the inventory believes about one directory entry. An archive walks
 * pending → identifying → verifying → settled; any lstat showing a different fingerprint sends it
 * back to pending, so bytes that are still changing are never recorded as final.
 */
export type EntryState =
  | { readonly kind: 'pending'; readonly name: ParsedArchiveName; readonly fingerprint: FileFingerprint; readonly stableSinceMs: number }
  | { readonly kind: 'identifying'; readonly name: ParsedArchiveName; readonly fingerprint: FileFingerprint }
  | {
      readonly kind: 'verifying';
      readonly name: ParsedArchiveName;
      readonly fingerprint: FileFingerprint;
      readonly identified: Result<IdentifiedArchive>;
    }
  | { readonly kind: 'settled'; readonly record: ArchiveRecord }
  | { readonly kind: 'pin'; readonly target: string; readonly size: number }
  | { readonly kind: 'unrecognized'; readonly size: number };

export interface Transition {
  readonly next: EntryState | undefined;
  /** `next` is a fresh identifying state: read its identity. */
  readonly identify: boolean;
  /** Look at the entry again at this instant (epoch ms). */
  readonly recheckAtMs: number | undefined;
  /** `next` just became settled. */
  readonly settled: boolean;
  /** Something a snapshot shows changed (archives, pending count, pins or unrecognized files). */
  readonly changed: boolean;
}

const UNCHANGED = { identify: false, recheckAtMs: undefined, settled: false, changed: false } as const;

export function isUnsettledArchive(state: EntryState | undefined): boolean {
  return state?.kind === 'pending' || state?.kind === 'identifying' || state?.kind === 'verifying';
}

/** Folds one lstat of an entry into its state. Pure: the caller performs the effects. */
export function observeEntry(
  previous: EntryState | undefined,
  observation: EntryObservation,
  nowMs: number,
  settleTimeMs: number,
): Transition {
  switch (observation.kind) {
    case 'missing':
      return { ...UNCHANGED, next: undefined, changed: previous !== undefined };
    case 'pin': {
      const same = previous?.kind === 'pin' && previous.size === observation.size;
      const next: EntryState = same ? previous : { kind: 'pin', target: observation.target, size: observation.size };
      return { ...UNCHANGED, next, changed: !same };
    }
    case 'unrecognized': {
      const same = previous?.kind === 'unrecognized' && previous.size === observation.size;
      const next: EntryState = same ? previous : { kind: 'unrecognized', size: observation.size };
      return { ...UNCHANGED, next, changed: !same };
    }
    case 'archive':
      return observeArchive(previous, observation.name, observation.fingerprint, nowMs, settleTimeMs);
  }
}

function fingerprintOfState(state: EntryState | undefined): FileFingerprint | undefined {
  if (state === undefined) return undefined;
  if (state.kind === 'settled') return state.record.fingerprint;
  if (state.kind === 'pending' || state.kind === 'identifying' || state.kind === 'verifying') return state.fingerprint;
  return undefined;
}

function observeArchive(
  previous: EntryState | undefined,
  name: ParsedArchiveName,
  fingerprint: FileFingerprint,
  nowMs: number,
  settleTimeMs: number,
): Transition {
  const known = fingerprintOfState(previous);
  if (previous === undefined || known === undefined || !sameFingerprint(known, fingerprint)) {
    // New bytes (or a new file): the settle clock starts over from this lstat.
    return {
      next: { kind: 'pending', name, fingerprint, stableSinceMs: nowMs },
      identify: false,
      recheckAtMs: nowMs + settleTimeMs,
      settled: false,
      changed: true,
    };
  }
  switch (previous.kind) {
    case 'pending': {
      const dueMs = previous.stableSinceMs + settleTimeMs;
      if (nowMs < dueMs) return { ...UNCHANGED, next: previous, recheckAtMs: dueMs };
      return { ...UNCHANGED, next: { kind: 'identifying', name: previous.name, fingerprint: previous.fingerprint }, identify: true };
    }
    case 'verifying':
      // Unchanged before and after the read: the identity belongs to these exact bytes.
      return { ...UNCHANGED, next: { kind: 'settled', record: recordOf(previous) }, settled: true, changed: true };
    default:
      return { ...UNCHANGED, next: previous };
  }
}

/**
 * Accepts an identity read only if the entry is still the very state the read started from;
 * anything newer (a changed fingerprint, a vanished file) makes the result stale. An accepted
 * result is verified by one more lstat before the archive settles.
 */
export function completeIdentify(
  current: EntryState | undefined,
  startedFrom: EntryState,
  identified: Result<IdentifiedArchive>,
): EntryState | undefined {
  if (current !== startedFrom || current.kind !== 'identifying') return undefined;
  return { kind: 'verifying', name: current.name, fingerprint: current.fingerprint, identified };
}

/**
 * The name is only a hint, but an identity that contradicts it means the name or spec.dump lies;
 * such an archive is kept unidentified so per-scope limits never delete it on a guess.
 */
function contradiction(name: ParsedArchiveName, identified: IdentifiedArchive): string | undefined {
  const { namespace, pod, container } = identified.identity;
  if (pod !== name.pod) return `spec.dump names pod ${JSON.stringify(pod)} but the file name says ${JSON.stringify(name.pod)}`;
  if (`${namespace}-${container}` !== name.namespaceContainer) {
    return `spec.dump names ${JSON.stringify(`${namespace}/${container}`)}, which does not match ${JSON.stringify(name.namespaceContainer)} in the file name`;
  }
  return undefined;
}

function recordOf(state: Extract<EntryState, { kind: 'verifying' }>): ArchiveRecord {
  const { name, fingerprint, identified } = state;
  const mismatch = identified.ok ? contradiction(name, identified.value) : undefined;
  const identity = identified.ok && mismatch === undefined ? Object.freeze({ ...identified.value.identity }) : undefined;
  return Object.freeze({
    fileName: name.fileName,
    name,
    fingerprint,
    identity,
    identitySources: identity === undefined || !identified.ok ? Object.freeze([]) : Object.freeze([...identified.value.sources]),
    unidentifiedReason: identified.ok ? mismatch : identified.reason,
    pinned: false,
  });
}
