import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSampleArchive } from '../../src/demo/sample-archives.js';
import { MAIN, runCli, type CliRun } from '../support/serve-binary.js';
import { stageForUser, type StagedUser } from '../support/stage-for-user.js';

/**
 * Issue 16, never blind and quiet: `ls` and `plan` run by a user who cannot read the archives say so
 * (exit 3 when not one archive could be read, one warning line when some could not), and `plan -o json`
 * describes the plan it made, not a serving exporter it never talked to. On the built binary, as the
 * unprivileged user 65534 reading archives with mode 000.
 */
const HOUR = 3_600_000;

let root: string;
// The built files and Node.js, where the unprivileged user can run them; staged by asRoot.
let NOBODY: { as: StagedUser };
beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does)`);
  root = await mkdtemp(join(tmpdir(), 'cli-unreadable-'));
  await chmod(root, 0o755);
});
afterAll(async () => {
  await NOBODY?.as.remove();
  await rm(root, { recursive: true, force: true });
});

/** Running the CLI as another user needs root; CI runs as root, so there a skip is a failure. */
async function asRoot(): Promise<boolean> {
  if (typeof process.getuid === 'function' && process.getuid() === 0) {
    NOBODY ??= { as: await stageForUser() };
    return true;
  }
  if (process.env['CI'] === 'true') throw new Error('these cases need root to run the CLI as an unprivileged user; CI runs as root');
  process.stderr.write('\n*** SKIPPING the unreadable-archive cases: not root, cannot run the CLI as an unprivileged user ***\n\n');
  return false;
}

const lines = (text: string): string[] => text.split('\n').filter((line) => line !== '');

/** A directory the unprivileged user may list, with `locked` archives of mode 000 and `open` ones of mode 644; names sorted oldest first. */
async function directoryWith(name: string, counts: { readonly locked: number; readonly open: number }): Promise<{ dir: string; locked: string[]; open: string[] }> {
  const dir = join(root, name);
  await mkdir(dir);
  await chmod(dir, 0o755);
  const locked: string[] = [];
  const open: string[] = [];
  for (let i = 0; i < counts.locked + counts.open; i += 1) {
    const file = await writeSampleArchive(dir, { namespace: 'shop', pod: 'web-0', container: 'nginx', timestamp: new Date(Date.now() - (20 - i) * HOUR), runtime: 'cri-o' });
    if (i < counts.locked) {
      await chmod(join(dir, file), 0o000);
      locked.push(file);
    } else {
      await chmod(join(dir, file), 0o644);
      open.push(file);
    }
  }
  return { dir, locked, open };
}

function expectOneLine(ran: CliRun, code: number, line: string): void {
  expect({ code: ran.code, stdout: ran.stdout, stderr: lines(ran.stderr) }).toEqual({ code, stdout: ran.code === 0 ? ran.stdout : '', stderr: [line] });
}

// Each case runs the built command line several times as another user: generous deadlines for a loaded machine.
describe('archives the user cannot read (built binary, as uid 65534)', () => {
  it('none readable: ls and plan in every format exit 3 with one line naming the count and the first path', async () => {
    if (!(await asRoot())) return;
    const { dir, locked } = await directoryWith('none-readable', { locked: 3, open: 0 });
    const line = `checkpoint-exporter: cannot read 3 of 3 archives in ${dir} (first ${join(dir, locked[0] ?? '')}: permission denied)`;
    for (const command of ['ls', 'plan']) {
      for (const format of [[], ['-o', 'wide'], ['-o', 'json'], ['-o', 'yaml']]) {
        const ran = await runCli([command, '--checkpoint-dir', dir, ...format], NOBODY);
        expectOneLine(ran, 3, line);
      }
    }
    // As root the same directory is read: the failure is the user's access, not the archives.
    const asOwner = await runCli(['plan', '--checkpoint-dir', dir]);
    expect({ code: asOwner.code, stderr: asOwner.stderr }).toEqual({ code: 0, stderr: '' });
  }, 120_000);

  it('some readable: the report stands, one warning line on stderr, the fields in JSON and YAML, exit 0', async () => {
    if (!(await asRoot())) return;
    const { dir, locked, open } = await directoryWith('some-readable', { locked: 2, open: 12 });
    const first = join(dir, locked[0] ?? '');
    const warning = `checkpoint-exporter: warning: cannot read 2 of 14 archives in ${dir} (first ${first}: permission denied); they are counted as unidentified and never deleted`;

    const plan = await runCli(['plan', '--checkpoint-dir', dir], NOBODY);
    expectOneLine(plan, 0, warning);
    // The 12 readable archives are over the default 10 per container: the plan is still made.
    expect(plan.stdout).toContain('would delete 2 archives');
    expect(plan.stdout).toContain(open[0]);

    const planJson = await runCli(['plan', '--checkpoint-dir', dir, '-o', 'json'], NOBODY);
    expectOneLine(planJson, 0, warning);
    expect(JSON.parse(planJson.stdout)).toMatchObject({ archivesConsidered: 14, identifiedArchives: 12, unreadableArchives: 2, firstUnreadable: first });

    const ls = await runCli(['ls', '--checkpoint-dir', dir], NOBODY);
    expectOneLine(ls, 0, warning);
    expect(ls.stdout).toMatch(/^shop\s+web-0\s+nginx\s+12\s/m);
    expect(ls.stdout).toContain('unidentified archives: 2');

    const lsYaml = await runCli(['ls', '--checkpoint-dir', dir, '-o', 'yaml'], NOBODY);
    expectOneLine(lsYaml, 0, warning);
    expect(lsYaml.stdout).toContain('unreadableArchives: 2\n');
    expect(lsYaml.stdout).toContain(`firstUnreadable: ${first}\n`);
  }, 120_000);

  it('archives read and found without identity are no read failure: no warning, exit 0', async () => {
    const dir = join(root, 'no-identity');
    await mkdir(dir);
    await writeSampleArchive(dir, { namespace: 'shop', pod: 'web-0', container: 'nginx', timestamp: new Date(Date.now() - HOUR), runtime: 'cri-o', specDumpOverride: {} });
    for (const command of ['ls', 'plan']) {
      const ran = await runCli([command, '--checkpoint-dir', dir, '-o', 'json']);
      expect({ code: ran.code, stderr: ran.stderr }).toEqual({ code: 0, stderr: '' });
      expect(JSON.parse(ran.stdout)).toMatchObject({ unreadableArchives: 0, firstUnreadable: null });
    }
  }, 120_000);
});

describe('plan -o json describes the plan, not a server', () => {
  it('names the directory, when it was planned, the policy sources and the archives considered; no dryRun or lastRun', async () => {
    const dir = join(root, 'described');
    await mkdir(dir);
    for (let i = 0; i < 11; i += 1) {
      await writeSampleArchive(dir, { namespace: 'shop', pod: 'web-0', container: 'nginx', timestamp: new Date(Date.now() - (12 - i) * HOUR), runtime: 'cri-o' });
    }
    const config = join(root, 'described.yaml');
    await writeFile(config, 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nspec:\n  globalPolicy:\n    maxCheckpointsPerContainer: 5\n');
    const before = Date.now();
    const ran = await runCli(['plan', '--checkpoint-dir', dir, '--config', config, '-o', 'json']);
    expect({ code: ran.code, stderr: ran.stderr }).toEqual({ code: 0, stderr: '' });
    const plan = JSON.parse(ran.stdout) as Record<string, unknown>;
    expect(plan).not.toHaveProperty('dryRun');
    expect(plan).not.toHaveProperty('lastRun');
    expect(plan).toMatchObject({
      directory: dir,
      policySources: [`file ${config}`],
      archivesConsidered: 11,
      identifiedArchives: 11,
      unreadableArchives: 0,
      firstUnreadable: null,
      unsatisfiable: [],
      futureDated: [],
    });
    expect((plan['deletions'] as unknown[]).length).toBe(6);
    const plannedAt = Date.parse(String(plan['plannedAt']));
    expect(plannedAt).toBeGreaterThanOrEqual(before);
    expect(plannedAt).toBeLessThanOrEqual(Date.now());

    const defaults = JSON.parse((await runCli(['plan', '--checkpoint-dir', dir, '-o', 'json'])).stdout) as Record<string, unknown>;
    expect(defaults['policySources']).toEqual([]);
  }, 120_000);
});
