import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { parseArchiveName } from '../../../src/archive/archive-name.js';
import { walkArchive } from '../../../src/archive/archive-walk.js';
import { countReads, type ByteSource } from '../../../src/archive/byte-source.js';
import { bufferByteSource } from '../../support/byte-sources.js';
import { DEFAULT_DECOMPRESSION_LIMITS, sniffEncoding, zstdSupported, type DecompressionLimits } from '../../../src/archive/compressed.js';
import { readArchiveIdentity, readArchiveIdentityDeferring, readIdentityFrom } from '../../../src/archive/identity.js';
import { inspectArchive } from '../../../src/archive/inspect.js';
import type { ParsedArchiveName } from '../../../src/archive/types.js';
import { encodeTar, makeTempDir, sampleArchiveEntries, sampleArchiveName, writeSampleArchive, type SampleArchiveOptions } from '../../support/archives.js';
import { numRuns } from '../../support/properties.js';
import { itWithZstd, zstdExpected } from '../../support/zstd.js';

const options: SampleArchiveOptions = { namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api', timestamp: '2024-01-28T00:10:45Z', runtime: 'containerd', payloadBytes: 300_000 };
const plain = encodeTar(sampleArchiveEntries(options));
const gzipped = zlib.gzipSync(plain);

function nameOf(fileName: string): ParsedArchiveName {
  const parsed = parseArchiveName(fileName);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.value;
}
const NAME = nameOf(sampleArchiveName(options));

/** A gzip stream of `mebibytes` MiB of zero bytes, as concatenated members: about a kilobyte per MiB, the classic bomb. */
function zerosGzip(mebibytes: number): Buffer {
  const member = zlib.gzipSync(Buffer.alloc(1024 * 1024), { level: 9 });
  return Buffer.concat(Array.from({ length: mebibytes }, () => member));
}

/** Counts reads in flight, so a test can tell none is left running after a read returns. */
function trackInFlight(inner: ByteSource): { source: ByteSource; inFlight(): number; reads(): number } {
  let inFlight = 0;
  let reads = 0;
  return {
    source: {
      size: inner.size,
      read: async (buffer, offset, length, position) => {
        inFlight += 1;
        reads += 1;
        try {
          // Every read takes a turn of the event loop, as a real one does.
          await new Promise((wake) => setImmediate(wake));
          return await inner.read(buffer, offset, length, position);
        } finally {
          inFlight -= 1;
        }
      },
    },
    inFlight: () => inFlight,
    reads: () => reads,
  };
}

describe('sniffEncoding', () => {
  const tarHead = plain.subarray(0, 4096);
  it.each([
    ['a tar', tarHead, { kind: 'tar' }],
    ['an empty tar (zero blocks)', new Uint8Array(1024), { kind: 'tar' }],
    ['gzip', gzipped.subarray(0, 64), { kind: 'compressed', format: 'gzip' }],
    ['xz', Uint8Array.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 1, 2]), { kind: 'unsupported', reason: expect.stringContaining('xz-compressed') }],
    ['bzip2', new TextEncoder().encode('BZh91AY&SY'), { kind: 'unsupported', reason: expect.stringContaining('bzip2-compressed') }],
    ['lz4', Uint8Array.from([0x04, 0x22, 0x4d, 0x18, 0x64, 0x40]), { kind: 'unsupported', reason: expect.stringContaining('lz4-compressed') }],
    ['random bytes (left to the tar reader to refuse)', Uint8Array.from({ length: 600 }, (_, i) => (i * 37 + 11) % 256), { kind: 'tar' }],
  ])('%s', (_label, head, expected) => {
    expect(sniffEncoding(head)).toEqual(expected);
  });

  it('reads a tar whose first entry is named like a compression magic number as a tar', () => {
    expect(sniffEncoding(encodeTar([{ name: 'BZh91AY', body: 'x' }]))).toEqual({ kind: 'tar' });
  });

  it('recognises zstd by content, and says whether this Node.js can read it', () => {
    const zstd = Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0x24, 0x00]);
    if (zstdSupported()) expect(sniffEncoding(zstd)).toEqual({ kind: 'compressed', format: 'zstd' });
    else expect(sniffEncoding(zstd)).toEqual({ kind: 'unsupported', reason: expect.stringContaining('no zstd decompressor') });
  });
});

