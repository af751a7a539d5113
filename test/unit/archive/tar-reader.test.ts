import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { countReads, openFileByteSource, withFileByteSource } from '../../../src/archive/byte-source.js';
import { MAX_METADATA_BODY_BYTES, type TarEntry } from '../../../src/archive/tar-reader.js';
import { bufferByteSource } from '../../support/byte-sources.js';
import { listTarEntries, readTarEntries } from '../../support/tar-entries.js';
import {
  countingBufferSource,
  encodeTar,
  makeTempDir,
  withByteFlipped,
  withBytesAt,
  withChecksumFixed,
  writeTarFile,
  type TarEntrySpec,
} from '../../support/archives.js';
import { numRuns } from '../../support/properties.js';

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);
const summary = (entries: readonly TarEntry[]): Array<[string, string, number]> => entries.map((entry) => [entry.name, entry.type, entry.size]);

async function list(bytes: Uint8Array): Promise<ReturnType<typeof listTarEntries>> {
  return listTarEntries(bufferByteSource(bytes));
}

async function readSpec(bytes: Uint8Array, maxBytes = 1024) {
  return readTarEntries(bufferByteSource(bytes), ['spec.dump'], maxBytes);
}

const SPEC = '{"annotations":{}}';

describe('listTarEntries on archives from our writer', () => {
  it.each([['ustar'], ['gnu'], ['pax']] as const)('%s: lists names, types, sizes and body offsets', async (format) => {
    const bytes = encodeTar(
      [
        { name: 'checkpoint/', type: 'directory' },
        { name: 'checkpoint/pages-1.img', body: new Uint8Array(1500).fill(7) },
        { name: 'rootfs', type: 'symlink', linkName: 'checkpoint' },
        { name: 'spec.dump', body: SPEC },
      ],
      { format },
    );
    const entries = await list(bytes);
    expect(entries.ok).toBe(true);
    if (!entries.ok) return;
    expect(summary(entries.value)).toEqual([
      ['checkpoint', 'directory', 0],
      ['checkpoint/pages-1.img', 'file', 1500],
      ['rootfs', 'symlink', 0],
      ['spec.dump', 'file', SPEC.length],
    ]);
    const spec = entries.value[3];
    expect(spec && text(bytes.subarray(spec.offset, spec.offset + spec.size))).toBe(SPEC);
  });

  it.each([
    ['ustar prefix split', 'ustar', `${'d'.repeat(120)}/${'f'.repeat(90)}`],
    ['GNU long name', 'gnu', `${'deep/'.repeat(40)}spec.dump`],
    ['PAX path record', 'pax', `${'deep/'.repeat(60)}spec.dump`],
    ['PAX path with UTF-8', 'pax', `${'ü'.repeat(120)}/spec.dump`],
  ] as const)('%s keeps the full name', async (_label, format, name) => {
    const entries = await list(encodeTar([{ name, body: 'x' }, { name: 'after', body: 'y' }], { format }));
    expect(entries.ok && summary(entries.value)).toEqual([
      [name, 'file', 1],
      ['after', 'file', 1],
    ]);
  });

  it.each([['gnu'], ['pax']] as const)('%s: applies long link names to the next entry only', async (format) => {
    const target = `${'t'.repeat(150)}/target`;
    const entries = await list(
      encodeTar(
        [
          { name: 'link', type: 'symlink', linkName: target },
          { name: 'spec.dump', body: SPEC },
        ],
        { format },
      ),
    );
    expect(entries.ok && summary(entries.value)).toEqual([
      ['link', 'symlink', 0],
      ['spec.dump', 'file', SPEC.length],
    ]);
    expect(entries.ok && entries.value.map((entry) => entry.linkName)).toEqual([target, '']);
  });

  it('ignores a global PAX header and its body', async () => {
    const global: TarEntrySpec = { name: 'pax_global_header', typeflag: 'g', body: '52 comment=this-is-a-global-header-not-an-entry\n' };
    const entries = await list(encodeTar([global, { name: 'spec.dump', body: SPEC }], { format: 'pax' }));
    expect(entries.ok && summary(entries.value)).toEqual([['spec.dump', 'file', SPEC.length]]);
  });

  it('reads a base-256 size field', async () => {
    const entries = await list(encodeTar([{ name: 'big.img', body: 'abc', base256Size: true }, { name: 'spec.dump', body: SPEC }], { format: 'gnu' }));
    expect(entries.ok && summary(entries.value)).toEqual([
      ['big.img', 'file', 3],
      ['spec.dump', 'file', SPEC.length],
    ]);
  });

  it('treats a pre-POSIX regular header whose name ends in / as a directory', async () => {
    const entries = await list(encodeTar([{ name: 'spec.dump/', typeflag: '\0' }]));
    expect(entries.ok && summary(entries.value)).toEqual([['spec.dump', 'directory', 0]]);
  });
});

