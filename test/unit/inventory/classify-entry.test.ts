import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
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
    await mkdir(join(dir, 'subdir'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['a regular archive-named file', ARCHIVE, 'archive', 12],
    ['a regular pin of an archive name', `${ARCHIVE}.keep`, 'pin', 3],
    ['a foreign file, counted with its bytes', 'notes.txt', 'unrecognized', 5],
    ['an archive-like name that does not parse', 'checkpoint-broken.tar', 'unrecognized', 3],
    ['a pin whose target is not an archive name', 'checkpoint-web-0_shop-nginx-not-a-time.tar.keep', 'unrecognized', 1],
    ['a symlink named like an archive (never followed)', archiveName('web-1', 'shop', 'nginx'), 'unrecognized', 0],
    ['a symlink named like a pin', `${archiveName('web-1', 'shop', 'nginx')}.keep`, 'unrecognized', 0],
    ['a directory named like an archive', archiveName('web-2', 'shop', 'nginx'), 'unrecognized', 0],
    ['a subdirectory', 'subdir', 'unrecognized', 0],
  ])('%s', async (_case, fileName, kind, size) => {
    const observation = classifyEntry(fileName, await lstat(join(dir, fileName)));
    expect(observation.kind).toBe(kind);
    if (observation.kind === 'archive') {
      expect(observation.fingerprint.size).toBe(size);
      expect(observation.name.pod).toBe('web-0');
    } else if (observation.kind === 'pin') {
      expect(observation.target).toBe(ARCHIVE);
      expect(observation.size).toBe(size);
    } else if (observation.kind === 'unrecognized') {
      expect(observation.size).toBe(size);
    }
  });

  it('reports an entry without stats as missing', () => {
    expect(classifyEntry(ARCHIVE, undefined)).toEqual({ kind: 'missing' });
  });
});