describe('compressed archives', () => {
  it('identifies a gzip archive and counts its parts as decompressed sizes, other as what they leave of the file', async () => {
    const read = await readIdentityFrom(bufferByteSource(gzipped), NAME);
    const asPlain = await readIdentityFrom(bufferByteSource(plain), NAME);
    expect(read.ok && asPlain.ok).toBe(true);
    if (!read.ok || !asPlain.ok) return;
    expect(read.value.identity).toEqual({ namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api' });
    const named = (asPlain.value.contents?.memoryBytes ?? 0) + (asPlain.value.contents?.checkpointOtherBytes ?? 0) + (asPlain.value.contents?.rootfsDiffBytes ?? 0);
    expect(read.value.contents).toEqual({
      memoryBytes: asPlain.value.contents?.memoryBytes,
      checkpointOtherBytes: asPlain.value.contents?.checkpointOtherBytes,
      rootfsDiffBytes: asPlain.value.contents?.rootfsDiffBytes,
      otherBytes: Math.max(0, gzipped.length - named),
      missing: [],
      compression: 'gzip',
      decompressedBytes: plain.length,
    });
  });

  it('never reports a negative part when the archive decompresses to far more than its size', async () => {
    const tar = encodeTar([...sampleArchiveEntries({ ...options, payloadBytes: 0 }), { name: 'checkpoint/pages-2.img', body: new Uint8Array(4 * 1024 * 1024) }]);
    const read = await readIdentityFrom(bufferByteSource(zlib.gzipSync(tar)), NAME);
    expect(read).toMatchObject({ ok: true, value: { contents: { memoryBytes: 4 * 1024 * 1024, otherBytes: 0, compression: 'gzip' } } });
  });

  it('reads a gzip stream of several members, as concatenated gzip files are', async () => {
    const cut = 5000;
    const members = Buffer.concat([zlib.gzipSync(plain.subarray(0, cut)), zlib.gzipSync(plain.subarray(cut))]);
    expect(await readIdentityFrom(bufferByteSource(members), NAME)).toMatchObject({ ok: true, value: { contents: { compression: 'gzip', missing: [] } } });
  });

  it('stops at the decompressed-bytes bound: a bomb costs what the bound allows, no more', async () => {
    const bomb = zerosGzip(256);
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const limits: DecompressionLimits = { maxBytes: 8 * 1024 * 1024, maxMs: 60_000 };
    const started = performance.now();
    // An empty tar is zeros too: wrap the zeros in a header that claims them as one huge entry.
    const header = encodeTar([{ name: 'checkpoint/pages-1.img', holeBytes: 256 * 1024 * 1024 }]).subarray(0, 512);
    const claimed = Buffer.concat([zlib.gzipSync(header), bomb]);
    const read = await readIdentityFrom(bufferByteSource(claimed), NAME, { compressed: limits });
    expect(read).toEqual({ ok: false, reason: 'gzip-compressed archive: the gzip stream decompresses to more than 8388608 bytes' });
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('stops at the time bound, on the injected clock', async () => {
    let now = 0;
    const limits: DecompressionLimits = { maxBytes: DEFAULT_DECOMPRESSION_LIMITS.maxBytes, maxMs: 3_000, now: () => (now += 1_000) };
    const read = await readIdentityFrom(bufferByteSource(gzipped), NAME, { compressed: limits });
    expect(read).toEqual({ ok: false, reason: expect.stringMatching(/^gzip-compressed archive: reading the gzip stream took longer than 3 s/) });
  });

  it.each([
    ['corrupt deflate data', (() => {
      const bad = Buffer.from(gzipped);
      for (let i = 100; i < 140; i += 1) bad[i] = (bad[i] ?? 0) ^ 0x5a;
      return bad;
    })(), /^gzip-compressed archive: (corrupt gzip stream|unreadable tar)/],
    ['a stream cut short', gzipped.subarray(0, Math.floor(gzipped.length / 2)), /^gzip-compressed archive: (corrupt gzip stream|unreadable tar)/],
    ['gzip of something that is not a tar', zlib.gzipSync(Buffer.from('hello, this is not a tar archive at all '.repeat(40))), /^gzip-compressed archive: unreadable tar: invalid tar header/],
    ['an xz archive', Uint8Array.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, ...new Uint8Array(600)]), /^xz-compressed archive/],
  ])('refuses %s with a reason', async (_label, bytes, reason) => {
    expect(await readIdentityFrom(bufferByteSource(bytes), NAME)).toEqual({ ok: false, reason: expect.stringMatching(reason) });
  });

  it('never throws on a mangled gzip archive: every outcome is a value', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.nat({ max: gzipped.length - 1 }), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat({ max: gzipped.length }), async (edits, cut) => {
        const mangled = Buffer.from(gzipped.subarray(0, cut));
        for (const [offset, value] of edits) if (offset < mangled.length) mangled[offset] = value;
        const read = await readIdentityFrom(bufferByteSource(mangled), NAME);
        if (!read.ok) expect(read.reason.length).toBeGreaterThan(0);
      }),
      { numRuns: numRuns(120) },
    );
  });

  it('leaves a compressed archive unread when asked to defer, after one read of its head', async () => {
    const counted = countReads(bufferByteSource(gzipped));
    expect(await readIdentityFrom(counted.source, NAME, { compressed: 'defer' })).toEqual({ ok: false, reason: 'gzip-compressed archive, read separately', deferred: 'gzip' });
    expect(counted.stats().reads).toBe(1);
  });

  it('has no read of the file in flight once it returns, whether it finished or stopped at a bound', async () => {
    for (const limits of [DEFAULT_DECOMPRESSION_LIMITS, { maxBytes: 100_000, maxMs: 60_000 }]) {
      const tracked = trackInFlight(bufferByteSource(gzipped));
      await walkArchive(tracked.source, { bodies: ['spec.dump'], maxBodyBytes: 1024 * 1024, compressed: limits });
      expect(tracked.inFlight()).toBe(0);
      expect(tracked.reads()).toBeGreaterThan(0);
    }
  });

  it.each([
    ['v20.20.2', false],
    ['v22.14.0', false],
    ['v22.15.0', true],
    ['v23.7.1', false],
    ['v23.8.0', true],
    ['v24.0.0', true],
  ] as const)('Node.js %s was released with zstd in zlib: %s', (version, expected) => {
    expect(zstdExpected(version)).toBe(expected);
  });

  it('finds zstd in zlib on every Node.js released with it, so the zstd tests cannot be skipped there', () => {
    expect(zstdSupported()).toBe(zstdExpected(process.version));
  });

  itWithZstd()('identifies a zstd archive where Node.js offers zstd', async () => {
    const compress = (zlib as unknown as { zstdCompressSync: (input: Uint8Array) => Buffer }).zstdCompressSync;
    expect(await readIdentityFrom(bufferByteSource(compress(plain)), NAME)).toMatchObject({ ok: true, value: { contents: { compression: 'zstd', missing: [] } } });
  });
});

