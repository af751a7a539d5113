import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeDemoCheckpointDirectory, type DemoDirectory } from '../../src/demo/sample-archives.js';
import { MAIN, runCli, type CliRun } from '../support/serve-binary.js';
import { waitUntil } from '../support/wait.js';


const cli = (args: string[]): Promise<CliRun> => runCli(args);

describe('checkpoint-exporter command line (built binary)', () => {
  let dir: string;
  let demo: DemoDirectory;

  beforeAll(async () => {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does)`);
    dir = await mkdtemp(join(tmpdir(), 'cli-it-'));
    demo = await writeDemoCheckpointDirectory(dir, { now: new Date('2026-03-10T12:00:00Z') });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('ls lists containers with counts and sizes, unidentified and unrecognized files', async () => {
    const { code, stdout } = await cli(['ls', '--checkpoint-dir', dir]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^shop-prod\s+cart-7d9f8b6c4-x2k4p\s+cart-api\s+13\s+1\s+\d/m);
    expect(stdout).toContain('unidentified archives: 1');
    expect(stdout).toContain(demo.unidentified[0]);
    expect(stdout).toMatch(/unrecognized files: 1 \(\d+ B\)\n\s+notes\.txt/);
  });

  it('ls --json gives the inventory', async () => {
    const { stdout } = await cli(['ls', '--checkpoint-dir', dir, '--json']);
    const listed = JSON.parse(stdout) as { archives: { file: string; pinned: boolean; identified: boolean }[] };
    expect(listed.archives).toHaveLength(demo.archives.length);
    expect(listed.archives.filter((a) => a.pinned)).toHaveLength(1);
    expect(listed.archives.filter((a) => !a.identified).map((a) => a.file)).toEqual(demo.unidentified);
  });

  it('inspect shows identity sources, config.dump and entries', async () => {
    const archive = demo.archives.find((a) => a.includes('_payments-ledger-'))!;
    const { code, stdout } = await cli(['inspect', join(dir, archive)]);
    expect(code).toBe(0);
    expect(stdout).toContain('identity:   namespace payments, pod ledger-0, container ledger');
    expect(stdout).toContain('sources:    containerd');
    expect(stdout).toMatch(/^\s+runtime: /m);
    expect(stdout).toMatch(/^spec\.dump\s+file\s+/m);

    const unidentified = await cli(['inspect', join(dir, demo.unidentified[0]!)]);
    expect(unidentified.code).toBe(0);
    expect(unidentified.stdout).toContain('UNIDENTIFIED');

    const missing = await cli(['inspect', join(dir, 'checkpoint-x_a-b-2026-01-01T00:00:00Z.tar')]);
    expect(missing.code).toBe(3);
  });

  it('plan lists what would be deleted and why, and deletes nothing', async () => {
    const before = (await readdir(dir)).sort();
    const { code, stdout } = await cli(['plan', '--checkpoint-dir', dir]);
    expect(code).toBe(0);
    expect(stdout).toContain('would delete 3 archives');
    expect(stdout.match(/^checkpoint-cart-\S+\.tar\s+shop-prod\/cart-7d9f8b6c4-x2k4p\/cart-api\s+\d+ KiB\s+count\s+\d+d$/gm)).toHaveLength(3);
    const json = JSON.parse((await cli(['plan', '--checkpoint-dir', dir, '--json'])).stdout) as { deletions: { reason: string }[] };
    expect(json.deletions.map((d) => d.reason)).toEqual(['count', 'count', 'count']);
    expect((await readdir(dir)).sort()).toEqual(before);
  });

  it('rejects a bad policy file naming the file and the field', async () => {
    const config = join(dir, '..', `bad-policy-${process.pid}.yaml`);
    await writeFile(config, 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nspec:\n  globalPolicy:\n    maxCheckpointsPerContainer: -1\n');
    try {
      const { code, stderr } = await cli(['plan', '--checkpoint-dir', dir, '--config', config]);
      expect(code).toBe(2);
      expect(stderr).toContain(config);
      expect(stderr).toContain('spec.globalPolicy.maxCheckpointsPerContainer');
    } finally {
      await rm(config, { force: true });
    }
  });

  it('plan refuses a bare size, which upstream documents as megabytes and reads as bytes', async () => {
    const config = join(dir, '..', `mb-policy-${process.pid}.yaml`);
    await writeFile(config, 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nspec:\n  globalPolicy:\n    maxCheckpointSize: 10\n');
    try {
      const { code, stdout, stderr } = await cli(['plan', '--checkpoint-dir', dir, '--config', config]);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr).toContain(`checkpoint-exporter: file ${config}: document 0: spec.globalPolicy.maxCheckpointSize: 10 has no unit`);
      expect(stderr).toContain('write 10Mi or 10M if megabytes were meant');
    } finally {
      await rm(config, { force: true });
    }
  });

  it('rejects a malformed flag value', async () => {
    const { code, stderr } = await cli(['serve', '--settle-time', 'soon']);
    expect(code).not.toBe(0);
    expect(stderr).toContain('--settle-time');
  });

  it('serve becomes ready and stops cleanly on SIGTERM', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'cli-serve-'));
    const child = spawn(process.execPath, [MAIN, 'serve', '--checkpoint-dir', empty, '--listen-address', '127.0.0.1:0', '--log-level', 'info'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { PATH: process.env['PATH'] ?? '' },
    });
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
    const killTimer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr.on('data', () => {
          const match = /"url":"(http:[^"]+)"/.exec(log);
          if (match) resolve(match[1]!);
        });
        child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${log}`)));
      });
      await waitUntil(async () => (await fetch(`${url}readyz`)).status === 200, 'readiness');
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(log).toContain('shutting down');
    } finally {
      clearTimeout(killTimer);
      child.kill('SIGKILL');
      await rm(empty, { recursive: true, force: true });
    }
  });

  it('documents every flag in --help', async () => {
    const { stdout } = await cli(['serve', '--help']);
    for (const flag of ['--checkpoint-dir', '--config', '--listen-address', '--dry-run', '--resync-interval', '--settle-time', '--kubeconfig', '--node-name', '--log-level']) {
      expect(stdout).toContain(flag);
    }
  });
});
