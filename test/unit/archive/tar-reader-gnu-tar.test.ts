import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { withFileByteSource } from '../../../src/archive/byte-source.js';
import { normalizeEntryName } from '../../../src/archive/tar-reader.js';
import { listTarEntries, readTarEntries } from '../../support/tar-entries.js';
import { findBinary } from '../../support/binaries.js';
import { makeTempDir, writeTarFile, type TarFormat } from '../../support/archives.js';

/** Cross-check: archives written by GNU tar itself, from real files, read by our reader. */
const tar = findBinary('tar', 'tar');
const describeWithTar = tar === undefined ? describe.skip : describe;

const SPEC = JSON.stringify({ ociVersion: '1.0.2-dev', annotations: { 'io.container.manager': 'cri-o' } });
/** Fits ustar only through the prefix field (longer than 100, each part short enough). */
const USTAR_LONG = `checkpoint/${'nested-directory-'.repeat(5)}x/${'image-file-with-a-long-name-'.repeat(3)}.img`;
/** Fits no ustar header at all: needs a GNU long name or a PAX path record. */
const VERY_LONG = `long/${'very-deep-directory-level/'.repeat(12)}pages.img`;

describeWithTar('tar reader against GNU tar archives', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let tree: string;
  const fileContents = new Map<string, Buffer>();

  beforeAll(async () => {
    ({ dir, remove } = await makeTempDir());
    tree = join(dir, 'tree');
    const files: Array<[string, Buffer]> = [
      ['spec.dump', Buffer.from(SPEC)],
      ['config.dump', Buffer.from('{"id":"4f1c","runtime":"runc"}')],
      ['checkpoint/pages-1.img', Buffer.alloc(200_000, 0xab)],
      ['checkpoint/core-1.img', Buffer.alloc(1_860, 0x11)],
      ['x/spec.dump', Buffer.from('{"annotations":{"nested":"not the real one"}}')],
      [USTAR_LONG, Buffer.alloc(700, 0x22)],
      [VERY_LONG, Buffer.alloc(513, 0x33)],
    ];
    for (const [name, content] of files) {
      await fs.mkdir(join(tree, name, '..'), { recursive: true });
      await fs.writeFile(join(tree, name), content);
      fileContents.set(name, content);
    }
    await fs.symlink('spec.dump', join(tree, 'current.dump'));
    // Ten data islands in a hole: the GNU sparse map needs an extension block beyond the four in the header.
    const sparse = await fs.open(join(tree, 'checkpoint/sparse-pages.img'), 'w');
    for (let island = 0; island < 10; island += 1) await sparse.write(Buffer.alloc(4096, island + 1), 0, 4096, island * 1024 * 1024);
    await sparse.truncate(11 * 1024 * 1024);
    await sparse.close();
  });
  afterAll(() => remove());

  const tarNames = (archive: string): string[] =>
    execFileSync(tar as string, ['-tf', archive], { encoding: 'utf8' })
      .split('\n')
      .filter((line) => line !== '')
      .map(normalizeEntryName)
      .filter((name) => name !== '' && name !== '.');

  it.each([
    ['gnu', ['--format=gnu'], [VERY_LONG]],
    ['gnu with --sparse', ['--format=gnu', '--sparse'], [VERY_LONG]],
    ['ustar', ['--format=ustar'], []],
    ['pax', ['--format=pax'], [VERY_LONG]],
  ])('%s: same entries as tar -t, exact bodies of requested files', async (label, flags, extra) => {
    const archive = join(dir, `${label.replace(/\W/g, '_')}.tar`);
    // ustar cannot hold VERY_LONG, so that format archives the other members only.
    const members = ['./checkpoint', './config.dump', './current.dump', './spec.dump', './x', ...(extra.length > 0 ? ['./long'] : [])];
    execFileSync(tar as string, [...flags, '-cf', archive, '-C', tree, ...members]);

    const listed = await withFileByteSource(archive, (source) => listTarEntries(source));
    expect(listed.ok).toBe(true);
    if (!listed.ok) return;
    const ours = listed.value.map((entry) => entry.name).filter((name) => name !== '');
    expect(ours).toEqual(tarNames(archive));
    expect(ours).toEqual(expect.arrayContaining(['spec.dump', 'x/spec.dump', USTAR_LONG, ...extra]));

    const byName = new Map(listed.value.map((entry) => [entry.name, entry]));
    expect(byName.get('current.dump')?.type).toBe('symlink');
    expect(byName.get('checkpoint')?.type).toBe('directory');
    for (const [name, content] of fileContents) {
      if (!byName.has(name)) continue;
      expect([name, byName.get(name)?.size]).toEqual([name, content.length]);
    }

    const read = await withFileByteSource(archive, (source) => readTarEntries(source, ['spec.dump', 'config.dump', 'current.dump'], 1024 * 1024));
    expect(read.ok).toBe(true);
    if (!read.ok) return;
    const spec = read.value.get('spec.dump');
    expect(spec?.status === 'read' && Buffer.from(spec.bytes).toString()).toBe(SPEC);
    const config = read.value.get('config.dump');
    expect(config?.status === 'read' && Buffer.from(config.bytes).toString()).toBe('{"id":"4f1c","runtime":"runc"}');
    expect(read.value.get('current.dump')).toEqual({ status: 'not-regular', type: 'symlink', typeflag: '2' });
  });

  it.each([['ustar'], ['gnu'], ['pax']] as Array<[TarFormat]>)('GNU tar reads what our %s writer writes, holes included', async (format) => {
    const archive = join(dir, `ours-${format}.tar`);
    const long = format === 'ustar' ? USTAR_LONG : VERY_LONG;
    await writeTarFile(
      archive,
      [
        { name: 'checkpoint/', type: 'directory' },
        { name: 'checkpoint/pages-1.img', holeBytes: 5 * 1024 * 1024 + 3 },
        { name: long, body: 'deep' },
        { name: 'current.dump', type: 'symlink', linkName: 'spec.dump' },
        { name: 'spec.dump', body: SPEC },
      ],
      { format, mtime: new Date('2024-01-28T00:10:45Z') },
    );
    expect(tarNames(archive)).toEqual(['checkpoint', 'checkpoint/pages-1.img', long, 'current.dump', 'spec.dump']);
    expect(execFileSync(tar as string, ['-xOf', archive, 'spec.dump'], { encoding: 'utf8' })).toBe(SPEC);
    expect(execFileSync(tar as string, ['-xOf', archive, long], { encoding: 'utf8' })).toBe('deep');
    const verbose = execFileSync(tar as string, ['--utc', '-tvf', archive], { encoding: 'utf8' });
    expect(verbose).toMatch(/ 5242883 2024-01-28 00:10 checkpoint\/pages-1\.img/);
    expect(verbose).toContain('current.dump -> spec.dump');
  });
});