describe('compressed archives on disk', () => {
  let dir: string;
  let remove: () => Promise<void>;
  beforeAll(async () => {
    ({ dir, remove } = await makeTempDir());
  });
  afterAll(() => remove());

  it('a gzip archive named .tar is identified, checked against its fingerprint, and inspected', async () => {
    const fileName = await writeSampleArchive(dir, { ...options, compression: 'gzip', omitEntries: ['checkpoint/inventory.img'] });
    const path = join(dir, fileName);
    const stat = await fs.stat(path);
    const fingerprint = { dev: stat.dev, ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs };
    const read = await readArchiveIdentity(path, nameOf(fileName), fingerprint);
    expect(read).toMatchObject({ ok: true, value: { identity: { container: 'cart-api' }, contents: { compression: 'gzip', missing: ['checkpoint/inventory.img'] } } });
    expect(await readArchiveIdentityDeferring(path, nameOf(fileName), fingerprint)).toMatchObject({ ok: false, deferred: 'gzip' });
    const inspected = await inspectArchive(path);
    expect(inspected).toMatchObject({ ok: true, value: { contents: { compression: 'gzip', missing: ['checkpoint/inventory.img'] }, config: { ok: true } } });
    expect(inspected.ok && inspected.value.entries.map((e) => e.name)).toContain('status.dump');
  });
});
