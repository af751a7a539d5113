import type { ByteSource } from '../../src/archive/byte-source.js';

/**
 * Raw tar blocks for malformed-archive tests: every field is given as the bytes to write, so a test
 * can put garbage exactly where a hostile writer would. The checksum is computed unless given.
 */

const BLOCK = 512;
const encoder = new TextEncoder();

export interface RawHeaderSpec {
  readonly name?: string;
  /** The 12-byte size field, verbatim (octal text, or base-256 bytes); a number is written as octal. */
  readonly size?: number | string | Uint8Array;
  readonly typeflag?: string;
  readonly linkName?: string;
  /** 'gnu' writes the `ustar  \0` magic, 'ustar' the POSIX `ustar\000`, 'v7' none. */
  readonly format?: 'ustar' | 'gnu' | 'v7';
  /** The 8-byte checksum field, verbatim; computed (unsigned sum) when absent. */
  readonly checksum?: string;
  /** Bytes written at offsets of the block after the fields above (e.g. the GNU sparse flag at 482). */
  readonly patch?: ReadonlyArray<readonly [number, number]>;
}

function put(block: Uint8Array, offset: number, value: string | Uint8Array): void {
  block.set(typeof value === 'string' ? encoder.encode(value) : value, offset);
}

export function headerBlock(spec: RawHeaderSpec): Uint8Array {
  const block = new Uint8Array(BLOCK);
  put(block, 0, spec.name ?? 'file');
  put(block, 100, '0000644\0');
  put(block, 108, '0000000\0');
  put(block, 116, '0000000\0');
  const size = spec.size ?? 0;
  put(block, 124, typeof size === 'number' ? `${size.toString(8).padStart(11, '0')}\0` : size);
  put(block, 136, '14544770145\0');
  put(block, 156, spec.typeflag ?? '0');
  if (spec.linkName !== undefined) put(block, 157, spec.linkName);
  const format = spec.format ?? 'ustar';
  if (format === 'ustar') put(block, 257, 'ustar\x0000');
  if (format === 'gnu') put(block, 257, 'ustar  \0');
  for (const [offset, value] of spec.patch ?? []) block[offset] = value;
  if (spec.checksum !== undefined) {
    put(block, 148, spec.checksum);
  } else {
    block.fill(0x20, 148, 156);
    const sum = block.reduce((total, byte) => total + byte, 0);
    put(block, 148, `${sum.toString(8).padStart(6, '0')}\0 `);
  }
  return block;
}

/** `bytes`, padded with NULs to whole blocks. */
export function bodyBlocks(bytes: string | Uint8Array): Uint8Array {
  const raw = typeof bytes === 'string' ? encoder.encode(bytes) : bytes;
  const padded = new Uint8Array(Math.ceil(raw.length / BLOCK) * BLOCK);
  padded.set(raw);
  return padded;
}

/** A header with its body: the size field says exactly the body's length. */
export function member(spec: RawHeaderSpec, body: string | Uint8Array = ''): Uint8Array {
  const raw = typeof body === 'string' ? encoder.encode(body) : body;
  return concat(headerBlock({ size: raw.length, ...spec }), bodyBlocks(raw));
}

export const zeroBlocks = (count: number): Uint8Array => new Uint8Array(count * BLOCK);

/** The end-of-archive marker: two zero blocks. */
export const END = zeroBlocks(2);

/** One PAX record, its length field counting itself, as `<length> <key>=<value>\n`. */
export function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  const restLength = encoder.encode(rest).length;
  let length = restLength + 1;
  while (String(length).length + restLength !== length) length += 1;
  return `${length}${rest}`;
}

export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** A 12-byte base-256 field holding `value` (negative values in two's complement). */
export function base256(value: bigint): Uint8Array {
  const field = new Uint8Array(12);
  let remaining = BigInt.asUintN(96, value);
  for (let index = 11; index >= 0; index -= 1) {
    field[index] = Number(remaining & 0xffn);
    remaining >>= 8n;
  }
  if (value >= 0n) field[0] = (field[0] ?? 0) | 0x80;
  return field;
}

export interface ReadLog {
  reads: number;
  bytesRead: number;
  /** The largest single read asked for: the reader allocates its buffer at that size. */
  largestRead: number;
}

/**
 * A source of `size` bytes holding `pieces` at their offsets and zeros elsewhere, costing only the
 * pieces' memory: a terabyte archive whose headers lie can be walked without writing it. Every read is
 * logged, so a test can bound what the reader asked for.
 */
export function loggedSource(size: number, pieces: ReadonlyArray<readonly [number, Uint8Array]>): { readonly source: ByteSource; readonly log: ReadLog } {
  const log: ReadLog = { reads: 0, bytesRead: 0, largestRead: 0 };
  const source: ByteSource = {
    size,
    read: async (buffer, offset, length, position) => {
      log.reads += 1;
      log.largestRead = Math.max(log.largestRead, length);
      const count = Math.max(0, Math.min(length, size - position));
      buffer.fill(0, offset, offset + count);
      for (const [at, bytes] of pieces) {
        const from = Math.max(at, position);
        const to = Math.min(at + bytes.length, position + count);
        if (from < to) buffer.set(bytes.subarray(from - at, to - at), offset + from - position);
      }
      log.bytesRead += count;
      return count;
    },
  };
  return { source, log };
}
