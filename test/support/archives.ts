import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { countReads, type ByteSource } from '../../src/archive/byte-source.js';
import { bufferByteSource } from './byte-sources.js';

export { encodeTar, writeTarFile, type TarEntrySpec, type TarFormat } from '../../src/demo/tar-writer.js';
export {
  sampleArchiveEntries,
  sampleArchiveName,
  sampleSpecDump,
  writeDemoCheckpointDirectory,
  writeSampleArchive,
  type SampleArchiveOptions,
  type SampleRuntime,
} from '../../src/demo/sample-archives.js';

/** A fresh directory under the OS temp dir; call `remove` in afterEach/afterAll. */
export async function makeTempDir(prefix = 'checkpoint-archives-'): Promise<{ readonly dir: string; remove(): Promise<void> }> {
  const dir = await fs.mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => fs.rm(dir, { recursive: true, force: true }) };
}

/** An in-memory archive source that counts reads and bytes. */
export function countingBufferSource(bytes: Uint8Array): { readonly source: ByteSource; stats(): { reads: number; bytesRead: number } } {
  return countReads(bufferByteSource(bytes));
}

/** A copy with one byte changed (e.g. to break a header checksum). */
export function withByteFlipped(bytes: Uint8Array, offset: number): Uint8Array {
  const copy = bytes.slice();
  copy[offset] = (copy[offset] ?? 0) ^ 0x01;
  return copy;
}

/** A copy with `text` written over `offset..` (fields of a hand-made header; checksum not fixed). */
export function withBytesAt(bytes: Uint8Array, offset: number, text: string | Uint8Array): Uint8Array {
  const copy = bytes.slice();
  copy.set(typeof text === 'string' ? new TextEncoder().encode(text) : text, offset);
  return copy;
}

/** Recomputes the checksum of the header block at `offset`, after a test edited its fields on purpose. */
export function withChecksumFixed(bytes: Uint8Array, offset: number): Uint8Array {
  const copy = bytes.slice();
  copy.fill(0x20, offset + 148, offset + 156);
  let sum = 0;
  for (let index = offset; index < offset + 512; index += 1) sum += copy[index] ?? 0;
  copy.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, '0')}\0 `), offset + 148);
  return copy;
}