describe('readTarEntries: which entry counts', () => {
  it.each([
    ['plain spec.dump', [{ name: 'spec.dump', body: SPEC }], { status: 'read' }],
    ['./spec.dump', [{ name: './spec.dump', body: SPEC }], { status: 'read' }],
    ['old-style NUL typeflag', [{ name: 'spec.dump', typeflag: '\0', body: SPEC }], { status: 'read' }],
    ['nested x/spec.dump', [{ name: 'x/spec.dump', body: SPEC }], { status: 'missing' }],
    ['absolute /spec.dump', [{ name: '/spec.dump', body: SPEC }], { status: 'missing' }],
    ['.//spec.dump is a different path', [{ name: './/spec.dump', body: SPEC }], { status: 'missing' }],
    ['spec.dump.bak', [{ name: 'spec.dump.bak', body: SPEC }], { status: 'missing' }],
    ['directory spec.dump', [{ name: 'spec.dump/', type: 'directory' }], { status: 'not-regular', type: 'directory' }],
    ['symlink spec.dump', [{ name: 'spec.dump', type: 'symlink', linkName: '/etc/shadow' }], { status: 'not-regular', type: 'symlink' }],
    ['hardlink spec.dump', [{ name: 'spec.dump', type: 'hardlink', linkName: 'other' }], { status: 'not-regular', type: 'hardlink' }],
    ['contiguous file typeflag 7', [{ name: 'spec.dump', typeflag: '7', body: SPEC }], { status: 'not-regular', type: 'other' }],
    ['FIFO spec.dump', [{ name: 'spec.dump', typeflag: '6' }], { status: 'not-regular', type: 'other' }],
    ['two copies', [{ name: 'spec.dump', body: SPEC }, { name: './spec.dump', body: '{}' }], { status: 'duplicate' }],
    ['oversized', [{ name: 'spec.dump', body: 'x'.repeat(2000) }], { status: 'too-large', size: 2000, limit: 1024 }],
  ] as Array<[string, TarEntrySpec[], object]>)('%s', async (_label, entries, expected) => {
    const read = await readSpec(encodeTar(entries));
    expect(read.ok).toBe(true);
    if (read.ok) expect(read.value.get('spec.dump')).toEqual(expect.objectContaining(expected));
  });

  it('returns the exact body of each requested entry and nothing for the rest', async () => {
    const read = await readTarEntries(
      bufferByteSource(
        encodeTar([
          { name: 'config.dump', body: '{"id":"abc"}' },
          { name: 'checkpoint/pages-1.img', body: 'PAGES' },
          { name: 'spec.dump', body: SPEC },
        ]),
      ),
      ['spec.dump', 'config.dump', 'stats-dump'],
      1024,
    );
    expect(read.ok).toBe(true);
    if (!read.ok) return;
    const bodies = [...read.value].map(([name, entry]) => [name, entry.status === 'read' ? text(entry.bytes) : entry.status]);
    expect(bodies).toEqual([
      ['spec.dump', SPEC],
      ['config.dump', '{"id":"abc"}'],
      ['stats-dump', 'missing'],
    ]);
  });

  it('reads a small archive with a single windowed read', async () => {
    const counted = countingBufferSource(encodeTar([{ name: 'config.dump', body: '{}' }, { name: 'spec.dump', body: SPEC }]));
    const read = await readTarEntries(counted.source, ['spec.dump'], 1024);
    expect(read.ok).toBe(true);
    expect(counted.stats().reads).toBe(1);
  });
});

