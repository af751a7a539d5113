import { createWriteStream } from 'node:fs';
import { lstat, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { codeOrMessageOf } from '../errors.js';
import { COPY_CHUNK_BYTES } from './directory-target.js';
import { createHashingStream } from './hashing-stream.js';
import type { OffloadRecord, OffloadTarget } from './types.js';

export type FetchResult = { readonly ok: true; readonly record: OffloadRecord; readonly file: string } | { readonly ok: false; readonly reason: string };

/** The record's file name goes into the checkpoint directory: it must be a plain archive name, never a path. */
const isPlainArchiveName = (name: string): boolean => name !== '' && !name.startsWith('.') && !name.includes('/') && !name.includes('\0') && path.basename(name) === name;

/**
 * Brings an offloaded archive back into `directory` under its own name, verified: the bytes are hashed
 * while they stream into a hidden temporary file, and only when their size and SHA-256 are the ones
 * recorded at offload, and the file is synced, is it renamed into place. An existing archive of that
 * name is never replaced.
 */
export async function fetchArchive(target: OffloadTarget, key: string, directory: string): Promise<FetchResult> {
  let got;
  try {
    got = await target.get(key);
  } catch (error) {
    return { ok: false, reason: `cannot read ${target.locationOf(key)} or its record: ${codeOrMessageOf(error)}` };
  }
  const { record, body } = got;
  if (!isPlainArchiveName(record.fileName) || record.fileName !== key.split('/').at(-1)) {
    body.destroy();
    return { ok: false, reason: `the record names ${JSON.stringify(record.fileName)}, not the archive ${JSON.stringify(key.split('/').at(-1))}` };
  }
  const file = path.join(directory, record.fileName);
  const exists = await lstat(file).then(
    () => true,
    () => false,
  );
  if (exists) {
    body.destroy();
    return { ok: false, reason: `${file} exists; it is not replaced` };
  }
  const temporary = path.join(directory, `.${record.fileName}.partial-${randomBytes(6).toString('hex')}`);
  const hashing = createHashingStream(async (copied) => {
    if (copied.size !== record.size) return `${target.locationOf(key)} holds ${copied.size} bytes, ${record.size} were offloaded`;
    if (copied.sha256 !== record.sha256) return `${target.locationOf(key)} has SHA-256 ${copied.sha256}, ${record.sha256} was offloaded`;
    return undefined;
  });
  try {
    await pipeline(body, hashing, createWriteStream(temporary, { flags: 'wx', mode: 0o600, highWaterMark: COPY_CHUNK_BYTES }));
    const handle = await open(temporary, 'r+');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    // link-then-unlink would also refuse an existing name; a rename after the check above leaves a
    // window only against another fetch of the same archive.
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    return { ok: false, reason: codeOrMessageOf(error) };
  }
  return { ok: true, record, file };
}
