import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { BUFFERED_BYTES } from './hashing-stream.js';
import { parseOffloadRecord } from './record.js';
import { RECORD_SUFFIX, type OffloadTarget } from './types.js';

/** Copies are written 1 MiB at a time: large enough for a disk or NFS, small enough to stay out of RSS. */
export const COPY_CHUNK_BYTES = 1024 * 1024;

/** A dot name with `.partial-`: hidden from a casual `ls`, and never a name `fetch` or a person takes for an archive. */
const temporaryNameOf = (file: string): string => path.join(path.dirname(file), `.${path.basename(file)}.partial-${randomBytes(6).toString('hex')}`);

/** Syncs and measures the file written: what is renamed is what reached the disk. */
async function syncedSize(file: string): Promise<number> {
  const handle = await open(file, 'r+');
  try {
    await handle.sync();
    return (await handle.stat()).size;
  } finally {
    await handle.close();
  }
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Renames `temporary` over `file` once `prepare` succeeded; any failure removes the temporary file. */
async function commit(temporary: string, file: string, prepare: () => Promise<void>): Promise<void> {
  try {
    await prepare();
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

/** A directory on any filesystem (a PersistentVolumeClaim, NFS, a second disk). */
export function createDirectoryTarget(root: string): OffloadTarget {
  const fileOf = (key: string): string => path.join(root, ...key.split('/'));
  return {
    description: root,
    locationOf: (key) => fileOf(key),
    async put(key, body, copied, record, signal) {
      const file = fileOf(key);
      await mkdir(path.dirname(file), { recursive: true, mode: 0o750 });
      const temporary = temporaryNameOf(file);
      await commit(temporary, file, async () => {
        await pipeline(body, createWriteStream(temporary, { flags: 'wx', mode: 0o640, highWaterMark: BUFFERED_BYTES }), { signal });
        const written = await syncedSize(temporary);
        if (written !== copied().size) throw new Error(`the copy holds ${written} bytes, ${copied().size} were read`);
      });
      const recordFile = `${file}${RECORD_SUFFIX}`;
      const recordTemporary = temporaryNameOf(recordFile);
      await commit(recordTemporary, recordFile, async () => {
        await writeFile(recordTemporary, `${JSON.stringify(record(copied()), null, 2)}\n`, { flag: 'wx', mode: 0o640, flush: true });
      });
      await syncDirectory(path.dirname(file));
    },
    async get(key) {
      const file = fileOf(key);
      const record = parseOffloadRecord(await readFile(`${file}${RECORD_SUFFIX}`, 'utf8'));
      return { record, body: createReadStream(file, { highWaterMark: COPY_CHUNK_BYTES }) };
    },
  };
}
