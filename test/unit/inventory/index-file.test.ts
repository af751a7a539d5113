import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { IdentityReadResult } from '../../../src/archive/identity.js';
import { INDEX_MAGIC, maxIndexBytes, parseIndex, sameIndexedFile, serializeIndex, indexBodyChunks, indexHead, indexHeaderOf, type IndexEntry, type IndexedDirectory, type IndexedFile } from '../../../src/inventory/index-file.js';
import { numRuns } from '../../support/properties.js';

const DIRECTORY: IndexedDirectory = { directory: '/var/lib/kubelet/checkpoints', dev: 2049, ino: 131_073 };

const label = fc.constantFrom('shop', 'web-0', 'nginx', 'a-b', 'x', 'team-1');
const count = fc.integer({ min: 0, max: 2 ** 40 });
const file: fc.Arbitrary<IndexedFile> = fc.record({
  dev: fc.integer({ min: 0, max: 2 ** 32 }),
  ino: fc.integer({ min: 1, max: 2 ** 48 }),
  size: count,
  // Fractional milliseconds, as lstat gives them.
  mtimeMs: fc.double({ min: 1e12, max: 2e12, noNaN: true }),
  ctimeMs: fc.double({ min: 1e12, max: 2e12, noNaN: true }),
  nlink: fc.integer({ min: 1, max: 4 }),
});
const contents = fc.record({
  memoryBytes: count,
  checkpointOtherBytes: count,
  rootfsDiffBytes: count,
  otherBytes: count,
  missing: fc.subarray(['spec.dump', 'config.dump', 'checkpoint/inventory.img']),
});
const result: fc.Arbitrary<IdentityReadResult> = fc.oneof(
  fc.record({
    ok: fc.constant(true as const),
    value: fc.record({
      identity: fc.record({ namespace: label, pod: label, container: label }),
      sources: fc.subarray(['cri-o', 'containerd', 'criu'] as const, { minLength: 1 }),
      contents,
    }),
  }),
  fc.record({ ok: fc.constant(false as const), reason: fc.constantFrom('spec.dump is missing', 'not a tar archive'), contents: fc.option(contents, { nil: undefined }) }).map(
    ({ ok, reason, contents: c }): IdentityReadResult => (c === undefined ? { ok, reason } : { ok, reason, contents: c }),
  ),
);
/** The directory as it is: each archive's file and what a fresh read of it gives. */
const archives = fc.uniqueArray(fc.record({ fileName: fc.stringMatching(/^checkpoint-[a-z0-9]{1,12}_[a-z-]{1,12}\.tar$/), file, result }), {
  selector: (archive) => archive.fileName,
  minLength: 1,
  maxLength: 12,
});

type Damage = (bytes: Buffer) => Buffer;
/** Damage a disk, a torn write or a hand edit could do. */
const damage: fc.Arbitrary<Damage> = fc.oneof(
  fc.nat().map((at): Damage => (bytes) => bytes.subarray(0, at % bytes.length)),
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })).map(([at, mask]): Damage => (bytes) => {
    const copy = Buffer.from(bytes);
    const i = at % copy.length;
    copy[i] = (copy[i] as number) ^ mask;
    return copy;
  }),
  fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([at, inserted]): Damage => (bytes) => {
    const i = at % bytes.length;
    return Buffer.concat([bytes.subarray(0, i), Buffer.from(inserted), bytes.subarray(i)]);
  }),
  // Two records' results exchanged, names and files kept: each line then claims the other's identity.
  fc.tuple(fc.nat(), fc.nat()).map(([a, b]): Damage => (bytes) => {
    const lines = bytes.toString('utf8').split('\n');
    const records = lines.map((line, i) => [line, i] as const).filter(([line]) => line.startsWith('['));
    const first = records[a % records.length];
    const second = records[b % records.length];
    if (first === undefined || second === undefined) return bytes;
    const split = (line: string): [string, string] => {
      const at = line.indexOf(',{');
      return [line.slice(0, at), line.slice(at)];
    };
    const [headA, resultA] = split(first[0]);
    const [headB, resultB] = split(second[0]);
    lines[first[1]] = headA + resultB;
    lines[second[1]] = headB + resultA;
    return Buffer.from(lines.join('\n'));
  }),
  // Whole records moved to other lines: harmless, each names its own file.
  fc.nat().map((seed): Damage => (bytes) => {
    const lines = bytes.toString('utf8').split('\n');
    const body = lines.slice(2, -1);
    body.push(...body.splice(0, seed % Math.max(1, body.length)));
    return Buffer.from([...lines.slice(0, 2), ...body, ''].join('\n'));
  }),
);

const entriesOf = (list: readonly { fileName: string; file: IndexedFile; result: IdentityReadResult }[]): [string, IndexEntry][] =>
  list.map(({ fileName, file: f, result: r }) => [fileName, { file: f, result: r }]);

