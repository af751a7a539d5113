import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeSampleArchive } from '../../src/demo/sample-archives.js';
import { startFakeApiServer, type FakeApiServer } from '../support/fake-apiserver.js';
import { sampleValue } from '../support/metrics-text.js';
import { MAIN, runCli, type CliRun } from '../support/serve-binary.js';
import { waitUntil } from '../support/wait.js';

/**
 * Issue 10, cases 1, 2, 3, 7 and 10, on the built binary: an operator's mistake in the policy or the
 * flags never deletes an archive. Each directory holds 15 archives of one container, so the default
 * limit (10 per container) would delete 5 if a mistake let the defaults apply, and a bare size limit
 * would delete all of them.
 */
const OWNER = { namespace: 'shop-prod', pod: 'cart-0', container: 'cart-api' } as const;
const ARCHIVES = 15;

const cleanups: (() => Promise<void>)[] = [];
let root: string;

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does)`);
  root = await mkdtemp(join(tmpdir(), 'policy-input-'));
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
afterAll(() => rm(root, { recursive: true, force: true }));

let counter = 0;
async function archiveDirectory(): Promise<{ dir: string; files: string[] }> {
  const dir = join(root, `archives-${(counter += 1)}`);
  await mkdir(dir);
  const files: string[] = [];
  for (let i = 0; i < ARCHIVES; i += 1) {
    files.push(await writeSampleArchive(dir, { ...OWNER, timestamp: new Date(Date.parse('2026-03-01T00:00:00Z') + i * 60_000), runtime: 'containerd' }));
  }
  return { dir, files: files.sort() };
}

async function policyFile(text: string): Promise<string> {
  const file = join(root, `policy-${(counter += 1)}.yaml`);
  await writeFile(file, text);
  return file;
}

const HEADER = 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata:\n  name: node-policy\n';

const cli = (args: string[], timeoutMs = 20_000): Promise<CliRun> => runCli(args, { timeoutMs });

interface Served {
  readonly url: string;
  log(): string;
  metrics(): Promise<string>;
}

/** Starts `serve` and waits until it listens; stopped by the test's cleanups. */
async function serve(args: string[]): Promise<Served> {
  const child: ChildProcess = spawn(process.execPath, [MAIN, 'serve', '--listen-address', '127.0.0.1:0', '--settle-time', '100ms', '--log-level', 'info', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env['PATH'] ?? '' },
  });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  cleanups.push(async () => {
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  });
  const url = await new Promise<string>((resolve, reject) => {
    const look = (): void => {
      const match = /"url":"(http:[^"]+)"/.exec(log);
      if (match) resolve(match[1] ?? '');
    };
    child.stderr?.on('data', look);
    child.once('exit', (code) => reject(new Error(`serve exited early with ${code}: ${log}`)));
  });
  return { url, log: () => log, metrics: async () => (await fetch(`${url}metrics`)).text() };
}

/** The last retention run's time, 0 before the first. */
const lastRun = async (served: Served): Promise<number> => sampleValue(await served.metrics(), 'checkpoint_retention_last_run_timestamp_seconds') ?? 0;

/** Waits until retention has run `runs` more times than now, so "nothing deleted" is not "nothing ran yet". */
async function moreRuns(served: Served, runs: number, what: string): Promise<void> {
  const seen = new Set<number>([await lastRun(served)]);
  await waitUntil(async () => {
    seen.add(await lastRun(served));
    return seen.size > runs;
  }, what, 30_000);
}

/** Waits until the inventory has started `resyncs` more periodic full scans than now, each of which asks for a full retention run once done. */
async function morePeriodicResyncs(served: Served, resyncs: number, what: string): Promise<void> {
  const periodic = async (): Promise<number> => sampleValue(await served.metrics(), 'checkpoint_inventory_resyncs_total', { reason: 'periodic' }) ?? 0;
  const target = (await periodic()) + resyncs;
  await waitUntil(async () => (await periodic()) >= target, what, 30_000);
}

async function expectAll(dir: string, files: readonly string[]): Promise<void> {
  expect((await readdir(dir)).sort()).toEqual([...files]);
}

const problemLines = (stderr: string): string[] => stderr.split('\n').filter((line) => line.startsWith('checkpoint-exporter: '));

describe('case 1: a typo never brings the defaults back', () => {
  it.each([
    ['a misspelled limit', 'spec:\n  globalPolicy:\n    maxCheckpointPerContainer: 50\n', 'spec.globalPolicy.maxCheckpointPerContainer: unknown field; did you mean maxCheckpointsPerContainer?'],
    ['a section in lower case', 'spec:\n  globalpolicy:\n    maxCheckpointsPerContainer: 50\n', 'spec.globalpolicy: unknown field; did you mean globalPolicy?'],
    ['a capitalized spec', 'Spec:\n  globalPolicy:\n    maxCheckpointsPerContainer: 50\n', 'Spec: unknown field; did you mean spec?'],
    ['a singular list name', 'spec:\n  containerPolicy:\n    - { namespace: shop-prod, pod: cart-0, container: cart-api, maxCheckpoints: 50 }\n', 'spec.containerPolicy: unknown field; did you mean containerPolicies?'],
    [
      'a key at the wrong indentation',
      'spec:\n  globalPolicy:\n    retainOrphan: true\n  maxCheckpointsPerContainer: 50\n',
      'spec.maxCheckpointsPerContainer: unknown field here; maxCheckpointsPerContainer is a field of spec.globalPolicy (wrong indentation?)',
    ],
  ])('%s: serve and plan exit 2 naming the field, and nothing is deleted', async (_name, body, problem) => {
    const { dir, files } = await archiveDirectory();
    const config = await policyFile(`${HEADER}${body}`);
    for (const command of ['serve', 'plan']) {
      const args = command === 'serve' ? ['serve', '--listen-address', '127.0.0.1:0', '--settle-time', '100ms'] : ['plan'];
      const { code, stdout, stderr } = await cli([...args, '--checkpoint-dir', dir, '--config', config]);
      expect({ command, code }).toEqual({ command, code: 2 });
      expect(stdout).toBe('');
      expect(problemLines(stderr)).toEqual([`checkpoint-exporter: file ${config}: document 0: ${problem}`]);
    }
    await expectAll(dir, files);
  });

  it('every problem of a file on its own line', async () => {
    const { dir, files } = await archiveDirectory();
    const config = await policyFile(`${HEADER}spec:\n  globalpolicy: {}\n  namespacePolicies: [{ namespace: Shop }]\n---\n${HEADER}spec:\n  globalPolicy: { maxCheckpointSize: 10 }\n`);
    const { code, stderr } = await cli(['plan', '--checkpoint-dir', dir, '--config', config]);
    expect(code).toBe(2);
    expect(problemLines(stderr).map((line) => line.replace(`checkpoint-exporter: file ${config}: `, ''))).toEqual([
      'document 0: spec.globalpolicy: unknown field; did you mean globalPolicy?',
      expect.stringMatching(/^document 0: spec\.namespacePolicies\[0\]\.namespace: "Shop" is not a valid namespace name .*did you mean "shop"\?$/),
      expect.stringMatching(/^document 1: spec\.globalPolicy\.maxCheckpointSize: 10 has no unit/),
    ]);
    await expectAll(dir, files);
  });

  it('arriving by hot reload, a typo keeps the last good policy: reload failed, nothing deleted', async () => {
    const { dir, files } = await archiveDirectory();
    const config = await policyFile(`${HEADER}spec:\n  globalPolicy:\n    maxCheckpointsPerContainer: 50\n`);
    const served = await serve(['--checkpoint-dir', dir, '--config', config, '--resync-interval', '300ms']);
    await waitUntil(async () => (await lastRun(served)) > 0, 'first retention run', 30_000);
    await expectAll(dir, files);

    // Written as editors do: a new file renamed over the old one.
    const next = `${config}.tmp`;
    await writeFile(next, `${HEADER}spec:\n  globalPolicy:\n    maxCheckpointPerContainer: 50\n`);
    await rename(next, config);
    await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_config_last_reload_successful') === 0, 'reload refused', 30_000);
    await moreRuns(served, 3, 'retention runs after the refused reload');
    await expectAll(dir, files);
    expect(served.log()).toContain('spec.globalPolicy.maxCheckpointPerContainer: unknown field; did you mean maxCheckpointsPerContainer?');
    const policy = (await (await fetch(`${served.url}api/v1/policy`)).json()) as { effective: { globalPolicy: { maxCheckpointsPerContainer: { value: number } } } };
    expect(policy.effective.globalPolicy.maxCheckpointsPerContainer.value).toBe(50);
  });
});

describe('case 2: a scope that can never match is refused', () => {
  it.each([
    ['a trailing space', '"shop-prod "', '"shop-prod " is not a valid namespace name', 'did you mean "shop-prod"?'],
    ['capitals', 'Shop-Prod', '"Shop-Prod" is not a valid namespace name', 'did you mean "shop-prod"?'],
    ['an upstream glob', '"shop*"', '"shop*" is a pattern, not a namespace name', 'globs are not supported'],
  ])('%s: exit 2, nothing deleted', async (_name, namespace, problem, hint) => {
    const { dir, files } = await archiveDirectory();
    const config = await policyFile(`${HEADER}spec:\n  namespacePolicies:\n    - namespace: ${namespace}\n      maxCheckpoints: 50\n`);
    for (const command of [['serve', '--listen-address', '127.0.0.1:0'], ['plan']]) {
      const { code, stderr } = await cli([...command, '--checkpoint-dir', dir, '--config', config]);
      expect(code).toBe(2);
      const [line, ...rest] = problemLines(stderr);
      expect(rest).toEqual([]);
      expect(line).toContain(`file ${config}: document 0: spec.namespacePolicies[0].namespace: ${problem}`);
      expect(line).toContain(hint);
    }
    await expectAll(dir, files);
  });
});

describe('case 3: a size without a unit is refused', () => {
  it.each([
    ['a YAML integer', '10', '10 has no unit', 'write 10Mi or 10M if megabytes were meant'],
    ['a number as text', '"10"', '"10" has no unit', 'write 10Mi or 10M if megabytes were meant'],
    ['a decimal exponent', '"1e3"', '"1e3" has no unit', 'or 1k for 1000 bytes'],
  ])('%s: exit 2 with the upstream megabyte hint, nothing deleted', async (_name, value, problem, hint) => {
    const { dir, files } = await archiveDirectory();
    const config = await policyFile(`${HEADER}spec:\n  globalPolicy:\n    maxCheckpointSize: ${value}\n`);
    for (const command of [['serve', '--listen-address', '127.0.0.1:0'], ['plan']]) {
      const { code, stderr } = await cli([...command, '--checkpoint-dir', dir, '--config', config]);
      expect(code).toBe(2);
      const [line, ...rest] = problemLines(stderr);
      expect(rest).toEqual([]);
      expect(line).toContain(`file ${config}: document 0: spec.globalPolicy.maxCheckpointSize: ${problem}`);
      expect(line).toContain('the upstream operator documents sizes in megabytes but reads a bare number as bytes');
      expect(line).toContain(hint);
    }
    await expectAll(dir, files);
  });
});

describe('case 7: intervals are bounded', () => {
  it.each([
    ['--resync-interval', '0', 'is zero'],
    ['--resync-interval', '0s', 'is zero'],
    ['--resync-interval', '1000d', 'is longer than the longest timer Node.js supports (24d20h31m23s)'],
    ['--settle-time', '1000d', 'is longer than the longest timer Node.js supports (24d20h31m23s)'],
    ['--settle-time', '0ms', 'is zero'],
  ])('%s %s: a usage error naming the flag, before anything runs', async (flag, value, problem) => {
    const { dir, files } = await archiveDirectory();
    const { code, stderr } = await cli(['serve', '--checkpoint-dir', dir, '--listen-address', '127.0.0.1:0', flag, value], 10_000);
    expect(code).not.toBe(0);
    expect(stderr).toContain(`${flag}: ${JSON.stringify(value)} ${problem}`);
    // Without a policy the default (10 per container) would have deleted 5 had serve started.
    await expectAll(dir, files);
  });
});

describe('case 10: an invalid cluster policy with no valid version stops retention', () => {
  let fake: FakeApiServer;
  let kubeconfig: string;

  beforeAll(async () => {
    fake = await startFakeApiServer();
    kubeconfig = join(root, 'kubeconfig');
    await writeFile(kubeconfig, fake.kubeconfigYaml());
    fake.upsertPod({ namespace: OWNER.namespace, name: OWNER.pod, nodeName: 'node-a', containers: [OWNER.container] });
  });
  afterAll(() => fake.close());

  it('plan exits 2 with the object and its problems', async () => {
    const { dir, files } = await archiveDirectory();
    fake.upsertPolicy('checkpoint-exporter', 'plan-typo', { globalPolicy: { maxCheckpointPerContainer: 50 } });
    try {
      const { code, stdout, stderr } = await cli(['plan', '--checkpoint-dir', dir, '--kubeconfig', kubeconfig, '--node-name', 'node-a']);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(problemLines(stderr)).toEqual([
        'checkpoint-exporter: CheckpointRestoreOperator checkpoint-exporter/plan-typo: spec.globalPolicy.maxCheckpointPerContainer: unknown field; did you mean maxCheckpointsPerContainer?',
        expect.stringContaining('checkpoint-exporter: retention is stopped: CheckpointRestoreOperator checkpoint-exporter/plan-typo is invalid'),
      ]);
      await expectAll(dir, files);
    } finally {
      fake.deletePolicy('checkpoint-exporter', 'plan-typo');
    }
  });

  it('serve runs no retention, reports the object invalid in a metric, a log line and a Warning Event, and resumes once it is fixed', async () => {
    const { dir, files } = await archiveDirectory();
    fake.upsertPolicy('checkpoint-exporter', 'main', { globalPolicy: { maxCheckpointPerContainer: 50 } });
    const served = await serve(['--checkpoint-dir', dir, '--kubeconfig', kubeconfig, '--node-name', 'node-a', '--resync-interval', '300ms']);
    await waitUntil(async () => (await fetch(`${served.url}readyz`)).status === 200, 'ready', 30_000);
    await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_policy_object_valid', { namespace: 'checkpoint-exporter', name: 'main' }) === 0, 'object invalid', 30_000);
    expect(sampleValue(await served.metrics(), 'checkpoint_retention_blocked_by_policy')).toBe(1);
    await waitUntil(
      () => fake.events().some((e) => e['reason'] === 'InvalidCheckpointPolicy' && (e['involvedObject'] as { name?: string }).name === 'main'),
      'Warning Event on the object',
    );
    expect(served.log()).toContain('spec.globalPolicy.maxCheckpointPerContainer: unknown field; did you mean maxCheckpointsPerContainer?');
    // Every periodic resync asks for a full run, which with the defaults would delete 5. Three more
    // resyncs than now: one that began after this point has finished and asked, and the run it asked
    // for (a few milliseconds on 15 archives) had its chance before the next two. Still no run, nothing deleted.
    await morePeriodicResyncs(served, 3, 'three periodic resyncs, each asking for a retention run');
    expect(await lastRun(served)).toBe(0);
    await expectAll(dir, files);

    // Fixed with a limit of 12: retention resumes and deletes exactly the 3 oldest.
    fake.upsertPolicy('checkpoint-exporter', 'main', { globalPolicy: { maxCheckpointsPerContainer: 12 } });
    await waitUntil(async () => sampleValue(await served.metrics(), 'checkpoint_archives', OWNER) === 12, 'retention with the fixed policy', 30_000);
    expect((await readdir(dir)).sort()).toEqual(files.slice(3));
    const text = await served.metrics();
    expect(sampleValue(text, 'checkpoint_policy_object_valid', { namespace: 'checkpoint-exporter', name: 'main' })).toBe(1);
    expect(sampleValue(text, 'checkpoint_retention_blocked_by_policy')).toBe(0);
    fake.deletePolicy('checkpoint-exporter', 'main');
  });
});
