import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { link, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyEntry } from '../../../src/inventory/classify-entry.js';
import { archiveName } from './fixtures.js';

const ARCHIVE = archiveName('web-0', 'shop', 'nginx');

describe('classifyEntry', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'inventory-classify-'));
    await writeFile(join(dir, ARCHIVE), 'twelve bytes');
    await writeFile(join(dir, `${ARCHIVE}.keep`), 'why');
    await writeFile(join(dir, 'notes.txt'), 'hello');
    await writeFile(join(dir, 'checkpoint-broken.tar'), 'abc');
    await writeFile(join(dir, 'checkpoint-web-0_shop-nginx-not-a-time.tar.keep'), 'x');
    await symlink(join(dir, ARCHIVE), join(dir, archiveName('web-1', 'shop', 'nginx')));
    await symlink(join(dir, `${ARCHIVE}.keep`), join(dir, `${archiveName('web-1', 'shop', 'nginx')}.keep`));
    await mkdir(join(dir, archiveName('web-2', 'shop', 'nginx')));
    await mkdir(join(dir, `${archiveName('web-3', 'shop', 'nginx')}.keep`));
    await symlink(join(dir, 'nowhere'), join(dir, `${archiveName('web-4', 'shop', 'nginx')}.keep`));
    await mkdir(join(dir, 'subdir'));
    await writeFile(join(dir, `${ARCHIVE}.keep.tmp`), '{"reason":');
    await writeFile(join(dir, 'notes.txt.keep.tmp'), 'x');
    await mkdir(join(dir, `${archiveName('web-3', 'shop', 'nginx')}.keep.tmp`));
    execFileSync('mkfifo', [join(dir, archiveName('web-5', 'shop', 'nginx')), join(dir, `${archiveName('web-6', 'shop', 'nginx')}.keep`)]);
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['a regular archive-named file', ARCHIVE, 'archive', 12],
    ['a foreign file, counted with its bytes', 'notes.txt', 'unrecognized', 5],
    ['an archive-like name that does not parse', 'checkpoint-broken.tar', 'unrecognized', 3],
    ['a pin whose target is not an archive name', 'checkpoint-web-0_shop-nginx-not-a-time.tar.keep', 'unrecognized', 1],
    ['a symlink named like an archive (never followed)', archiveName('web-1', 'shop', 'nginx'), 'unrecognized', 0],
    ['a directory named like an archive', archiveName('web-2', 'shop', 'nginx'), 'unrecognized', 0],
    ['a FIFO named like an archive (never opened)', archiveName('web-5', 'shop', 'nginx'), 'unrecognized', 0],
    ['a subdirectory', 'subdir', 'unrecognized', 0],
    ['a pin being written whose target is not an archive name', 'notes.txt.keep.tmp', 'unrecognized', 1],
  ])('%s', async (_case, fileName, kind, size) => {
    const observation = classifyEntry(fileName, await lstat(join(dir, fileName)));
    expect(observation.kind).toBe(kind);
    if (observation.kind === 'archive') {
      expect(observation.fingerprint.size).toBe(size);
      expect(observation.name.pod).toBe('web-0');
    } else if (observation.kind === 'unrecognized') {
      expect(observation.size).toBe(size);
    }
  });

  // The executor refuses to delete an archive while any entry named `<archive>.keep` exists, so every such
  // entry pins, whatever its type; only a regular file's own size counts.
  it.each([
    ['a regular file', `${ARCHIVE}.keep`, ARCHIVE, 3],
    ['a symlink to a pin', `${archiveName('web-1', 'shop', 'nginx')}.keep`, archiveName('web-1', 'shop', 'nginx'), 0],
    ['a directory', `${archiveName('web-3', 'shop', 'nginx')}.keep`, archiveName('web-3', 'shop', 'nginx'), 0],
    ['a dangling symlink', `${archiveName('web-4', 'shop', 'nginx')}.keep`, archiveName('web-4', 'shop', 'nginx'), 0],
    ['a FIFO', `${archiveName('web-6', 'shop', 'nginx')}.keep`, archiveName('web-6', 'shop', 'nginx'), 0],
  ])('counts %s named <archive>.keep as a pin of that archive', async (_case, fileName, target, size) => {
    expect(classifyEntry(fileName, await lstat(join(dir, fileName)))).toEqual({ kind: 'pin', target, size });
  });

  // The checkpoint-restore-operator writes `<archive>.keep.tmp` and renames it to `<archive>.keep`: the
  // archive is pinned from the first byte of the pin, not only once the rename is done.
  it.each([
    ['a regular file (half-written JSON)', `${ARCHIVE}.keep.tmp`, ARCHIVE, 10],
    ['a directory', `${archiveName('web-3', 'shop', 'nginx')}.keep.tmp`, archiveName('web-3', 'shop', 'nginx'), 0],
  ])('counts %s named <archive>.keep.tmp as a pin of that archive', async (_case, fileName, target, size) => {
    expect(classifyEntry(fileName, await lstat(join(dir, fileName)))).toEqual({ kind: 'pin', target, size });
  });

  it('gives an archive its lstat fingerprint and ctime', async () => {
    const stats = await lstat(join(dir, ARCHIVE));
    const observation = classifyEntry(ARCHIVE, stats);
    expect(observation).toEqual({
      kind: 'archive',
      name: expect.objectContaining({ fileName: ARCHIVE, pod: 'web-0', namespaceContainer: 'shop-nginx' }),
      fingerprint: { dev: stats.dev, ino: stats.ino, size: 12, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, nlink: 1 },
      ctimeMs: stats.ctimeMs,
    });
  });

  it('records the link count: an archive also linked into a backup has two', async () => {
    const linked = archiveName('web-7', 'shop', 'nginx');
    await writeFile(join(dir, linked), 'backed up');
    await mkdir(join(dir, 'backup'), { recursive: true });
    await link(join(dir, linked), join(dir, 'backup', linked));
    const observation = classifyEntry(linked, await lstat(join(dir, linked)));
    expect(observation).toMatchObject({ kind: 'archive', fingerprint: { size: 9, nlink: 2 } });
  });

  it('reports an entry without stats as missing', () => {
    expect(classifyEntry(ARCHIVE, undefined)).toEqual({ kind: 'missing' });
  });
});
