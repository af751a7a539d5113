/**
 * The identity worker thread: reads archives with blocking calls, one after another, and answers in
 * batches. Blocking here costs the main thread nothing; on the main thread each of the four calls of
 * an identity read (open, fstat, read, close) would be a thread-pool round trip.
 */
import { parentPort } from 'node:worker_threads';
import { readArchiveIdentityBlocking } from './identity.js';
import type { IdentityJob, IdentityReply } from './identity-pool.js';

const port = parentPort;
if (port === null) throw new Error('identity-worker must run as a worker thread');

port.on('message', (jobs: readonly IdentityJob[]) => {
  void (async () => {
    const replies: IdentityReply[] = [];
    for (const job of jobs) {
      try {
        replies.push({ id: job.id, result: await readArchiveIdentityBlocking(job.path, job.name, job.expect) });
      } catch (error) {
        replies.push({ id: job.id, result: { ok: false, reason: `identity read failed: ${error instanceof Error ? error.message : String(error)}` } });
      }
    }
    port.postMessage(replies);
  })();
});
