import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, promises as fs } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { parseArchiveName } from '../../../src/archive/archive-name.js';
import type { IdentityReadResult } from '../../../src/archive/identity.js';
import type * as Reader from '../../../src/archive/identity-reader.js';
import type { FileFingerprint, ParsedArchiveName } from '../../../src/archive/types.js';
import { makeTempDir, writeSampleArchive, type SampleArchiveOptions } from '../../support/archives.js';

/**
 * The identity reader as the daemon runs it: the built module, so its worker threads start (from the
 * TypeScript sources there is no worker script and reads fall back to the main thread, also tested).
 */
const BUILT = fileURLToPath(new URL('../../../dist/archive/identity-reader.js', import.meta.url));
const logger = pino({ level: 'silent' });

interface Archive {
  readonly path: string;
  readonly name: ParsedArchiveName;
  readonly fingerprint: FileFingerprint;
}

async function archiveAt(dir: string, options: SampleArchiveOptions): Promise<Archive> {
  const fileName = await writeSampleArchive(dir, options);
  const path = join(dir, fileName);
  const stat = await fs.stat(path);
  const name = parseArchiveName(fileName);
  if (!name.ok) throw new Error(name.reason);
  return { path, name: name.value, fingerprint: { dev: stat.dev, ino: stat.ino, size: stat.size, mtimeMs: stat.mtimeMs } };
}

const at = (minute: number): Date => new Date(Date.UTC(2024, 0, 1, 0, minute));

describe.each([
  ['on worker threads (built)', async () => ((await import(pathToFileURL(BUILT).href)) as typeof Reader).createIdentityReader(logger, 2), true],
  ['on the main thread (from sources)', async () => (await import('../../../src/archive/identity-reader.js')).createIdentityReader(logger, 2), false],
] as const)('identity reader %s', (_label, create, threaded) => {
  let dir: string;
  let remove: () => Promise<void>;
  let plain: Archive[];
  let compressed: Archive[];
  let big: Archive;

  beforeAll(async () => {
    if (threaded && !existsSync(BUILT)) throw new Error(`${BUILT} is missing: run npm run build (npm test does)`);
    ({ dir, remove } = await makeTempDir());
    plain = [];
    for (let i = 0; i < 40; i += 1) plain.push(await archiveAt(dir, { namespace: 'shop', pod: `web-${i}`, container: 'nginx', timestamp: at(i), runtime: i % 2 === 0 ? 'cri-o' : 'containerd' }));
    compressed = [];
    for (let i = 0; i < 3; i += 1) {
      compressed.push(await archiveAt(dir, { namespace: 'ml', pod: `trainer-${i}`, container: 'worker', timestamp: at(i), runtime: 'containerd', compression: 'gzip', payloadBytes: 8 * 1024 * 1024, sparsePayload: true }));
    }
    // Zeroed memory: a few hundred kilobytes on disk, 192 MiB to decompress.
    big = await archiveAt(dir, { namespace: 'ml', pod: 'big-0', container: 'worker', timestamp: at(0), runtime: 'cri-o', compression: 'gzip', payloadBytes: 192 * 1024 * 1024, sparsePayload: true });
  });
  afterAll(() => remove());

  it(`${threaded ? 'reads on worker threads' : 'falls back to the main thread'}, plain and gzip archives alike, one compressed read at a time`, async () => {
    const reader = await create();
    try {
      expect(reader.threaded).toBe(threaded);
      const all = [...compressed, ...plain];
      const results = await Promise.all(all.map((a) => reader.read(a.path, a.name, a.fingerprint)));
      results.forEach((result, i) => {
        expect(result).toMatchObject({ ok: true, value: { identity: { pod: all[i]?.name.pod }, contents: { missing: [] } } });
      });
      expect(results.slice(0, compressed.length).map((r) => r.ok && r.value.contents?.compression)).toEqual(['gzip', 'gzip', 'gzip']);
      expect(results.slice(compressed.length).every((r) => r.ok && r.value.contents?.compression === undefined)).toBe(true);
      expect(reader.compressedReads()).toEqual({ total: 3, mostAtOnce: 1 });
    } finally {
      await reader.close();
    }
  });

  it('answers plain archives while a long compressed read runs', async () => {
    const reader = await create();
    try {
      const finished: string[] = [];
      const track = (label: string, read: Promise<IdentityReadResult>): Promise<IdentityReadResult> =>
        read.then((result) => {
          finished.push(label);
          return result;
        });
      const slow = track('big', reader.read(big.path, big.name, big.fingerprint));
      // Once the big archive is in the compressed lane, plain archives keep being read.
      await new Promise((wake) => setTimeout(wake, 20));
      const quick = plain.map((a, i) => track(`plain-${i}`, reader.read(a.path, a.name, a.fingerprint)));
      const results = await Promise.all([slow, ...quick]);
      expect(results.every((r) => r.ok)).toBe(true);
      expect(results[0]).toMatchObject({ ok: true, value: { contents: { memoryBytes: 192 * 1024 * 1024, otherBytes: 0, compression: 'gzip' } } });
      expect(finished[finished.length - 1]).toBe('big');
    } finally {
      await reader.close();
    }
  });
});
