import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { walkArchive } from '../../../src/archive/archive-walk.js';
import { MAX_DUMP_BYTES } from '../../../src/archive/identity.js';
import { HEADER_WINDOW_BYTES, MAX_METADATA_BODY_BYTES, type TarWalkLimits } from '../../../src/archive/tar-reader.js';
import { listTarEntries, readTarEntries } from '../../support/tar-entries.js';
import { numRuns } from '../../support/properties.js';
import { END, base256, bodyBlocks, concat, headerBlock, loggedSource, member, paxRecord, zeroBlocks, type RawHeaderSpec, type ReadLog } from '../../support/tar-blocks.js';

/**
 * A corpus of hostile and broken tar headers, built from bytes. Every case must come out as a value:
 * a failure whose reason says what is wrong, or a listing the reader documents (a later PAX record
 * wins, a typeflag it does not know is skipped over). No case may throw, read more than a bounded
 * number of bytes, allocate a buffer larger than the header window, or keep the reader looping.
 */

const SPEC = '{"annotations":{}}';
const SPEC_MEMBER = member({ name: 'spec.dump' }, SPEC);
const GiB = 1024 ** 3;
const TiB = 1024 ** 4;

/** What every case may cost at most, whatever its headers claim. */
const MAX_READS = 64;
const MAX_BYTES_READ = 1024 * 1024;

type Expectation =
  | { readonly wantErr: string }
  | {
      /** [name, type, size] of every entry, in order. */
      readonly entries: ReadonlyArray<readonly [string, string, number]>;
      readonly offsets?: readonly number[];
      /** The outcome for spec.dump when read (default: whatever the listing implies). */
      readonly spec?: object;
    };

interface Case {
  /** A plain byte array, or a sparse layout: pieces at offsets in a file of `size` bytes. */
  readonly archive: Uint8Array | { readonly size: number; readonly pieces: ReadonlyArray<readonly [number, Uint8Array]> };
  readonly expect: Expectation;
  readonly limits?: TarWalkLimits;
}

const x = (...records: string[]): Uint8Array => member({ name: 'PaxHeaders/entry', typeflag: 'x' }, records.join(''));
const raw = (body: string): Uint8Array => member({ name: 'PaxHeaders/entry', typeflag: 'x' }, body);
const longName = (typeflag: 'L' | 'K', body: string | Uint8Array, size?: RawHeaderSpec['size']): Uint8Array =>
  member({ name: '././@LongLink', typeflag, format: 'gnu', ...(size === undefined ? {} : { size }) }, body);
const withSize = (size: RawHeaderSpec['size'], extra: Partial<RawHeaderSpec> = {}): Uint8Array =>
  concat(member({ name: 'a.img', size, ...extra }, 'abc'), SPEC_MEMBER, END);
/** A member whose header claims `size` bytes at offset 0, then spec.dump and the end marker right after them. */
const hugeThenSpec = (header: Uint8Array, size: number): Case['archive'] => {
  const after = header.length + Math.ceil(size / 512) * 512;
  const tail = concat(SPEC_MEMBER, END);
  return { size: after + tail.length, pieces: [[0, header], [after, tail]] };
};

/** Old writers summed the header bytes as signed chars; GNU tar still accepts that checksum. */
function withSignedChecksum(block: Uint8Array): Uint8Array {
  const copy = block.slice();
  copy.fill(0x20, 148, 156);
  const sum = copy.reduce((total, byte) => total + (byte > 127 ? byte - 256 : byte), 0);
  copy.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
  return copy;
}

/** A GNU 'S' header whose sparse map continues in extension blocks. */
const sparseHeader = (size: number, format: 'gnu' | 'ustar' = 'gnu'): Uint8Array =>
  headerBlock({ name: 'checkpoint/pages-1.img', typeflag: 'S', format, size, patch: [[482, 1]] });
const extensionBlock = (more: boolean): Uint8Array => {
  const block = zeroBlocks(1);
  block[504] = more ? 1 : 0;
  return block;
};

const specEntry = ['spec.dump', 'file', SPEC.length] as const;

