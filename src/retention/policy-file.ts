import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Result } from '../archive/types.js';
import { parsePolicyYaml, type PolicyDocument } from './policy-document.js';

/** A policy file is a few kilobytes; anything this large is a mistake and is refused unread. */
export const MAX_POLICY_FILE_BYTES = 1024 * 1024;
/** Editors and ConfigMap updates touch the directory several times per save; one reload follows the burst. */
export const DEFAULT_RELOAD_DEBOUNCE_MS = 200;

const describeError = (error: unknown): string =>
  typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : error instanceof Error ? error.message : String(error);

async function readPolicyText(file: string): Promise<Result<string>> {
  try {
    const buffer = await readFile(file);
    if (buffer.length > MAX_POLICY_FILE_BYTES) return { ok: false, reason: `policy file is larger than ${MAX_POLICY_FILE_BYTES} bytes` };
    return { ok: true, value: buffer.toString('utf8') };
  } catch (error) {
    return { ok: false, reason: `cannot read policy file: ${describeError(error)}` };
  }
}

/** Reads and validates the policy file; documents are named `file <path>` (plus `document <n>` when there are several). */
export async function loadPolicyFile(file: string): Promise<Result<PolicyDocument[]>> {
  const text = await readPolicyText(file);
  return text.ok ? parsePolicyYaml(text.value, `file ${file}`) : text;
}

export interface PolicyFileWatchOptions {
  /** Every successful load, the first one included, with the complete new set of documents. */
  onLoad(docs: PolicyDocument[]): void;
  /** A load failed; the caller keeps its last good documents (and can count the failure). */
  onError(reason: string): void;
  readonly logger: Logger;
  readonly debounceMs?: number;
}

export interface PolicyFileWatch {
  close(): void;
}

/**
 * Loads the policy file now and again whenever it may have changed.
 *
 * The parent directory is watched, not the file: editors save by writing a new file and renaming it
 * over the old one, and a Kubernetes ConfigMap volume swaps a `..data` symlink, and in both cases a
 * watch on the old file would go quiet. Every event in the directory re-reads the path (following
 * symlinks) and only a change of content is reported, so unrelated files cost one read.
 */
export function watchPolicyFile(file: string, options: PolicyFileWatchOptions): PolicyFileWatch {
  const { logger, onLoad, onError } = options;
  const debounceMs = options.debounceMs ?? DEFAULT_RELOAD_DEBOUNCE_MS;
  let lastText: string | undefined;
  let lastFailure: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
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
        const text = await readPolicyText(file);
        if (closed) return;
        if (!text.ok) {
          if (text.reason !== lastFailure) {
            lastFailure = text.reason;
            lastText = undefined;
            logger.warn({ path: file, reason: text.reason }, 'policy file unreadable; keeping the last good policy');
            onError(text.reason);
          }
          continue;
        }
        if (text.value === lastText) continue;
        lastText = text.value;
        const parsed = parsePolicyYaml(text.value, `file ${file}`);
        if (parsed.ok) {
          lastFailure = undefined;
          for (const doc of parsed.value) for (const warning of doc.warnings) logger.warn({ path: file, source: doc.source, warning }, 'policy file warning');
          onLoad(parsed.value);
        } else {
          lastFailure = parsed.reason;
          logger.warn({ path: file, reason: parsed.reason }, 'policy file invalid; keeping the last good policy');
          onError(parsed.reason);
        }
      } while (again && !closed);
    } finally {
      reading = false;
    }
  };

  const schedule = (): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      void reload();
    }, debounceMs);
  };

  let watcher: FSWatcher | undefined;
  try {
    watcher = watch(path.dirname(path.resolve(file)), { persistent: false }, schedule);
    watcher.on('error', (error) => {
      const reason = `watching the policy directory failed: ${describeError(error)}`;
      logger.error({ path: file, reason }, 'policy file is no longer watched');
      onError(reason);
    });
  } catch (error) {
    const reason = `cannot watch the policy directory: ${describeError(error)}`;
    logger.error({ path: file, reason }, 'policy file will not be reloaded');
    queueMicrotask(() => onError(reason));
  }
  void reload();

  return {
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      watcher?.close();
    },
  };
}
