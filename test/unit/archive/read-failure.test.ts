import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFailureCode, withFileByteSource } from '../../../src/archive/byte-source.js';
import { readArchiveIdentity } from '../../../src/archive/identity.js';
import { parseArchiveName } from '../../../src/archive/archive-name.js';
import { writeSampleArchive } from '../../../src/demo/sample-archives.js';

/** `ls` and `plan` tell an archive they could not read from one read and found without identity. */
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'read-failure-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const FILE = 'checkpoint-web-0_shop-nginx-2026-03-10T09:00:00Z.tar';

describe('readFailureCode', () => {
  it('gives the errno of a real failure to open the file', async () => {
    const target = join(dir, 'target.tar');
    await writeFile(target, 'x');
    await symlink(target, join(dir, FILE));
    const opened = await withFileByteSource(join(dir, FILE), async () => ({ ok: true as const, value: undefined }));
    expect(opened.ok).toBe(false);
    const reason = opened.ok ? '' : opened.reason;
    expect(readFailureCode(reason, FILE)).toBe('ELOOP');
  });

  it('gives nothing for an archive read and found without identity', async () => {
    const name = await writeSampleArchive(dir, { namespace: 'shop', pod: 'web-0', container: 'nginx', timestamp: '2026-03-10T10:00:00Z', runtime: 'cri-o', specDumpOverride: {} });
    const parsed = parseArchiveName(name);
    if (!parsed.ok) throw new Error(parsed.reason);
    const read = await readArchiveIdentity(join(dir, name), parsed.value);
    expect(read.ok).toBe(false);
    expect(readFailureCode(read.ok ? '' : read.reason, name)).toBeUndefined();
  });

  it.each([
    ['no annotations', 'spec.dump has no Kubernetes identity annotations (cri-o, containerd or org.criu.checkpoint)'],
    ['a missing entry', 'spec.dump is missing from the archive'],
    ['a changed file', `/x/${FILE} changed since it was listed`],
    ['a read error without errno', `cannot read /x/${FILE}: unexpected end of file`],
    ['a zlib error', `cannot read /x/${FILE}: Z_DATA_ERROR: incorrect header check`],
  ])('gives nothing for %s', (_name, reason) => {
    expect(readFailureCode(reason, FILE)).toBeUndefined();
  });

  it('finds the code after the file name whatever the directory holds (property)', () => {
    const code = fc.constantFrom('EACCES', 'EIO', 'EPERM', 'ENXIO', 'ESTALE');
    const directory = fc.string({ maxLength: 40 }).map((s) => `/${s}`);
    fc.assert(
      fc.property(fc.constantFrom('open', 'stat', 'read'), directory, code, fc.string({ maxLength: 30 }), (op, d, c, message) => {
        const path = `${d}/${FILE}`;
        expect(readFailureCode(`cannot ${op} ${path}: ${c}: ${message}, ${op} '${path}'`, FILE)).toBe(c);
      }),
    );
  });
});