const CASES: Record<string, Case> = {
  // Numeric fields: base-256 and octal.
  'base-256 size, small': { archive: withSize(base256(3n), { format: 'gnu' }), expect: { entries: [['a.img', 'file', 3], specEntry] } },
  'base-256 size of 9 GiB, seeked over': {
    archive: hugeThenSpec(headerBlock({ name: 'checkpoint/pages-1.img', format: 'gnu', size: base256(BigInt(9 * GiB)) }), 9 * GiB),
    expect: { entries: [['checkpoint/pages-1.img', 'file', 9 * GiB], specEntry], offsets: [512, 512 + 9 * GiB + 512], spec: { status: 'read' } },
  },
  'base-256 size of Number.MAX_SAFE_INTEGER, past the end': { archive: withSize(base256(BigInt(Number.MAX_SAFE_INTEGER))), expect: { wantErr: 'beyond the end' } },
  'base-256 size of 2^53, past exact numbers': { archive: withSize(base256(2n ** 53n)), expect: { wantErr: 'size field is too large' } },
  'base-256 size of 2^94, the largest positive': { archive: withSize(base256(2n ** 94n - 1n)), expect: { wantErr: 'size field is too large' } },
  'base-256 size of -1': { archive: withSize(base256(-1n)), expect: { wantErr: 'size field is a negative base-256 number' } },
  'base-256 size of -2^94 (first byte 0xc0)': { archive: withSize(base256(-(2n ** 94n))), expect: { wantErr: 'size field is a negative base-256 number' } },
  'base-256 size of -2^40': { archive: withSize(base256(-(2n ** 40n))), expect: { wantErr: 'size field is a negative base-256 number' } },
  'octal size with a letter': { archive: withSize('0000000x003\0'), expect: { wantErr: 'size field is not an octal number' } },
  'octal size with a space inside': { archive: withSize('00000 00003\0'), expect: { wantErr: 'size field is not an octal number' } },
  'octal size with the digit 8': { archive: withSize('00000000008\0'), expect: { wantErr: 'size field is not an octal number' } },
  'octal size with a plus sign': { archive: withSize('+0000000003\0'), expect: { wantErr: 'size field is not an octal number' } },
  'octal size with a minus sign': { archive: withSize('-0000000003\0'), expect: { wantErr: 'size field is not an octal number' } },
  'octal size of twelve digits, no terminator': { archive: withSize('000000000003'), expect: { entries: [['a.img', 'file', 3], specEntry] } },
  'octal size padded with spaces': { archive: withSize('         3 \0'), expect: { entries: [['a.img', 'file', 3], specEntry] } },
  'octal size of 8 GiB - 1, past the end': { archive: withSize('77777777777\0'), expect: { wantErr: 'claims 8589934591 bytes, beyond the end' } },
  'size one block longer than the file': { archive: concat(headerBlock({ name: 'a.img', size: 2560 }), bodyBlocks('abc'), END), expect: { wantErr: 'beyond the end' } },
  'size claiming a terabyte in a terabyte-sized file of zeros': {
    archive: { size: TiB, pieces: [[0, headerBlock({ name: 'a.img', size: base256(BigInt(TiB - 1024)) })]] },
    expect: { entries: [['a.img', 'file', TiB - 1024]] },
  },

  // Checksums.
  'checksum mismatch': { archive: concat(headerBlock({ name: 'spec.dump', size: SPEC.length, checksum: '0000000\0' }), bodyBlocks(SPEC), END), expect: { wantErr: 'header checksum mismatch' } },
  'checksum field that is not a number': { archive: concat(headerBlock({ name: 'spec.dump', checksum: 'garbage\0' }), END), expect: { wantErr: 'checksum field is not an octal number' } },
  'checksum of only spaces': { archive: concat(headerBlock({ name: 'spec.dump', checksum: '        ' }), END), expect: { wantErr: 'header checksum mismatch' } },
  'checksum summed as signed bytes, by an old writer': {
    archive: concat(withSignedChecksum(headerBlock({ name: 'ünïcödé.img', size: 3 })), bodyBlocks('abc'), SPEC_MEMBER, END),
    expect: { entries: [['ünïcödé.img', 'file', 3], specEntry] },
  },

  // PAX records.
  'PAX record length of twenty digits': { archive: concat(raw('99999999999999999999 path=spec.dump\n'), SPEC_MEMBER, END), expect: { wantErr: 'PAX record length does not match its content' } },
  'PAX length field longer than twenty digits': { archive: concat(raw(`${'1'.repeat(25)} path=spec.dump\n`), SPEC_MEMBER, END), expect: { wantErr: 'PAX record has no length' } },
  'PAX length shorter than its record': { archive: concat(raw('5 path=spec.dump\n'), SPEC_MEMBER, END), expect: { wantErr: 'PAX record length does not match its content' } },
  'PAX length that ends inside the next record': { archive: concat(raw(`12 path=ab\n${paxRecord('size', '3')}`), SPEC_MEMBER, END), expect: { wantErr: 'PAX record length does not match its content' } },
  'PAX length with a leading zero': { archive: concat(raw('012 path=ab\n'), SPEC_MEMBER, END), expect: { wantErr: 'PAX record length "012" is not a number' } },
  'PAX length that is negative': { archive: concat(raw('-9 path=a\n'), SPEC_MEMBER, END), expect: { wantErr: 'is not a number' } },
  'PAX record without its newline': { archive: concat(raw('17 path=spec.dump'), SPEC_MEMBER, END), expect: { wantErr: 'PAX record length does not match its content' } },
  'PAX record without =': { archive: concat(raw('9 pathxx\n'), SPEC_MEMBER, END), expect: { wantErr: 'PAX record has no key' } },
  'PAX body starting with NUL and then data': { archive: concat(raw(`\0\0${paxRecord('path', 'x')}`), SPEC_MEMBER, END), expect: { wantErr: 'is not a number' } },
  'PAX records followed by NUL padding': { archive: concat(raw(`${paxRecord('path', 'renamed.img')}\0\0\0\0`), member({ name: 'a.img' }, 'abc'), END), expect: { entries: [['renamed.img', 'file', 3]] } },
  'PAX size past exact numbers': { archive: concat(x(paxRecord('size', '99999999999999999999')), SPEC_MEMBER, END), expect: { wantErr: 'PAX size "99999999999999999999" is not a size' } },
  'PAX size that is negative': { archive: concat(x(paxRecord('size', '-1')), SPEC_MEMBER, END), expect: { wantErr: 'PAX size "-1" is not a size' } },
  'PAX size in exponent form': { archive: concat(x(paxRecord('size', '1e3')), SPEC_MEMBER, END), expect: { wantErr: 'PAX size "1e3" is not a size' } },
  'PAX size of Number.MAX_SAFE_INTEGER, past the end': { archive: concat(x(paxRecord('size', String(Number.MAX_SAFE_INTEGER))), SPEC_MEMBER, END), expect: { wantErr: 'beyond the end' } },
  'PAX size of 9 GiB over a header size of 0, seeked over': {
    archive: (() => {
      const header = concat(x(paxRecord('size', String(9 * GiB))), headerBlock({ name: 'checkpoint/pages-1.img', size: 0 }));
      const tail = concat(SPEC_MEMBER, END);
      return { size: header.length + 9 * GiB + tail.length, pieces: [[0, header], [header.length + 9 * GiB, tail]] as const };
    })(),
    expect: { entries: [['checkpoint/pages-1.img', 'file', 9 * GiB], specEntry], spec: { status: 'read' } },
  },
  'two PAX headers for one entry (GNU tar keeps the second, Python the first)': {
    archive: concat(x(paxRecord('path', 'spec.dump')), x(paxRecord('comment', 'c')), member({ name: 'harmless' }, SPEC), END),
    expect: { wantErr: 'a second PAX header for one entry at offset 1024: tar readers disagree on which one applies' },
  },
  'a PAX header, then a GNU long name (bsdtar and Python take the long name, GNU tar the PAX path)': {
    archive: concat(x(paxRecord('path', 'spec.dump')), longName('L', 'harmless\0'), member({ name: 'a', format: 'gnu' }, SPEC), END),
    expect: { wantErr: 'a GNU long name after a PAX header' },
  },
  'a GNU long name, then a PAX header': {
    archive: concat(longName('L', 'harmless\0'), x(paxRecord('path', 'spec.dump')), member({ name: 'a', format: 'gnu' }, SPEC), END),
    expect: { wantErr: 'a PAX header after a GNU long name' },
  },
  'a PAX header, then a GNU long link name': {
    archive: concat(x(paxRecord('linkpath', 'a')), longName('K', 'b\0'), member({ name: 'l', typeflag: '2', format: 'gnu' }), END),
    expect: { wantErr: 'a GNU long link name after a PAX header' },
  },
  'a GNU long link name and a long name for one entry, as GNU tar writes them': {
    archive: concat(longName('K', `${'t'.repeat(120)}\0`), longName('L', `${'n'.repeat(120)}\0`), member({ name: 'short', typeflag: '2', format: 'gnu' }), END),
    expect: { entries: [['n'.repeat(120), 'symlink', 0]] },
  },
  'PAX header, then a global header, then the entry': {
    archive: concat(x(paxRecord('path', 'named.img')), member({ name: 'pax_global_header', typeflag: 'g' }, paxRecord('comment', 'hi')), member({ name: 'a.img' }, 'abc'), END),
    expect: { entries: [['named.img', 'file', 3]] },
  },
  'PAX header one byte over the cap': { archive: concat(raw(paxRecord('comment', 'c'.repeat(MAX_METADATA_BODY_BYTES))), SPEC_MEMBER, END), expect: { wantErr: `(limit ${MAX_METADATA_BODY_BYTES})` } },
  'PAX header claiming a terabyte': {
    archive: hugeThenSpec(headerBlock({ name: 'PaxHeaders/a', typeflag: 'x', size: base256(BigInt(TiB)) }), TiB),
    expect: { wantErr: `is ${TiB} bytes (limit ${MAX_METADATA_BODY_BYTES})` },
  },
  'PAX header with no entry after it': { archive: concat(x(paxRecord('path', 'spec.dump')), END), expect: { wantErr: 'archive ends after a metadata header with no entry' } },
  'PAX path naming spec.dump, over a harmless header name': {
    archive: concat(x(paxRecord('path', 'spec.dump')), member({ name: 'harmless.txt' }, SPEC), END),
    expect: { entries: [specEntry], spec: { status: 'read' } },
  },

  // GNU sparse entries.
  'old GNU sparse entry with one extension block': {
    archive: concat(sparseHeader(1024), extensionBlock(false), bodyBlocks(new Uint8Array(1024).fill(9)), SPEC_MEMBER, END),
    expect: { entries: [['checkpoint/pages-1.img', 'sparse', 1024], specEntry], offsets: [1024, 2560] },
  },
  'old GNU sparse extension chain running off the end': { archive: concat(sparseHeader(0), extensionBlock(true), extensionBlock(true), extensionBlock(true)), expect: { wantErr: 'truncated archive' } },
  'old GNU sparse extension chain longer than the header limit': {
    archive: concat(sparseHeader(0), ...Array.from({ length: 20 }, () => extensionBlock(true)), END),
    limits: { maxHeaders: 10 },
    expect: { wantErr: 'more than 10 tar headers' },
  },
  'sparse flag in a POSIX ustar header is a prefix byte, not a map': {
    archive: concat(sparseHeader(3, 'ustar'), bodyBlocks('abc'), END),
    expect: { entries: [['checkpoint/pages-1.img', 'sparse', 3]], offsets: [512] },
  },
  'PAX GNU.sparse 1.0 entry named spec.dump is not read as spec.dump': {
    archive: concat(
      x(paxRecord('GNU.sparse.major', '1'), paxRecord('GNU.sparse.minor', '0'), paxRecord('GNU.sparse.name', 'spec.dump'), paxRecord('GNU.sparse.realsize', '4096')),
      member({ name: 'GNUSparseFile.42/spec.dump' }, concat(bodyBlocks('1\n0\n18\n'), new TextEncoder().encode(SPEC))),
      END,
    ),
    expect: { entries: [['spec.dump', 'sparse', 512 + SPEC.length]], spec: { status: 'not-regular', type: 'sparse' } },
  },
  'PAX GNU.sparse 0.0 records mark the entry sparse under its own name': {
    archive: concat(x(paxRecord('GNU.sparse.size', '8192'), paxRecord('GNU.sparse.numblocks', '1'), paxRecord('GNU.sparse.offset', '4096'), paxRecord('GNU.sparse.numbytes', '3')), member({ name: 'checkpoint/pages-2.img' }, 'abc'), END),
    expect: { entries: [['checkpoint/pages-2.img', 'sparse', 3]] },
  },

  // GNU long names and long link names.
  'GNU long name one byte over the cap': { archive: concat(longName('L', 'n'.repeat(MAX_METADATA_BODY_BYTES + 1)), SPEC_MEMBER, END), expect: { wantErr: `(limit ${MAX_METADATA_BODY_BYTES})` } },
  'GNU long link name claiming a terabyte': {
    archive: hugeThenSpec(headerBlock({ name: '././@LongLink', typeflag: 'K', format: 'gnu', size: base256(BigInt(TiB)) }), TiB),
    expect: { wantErr: `is ${TiB} bytes (limit ${MAX_METADATA_BODY_BYTES})` },
  },
  'GNU long name claiming 2^60 bytes': { archive: concat(longName('L', 'x', base256(2n ** 60n)), SPEC_MEMBER, END), expect: { wantErr: 'size field is too large' } },
  'GNU long name past the end of the file': { archive: concat(longName('L', 'x', '00000010000\0'), SPEC_MEMBER, END), expect: { wantErr: 'beyond the end' } },
  'GNU long name without a NUL': { archive: concat(longName('L', 'spec.dump'), member({ name: 'other' }, SPEC), END), expect: { entries: [specEntry], spec: { status: 'read' } } },
  'two GNU long names for one entry (GNU tar and bsdtar take the second, Python the first)': {
    archive: concat(longName('L', 'spec.dump\0'), longName('L', 'harmless\0'), member({ name: 'a.img', format: 'gnu' }, SPEC), END),
    expect: { wantErr: 'a second GNU long name for one entry at offset 1024' },
  },
  'two GNU long link names for one entry': {
    archive: concat(longName('K', 'a\0'), longName('K', 'b\0'), member({ name: 'l', typeflag: '2', format: 'gnu' }), END),
    expect: { wantErr: 'a second GNU long link name for one entry' },
  },
  'GNU long link name on a regular file': {
    archive: concat(longName('K', 'target\0'), SPEC_MEMBER, END),
    expect: { entries: [specEntry], spec: { status: 'read' } },
  },
  'GNU long name with no entry after it': { archive: concat(longName('L', 'spec.dump\0'), END), expect: { wantErr: 'archive ends after a metadata header with no entry' } },

  // Zero blocks, truncation and the end of the archive.
  'a lone zero block in the middle': { archive: concat(member({ name: 'a.img' }, 'abc'), zeroBlocks(1), SPEC_MEMBER, END), expect: { wantErr: 'lone zero block at offset 1024 followed by data' } },
  'two zero blocks in the middle end the archive, as in GNU tar': {
    archive: concat(member({ name: 'a.img' }, 'abc'), END, SPEC_MEMBER, END),
    expect: { entries: [['a.img', 'file', 3]], spec: { status: 'missing' } },
  },
  'a single zero block at the end of the file': { archive: concat(SPEC_MEMBER, zeroBlocks(1)), expect: { entries: [specEntry], spec: { status: 'read' } } },
  'the end-of-archive block cut short': { archive: concat(SPEC_MEMBER, new Uint8Array(256)), expect: { wantErr: 'truncated archive' } },
  'no end-of-archive marker': { archive: SPEC_MEMBER, expect: { wantErr: 'no end-of-archive marker' } },
  'a header cut short': { archive: concat(SPEC_MEMBER, headerBlock({ name: 'b' }).subarray(0, 300)), expect: { wantErr: 'truncated archive' } },
  'a body cut short': { archive: member({ name: 'spec.dump', size: 2000 }, SPEC), expect: { wantErr: 'beyond the end' } },
  'an empty file': { archive: new Uint8Array(0), expect: { wantErr: 'no end-of-archive marker' } },
  'only the end-of-archive marker': { archive: END, expect: { entries: [] } },
  'trailing garbage after the end-of-archive marker is never read': { archive: concat(SPEC_MEMBER, END, new Uint8Array(5000).fill(0x41)), expect: { entries: [specEntry] } },

  // Types whose body the reader skips, and limits on header counts.
  'unknown typeflag with a body is skipped over': { archive: concat(member({ name: 'odd', typeflag: 'Z' }, 'z'.repeat(700)), SPEC_MEMBER, END), expect: { entries: [['odd', 'other', 700], specEntry] } },
  'symlink whose size field is not zero: GNU tar reads a body, Go, libarchive and Python do not': {
    archive: concat(headerBlock({ name: 'link', typeflag: '2', linkName: 'x', size: 1024 }), member({ name: 'hidden.dump' }, 'x'), SPEC_MEMBER, END),
    expect: { wantErr: 'entry at offset 0 (typeflag 2) has a size of 1024 bytes: tar readers disagree' },
  },
  'FIFO whose size field is not zero': { archive: concat(headerBlock({ name: 'fifo', typeflag: '6', size: 1 }), SPEC_MEMBER, END), expect: { wantErr: '(typeflag 6) has a size of 1 bytes' } },
  'character device whose PAX size is not zero': {
    archive: concat(x(paxRecord('size', '512')), headerBlock({ name: 'tty', typeflag: '3' }), SPEC_MEMBER, END),
    expect: { wantErr: '(typeflag 3) has a size of 512 bytes' },
  },
  'block device whose size field is not zero': { archive: concat(headerBlock({ name: 'sda', typeflag: '4', size: 512 }), SPEC_MEMBER, END), expect: { wantErr: '(typeflag 4) has a size of 512 bytes' } },
  'hard link whose size field is not zero has no body, in every tar reader': {
    archive: concat(headerBlock({ name: 'link', typeflag: '1', linkName: 'spec.dump', size: 4096 }), SPEC_MEMBER, END),
    expect: { entries: [['link', 'hardlink', 0], specEntry] },
  },
  'directory whose size field is not zero has no body, in every tar reader': {
    archive: concat(headerBlock({ name: 'checkpoint/', typeflag: '5', size: 4096 }), SPEC_MEMBER, END),
    expect: { entries: [['checkpoint', 'directory', 0], specEntry] },
  },
  'global headers past the header limit': {
    archive: concat(...Array.from({ length: 12 }, () => member({ name: 'g', typeflag: 'g' }, paxRecord('comment', 'x'))), SPEC_MEMBER, END),
    limits: { maxHeaders: 10 },
    expect: { wantErr: 'more than 10 tar headers' },
  },
};

