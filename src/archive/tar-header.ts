import type { Result } from './types.js';

export const BLOCK_SIZE = 512;

/** Field layout shared by v7, ustar and GNU headers (offset, length). */
const NAME = [0, 100] as const;
const SIZE = [124, 12] as const;
const CHECKSUM = [148, 8] as const;
const TYPEFLAG = 156;
const LINKNAME = [157, 100] as const;
const MAGIC = [257, 6] as const;
const VERSION = [263, 2] as const;
const PREFIX = [345, 155] as const;
/** Old GNU sparse headers: "more sparse map blocks follow" flag in the header and in each extension block. */
const GNU_SPARSE_IS_EXTENDED = 482;
export const GNU_SPARSE_EXTENSION_IS_EXTENDED = 504;

export type TarHeaderFormat = 'ustar' | 'gnu' | 'v7';

/** A decoded 512-byte header, before long-name and PAX overrides are applied. */
export interface RawTarHeader {
  readonly name: string;
  readonly linkName: string;
  readonly size: number;
  readonly typeflag: string;
  readonly format: TarHeaderFormat;
  /** Old GNU sparse entries: extension blocks of the sparse map sit between header and body. */
  readonly sparseExtended: boolean;
}

const decoder = new TextDecoder('utf-8');

function field(block: Uint8Array, [offset, length]: readonly [number, number]): Uint8Array {
  return block.subarray(offset, offset + length);
}

/** NUL-terminated text; names are bytes on disk, decoded as UTF-8 like every runtime writes them. */
function text(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return decoder.decode(end === -1 ? bytes : bytes.subarray(0, end));
}

export function isZeroBlock(block: Uint8Array): boolean {
  for (const byte of block) if (byte !== 0) return false;
  return true;
}

/**
 * Numeric fields: octal ASCII (optionally space-padded, NUL or space terminated), or the GNU/star
 * base-256 form (high bit of the first byte set) that carries sizes of 8 GiB and more.
 */
export function parseNumericField(bytes: Uint8Array, what: string): Result<number> {
  const first = bytes[0] ?? 0;
  if (first & 0x80) {
    // Two's complement: the bit below the marker is the sign (0xff for every small negative number).
    if (first & 0x40) return { ok: false, reason: `${what} field is a negative base-256 number` };
    let value = first & 0x7f;
    for (const byte of bytes.subarray(1)) {
      value = value * 256 + byte;
      if (value > Number.MAX_SAFE_INTEGER) return { ok: false, reason: `${what} field is too large` };
    }
    return { ok: true, value };
  }
  let index = 0;
  while (index < bytes.length && bytes[index] === 0x20) index += 1;
  let value = 0;
  for (; index < bytes.length; index += 1) {
    const byte = bytes[index] ?? 0;
    if (byte < 0x30 || byte > 0x37) break;
    value = value * 8 + (byte - 0x30);
  }
  for (; index < bytes.length; index += 1) {
    const byte = bytes[index];
    if (byte !== 0 && byte !== 0x20) return { ok: false, reason: `${what} field is not an octal number` };
  }
  return { ok: true, value };
}

/**
 * The checksum is computed with its own field read as spaces; some old writers summed signed bytes.
 * One pass over all 512 bytes, then the checksum field's own bytes are swapped for spaces: this runs
 * for every header of every archive, so it stays a tight loop.
 */
function checksumMatches(block: Uint8Array, stored: number): boolean {
  let unsigned = 0;
  let high = 0;
  for (let index = 0; index < BLOCK_SIZE; index += 1) {
    const byte = block[index] as number;
    unsigned += byte;
    if (byte > 127) high += 1;
  }
  for (let index = CHECKSUM[0]; index < CHECKSUM[0] + CHECKSUM[1]; index += 1) {
    const byte = block[index] as number;
    unsigned += 0x20 - byte;
    if (byte > 127) high -= 1;
  }
  // Each byte above 127 counts 256 less when summed as signed.
  return stored === unsigned || stored === unsigned - 256 * high;
}

function formatOf(block: Uint8Array): TarHeaderFormat {
  const magic = text(field(block, MAGIC));
  const version = decoder.decode(field(block, VERSION));
  if (magic === 'ustar' && version === '00') return 'ustar';
  if (magic === 'ustar ' && version === ' \0') return 'gnu';
  return 'v7';
}

