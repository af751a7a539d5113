import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { readArchiveIdentity, type IdentityReadResult } from './identity.js';
import type { FileFingerprint, ParsedArchiveName } from './types.js';

export interface IdentityJob {
  readonly id: number;
  readonly path: string;
  readonly name: ParsedArchiveName;
  readonly expect: FileFingerprint | undefined;
}

export interface IdentityReply {
  readonly id: number;
  readonly result: IdentityReadResult;
}

export interface IdentityReader {
  read(path: string, name: ParsedArchiveName, expect?: FileFingerprint): Promise<IdentityReadResult>;
  /** Whether reads run on a worker thread (false: on the main thread's async I/O). */
  readonly threaded: boolean;
  close(): Promise<void>;
}

/** Jobs per message: enough to amortize the message, few enough that results flow steadily. */
const BATCH = 64;

/**
 * Identity reads on one worker thread, fed in batches. On a start with 100,000 archives this is most of
 * the work, and it leaves the main thread to the server, the inventory and retention. If the worker
 * cannot be started (the compiled worker script is absent, as when running from TypeScript sources)
 * or dies, reads fall back to the main thread's asynchronous I/O: slower, never wrong.
 */
export function createIdentityReader(logger: Logger): IdentityReader {
  const script = new URL('./identity-worker.js', import.meta.url);
  let worker: Worker | undefined;
  if (script.protocol === 'file:' && existsSync(fileURLToPath(script))) {
    try {
      worker = new Worker(script);
      worker.unref();
    } catch (error) {
      logger.warn({ err: error }, 'cannot start the identity worker thread; reading archives on the main thread');
    }
  }
  const waiting = new Map<number, { job: IdentityJob; resolve: (result: IdentityReadResult) => void }>();
  let queue: IdentityJob[] = [];
  let inFlight = 0;
  let nextId = 0;

  const fallBack = (reason: unknown): void => {
    logger.warn({ err: reason }, 'identity worker thread failed; reading archives on the main thread');
    worker = undefined;
    const pending = [...waiting.values()];
    waiting.clear();
    queue = [];
    inFlight = 0;
    for (const { job, resolve } of pending) void readArchiveIdentity(job.path, job.name, job.expect).then(resolve);
  };

  const pump = (): void => {
    // Two batches in flight: the worker never waits for the main thread to send the next one.
    while (worker !== undefined && inFlight < 2 && queue.length > 0) {
      const batch = queue.splice(0, BATCH);
      inFlight += 1;
      worker.postMessage(batch);
    }
    if (worker !== undefined) {
      if (waiting.size > 0) worker.ref();
      else worker.unref();
    }
  };

  if (worker !== undefined) {
    worker.on('message', (replies: readonly IdentityReply[]) => {
      inFlight -= 1;
      for (const reply of replies) {
        const entry = waiting.get(reply.id);
        waiting.delete(reply.id);
        entry?.resolve(reply.result);
      }
      pump();
    });
    worker.on('error', fallBack);
    worker.on('exit', (code) => {
      if (worker !== undefined && waiting.size > 0) fallBack(new Error(`identity worker exited with code ${code}`));
      worker = undefined;
    });
  }

  return {
    get threaded() {
      return worker !== undefined;
    },
    read(path, name, expect) {
      if (worker === undefined) return readArchiveIdentity(path, name, expect);
      const job: IdentityJob = { id: nextId++, path, name, expect: expect === undefined ? undefined : { dev: expect.dev, ino: expect.ino, size: expect.size, mtimeMs: expect.mtimeMs } };
      return new Promise((resolve) => {
        waiting.set(job.id, { job, resolve });
        queue.push(job);
        pump();
      });
    },
    async close() {
      const running = worker;
      worker = undefined;
      if (running !== undefined) await running.terminate();
      for (const { job, resolve } of waiting.values()) void readArchiveIdentity(job.path, job.name, job.expect).then(resolve);
      waiting.clear();
    },
  };
}