function sourceOf(archive: Case['archive']): { source: ReturnType<typeof loggedSource>['source']; log: ReadLog } {
  return archive instanceof Uint8Array ? loggedSource(archive.length, [[0, archive]]) : loggedSource(archive.size, archive.pieces);
}

/** What no archive may cost the reader, whatever its headers say. */
function expectBounded(log: ReadLog): void {
  expect(log.largestRead).toBeLessThanOrEqual(HEADER_WINDOW_BYTES);
  expect(log.reads).toBeLessThanOrEqual(MAX_READS);
  expect(log.bytesRead).toBeLessThanOrEqual(MAX_BYTES_READ);
}

describe('malformed tar headers fail closed or are skipped as documented', () => {
  it.each(Object.entries(CASES))('%s', async (_label, testCase) => {
    const listing = sourceOf(testCase.archive);
    const listed = await listTarEntries(listing.source, testCase.limits);
    expectBounded(listing.log);

    const reading = sourceOf(testCase.archive);
    const read = await readTarEntries(reading.source, ['spec.dump'], 1024, testCase.limits);
    expectBounded(reading.log);

    if ('wantErr' in testCase.expect) {
      expect(listed).toEqual({ ok: false, reason: expect.stringContaining(testCase.expect.wantErr) });
      expect(read).toEqual({ ok: false, reason: expect.stringContaining(testCase.expect.wantErr) });
    } else {
      const { entries, offsets, spec } = testCase.expect;
      expect(listed.ok && listed.value.map((entry) => [entry.name, entry.type, entry.size])).toEqual(entries);
      if (offsets !== undefined) expect(listed.ok && listed.value.map((entry) => entry.offset)).toEqual(offsets);
      if (spec !== undefined) expect(read.ok && read.value.get('spec.dump')).toEqual(expect.objectContaining(spec));
    }

    // The identity path (sniffing, then the same walk) answers with a value too, within the same bounds.
    if (testCase.limits === undefined) {
      const walking = sourceOf(testCase.archive);
      const walked = await walkArchive(walking.source, { bodies: ['spec.dump'], maxBodyBytes: MAX_DUMP_BYTES, compressed: 'defer' });
      expectBounded(walking.log);
      expect(walked.ok).toBe(!('wantErr' in testCase.expect));
    }
  });
});