/** Decodes one non-zero header block; a wrong checksum means this is not a header at all. */
export function decodeHeader(block: Uint8Array): Result<RawTarHeader> {
  const storedChecksum = parseNumericField(field(block, CHECKSUM), 'checksum');
  if (!storedChecksum.ok) return storedChecksum;
  if (!checksumMatches(block, storedChecksum.value)) return { ok: false, reason: 'header checksum mismatch' };
  const size = parseNumericField(field(block, SIZE), 'size');
  if (!size.ok) return size;
  const format = formatOf(block);
  const baseName = text(field(block, NAME));
  // Only POSIX ustar has a prefix field; GNU headers keep access/change times in those bytes.
  const prefix = format === 'ustar' ? text(field(block, PREFIX)) : '';
  const typeflag = String.fromCharCode(block[TYPEFLAG] ?? 0);
  return {
    ok: true,
    value: {
      name: prefix === '' ? baseName : `${prefix}/${baseName}`,
      linkName: text(field(block, LINKNAME)),
      size: size.value,
      typeflag,
      format,
      sparseExtended: format === 'gnu' && typeflag === 'S' && block[GNU_SPARSE_IS_EXTENDED] !== 0,
    },
  };
}

/** The PAX keys this reader acts on; others (times, owners, charset) do not change where bytes are. */
export interface PaxOverrides {
  readonly path?: string;
  readonly linkPath?: string;
  readonly size?: number;
  /**
   * GNU tar's PAX sparse formats (0.1 and 1.0) keep the real name in GNU.sparse.name and put a made-up
   * `GNUSparseFile.<pid>/<name>` in the header; every tar lister shows the real one.
   */
  readonly sparseName?: string;
  /** Any GNU.sparse.* record: the body holds data islands (and for 1.0 the map), not the file's bytes in order. */
  readonly sparse?: boolean;
}

const GNU_SPARSE_PREFIX = 'GNU.sparse.';

/** Parses `<length> <key>=<value>\n` records; any malformed record fails the archive. */
export function parsePaxRecords(body: Uint8Array): Result<PaxOverrides> {
  const overrides: { -readonly [K in keyof PaxOverrides]: PaxOverrides[K] } = {};
  let position = 0;
  while (position < body.length) {
    // Trailing NUL padding after the last record is tolerated, as GNU tar does.
    if (body[position] === 0 && isZeroBlock(body.subarray(position))) break;
    const space = body.indexOf(0x20, position);
    if (space === -1 || space - position > 20) return { ok: false, reason: 'PAX record has no length' };
    const lengthText = decoder.decode(body.subarray(position, space));
    if (!/^[1-9][0-9]*$/.test(lengthText)) return { ok: false, reason: `PAX record length ${JSON.stringify(lengthText)} is not a number` };
    const length = Number(lengthText);
    const end = position + length;
    if (end > body.length || body[end - 1] !== 0x0a) return { ok: false, reason: 'PAX record length does not match its content' };
    const record = body.subarray(space + 1, end - 1);
    const equals = record.indexOf(0x3d);
    if (equals <= 0) return { ok: false, reason: 'PAX record has no key' };
    const key = decoder.decode(record.subarray(0, equals));
    const value = decoder.decode(record.subarray(equals + 1));
    if (key === 'path') {
      if (value === '') delete overrides.path;
      else overrides.path = value;
    } else if (key === 'linkpath') {
      if (value === '') delete overrides.linkPath;
      else overrides.linkPath = value;
    } else if (key === 'size') {
      if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(Number(value))) return { ok: false, reason: `PAX size ${JSON.stringify(value)} is not a size` };
      overrides.size = Number(value);
    } else if (key.startsWith(GNU_SPARSE_PREFIX)) {
      overrides.sparse = true;
      if (key === 'GNU.sparse.name' && value !== '') overrides.sparseName = value;
    }
    position = end;
  }
  return { ok: true, value: overrides };
}

/** Text of a GNU 'L'/'K' body: the name, NUL-terminated. */
export function decodeLongName(body: Uint8Array): string {
  return text(body);
}
