import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { isCompressedDeferral } from './archive-walk.js';
import { createWorkQueue } from '../concurrency.js';
import { readArchiveIdentity, readArchiveIdentityDeferring, type DeferringIdentityRead, type IdentityReadResult } from './identity.js';
import type { FileFingerprint, ParsedArchiveName } from './types.js';

export interface IdentityJob {
  readonly id: number;
  readonly path: string;
  readonly name: ParsedArchiveName;
  readonly expect: FileFingerprint | undefined;
}

export interface IdentityReply {
  readonly id: number;
  /** A batch read leaves compressed archives deferred; a compressed read never does. */
  readonly result: DeferringIdentityRead;
}

/** To a worker: a batch of archives read with blocking calls, or one compressed archive to decompress. */
export type WorkerRequest = { readonly kind: 'batch'; readonly jobs: readonly IdentityJob[] } | { readonly kind: 'compressed'; readonly job: IdentityJob };
export interface WorkerReply {
  readonly kind: WorkerRequest['kind'];
  readonly replies: readonly IdentityReply[];
}

export interface IdentityReader {
  read(path: string, name: ParsedArchiveName, expect?: FileFingerprint): Promise<IdentityReadResult>;
  /** Whether reads run on worker threads (false: on the main thread's async I/O). */
  readonly threaded: boolean;
  /** Compressed archives read so far, and the most ever read at once (1 by design), for tests that count work. */
  compressedReads(): { readonly total: number; readonly mostAtOnce: number };
  close(): Promise<void>;
}

/**
 * Identity reads handed to the worker threads at once: they batch them, so more in flight means fewer
 * messages. Compressed archives wait for a single lane of their own while holding a slot, so the
 * bound is high enough that a burst of them cannot hold every slot and starve plain archives; a
 * pending read is a few hundred bytes.
 */
export const IDENTIFY_BATCH_CONCURRENCY = 2_048;

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
  /** Batches sent and not yet answered. */
  inFlight: number;
  /** Compressed reads sent and not yet answered (at most one in the whole pool). */
  compressed: number;
}

type Waiting = { readonly job: IdentityJob; readonly kind: WorkerRequest['kind']; readonly resolve: (result: DeferringIdentityRead) => void };

/** A compressed read answers with a result, never a deferral; should one come anyway, it is a reason. */
function settled(result: DeferringIdentityRead): IdentityReadResult {
  return isCompressedDeferral(result) ? { ok: false, reason: result.reason } : result;
}

/**
 * Identity reads on worker threads, fed in batches. On a start with 100,000 archives this is most of
 * the work, and it leaves the main thread to the server, the inventory and retention. If a worker
 * cannot be started (the compiled worker script is absent, as when running from TypeScript sources)
 * or fails, reads fall back to the main thread's asynchronous I/O: slower, never wrong.
 *
 * Compressed archives take a second path. A batch answers them as deferred at once; they then wait
 * for the pool's single compressed lane and are decompressed one at a time (on a worker, or on the
 * main thread after a fallback), so a burst of compressed archives never holds up the plain ones and
 * never runs several decompressions at once.
 */
export function createIdentityReader(logger: Logger, workers = defaultIdentityWorkers()): IdentityReader {
  const script = new URL('./identity-worker.js', import.meta.url);
  let lanes: Lane[] = [];
  const waiting = new Map<number, Waiting>();
  let queue: IdentityJob[] = [];
  let nextId = 0;
  const compressedLane = createWorkQueue(1);
  let compressedTotal = 0;
  let compressedRunning = 0;
  let compressedMost = 0;
  const readCompressed = async (job: IdentityJob): Promise<IdentityReadResult> => {
    compressedTotal += 1;
    compressedRunning += 1;
    compressedMost = Math.max(compressedMost, compressedRunning);
    try {
      return settled(await send(job, 'compressed'));
    } finally {
      compressedRunning -= 1;
    }
  };

  const readHere = (entry: Waiting): void => {
    const { job } = entry;
    // A compressed job already holds the lane: read it here directly.
    const read = entry.kind === 'compressed' ? readArchiveIdentity(job.path, job.name, job.expect) : readArchiveIdentityDeferring(job.path, job.name, job.expect);
    void read.then(entry.resolve);
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
    for (const entry of pending) readHere(entry);
  };

  const refLanes = (): void => {
    // Idle workers must not keep a finished process alive.
    for (const lane of lanes) {
      if (lane.inFlight > 0 || lane.compressed > 0) lane.worker.ref();
      else lane.worker.unref();
    }
  };

  const pump = (): void => {
    for (;;) {
      if (queue.length === 0) break;
      let lane: Lane | undefined;
      for (const candidate of lanes) if (candidate.inFlight < BATCHES_IN_FLIGHT && (lane === undefined || candidate.inFlight < lane.inFlight)) lane = candidate;
      if (lane === undefined) break;
      lane.inFlight += 1;
      const request: WorkerRequest = { kind: 'batch', jobs: queue.splice(0, BATCH) };
      lane.worker.postMessage(request);
    }
    refLanes();
  };

  const send = (job: IdentityJob, kind: WorkerRequest['kind']): Promise<DeferringIdentityRead> =>
    new Promise((resolve) => {
      const entry: Waiting = { job, kind, resolve };
      if (lanes.length === 0) {
        readHere(entry);
        return;
      }
      waiting.set(job.id, entry);
      if (kind === 'batch') {
        queue.push(job);
        pump();
        return;
      }
      let lane = lanes[0] as Lane;
      for (const candidate of lanes) if (candidate.inFlight < lane.inFlight) lane = candidate;
      lane.compressed += 1;
      const request: WorkerRequest = { kind: 'compressed', job };
      lane.worker.postMessage(request);
      refLanes();
    });

  if (script.protocol === 'file:' && existsSync(fileURLToPath(script))) {
    try {
      for (let i = 0; i < workers; i += 1) {
        const lane: Lane = { worker: new Worker(script, { resourceLimits: WORKER_LIMITS }), inFlight: 0, compressed: 0 };
        lane.worker.unref();
        lane.worker.on('message', (reply: WorkerReply) => {
          if (reply.kind === 'batch') lane.inFlight -= 1;
          else lane.compressed -= 1;
          for (const { id, result } of reply.replies) {
            const entry = waiting.get(id);
            waiting.delete(id);
            entry?.resolve(result);
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
    async read(path, name, expect) {
      const job: IdentityJob = { id: nextId++, path, name, expect: expect === undefined ? undefined : { dev: expect.dev, ino: expect.ino, size: expect.size, mtimeMs: expect.mtimeMs } };
      const first = await send(job, 'batch');
      if (!isCompressedDeferral(first)) return first;
      return compressedLane.run(() => readCompressed({ ...job, id: nextId++ }));
    },
    compressedReads: () => ({ total: compressedTotal, mostAtOnce: compressedMost }),
    async close() {
      const stopping = lanes;
      lanes = [];
      await Promise.all(stopping.map((lane) => lane.worker.terminate()));
      const pending = [...waiting.values()];
      waiting.clear();
      queue = [];
      for (const entry of pending) readHere(entry);
    },
  };
}