describe('malformed archives are errors, not exceptions', () => {
  const good = encodeTar([
    { name: 'checkpoint/pages-1.img', body: new Uint8Array(3000) },
    { name: 'spec.dump', body: SPEC },
  ]);
  const specHeaderOffset = 512 + 3072;

  it.each([
    ['empty file', new Uint8Array(0), 'no end-of-archive marker'],
    ['cut inside the first header', good.subarray(0, 300), 'truncated archive'],
    ['cut inside a body', good.subarray(0, 1500), 'beyond the end'],
    ['cut inside the second header', good.subarray(0, specHeaderOffset + 100), 'truncated archive'],
    ['no end-of-archive blocks', good.subarray(0, specHeaderOffset + 1024), 'no end-of-archive marker'],
    ['bad checksum in first header', withByteFlipped(good, 10), 'header checksum mismatch'],
    ['bad checksum in a later header', withByteFlipped(good, specHeaderOffset + 3), 'invalid tar header at offset 3584'],
    ['random bytes', new Uint8Array(2048).map((_, index) => (index * 131 + 7) % 256), 'invalid tar header'],
    ['size beyond file end', withChecksumFixed(withBytesAt(good, 124, '77777777777\0'), 0), 'beyond the end'],
    ['non-octal size', withChecksumFixed(withBytesAt(good, 124, '0000000x000\0'), 0), 'size field is not an octal number'],
    ['negative base-256 size', withChecksumFixed(withBytesAt(good, 124, new Uint8Array(12).fill(0xff)), 0), 'negative base-256'],
    ['lone zero block then data', (() => {
      const bytes = new Uint8Array(good.length + 512);
      bytes.set(good.subarray(0, specHeaderOffset));
      bytes.set(good.subarray(specHeaderOffset), specHeaderOffset + 512);
      return bytes;
    })(), 'lone zero block'],
    ['long name header with no entry', encodeTar([{ name: '././@LongLink', typeflag: 'L', body: 'spec.dump\0' }]), 'metadata header with no entry'],
    ['PAX record with bad length', encodeTar([{ name: 'x', typeflag: 'x', body: '99 path=spec.dump\n' }, { name: 'a', body: 'b' }]), 'PAX record length'],
    ['PAX record without key', encodeTar([{ name: 'x', typeflag: 'x', body: '9 =value\n' }, { name: 'a', body: 'b' }]), 'PAX record has no key'],
    ['PAX size that is not a number', encodeTar([{ name: 'x', typeflag: 'x', body: '12 size=abc\n' }, { name: 'a', body: 'b' }]), 'PAX size'],
    ['oversized GNU long name', encodeTar([{ name: '././@LongLink', typeflag: 'L', body: 'n'.repeat(MAX_METADATA_BODY_BYTES + 1) }, { name: 'a', body: 'b' }]), 'limit'],
  ])('%s', async (_label, bytes, reasonPart) => {
    const read = await readSpec(bytes);
    expect(read).toEqual({ ok: false, reason: expect.stringContaining(reasonPart) });
  });

  it('stops after a bounded number of headers', async () => {
    const many = encodeTar(Array.from({ length: 50 }, (_, index) => ({ name: `empty-${index}`, body: '' })));
    expect(await listTarEntries(bufferByteSource(many), { maxHeaders: 49 })).toEqual({ ok: false, reason: 'more than 49 tar headers' });
    const within = await listTarEntries(bufferByteSource(many), { maxHeaders: 50 });
    expect(within.ok && within.value.length).toBe(50);
  });

  it('applies a PAX size override to the next entry', async () => {
    // The header says 0 bytes; the PAX record says 5, which is what tar readers must honour.
    const bytes = encodeTar([
      { name: 'PaxHeaders/data', typeflag: 'x', body: '10 size=5\n' },
      { name: 'data', body: 'hello' },
      { name: 'spec.dump', body: SPEC },
    ]);
    const dataHeader = 1024;
    const patched = withChecksumFixed(withBytesAt(bytes, dataHeader + 124, '00000000000\0'), dataHeader);
    const entries = await list(patched);
    expect(entries.ok && summary(entries.value)).toEqual([
      ['data', 'file', 5],
      ['spec.dump', 'file', SPEC.length],
    ]);
  });
});

