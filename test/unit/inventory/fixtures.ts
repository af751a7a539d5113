import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { FileFingerprint, IdentifiedArchive, ParsedArchiveName, Result } from '../../../src/archive/types.js';
import type { DirectoryWatch, WatchDirectory, WatchEvents } from '../../../src/inventory/directory-watcher.js';

export async function withTempDir<T>(run: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'inventory-test-'));
  try {
    return await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function archiveName(pod: string, namespace: string, container: string, stamp = '2024-01-28T00:10:45Z'): string {
  return `checkpoint-${pod}_${namespace}-${container}-${stamp}.tar`;
}

export interface IdentifyCall {
  readonly path: string;
  readonly fileName: string;
  readonly fingerprint: FileFingerprint;
}

/**
 * Identifies from a `<namespace>/<container>` text written as the file's first line: real bytes
 * on disk decide the answer, and every call is recorded so tests can see what was read, and when.
 */
export function createRecordingIdentify(): {
  readonly calls: IdentifyCall[];
  identify(path: string, name: ParsedArchiveName, fingerprint: FileFingerprint): Promise<Result<IdentifiedArchive>>;
} {
  const calls: IdentifyCall[] = [];
  return {
    calls,
    async identify(path, name, fingerprint) {
      calls.push({ path, fileName: name.fileName, fingerprint });
      const text = (await readFile(path, 'utf8')).split('\n')[0] ?? '';
      const match = /^([a-z0-9-]+)\/([a-z0-9-]+)$/.exec(text);
      if (match === null) return { ok: false, reason: `no identity line in ${name.fileName}` };
      return { ok: true, value: { identity: { namespace: match[1]!, pod: name.pod, container: match[2]! }, sources: ['cri-o'] } };
    },
  };
}

/** A watcher driven by the test: `emit` delivers an event, nothing arrives otherwise. */
export function createManualWatch(): { readonly watch: WatchDirectory; emit(fileName: string): void; gone(): void; readonly closed: () => number } {
  let events: WatchEvents | undefined;
  let closed = 0;
  return {
    watch: async (_directory, handlers) => {
      events = handlers;
      const watch: DirectoryWatch = {
        close: async () => {
          closed += 1;
        },
      };
      return watch;
    },
    emit(fileName) {
      events?.entryChanged(fileName);
    },
    gone() {
      events?.directoryChanged();
    },
    closed: () => closed,
  };
}

export interface CapturedLog {
  readonly level: number;
  readonly msg: string;
}

/** A real pino logger writing into an array, for asserting on warnings. */
export function createCapturingLogger(): { readonly logger: Logger; readonly lines: CapturedLog[] } {
  const lines: CapturedLog[] = [];
  const destination = {
    write(line: string): void {
      lines.push(JSON.parse(line) as CapturedLog);
    },
  };
  return { logger: pino({ level: 'debug' }, destination), lines };
}
