/**
 * The identity worker thread: reads archives with blocking calls, one after another, and answers in
 * batches. Blocking here costs the main thread nothing; on the main thread each of the four calls of
 * an identity read (open, fstat, read, close) would be a thread-pool round trip.
 *
 * A compressed archive in a batch comes back deferred at once; the pool later sends it alone, and it
 * is decompressed here asynchronously, so batches of plain archives keep being answered meanwhile.
 */
import { parentPort } from 'node:worker_threads';
import { createWorkQueue } from '../concurrency.js';
import { readArchiveIdentity, readArchiveIdentityBlocking } from './identity.js';
import type { IdentityJob, WorkerReply, WorkerRequest } from './identity-reader.js';
import { messageOf } from '../errors.js';

const port = parentPort;
if (port === null) throw new Error('identity-worker must run as a worker thread');

/** The pool sends one compressed read at a time; this keeps it so should a second ever arrive. */
const compressedReads = createWorkQueue(1);

const failed = (error: unknown): { ok: false; reason: string } => ({ ok: false, reason: `identity read failed: ${messageOf(error)}` });

async function readBatch(jobs: readonly IdentityJob[]): Promise<WorkerReply> {
  const replies: Array<WorkerReply['replies'][number]> = [];
  for (const job of jobs) {
    try {
      replies.push({ id: job.id, result: await readArchiveIdentityBlocking(job.path, job.name, job.expect) });
    } catch (error) {
      replies.push({ id: job.id, result: failed(error) });
    }
  }
  return { kind: 'batch', replies };
}

async function readCompressed(job: IdentityJob): Promise<WorkerReply> {
  try {
    return { kind: 'compressed', replies: [{ id: job.id, result: await compressedReads.run(() => readArchiveIdentity(job.path, job.name, job.expect)) }] };
  } catch (error) {
    return { kind: 'compressed', replies: [{ id: job.id, result: failed(error) }] };
  }
}

port.on('message', (request: WorkerRequest) => {
  void (request.kind === 'batch' ? readBatch(request.jobs) : readCompressed(request.job)).then((reply) => port.postMessage(reply));
});
