import type { ArchiveIdentity, FileFingerprint, IdentifiedArchive, IdentitySource, ParsedArchiveName } from '../archive/types.js';
import type { IdentityReadResult } from '../archive/identity.js';
import type { ArchiveRecord } from './types.js';
import type { EntryObservation } from './classify-entry.js';
import { sameFingerprint } from '../archive/fingerprint.js';

/**
 * What the inventory believes about one directory entry. An archive walks pending → identifying →
 * settled; any lstat showing a different fingerprint sends it back to pending, so bytes that are
 * still changing are never recorded as final. An archive whose ctime is already older than the
 * settle time skips pending: nothing has touched its inode for that long, and ctime cannot be set
 * back by a writer.
 */
export type EntryState =
  | { readonly kind: 'pending'; readonly name: ParsedArchiveName; readonly fingerprint: FileFingerprint; readonly stableSinceMs: number }
  | { readonly kind: 'identifying'; readonly name: ParsedArchiveName; readonly fingerprint: FileFingerprint; readonly attempt: number }
  | { readonly kind: 'settled'; readonly record: ArchiveRecord }
  | { readonly kind: 'pin'; readonly target: string; readonly size: number }
  | { readonly kind: 'unrecognized'; readonly size: number };

export interface Transition {
  readonly next: EntryState | undefined;
  /** `next` is a fresh identifying state: read its identity. */
  readonly identify: boolean;
  /** Look at the entry again at this instant (epoch ms). */
  readonly recheckAtMs: number | undefined;
}

const UNCHANGED = { identify: false, recheckAtMs: undefined } as const;

/** Transient read failures are retried this many times, with doubling delays, before the archive is left unidentified. */
export const MAX_IDENTIFY_ATTEMPTS = 8;
const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 60_000;

export function retryDelayMs(attempt: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, attempt - 1));
}

/** Folds one lstat of an entry into its state. Pure: the caller performs the effects. */
export function observeEntry(previous: EntryState | undefined, observation: EntryObservation, nowMs: number, settleTimeMs: number): Transition {
  switch (observation.kind) {
    case 'missing':
      return { ...UNCHANGED, next: undefined };
    case 'pin': {
      const same = previous?.kind === 'pin' && previous.size === observation.size && previous.target === observation.target;
      return { ...UNCHANGED, next: same ? previous : { kind: 'pin', target: observation.target, size: observation.size } };
    }
    case 'unrecognized': {
      const same = previous?.kind === 'unrecognized' && previous.size === observation.size;
      return { ...UNCHANGED, next: same ? previous : { kind: 'unrecognized', size: observation.size } };
    }
    case 'archive':
      return observeArchive(previous, observation, nowMs, settleTimeMs);
  }
}

function fingerprintOfState(state: EntryState | undefined): FileFingerprint | undefined {
  if (state === undefined) return undefined;
  if (state.kind === 'settled') return state.record.fingerprint;
  if (state.kind === 'pending' || state.kind === 'identifying') return state.fingerprint;
  return undefined;
}

function observeArchive(
  previous: EntryState | undefined,
  observation: Extract<EntryObservation, { kind: 'archive' }>,
  nowMs: number,
  settleTimeMs: number,
): Transition {
  const { name, fingerprint, ctimeMs } = observation;
  const known = fingerprintOfState(previous);
  if (previous === undefined || known === undefined || !sameFingerprint(known, fingerprint)) {
    // Untouched for the settle time already: read it now, no second look needed.
    if (nowMs - ctimeMs >= settleTimeMs) return { ...UNCHANGED, next: { kind: 'identifying', name, fingerprint, attempt: 1 }, identify: true };
    // New bytes (or a new file): the settle clock starts over from this lstat.
    return { ...UNCHANGED, next: { kind: 'pending', name, fingerprint, stableSinceMs: nowMs }, recheckAtMs: nowMs + settleTimeMs };
  }
  if (previous.kind === 'pending') {
    // A link count or ctime of the moment is not a change of bytes: the settle clock runs on.
    const fresh = sameMetadata(known, fingerprint) ? previous.fingerprint : fingerprint;
    const dueMs = previous.stableSinceMs + settleTimeMs;
    if (nowMs < dueMs) return { ...UNCHANGED, next: fresh === previous.fingerprint ? previous : { ...previous, fingerprint: fresh }, recheckAtMs: dueMs };
    return { ...UNCHANGED, next: { kind: 'identifying', name: previous.name, fingerprint: fresh, attempt: 1 }, identify: true };
  }
  // Same bytes, other link count (a backup linked or unlinked it) or ctime (a chmod, a link): the record
  // takes the new ones, so disk pressure knows what deleting it frees, without reading the archive
  // again. Its identifiedWith keeps the fingerprint it was read with: the persisted index vouches only
  // for that one (a ctime that moved may be a rewrite with mtime set back), so the next start reads it
  // again. An identity read in flight is left alone; its record takes them at the next look.
  if (previous.kind === 'settled' && !sameMetadata(known, fingerprint)) {
    return { ...UNCHANGED, next: { kind: 'settled', record: Object.freeze({ ...previous.record, fingerprint }) } };
  }
  return { ...UNCHANGED, next: previous };
}

/** Link count and ctime, which move without the bytes changing. */
const sameMetadata = (a: FileFingerprint, b: FileFingerprint): boolean => a.nlink === b.nlink && a.ctimeMs === b.ctimeMs;

