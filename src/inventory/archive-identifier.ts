import type { Logger } from 'pino';
import { createFifoPump, type InFlight } from '../concurrency.js';
import type { IdentityReadResult } from '../archive/identity.js';
import type { FileFingerprint, ParsedArchiveName } from '../archive/types.js';
import { messageOf } from '../errors.js';
import { entryPath } from './directory-io.js';
import type { AttachmentToken, DirectoryAttachment } from './directory-attachment.js';
import { completeIdentify, type EntryState } from './entry-state.js';
import type { Interner } from './interner.js';
import type { InventoryModel } from './inventory-model.js';
import type { TimerHandle, Timers } from './timers.js';
import type { ArchiveRecord } from './types.js';

export type IdentifyArchive = (path: string, name: ParsedArchiveName, fingerprint: FileFingerprint) => Promise<IdentityReadResult>;

/**
 * Reads the identity of archives that settled, first come first served and a bounded number at once,
 * and folds each result into the entry's state: settled, a retry later for a transient failure, or
 * looked at again when the bytes changed under the read. A read started under an attachment that
 * ended is dropped.
 */
export interface ArchiveIdentifier {
  /** Queue an identity read of this entry, if it is in the identifying state. */
  start(fileName: string, state: EntryState): void;
  /** The entry changed: a retry armed for it is moot. */
  cancelRetry(fileName: string): void;
  clearTimers(): void;
}

export interface ArchiveIdentifierDeps {
  readonly directory: string;
  readonly identify: IdentifyArchive;
  /** Identity reads in flight at once. */
  readonly identifyConcurrency: number;
  readonly logger: Logger;
  readonly timers: Timers;
  readonly attachment: DirectoryAttachment;
  readonly model: InventoryModel;
  readonly interner: Interner;
  readonly inFlight: InFlight;
  /** Sets an entry's state in the model and tells whoever follows the inventory. */
  readonly commit: (fileName: string, next: EntryState | undefined) => void;
  readonly onArchiveSettled: ((record: ArchiveRecord) => void) | undefined;
  /** Look at an entry again (its bytes changed during the read). */
  readonly observe: (fileName: string) => Promise<void>;
}

interface IdentifyJob {
  readonly fileName: string;
  readonly state: EntryState;
  readonly token: AttachmentToken;
}

export function createArchiveIdentifier(deps: ArchiveIdentifierDeps): ArchiveIdentifier {
  const { directory, attachment, model, logger, timers } = deps;
  const retryTimers = new Map<string, TimerHandle>();
  const queueIdentify = createFifoPump<IdentifyJob>(deps.identifyConcurrency, (job) => runIdentify(job), deps.inFlight);

  function start(fileName: string, state: EntryState): void {
    if (state.kind !== 'identifying') return;
    queueIdentify({ fileName, state, token: attachment.token() });
  }

  async function runIdentify({ fileName, state, token }: IdentifyJob): Promise<void> {
    if (!token.current() || model.get(fileName) !== state || state.kind !== 'identifying') return;
    let identified: IdentityReadResult;
    try {
      identified = await deps.identify(entryPath(directory, fileName), state.name, state.fingerprint);
    } catch (error) {
      // A throwing reader is a bug; the archive still must not become deletable by scope on a guess.
      logger.error({ err: error, fileName }, 'identity reader threw');
      identified = { ok: false, reason: `identity reader failed: ${messageOf(error)}` };
    }
    if (!token.current()) return;
    const outcome = completeIdentify(model.get(fileName), state, identified, deps.interner.intern);
    switch (outcome.kind) {
      case 'stale':
        return;
      case 'changed':
        void deps.observe(fileName);
        return;
      case 'retry':
        logger.warn({ fileName, reason: identified.ok ? undefined : identified.reason, retryInMs: outcome.delayMs }, 'transient error reading checkpoint archive; retrying');
        deps.commit(fileName, outcome.next);
        armRetry(fileName, outcome.next, outcome.delayMs);
        return;
      case 'settled':
        deps.commit(fileName, outcome.next);
        reportSettled(outcome.next.record);
        return;
    }
  }

  function armRetry(fileName: string, state: EntryState, delayMs: number): void {
    cancelRetry(fileName);
    const handle = timers.setTimeout(() => {
      retryTimers.delete(fileName);
      start(fileName, state);
    }, delayMs);
    retryTimers.set(fileName, handle);
  }

  function cancelRetry(fileName: string): void {
    const handle = retryTimers.get(fileName);
    if (handle === undefined) return;
    timers.clearTimeout(handle);
    retryTimers.delete(fileName);
  }

  function reportSettled(record: ArchiveRecord): void {
    if (record.identity === undefined) {
      logger.warn({ fileName: record.fileName, reason: record.unidentifiedReason }, 'checkpoint archive is unidentified; per-scope limits will not delete it');
    }
    if (deps.onArchiveSettled === undefined) return;
    try {
      deps.onArchiveSettled(indexedRecord(record));
    } catch (error) {
      logger.error({ err: error, fileName: record.fileName }, 'onArchiveSettled threw');
    }
  }

  /** The record as the index holds it (with its pin flag). */
  function indexedRecord(record: ArchiveRecord): ArchiveRecord {
    const index = model.index;
    if (record.identity === undefined) return index.unidentified.get(record.fileName) ?? record;
    const { namespace, pod, container } = record.identity;
    return index.ofContainer(namespace, pod, container).find((r) => r.fileName === record.fileName) ?? record;
  }

  return {
    start,
    cancelRetry,
    clearTimers() {
      for (const handle of retryTimers.values()) timers.clearTimeout(handle);
      retryTimers.clear();
    },
  };
}
