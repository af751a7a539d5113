import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Result } from '../archive/types.js';
import { codeOrMessageOf } from '../errors.js';
import { parsePolicyYaml, splitProblems, type PolicyDocument } from './policy-document.js';
import { watchPolicyDirectory } from './policy-directory-watch.js';

/** A policy file is a few kilobytes; anything this large is a mistake and is refused unread. */
export const MAX_POLICY_FILE_BYTES = 1024 * 1024;
/** Editors and ConfigMap updates touch the directory several times per save; one reload follows the burst. */
export const DEFAULT_RELOAD_DEBOUNCE_MS = 200;
/**
 * A file rewritten in place (truncate, then write) can be read empty or cut short, and a cut-short
 * number is still a valid limit (`5` of `50`). A new text is applied only once two reads this far
 * apart agree on content and mtime; a writer slower than this between two writes is not caught.
 */
export const DEFAULT_STABILITY_MS = 1000;

interface PolicyText {
  readonly text: string;
  readonly mtimeMs: number;
}

/** Content and mtime from one open file, so both describe the same file even across a rename. */
async function readPolicyText(file: string): Promise<Result<PolicyText>> {
  let handle;
  try {
    handle = await open(file, 'r');
    const stats = await handle.stat();
    if (stats.size > MAX_POLICY_FILE_BYTES) return { ok: false, reason: `policy file is larger than ${MAX_POLICY_FILE_BYTES} bytes` };
    const buffer = await handle.readFile();
    if (buffer.length > MAX_POLICY_FILE_BYTES) return { ok: false, reason: `policy file is larger than ${MAX_POLICY_FILE_BYTES} bytes` };
    return { ok: true, value: { text: buffer.toString('utf8'), mtimeMs: stats.mtimeMs } };
  } catch (error) {
    return { ok: false, reason: `cannot read policy file: ${codeOrMessageOf(error)}` };
  } finally {
    await handle?.close();
  }
}

/**
 * An empty file is what a rewrite in progress looks like, and loading it as "no documents" would
 * put the default policy in force: so a policy file must hold at least one document.
 */
function parsePolicyText(text: string, file: string): Result<PolicyDocument[]> {
  const source = `file ${file}`;
  const parsed = parsePolicyYaml(text, source);
  if (parsed.ok && parsed.value.length === 0) return { ok: false, reason: `${source}: no CheckpointRestoreOperator document` };
  return parsed;
}

/** Reads and validates the policy file; documents are named `file <path>` (plus `document <n>` when there are several). */
export async function loadPolicyFile(file: string): Promise<Result<PolicyDocument[]>> {
  const read = await readPolicyText(file);
  return read.ok ? parsePolicyText(read.value.text, file) : read;
}

export interface PolicyFileWatchOptions {
  /** Every successful load, the first one included, with the complete new set of documents. */
  onLoad(docs: PolicyDocument[]): void;
  /** A load failed; the caller keeps its last good documents (and can count the failure). */
  onError(reason: string): void;
  readonly logger: Logger;
  readonly debounceMs?: number;
  /** How far apart the two reads that must agree before a new text is applied are. */
  readonly stabilityMs?: number;
  /** Waits between those two reads; tests replace it. */
  readonly delay?: (ms: number) => Promise<void>;
  /** How often the directory is stat'ed to notice it gone, replaced or back. */
  readonly pollIntervalMs?: number;
}

export interface PolicyFileWatch {
  close(): void;
}

/** Reports a change of the file's text or of its failure; a new text only once two reads `stabilityMs` apart agree. */
interface PolicyReloader {
  reload(): Promise<void>;
  /** Something failed outside a read (the watch): the next good read is reported even if its text is the same. */
  forget(reason: string): void;
}

function createPolicyReloader(file: string, options: PolicyFileWatchOptions, isClosed: () => boolean): PolicyReloader {
  const { logger, onLoad, onError } = options;
  const stabilityMs = options.stabilityMs ?? DEFAULT_STABILITY_MS;
  const delay = options.delay ?? ((ms: number) => sleep(ms));
  let lastText: string | undefined;
  let lastFailure: string | undefined;
  let reading = false;
  let again = false;

  const reload = async (): Promise<void> => {
    if (reading) {
      again = true;
      return;
    }
    reading = true;
    try {
      do {
        again = false;
        const read = await readPolicyText(file);
        if (isClosed()) return;
        if (!read.ok) {
          if (read.reason !== lastFailure) {
            lastFailure = read.reason;
            lastText = undefined;
            logger.warn({ path: file, reason: read.reason }, 'policy file unreadable; keeping the last good policy');
            onError(read.reason);
          }
          continue;
        }
        if (read.value.text === lastText) continue;
        await delay(stabilityMs);
        if (isClosed()) return;
        const confirm = await readPolicyText(file);
        if (isClosed()) return;
        if (!confirm.ok || confirm.value.text !== read.value.text || confirm.value.mtimeMs !== read.value.mtimeMs) {
          // Still being written (or gone meanwhile): read it all again from the start.
          again = true;
          continue;
        }
        lastText = read.value.text;
        const parsed = parsePolicyText(read.value.text, file);
        if (parsed.ok) {
          lastFailure = undefined;
          for (const doc of parsed.value) for (const warning of doc.warnings) logger.warn({ path: file, source: doc.source, warning }, 'policy file warning');
          onLoad(parsed.value);
        } else {
          lastFailure = parsed.reason;
          // One entry per problem, as `serve` prints them at start.
          logger.warn({ path: file, problems: splitProblems(parsed.reason) }, 'policy file invalid; keeping the last good policy');
          onError(parsed.reason);
        }
      } while (again && !isClosed());
    } finally {
      reading = false;
    }
  };


  return {
    reload,
    forget(reason) {
      lastText = undefined;
      lastFailure = reason;
    },
  };
}

/**
 * Loads the policy file now and again whenever it may have changed.
 *
 * The parent directory is watched, not the file: editors save by writing a new file and renaming it
 * over the old one, and a Kubernetes ConfigMap volume swaps a `..data` symlink, and in both cases a
 * watch on the old file would go quiet. Every event in the directory re-reads the path (following
 * symlinks) and only a change of content is reported, so unrelated files cost one read. When the
 * directory goes away (a ConfigMap volume unmounted) the last good policy stays in force, and when it
 * comes back the file is loaded again (watchPolicyDirectory).
 */
export function watchPolicyFile(file: string, options: PolicyFileWatchOptions): PolicyFileWatch {
  const { logger, onError } = options;
  const debounceMs = options.debounceMs ?? DEFAULT_RELOAD_DEBOUNCE_MS;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const reloader = createPolicyReloader(file, options, () => closed);

  const schedule = (): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      reloadSafely();
    }, debounceMs);
  };

  // A throw from a callback or a failed close must not become an unhandled rejection that ends the process.
  function reloadSafely(): void {
    reloader.reload().catch((error: unknown) => {
      const reason = `reloading the policy file failed: ${codeOrMessageOf(error)}`;
      logger.error({ path: file, reason }, 'policy file reload failed');
      try {
        onError(reason);
      } catch (callbackError) {
        logger.error({ err: callbackError }, 'policy file error handler failed');
      }
    });
  }

  const directoryWatch = watchPolicyDirectory(path.dirname(path.resolve(file)), {
    file,
    logger,
    onChange: schedule,
    onWatchLost: (reason) => {
      // Once watching again, the file is read afresh and reported even if its text did not change, so a
      // failure counted here does not outlive the watch's recovery.
      reloader.forget(reason);
      onError(reason);
    },
    ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
  });
  reloadSafely();

  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      directoryWatch.close();
    },
  };
}