describe('on real files', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, remove } = await makeTempDir());
  });
  afterAll(() => remove());

  it.each([
    ['gnu', 'base-256 size field'],
    ['pax', 'PAX size record'],
  ] as const)('%s: seeks over a 9 GiB sparse entry (%s) to spec.dump', async (format, _how) => {
    const path = join(dir, `huge-${format}.tar`);
    const nineGiB = 9 * 1024 ** 3;
    await writeTarFile(path, [{ name: 'checkpoint/pages-1.img', holeBytes: nineGiB }, { name: 'spec.dump', body: SPEC }], { format });
    const opened = await openFileByteSource(path);
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    const counted = countReads(opened.value.source);
    const read = await readTarEntries(counted.source, ['spec.dump'], 1024);
    await opened.value.close();
    expect(read.ok && read.value.get('spec.dump')).toEqual({ status: 'read', bytes: new TextEncoder().encode(SPEC) });
    const entries = await withFileByteSource(path, (source) => listTarEntries(source));
    expect(entries.ok && entries.value[0]?.size).toBe(nineGiB);
    expect(counted.stats().bytesRead).toBeLessThan(256 * 1024);
  });

  it.each([
    ['a directory', async (path: string) => fs.mkdir(path), 'not a regular file'],
    ['a symlink', async (path: string) => fs.symlink('/dev/null', path), 'ELOOP'],
    ['missing', async () => undefined, 'ENOENT'],
  ])('refuses to open %s as an archive', async (_label, make, reasonPart) => {
    const path = join(dir, `odd-${_label.replace(/\W/g, '')}.tar`);
    await make(path);
    const opened = await openFileByteSource(path);
    expect(opened).toEqual({ ok: false, reason: expect.stringContaining(reasonPart) });
  });
});

describe('tar reader properties', () => {
  const segment = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_.é'), minLength: 1, maxLength: 40 }).filter((part) => part !== '.' && part !== '..');
  const entry = fc.record({
    name: fc.array(segment, { minLength: 1, maxLength: 8 }).map((parts) => parts.join('/')),
    size: fc.integer({ min: 0, max: 3000 }),
  });

  it('lists exactly what was written, in order, for any names and sizes in GNU and PAX form', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(entry, { maxLength: 12 }), fc.constantFrom('gnu', 'pax') as fc.Arbitrary<'gnu' | 'pax'>, async (entries, format) => {
        const bytes = encodeTar(
          entries.map(({ name, size }) => ({ name, body: new Uint8Array(size).fill(size % 251) })),
          { format },
        );
        const listed = await list(bytes);
        expect(listed.ok && summary(listed.value)).toEqual(entries.map(({ name, size }) => [name, 'file', size]));
        if (listed.ok) {
          for (const item of listed.value) expect(bytes.subarray(item.offset, item.offset + item.size).every((byte) => byte === item.size % 251)).toBe(true);
        }
      }),
      { numRuns: numRuns(80) },
    );
  });

  it('never throws on corrupted archives: every outcome is a value', async () => {
    const archive = encodeTar([
      { name: 'checkpoint/pages-1.img', body: new Uint8Array(1200) },
      { name: 'spec.dump', body: SPEC },
    ]);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: archive.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        fc.nat({ max: archive.length }),
        async (edits, cut) => {
          const mangled = archive.slice(0, cut);
          for (const [offset, value] of edits) if (offset < mangled.length) mangled[offset] = value;
          const read = await readSpec(mangled);
          if (read.ok) expect(read.value.get('spec.dump')?.status).toEqual(expect.any(String));
          else expect(read.reason.length).toBeGreaterThan(0);
        },
      ),
      { numRuns: numRuns(300) },
    );
  });
});
