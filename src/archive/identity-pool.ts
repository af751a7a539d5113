import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
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
  /** Whether reads run on worker threads (false: on the main thread's async I/O). */
  readonly threaded: boolean;
  close(): Promise<void>;
}

/** Jobs per message: enough to amortize the message, few enough that results flow steadily. */
const BATCH = 64;
/** Batches sent to one worker before it answers, so it never waits for the main thread. */
const BATCHES_IN_FLIGHT = 2;

/**
 * A worker holds one batch of results and one read window at a time: a small heap is plenty, and
 * bounding it keeps each worker's memory from growing with the churn of 100,000 reads.
 */
const WORKER_LIMITS = { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 } as const;

/** Reading headers and parsing spec.dump is CPU work: one worker per core, at most two. */
export function defaultIdentityWorkers(): number {
  return Math.max(1, Math.min(2, availableParallelism()));
}

interface Lane {
  readonly worker: Worker;
  inFlight: number;
}

/**
 * Identity reads on worker threads, fed in batches. On a start with 100,000 archives this is most of
 * the work, and it leaves the main thread to the server, the inventory and retention. If a worker
 * cannot be started (the compiled worker script is absent, as when running from TypeScript sources)
 * or fails, reads fall back to the main thread's asynchronous I/O: slower, never wrong.
 */
export function createIdentityReader(logger: Logger, workers = defaultIdentityWorkers()): IdentityReader {
  const script = new URL('./identity-worker.js', import.meta.url);
  let lanes: Lane[] = [];
  const waiting = new Map<number, { job: IdentityJob; resolve: (result: IdentityReadResult) => void }>();
  let queue: IdentityJob[] = [];
  let nextId = 0;

  const readHere = (job: IdentityJob, resolve: (result: IdentityReadResult) => void): void => {
    void readArchiveIdentity(job.path, job.name, job.expect).then(resolve);
  };

  const fallBack = (reason: unknown): void => {
    if (lanes.length === 0) return;
    logger.warn({ err: reason }, 'identity worker thread failed; reading archives on the main thread');
    const stopping = lanes;
    lanes = [];
    for (const lane of stopping) void lane.worker.terminate();
    const pending = [...waiting.values()];
    waiting.clear();
    queue = [];
    for (const { job, resolve } of pending) readHere(job, resolve);
  };

  const pump = (): void => {
    for (;;) {
      if (queue.length === 0) break;
      let lane: Lane | undefined;
      for (const candidate of lanes) if (candidate.inFlight < BATCHES_IN_FLIGHT && (lane === undefined || candidate.inFlight < lane.inFlight)) lane = candidate;
      if (lane === undefined) break;
      lane.inFlight += 1;
      lane.worker.postMessage(queue.splice(0, BATCH));
    }
    // Idle workers must not keep a finished process alive.
    for (const lane of lanes) {
      if (lane.inFlight > 0) lane.worker.ref();
      else lane.worker.unref();
    }
  };

  if (script.protocol === 'file:' && existsSync(fileURLToPath(script))) {
    try {
      for (let i = 0; i < workers; i += 1) {
        const lane: Lane = { worker: new Worker(script, { resourceLimits: WORKER_LIMITS }), inFlight: 0 };
        lane.worker.unref();
        lane.worker.on('message', (replies: readonly IdentityReply[]) => {
          lane.inFlight -= 1;
          for (const reply of replies) {
            const entry = waiting.get(reply.id);
            waiting.delete(reply.id);
            entry?.resolve(reply.result);
          }
          pump();
        });
        lane.worker.on('error', fallBack);
        lane.worker.on('exit', (code) => {
          if (lanes.includes(lane)) fallBack(new Error(`identity worker exited with code ${code}`));
        });
        lanes.push(lane);
      }
    } catch (error) {
      fallBack(error);
    }
  }

  return {
    get threaded() {
      return lanes.length > 0;
    },
    read(path, name, expect) {
      const job: IdentityJob = { id: nextId++, path, name, expect: expect === undefined ? undefined : { dev: expect.dev, ino: expect.ino, size: expect.size, mtimeMs: expect.mtimeMs } };
      if (lanes.length === 0) return readArchiveIdentity(path, name, job.expect);
      return new Promise((resolve) => {
        waiting.set(job.id, { job, resolve });
        queue.push(job);
        pump();
      });
    },
    async close() {
      const stopping = lanes;
      lanes = [];
      await Promise.all(stopping.map((lane) => lane.worker.terminate()));
      const pending = [...waiting.values()];
      waiting.clear();
      queue = [];
      for (const { job, resolve } of pending) readHere(job, resolve);
    },
  };
}
