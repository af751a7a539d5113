import { createWriteStream, promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';

/**
 * A small tar writer for demo and test archives. It writes what the runtimes write (ustar), plus the
 * GNU long-name and PAX path extensions, and can leave an entry body as a filesystem hole so a
 * gigabyte-sized archive costs a few kilobytes of disk.
 */

export type TarFormat = 'ustar' | 'gnu' | 'pax';

export interface TarEntrySpec {
  readonly name: string;
  readonly type?: 'file' | 'directory' | 'symlink' | 'hardlink';
  /** Raw typeflag, overriding `type` (e.g. 'g' for a global PAX header). */
  readonly typeflag?: string;
  readonly body?: Uint8Array | string;
  /** The body is this many zero bytes left as a hole in the file (ignored by `encodeTar` beyond zero-filling). */
  readonly holeBytes?: number;
  readonly linkName?: string;
  readonly mode?: number;
  /** GNU tar switches the size field to base-256 above 8 GiB; forcing it lets a small archive use that form. */
  readonly base256Size?: boolean;
}

export interface TarWriteOptions {
  readonly format?: TarFormat;
  readonly mtime?: Date;
  /** Write the archive gzip-compressed (holes become compressed zeros), as the upstream operator accepts it. */
  readonly compression?: 'gzip';
}

type Chunk = { readonly bytes: Uint8Array } | { readonly hole: number };

const BLOCK = 512;
const NAME_LENGTH = 100;
const PREFIX_LENGTH = 155;
/** Largest value an 11-digit octal size field holds (8 GiB - 1). */
const MAX_OCTAL_SIZE = 0o77777777777;
const encoder = new TextEncoder();

function typeflagOf(entry: TarEntrySpec): string {
  if (entry.typeflag !== undefined) return entry.typeflag;
  switch (entry.type ?? 'file') {
    case 'directory':
      return '5';
    case 'symlink':
      return '2';
    case 'hardlink':
      return '1';
    default:
      return '0';
  }
}

function bodyOf(entry: TarEntrySpec): Uint8Array {
  if (entry.body === undefined) return new Uint8Array(0);
  return typeof entry.body === 'string' ? encoder.encode(entry.body) : entry.body;
}

function writeText(block: Uint8Array, offset: number, length: number, value: string | Uint8Array): void {
  const bytes = typeof value === 'string' ? encoder.encode(value) : value;
  if (bytes.length > length) throw new RangeError(`tar field of ${length} bytes cannot hold ${bytes.length} bytes`);
  block.set(bytes, offset);
}

function writeOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  writeText(block, offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

function writeBase256(block: Uint8Array, offset: number, length: number, value: number): void {
  let remaining = BigInt(value);
  for (let index = offset + length - 1; index > offset; index -= 1) {
    block[index] = Number(remaining & 0xffn);
    remaining >>= 8n;
  }
  block[offset] = 0x80;
}

/** Splits a ustar path into prefix and name at a `/`, or returns undefined when it cannot fit. */
function splitUstarName(bytes: Uint8Array): { prefix: Uint8Array; name: Uint8Array } | undefined {
  if (bytes.length <= NAME_LENGTH) return { prefix: new Uint8Array(0), name: bytes };
  for (let cut = bytes.length - 1; cut > 0; cut -= 1) {
    if (bytes[cut] !== 0x2f) continue;
    const prefix = bytes.subarray(0, cut);
    const name = bytes.subarray(cut + 1);
    if (prefix.length <= PREFIX_LENGTH && name.length <= NAME_LENGTH && name.length > 0) return { prefix, name };
  }
  return undefined;
}

interface HeaderFields {
  readonly name: Uint8Array;
  readonly prefix: Uint8Array;
  readonly linkName: Uint8Array;
  readonly typeflag: string;
  readonly size: number;
  readonly mode: number;
  readonly mtimeSeconds: number;
  readonly gnu: boolean;
  readonly base256Size: boolean;
}

function encodeHeader(fields: HeaderFields): Uint8Array {
  const block = new Uint8Array(BLOCK);
  writeText(block, 0, NAME_LENGTH, fields.name);
  writeOctal(block, 100, 8, fields.mode);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  if (fields.base256Size || fields.size > MAX_OCTAL_SIZE) writeBase256(block, 124, 12, fields.size);
  else writeOctal(block, 124, 12, fields.size);
  writeOctal(block, 136, 12, fields.mtimeSeconds);
  block.fill(0x20, 148, 156);
  writeText(block, 156, 1, fields.typeflag);
  writeText(block, 157, NAME_LENGTH, fields.linkName);
  writeText(block, 257, 8, fields.gnu ? 'ustar  \0' : 'ustar\u000000');
  writeText(block, 265, 32, 'root');
  writeText(block, 297, 32, 'root');
  writeText(block, 345, PREFIX_LENGTH, fields.prefix);
  let sum = 0;
  for (const byte of block) sum += byte;
  writeText(block, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return block;
}

function padding(size: number): Uint8Array {
  return new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);
}

function paxRecord(key: string, value: string): string {
  const content = ` ${key}=${value}\n`;
  const contentLength = encoder.encode(content).length;
  // The length prefix counts its own digits, so grow it until it is self-consistent.
  let length = contentLength + 1;
  while (String(length).length + contentLength !== length) length += 1;
  return `${length}${content}`;
}

/** Turns entries into header/body chunks; a hole body stays a hole. */
function chunksOf(entries: readonly TarEntrySpec[], options: TarWriteOptions): Chunk[] {
  const format = options.format ?? 'ustar';
  const mtimeSeconds = Math.floor((options.mtime ?? new Date(0)).getTime() / 1000);
  const chunks: Chunk[] = [];
  const push = (bytes: Uint8Array): void => {
    if (bytes.length > 0) chunks.push({ bytes });
  };
  const metadata = (typeflag: string, name: string, body: Uint8Array): void => {
    push(
      encodeHeader({
        name: encoder.encode(name).subarray(0, NAME_LENGTH),
        prefix: new Uint8Array(0),
        linkName: new Uint8Array(0),
        typeflag,
        size: body.length,
        mode: 0o644,
        mtimeSeconds,
        gnu: format === 'gnu',
        base256Size: false,
      }),
    );
    push(body);
    push(padding(body.length));
  };

  for (const entry of entries) {
    const typeflag = typeflagOf(entry);
    const body = bodyOf(entry);
    const size = entry.holeBytes ?? body.length;
    const nameBytes = encoder.encode(entry.name);
    const linkBytes = encoder.encode(entry.linkName ?? '');
    let name: Uint8Array = nameBytes;
    let prefix: Uint8Array = new Uint8Array(0);
    let linkName: Uint8Array = linkBytes;
    let headerSize = size;

    if (format === 'gnu') {
      if (linkBytes.length > NAME_LENGTH) {
        metadata('K', '././@LongLink', encoder.encode(`${entry.linkName ?? ''}\0`));
        linkName = linkBytes.subarray(0, NAME_LENGTH);
      }
      if (nameBytes.length > NAME_LENGTH) {
        metadata('L', '././@LongLink', encoder.encode(`${entry.name}\0`));
        name = nameBytes.subarray(0, NAME_LENGTH);
      }
    } else {
      const split = splitUstarName(nameBytes);
      const records: string[] = [];
      if (split === undefined || linkBytes.length > NAME_LENGTH || size > MAX_OCTAL_SIZE) {
        if (format === 'ustar') throw new RangeError(`ustar cannot hold entry ${entry.name}`);
      }
      if (format === 'pax') {
        if (split === undefined) records.push(paxRecord('path', entry.name));
        if (linkBytes.length > NAME_LENGTH) records.push(paxRecord('linkpath', entry.linkName ?? ''));
        if (size > MAX_OCTAL_SIZE) {
          records.push(paxRecord('size', String(size)));
          headerSize = 0;
        }
      }
      if (records.length > 0) {
        const baseName = entry.name.split('/').filter(Boolean).pop() ?? 'entry';
        metadata('x', `PaxHeaders.0/${baseName}`.slice(0, NAME_LENGTH), encoder.encode(records.join('')));
      }
      if (split !== undefined) {
        name = split.name;
        prefix = split.prefix;
      } else {
        name = nameBytes.subarray(0, NAME_LENGTH);
      }
      if (linkBytes.length > NAME_LENGTH) linkName = linkBytes.subarray(0, NAME_LENGTH);
    }

    push(
      encodeHeader({
        name,
        prefix,
        linkName,
        typeflag,
        size: headerSize,
        mode: entry.mode ?? (typeflag === '5' ? 0o755 : 0o644),
        mtimeSeconds,
        gnu: format === 'gnu',
        base256Size: entry.base256Size === true,
      }),
    );
    if (entry.holeBytes !== undefined) {
      chunks.push({ hole: entry.holeBytes + padding(entry.holeBytes).length });
    } else {
      push(body);
      push(padding(body.length));
    }
  }
  // Two zero blocks mark the end of the archive.
  push(new Uint8Array(BLOCK * 2));
  return chunks;
}

/** Encodes a whole archive in memory (holes become zeros): for small test archives. */
export function encodeTar(entries: readonly TarEntrySpec[], options: TarWriteOptions = {}): Uint8Array {
  const chunks = chunksOf(entries, options);
  const total = chunks.reduce((sum, chunk) => sum + ('hole' in chunk ? chunk.hole : chunk.bytes.length), 0);
  const out = new Uint8Array(total);
  let position = 0;
  for (const chunk of chunks) {
    if ('hole' in chunk) position += chunk.hole;
    else {
      out.set(chunk.bytes, position);
      position += chunk.bytes.length;
    }
  }
  return out;
}

/** Merges runs of byte chunks so a file is written with one call per stretch between holes. */
function coalesce(chunks: readonly Chunk[]): Chunk[] {
  const merged: Chunk[] = [];
  let run: Uint8Array[] = [];
  const flush = (): void => {
    if (run.length === 0) return;
    merged.push({ bytes: Buffer.concat(run) });
    run = [];
  };
  for (const chunk of chunks) {
    if ('hole' in chunk) {
      flush();
      merged.push(chunk);
    } else run.push(chunk.bytes);
  }
  flush();
  return merged;
}

/** Zeros handed out for holes when compressing, a slice at a time. */
const ZEROS = new Uint8Array(1024 * 1024);

async function* plainBytes(chunks: readonly Chunk[]): AsyncGenerator<Uint8Array> {
  for (const chunk of chunks) {
    if (!('hole' in chunk)) {
      yield chunk.bytes;
      continue;
    }
    for (let left = chunk.hole; left > 0; left -= ZEROS.length) yield ZEROS.subarray(0, Math.min(left, ZEROS.length));
  }
}

/** Writes the archive through gzip; returns the compressed size. */
async function writeGzipTarFile(path: string, entries: readonly TarEntrySpec[], options: TarWriteOptions): Promise<number> {
  await pipeline(Readable.from(plainBytes(chunksOf(entries, options))), createGzip({ level: 6 }), createWriteStream(path));
  return (await fs.stat(path)).size;
}

/** Writes an archive to `path`, skipping over hole bodies so they occupy no disk blocks (or gzip-compressed); returns its size. */
export async function writeTarFile(path: string, entries: readonly TarEntrySpec[], options: TarWriteOptions = {}): Promise<number> {
  if (options.compression === 'gzip') return writeGzipTarFile(path, entries, options);
  const handle = await fs.open(path, 'w');
  try {
    let position = 0;
    for (const chunk of coalesce(chunksOf(entries, options))) {
      if ('hole' in chunk) {
        position += chunk.hole;
        continue;
      }
      let written = 0;
      while (written < chunk.bytes.length) {
        const result = await handle.write(chunk.bytes, written, chunk.bytes.length - written, position + written);
        written += result.bytesWritten;
      }
      position += chunk.bytes.length;
    }
    // The archive always ends with zero blocks, but truncate anyway so a rewrite never keeps stale tail bytes.
    await handle.truncate(position);
    return position;
  } finally {
    await handle.close();
  }
}