describe('the persisted index file', () => {
  it('reads back what it wrote, numbers and all', () => {
    fc.assert(
      fc.property(archives, (list) => {
        const parsed = parseIndex(serializeIndex(DIRECTORY, entriesOf(list)), DIRECTORY);
        expect(parsed.ok && [...parsed.entries]).toEqual(entriesOf(list));
      }),
      { numRuns: numRuns(100) },
    );
  });

  it('never gives an archive an identity other than a fresh read of it gives, whatever the damage (property)', () => {
    fc.assert(
      fc.property(archives, fc.array(damage, { minLength: 1, maxLength: 3 }), (list, damages) => {
        let bytes = serializeIndex(DIRECTORY, entriesOf(list));
        for (const hurt of damages) if (bytes.length > 0) bytes = hurt(bytes);
        const parsed = parseIndex(bytes, DIRECTORY);
        if (!parsed.ok) return;
        // The index is consulted only for a file with the record's exact name and fingerprint.
        for (const archive of list) {
          const entry = parsed.entries.get(archive.fileName);
          if (entry !== undefined && sameIndexedFile(entry.file, archive.file)) expect(entry.result).toEqual(archive.result);
        }
        for (const name of parsed.entries.keys()) expect(list.some((archive) => archive.fileName === name)).toBe(true);
      }),
      { numRuns: numRuns(300) },
    );
  });

  it.each([
    ['another format version', (b: Buffer) => Buffer.from(b.toString().replace(INDEX_MAGIC, 'checkpoint-exporter archive index v2')), 'not an archive index of this version'],
    ['another directory path', (b: Buffer) => Buffer.from(b.toString().replace('/var/lib/kubelet/checkpoints', '/var/lib/kubelet/other')), 'another directory'],
    ['the same path over another inode', (b: Buffer) => Buffer.from(b.toString().replace('"ino":131073', '"ino":131074')), 'another directory'],
    ['a truncated body', (b: Buffer) => b.subarray(0, b.length - 10), 'truncated or torn'],
    ['a flipped byte in the body', (b: Buffer) => Buffer.from(b.toString().replace('"shop"', '"shoq"')), 'checksum'],
    ['no header', () => Buffer.from(`${INDEX_MAGIC}\n`), 'header is missing'],
    ['an empty file', () => Buffer.alloc(0), 'not an archive index'],
  ])('refuses %s', (_case, hurt, wantErr) => {
    const bytes = serializeIndex(DIRECTORY, [['checkpoint-a_shop-web.tar', { file: { dev: 1, ino: 2, size: 3, mtimeMs: 4.5, ctimeMs: 6.5, nlink: 1 }, result: { ok: true, value: { identity: { namespace: 'shop', pod: 'a', container: 'web' }, sources: ['cri-o'] } } }]]);
    const parsed = parseIndex(hurt(bytes), DIRECTORY);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toContain(wantErr);
  });

  it('writes a large index in pieces of about 1 MiB, each line whole, that read back as one file', () => {
    const entry = (i: number): [string, IndexEntry] => [
      `checkpoint-api-${i}_team-${i % 7}-server-2026-01-01T00:00:00Z.tar`,
      { file: { dev: 2049, ino: 1000 + i, size: 20_480 + i, mtimeMs: 1.7e12 + i + 0.25, ctimeMs: 1.7e12 + i + 0.5, nlink: 1 }, result: { ok: true, value: { identity: { namespace: `team-${i % 7}`, pod: `api-${i}`, container: 'server' }, sources: ['cri-o'] } } },
    ];
    const all = Array.from({ length: 12_000 }, (_, i) => entry(i));
    const header = indexHeaderOf(DIRECTORY, all);
    const body = [...indexBodyChunks(all)];
    // The body in more than one piece, each of whole lines.
    expect(body.length).toBeGreaterThan(1);
    for (const chunk of body) expect(chunk[chunk.length - 1]).toBe(0x0a);
    expect(indexHead(header).toString()).toBe(`${INDEX_MAGIC}\n${header}\n`);
    expect(JSON.parse(header)).toEqual(expect.objectContaining({ entries: 12_000, bodyBytes: body.reduce((sum, chunk) => sum + chunk.length, 0) }));
    const parsed = parseIndex(Buffer.concat([indexHead(header), ...body]), DIRECTORY);
    expect(parsed.ok && parsed.droppedRecords).toBe(0);
    if (parsed.ok) expect([...parsed.entries]).toEqual(all);
    // One record more changes the header (count and checksum): a changed index is written again.
    expect(indexHeaderOf(DIRECTORY, [...all, entry(12_000)])).not.toBe(header);
  });

  it('drops records that do not parse and both records of a name given twice, keeping the rest', () => {
    const good: IndexEntry = { file: { dev: 1, ino: 2, size: 3, mtimeMs: 4, ctimeMs: 5, nlink: 1 }, result: { ok: false, reason: 'spec.dump is missing' } };
    const retrying = { ...good, result: { ok: false, reason: 'EIO', retry: 'transient' } } as IndexEntry;
    const bytes = serializeIndex(DIRECTORY, [
      ['a.tar', good],
      ['b.tar', good],
      ['b.tar', good],
      // A transient failure is not a final answer: never kept.
      ['c.tar', retrying],
      ['../d.tar', good],
    ]);
    const parsed = parseIndex(bytes, DIRECTORY);
    expect(parsed.ok && [...parsed.entries.keys()]).toEqual(['a.tar']);
    expect(parsed.ok && parsed.droppedRecords).toBe(4);
  });

  it('bounds what a load may read by the directory\'s entries', () => {
    expect(maxIndexBytes(0)).toBeLessThan(10_000);
    expect(maxIndexBytes(100_000)).toBe(maxIndexBytes(0) + 100_000 * 4_096);
  });
});
