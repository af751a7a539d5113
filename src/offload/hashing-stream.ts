import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { CopiedBytes } from './types.js';

export interface HashingStream extends Transform {
  copied(): CopiedBytes;
}

/**
 * Counts and hashes the bytes on their way to the target. `check` runs after the last byte and before
 * the stream ends: an error it returns fails the stream, so the target never completes a copy of a
 * source that changed or was read short.
 */
export function createHashingStream(check: (copied: CopiedBytes) => Promise<string | undefined>): HashingStream {
  const hash = createHash('sha256');
  let size = 0;
  let digest: string | undefined;
  const stream = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      hash.update(chunk);
      size += chunk.length;
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      digest = hash.digest('hex');
      check({ size, sha256: digest }).then(
        (problem) => callback(problem === undefined ? null : new Error(problem)),
        (error: unknown) => callback(error as Error),
      );
    },
  }) as HashingStream;
  stream.copied = () => {
    if (digest === undefined) throw new Error('the copy has not ended');
    return { size, sha256: digest };
  };
  return stream;
}