export type IdentifyOutcome =
  /** The read is stale (the entry moved on) or the file changed under it: look at the entry again. */
  | { readonly kind: 'stale' }
  | { readonly kind: 'changed' }
  /** A transient error (EIO, EMFILE, ...): read again after `delayMs`. */
  | { readonly kind: 'retry'; readonly next: EntryState; readonly delayMs: number }
  | { readonly kind: 'settled'; readonly next: EntryState & { kind: 'settled' } };

/**
 * Folds an identity read into the entry it started from. The reader checked on the open file that
 * its device, inode, size and mtime are those of this state, so an accepted result belongs to these
 * exact bytes; anything newer (a changed fingerprint, a vanished file) makes the result stale.
 */
export function completeIdentify(
  current: EntryState | undefined,
  startedFrom: EntryState,
  identified: IdentityReadResult,
  intern: Intern = (value) => value,
): IdentifyOutcome {
  if (current !== startedFrom || current.kind !== 'identifying') return { kind: 'stale' };
  if (!identified.ok && identified.retry === 'changed') return { kind: 'changed' };
  if (!identified.ok && identified.retry === 'transient' && current.attempt < MAX_IDENTIFY_ATTEMPTS) {
    return { kind: 'retry', next: { ...current, attempt: current.attempt + 1 }, delayMs: retryDelayMs(current.attempt) };
  }
  return { kind: 'settled', next: { kind: 'settled', record: recordOf(current.name, current.fingerprint, identified, intern) } };
}

/**
 * The name is only a hint, but an identity that contradicts it means the name or spec.dump lies;
 * such an archive is kept unidentified so per-scope limits never delete it on a guess.
 */
function contradiction(name: ParsedArchiveName, identified: IdentifiedArchive): string | undefined {
  const { namespace, pod, container } = identified.identity;
  if (pod !== name.pod) return `spec.dump names pod ${JSON.stringify(pod)} but the file name says ${JSON.stringify(name.pod)}`;
  // A pod-level archive's identity has no container, and its name no container part.
  if ((container === '' ? namespace : `${namespace}-${container}`) !== name.namespaceContainer) {
    return `spec.dump names ${JSON.stringify(`${namespace}/${container}`)}, which does not match ${JSON.stringify(name.namespaceContainer)} in the file name`;
  }
  return undefined;
}

const NO_SOURCES = Object.freeze([]);

/** Returns one shared copy of equal values: thousands of archives name the same few namespaces and pods. */
export type Intern = (<T extends string>(value: T) => T) & {
  /** One shared frozen identity per namespace/pod/container, when the interner keeps them. */
  identity?: (identity: ArchiveIdentity) => ArchiveIdentity;
};

/** One frozen array per combination of sources, shared by every record. */
const SOURCE_SETS = new Map<string, readonly IdentitySource[]>();
function sourcesOf(sources: readonly IdentitySource[]): readonly IdentitySource[] {
  const key = sources.join(',');
  let shared = SOURCE_SETS.get(key);
  if (shared === undefined) SOURCE_SETS.set(key, (shared = Object.freeze([...sources])));
  return shared;
}

/** One frozen array per combination of missing restore entries, shared by every record. */
const MISSING_SETS = new Map<string, readonly string[]>();
function missingOf(missing: readonly string[]): readonly string[] {
  const key = missing.join(',');
  let shared = MISSING_SETS.get(key);
  if (shared === undefined) MISSING_SETS.set(key, (shared = Object.freeze([...missing])));
  return shared;
}

function recordOf(name: ParsedArchiveName, fingerprint: FileFingerprint, identified: IdentityReadResult, intern: Intern): ArchiveRecord {
  const mismatch = identified.ok ? contradiction(name, identified.value) : undefined;
  const contents = identified.ok ? identified.value.contents : identified.contents;
  const found = identified.ok && mismatch === undefined ? identified.value.identity : undefined;
  // One frozen identity object per container, shared by its archives (interned by its joined key).
  const identity =
    found === undefined
      ? undefined
      : (intern.identity?.(found) ?? Object.freeze({ namespace: intern(found.namespace), pod: intern(found.pod), container: intern(found.container) }));
  return Object.freeze({
    fileName: name.fileName,
    // The parts of the name as shared copies: sliced out of the file name, each would be an object of
    // its own per archive, where a container's archives share one pod and one namespace-container part.
    // Written out field by field: a spread copy of 100,000 names took a hidden class (and its
    // descriptors) of its own per object, 22 MB at 100,000 archives.
    name: Object.freeze({
      fileName: name.fileName,
      pod: intern(name.pod),
      namespaceContainer: intern(name.namespaceContainer),
      timestampText: name.timestampText,
      timestampMs: name.timestampMs,
    }),
    fingerprint,
    identity,
    identitySources: identity === undefined || !identified.ok ? NO_SOURCES : sourcesOf(identified.value.sources),
    unidentifiedReason: identified.ok ? mismatch : identified.reason,
    pinned: false,
    memoryBytes: contents?.memoryBytes,
    checkpointOtherBytes: contents?.checkpointOtherBytes,
    rootfsDiffBytes: contents?.rootfsDiffBytes,
    otherBytes: contents?.otherBytes,
    restorable: contents === undefined ? undefined : contents.missing.length === 0,
    missingEntries: contents === undefined ? undefined : missingOf(contents.missing),
    compression: contents?.compression,
    identifiedWith: fingerprint,
  });
}
