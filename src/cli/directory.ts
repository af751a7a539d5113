import { opendir, stat } from 'node:fs/promises';
import { RuntimeFailure } from '../errors.js';
import { describeErrno } from './errors.js';

/**
 * `ls`, `plan` and `inspect` report on a directory, so one that is missing or cannot be listed is an
 * error (exit 3) naming the path, never an empty report: `plan --checkpoint-dir /typo` must not say
 * "nothing to delete". (`serve` differs: it waits for a missing directory to appear.)
 */
export async function assertReadableDirectory(directory: string, what = 'checkpoint directory'): Promise<void> {
  try {
    const stats = await stat(directory);
    if (!stats.isDirectory()) throw new RuntimeFailure(`cannot read ${what} ${directory}: not a directory`);
    const handle = await opendir(directory);
    await handle.close();
  } catch (error) {
    if (error instanceof RuntimeFailure) throw error;
    throw new RuntimeFailure(`cannot read ${what} ${directory}: ${describeErrno(error)}`);
  }
}