describe('structured hostile headers (property)', () => {
  // Headers with valid checksums, so every field reaches the parser instead of failing the checksum.
  const sizeField: fc.Arbitrary<RawHeaderSpec['size']> = fc.oneof(
    fc.nat({ max: 3000 }),
    fc.bigInt({ min: -(2n ** 95n), max: 2n ** 95n - 1n }).map(base256),
    fc.constantFrom(0, 512, 0o77777777777),
    fc.string({ unit: fc.constantFrom(...'01234567 \0x+-'), minLength: 12, maxLength: 12 }),
  );
  const paxBody = fc
    .array(
      fc.tuple(
        fc.constantFrom('path', 'linkpath', 'size', 'GNU.sparse.name', 'GNU.sparse.major', 'mtime', ''),
        fc.string({ maxLength: 30 }),
        fc.integer({ min: -3, max: 3 }),
      ),
      { maxLength: 5 },
    )
    .map((records) =>
      records
        .map(([key, value, lie]) => {
          const honest = paxRecord(key, value);
          const length = Number(honest.slice(0, honest.indexOf(' '))) + lie;
          return `${length}${honest.slice(honest.indexOf(' '))}`;
        })
        .join(''),
    );
  const memberSpec = fc.record({
    typeflag: fc.constantFrom('0', '\0', '1', '2', '5', '7', 'L', 'K', 'x', 'g', 'S', 'Z'),
    name: fc.constantFrom('spec.dump', './spec.dump', 'checkpoint/pages-1.img', 'a/', ''),
    format: fc.constantFrom('ustar', 'gnu', 'v7') as fc.Arbitrary<'ustar' | 'gnu' | 'v7'>,
    size: fc.option(sizeField, { nil: undefined }),
    body: fc.oneof(paxBody, fc.string({ maxLength: 600 })),
    sparseFlag: fc.boolean(),
  });
  const tail = fc.constantFrom('end', 'one-zero-block', 'none', 'cut');

  it('every outcome is a value, within the read bounds; every entry listed lies inside the file', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(memberSpec, { minLength: 1, maxLength: 8 }), tail, async (members, ending) => {
        const parts = members.map(({ typeflag, name, format, size, body, sparseFlag }) =>
          member({ typeflag, name, format, ...(size === undefined ? {} : { size }), ...(sparseFlag ? { patch: [[482, 1]] as const } : {}) }, body),
        );
        let archive = concat(...parts, ending === 'end' ? END : ending === 'one-zero-block' ? zeroBlocks(1) : new Uint8Array(0));
        if (ending === 'cut') archive = archive.subarray(0, Math.max(0, archive.length - 200));
        const { source, log } = loggedSource(archive.length, [[0, archive]]);
        const listed = await listTarEntries(source);
        expectBounded(log);
        if (!listed.ok) {
          expect(listed.reason).toMatch(/\S/);
          return;
        }
        let previous = -1;
        for (const entry of listed.value) {
          expect(entry.offset % 512).toBe(0);
          expect(entry.offset).toBeGreaterThan(previous);
          expect(entry.offset + entry.size).toBeLessThanOrEqual(archive.length);
          previous = entry.offset;
        }
      }),
      { numRuns: numRuns(200) },
    );
  });
});
