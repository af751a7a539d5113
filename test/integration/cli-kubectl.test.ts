import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { pinFileNameOf } from '../../src/archive/archive-name.js';
import { writeDemoCheckpointDirectory, writeSampleArchive, type DemoDirectory, type SampleArchiveOptions } from '../../src/demo/sample-archives.js';
import { MAIN, runCli } from '../support/serve-binary.js';
import { stageForUser, type StagedUser } from '../support/stage-for-user.js';

/**
 * Issue 12, the command line the kubectl way, on the built binary: one-line errors without stack
 * traces and a help hint for usage errors; exit codes 1 usage, 2 configuration, 3 runtime failure;
 * a missing or unreadable directory is an error; -o wide|json|yaml; default tables within 160
 * columns; AGE columns; inspect says pinned, future-dated, unidentified and what retention would do.
 */
const README = fileURLToPath(new URL('../../README.md', import.meta.url));
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

const cli = (args: readonly string[], options: { as?: StagedUser } = {}): Promise<Ran> => runCli(args, options);

const lines = (text: string): string[] => text.split('\n').filter((line) => line !== '');

/** An error the kubectl way: exactly these stderr lines, no stack frame, nothing on stdout. */
function expectError(ran: Ran, code: number, stderrLines: readonly (string | RegExp)[]): void {
  expect({ code: ran.code, stdout: ran.stdout }).toEqual({ code, stdout: '' });
  expect(ran.stderr).not.toMatch(/^\s+at /m);
  expect(ran.stderr).not.toContain('Usage:');
  const got = lines(ran.stderr);
  expect(got).toHaveLength(stderrLines.length);
  stderrLines.forEach((expected, i) => (typeof expected === 'string' ? expect(got[i]).toBe(expected) : expect(got[i]).toMatch(expected)));
}

const widest = (text: string): number => Math.max(...text.split('\n').map((line) => line.length));

let root: string;

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run npm run build (npm test does)`);
  root = await mkdtemp(join(tmpdir(), 'cli-kubectl-'));
  // Traversable by the unprivileged user of the unreadable-directory case.
  await chmod(root, 0o755);
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('usage errors: exit 1, one line and a hint, never the whole help', () => {
  it.each([
    [['ls', '--bogus'], "unknown option '--bogus'", 'ls'],
    [['plan', '--checkpoint-dir'], "option '--checkpoint-dir <dir>' argument missing", 'plan'],
    [['inspect'], "missing required argument 'archive'", 'inspect'],
    [['ls', 'extra'], "too many arguments for 'ls'. Expected 0 arguments but got 1.", 'ls'],
    [['ls', '-o', 'tall'], "-o, --output: 'tall' is not one of wide, json, yaml", 'ls'],
    [['plan', '--output', 'table'], "-o, --output: 'table' is not one of wide, json, yaml", 'plan'],
    [['serve', '--settle-time', 'soon'], /^--settle-time: "soon" is not a duration/, 'serve'],
    [['serve', '--listen-address', 'nowhere'], '--listen-address: expected host:port, [ipv6]:port or :port, got "nowhere"', 'serve'],
    [['--no-such-flag'], "unknown option '--no-such-flag'", 'serve'],
    [['lss'], "unknown command 'lss'", undefined],
  ])('%j', async (args, message, command) => {
    const hint = `see 'checkpoint-exporter${command === undefined ? '' : ` ${command}`} --help'`;
    const line = typeof message === 'string' ? `checkpoint-exporter: ${message}` : new RegExp(`^checkpoint-exporter: ${message.source.slice(1)}`);
    expectError(await cli(args), 1, [line, hint]);
  });

  it('inspect of something that is not a checkpoint archive is a usage error naming it', async () => {
    const file = join(root, 'notes.txt');
    await writeFile(file, 'x\n');
    expectError(await cli(['inspect', file]), 1, [
      `checkpoint-exporter: ${file}: not a checkpoint archive name ("notes.txt"): does not start with "checkpoint-"`,
      "see 'checkpoint-exporter inspect --help'",
    ]);
  });

  it('help and version still exit 0, and the help lists the exit codes', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Exit codes:\n {4}0 {2}done\n {4}1 {2}usage.*\n {4}2 {2}configuration.*\n {4}3 {2}runtime failure/m);
    // Nothing after "Commands:" that reads as a command but the commands.
    const listed = [...(help.stdout.split(/^Commands:$/m)[1] ?? '').matchAll(/^ {2}(\w+)/gm)].map((m) => m[1]);
    expect(listed).toEqual(['serve', 'ls', 'inspect', 'plan', 'fetch', 'help']);
    for (const command of ['serve', 'ls', 'inspect', 'plan', 'fetch']) {
      const sub = await cli([command, '--help']);
      expect({ command, code: sub.code }).toEqual({ command, code: 0 });
      expect(sub.stdout).toContain('Exit codes:');
      if (command !== 'serve' && command !== 'fetch') expect(sub.stdout).toMatch(/^\s+-o, --output <format>\s/m);
    }
    expect((await cli(['--version'])).code).toBe(0);
  });
});

describe('configuration errors: exit 2, naming the file', () => {
  it.each([
    ['ls', ['ls', '--checkpoint-dir', '.']],
    ['plan', ['plan', '--checkpoint-dir', '.']],
    ['inspect', ['inspect', 'checkpoint-a-0_b-c-2026-01-01T00:00:00Z.tar']],
    ['serve', ['serve', '--checkpoint-dir', '.', '--listen-address', '127.0.0.1:0']],
  ])('%s with a missing --config', async (_command, args) => {
    const missing = join(root, 'no-such-policy.yaml');
    expectError(await cli([...args, '--config', missing]), 2, [`checkpoint-exporter: file ${missing}: cannot read policy file: no such file`]);
  });

  it('a kubeconfig that cannot be loaded is a configuration error naming it', async () => {
    const missing = join(root, 'no-such-kubeconfig');
    expectError(await cli(['plan', '--checkpoint-dir', root, '--kubeconfig', missing]), 2, [new RegExp(`^checkpoint-exporter: cannot load kubeconfig ${missing}: `)]);
    const broken = join(root, 'broken-kubeconfig');
    await writeFile(broken, 'clusters: [\n');
    expectError(await cli(['plan', '--checkpoint-dir', root, '--kubeconfig', broken]), 2, [new RegExp(`^checkpoint-exporter: cannot load kubeconfig ${broken}: `)]);
  });

  it('an invalid policy still exits 2, one line per problem, each naming the file', async () => {
    const config = join(root, 'typo-policy.yaml');
    await writeFile(config, 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata:\n  name: p\nspec:\n  globalPolicy:\n    maxCheckpointPerContainer: 5\n');
    for (const command of ['ls', 'plan']) {
      expectError(await cli([command, '--checkpoint-dir', root, '--config', config]), 2, [
        `checkpoint-exporter: file ${config}: document 0: spec.globalPolicy.maxCheckpointPerContainer: unknown field; did you mean maxCheckpointsPerContainer?`,
      ]);
    }
  });
});

describe('runtime failures: exit 3, one line naming the path or the address', () => {
  it('a missing directory is an error for ls, plan and inspect, never an empty report', async () => {
    const typo = join(root, 'typo');
    for (const command of ['ls', 'plan']) {
      expectError(await cli([command, '--checkpoint-dir', typo]), 3, [`checkpoint-exporter: cannot read checkpoint directory ${typo}: no such file or directory`]);
      expectError(await cli([command, '--checkpoint-dir', typo, '-o', 'json']), 3, [`checkpoint-exporter: cannot read checkpoint directory ${typo}: no such file or directory`]);
    }
    expectError(await cli(['inspect', join(typo, 'checkpoint-a-0_b-c-2026-01-01T00:00:00Z.tar')]), 3, [`checkpoint-exporter: cannot read directory ${typo}: no such file or directory`]);
  });

  it('a missing archive is an error for inspect', async () => {
    const archive = join(root, 'checkpoint-a-0_b-c-2026-01-01T00:00:00Z.tar');
    expectError(await cli(['inspect', archive]), 3, [`checkpoint-exporter: cannot read archive ${archive}: no such file or directory`]);
  });

  it('a file given as the directory is an error', async () => {
    const file = join(root, 'plain-file');
    await writeFile(file, '');
    expectError(await cli(['ls', '--checkpoint-dir', file]), 3, [`checkpoint-exporter: cannot read checkpoint directory ${file}: not a directory`]);
  });

  it('an unreadable directory is an error for ls, plan and inspect (as an unprivileged user)', async () => {
    if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
      if (process.env['CI'] === 'true') throw new Error('this case needs root to run the CLI as another user; CI runs as root');
      process.stderr.write('\n*** SKIPPING the unreadable-directory case: not root, cannot run the CLI as an unprivileged user ***\n\n');
      return;
    }
    const dir = join(root, 'locked');
    await mkdir(dir);
    const archive = await writeSampleArchive(dir, { namespace: 'shop', pod: 'web-0', container: 'nginx', timestamp: new Date(Date.now() - HOUR), runtime: 'cri-o' });
    await chmod(dir, 0o300);
    const nobody = await stageForUser();
    try {
      const as = { as: nobody };
      for (const command of ['ls', 'plan']) {
        expectError(await cli([command, '--checkpoint-dir', dir], as), 3, [`checkpoint-exporter: cannot read checkpoint directory ${dir}: permission denied`]);
      }
      expectError(await cli(['inspect', join(dir, archive)], as), 3, [`checkpoint-exporter: cannot read directory ${dir}: permission denied`]);
    } finally {
      await chmod(dir, 0o755);
      await nobody.remove();
    }
  });

  it('serve on a port already in use says so in one line', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const dir = join(root, 'serve-dir');
      await mkdir(dir, { recursive: true });
      const ran = await cli(['serve', '--checkpoint-dir', dir, '--listen-address', `127.0.0.1:${port}`, '--log-level', 'silent']);
      expectError(ran, 3, [`checkpoint-exporter: cannot listen on 127.0.0.1:${port}: address already in use`]);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });
});

describe('on the demo directory, written now', () => {
  let dir: string;
  let demo: DemoDirectory;

  beforeAll(async () => {
    dir = join(root, 'demo');
    await mkdir(dir);
    demo = await writeDemoCheckpointDirectory(dir);
  });

  it.each([
    [['ls']],
    [['plan']],
    [['ls', '-o', 'wide']],
  ])('%j: the default tables fit 160 columns', async (args) => {
    const ran = await cli([...args, '--checkpoint-dir', dir]);
    expect(ran.code).toBe(0);
    if (args.includes('wide')) return;
    expect(widest(ran.stdout)).toBeLessThanOrEqual(160);
  });

  it('the default plan table is compact: archive, container, size, reason, age; -o wide adds the limit and the detail', async () => {
    const plan = await cli(['plan', '--checkpoint-dir', dir]);
    expect(plan.stdout).toMatch(/^ARCHIVE\s+CONTAINER\s+SIZE\s+REASON\s+AGE$/m);
    const rows = plan.stdout.split('\n').filter((line) => line.startsWith('checkpoint-'));
    expect(rows).toHaveLength(3);
    for (const row of rows) expect(row).toMatch(/^checkpoint-cart-\S+\.tar\s+shop-prod\/cart-7d9f8b6c4-x2k4p\/cart-api\s+\d+ KiB\s+count\s+\d+[hd]$/);
    expect(plan.stdout).not.toContain('(default)');
    const wide = await cli(['plan', '--checkpoint-dir', dir, '-o', 'wide']);
    expect(wide.stdout).toMatch(/^ARCHIVE\s+CONTAINER\s+SIZE\s+AGE\s+REASON\s+LIMIT\s+DETAIL$/m);
    expect(wide.stdout.match(/\s\d+[hd]\s+count\s+10\s+container shop-prod\/cart-7d9f8b6c4-x2k4p\/cart-api has 13 archives, limit 10 \(default\)$/gm)).toHaveLength(3);
  });

  it('unsatisfiable limits: compact by default, their sentence in -o wide', async () => {
    const config = join(root, 'one-per-container.yaml');
    await writeFile(config, 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata:\n  name: p\nspec:\n  globalPolicy:\n    maxCheckpointsPerContainer: 1\n');
    const plan = await cli(['plan', '--checkpoint-dir', dir, '--config', config]);
    expect(plan.code).toBe(0);
    expect(widest(plan.stdout)).toBeLessThanOrEqual(160);
    expect(plan.stdout).toContain(`unsatisfiable limits (pinned archives block them):\nSCOPE  `);
    expect(plan.stdout).toMatch(new RegExp(`^shop-prod/cart-7d9f8b6c4-x2k4p/cart-api\\s+count\\s+1\\s+file ${config} globalPolicy$`, 'm'));
    const wide = await cli(['plan', '--checkpoint-dir', dir, '--config', config, '-o', 'wide']);
    expect(wide.stdout).toMatch(/^SCOPE\s+LIMIT\s+VALUE\s+POLICY\s+DETAIL$/m);
    expect(wide.stdout).toContain('1 pinned archive fill the limit of 1, so no unpinned archive can be kept');
  });

  it('inspect fits 160 columns for every archive of the demo', async () => {
    for (const archive of demo.archives) {
      const ran = await cli(['inspect', join(dir, archive)]);
      expect({ archive, code: ran.code }).toEqual({ archive, code: 0 });
      expect({ archive, widest: widest(ran.stdout) <= 160 }).toEqual({ archive, widest: true });
    }
  });

  it('-o json and -o yaml parse back to the same data for ls, plan and inspect; --json is -o json', async () => {
    const archive = join(dir, demo.archives[0] ?? '');
    for (const args of [['ls', '--checkpoint-dir', dir], ['plan', '--checkpoint-dir', dir], ['inspect', archive]]) {
      const json = await cli([...args, '-o', 'json']);
      const yamlText = await cli([...args, '-o', 'yaml']);
      const alias = await cli([...args, '--json']);
      expect([json.code, yamlText.code, alias.code]).toEqual([0, 0, 0]);
      const fromJson = JSON.parse(json.stdout) as Record<string, unknown>;
      const fromYaml = yaml.load(yamlText.stdout) as Record<string, unknown>;
      // inspect's ageSeconds and plan's plannedAt may tick between the runs.
      for (const data of [fromJson, fromYaml]) {
        delete data['ageSeconds'];
        delete data['plannedAt'];
      }
      expect(fromYaml).toEqual(fromJson);
      const fromAlias = JSON.parse(alias.stdout) as Record<string, unknown>;
      delete fromAlias['ageSeconds'];
      delete fromAlias['plannedAt'];
      expect(fromAlias).toEqual(fromJson);
    }
    const ls = JSON.parse((await cli(['ls', '--checkpoint-dir', dir, '-o', 'json'])).stdout) as { archives: { file: string; timestamp: string }[] };
    expect(ls.archives).toHaveLength(demo.archives.length);
    for (const a of ls.archives) expect(a.timestamp).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const plan = JSON.parse((await cli(['plan', '--checkpoint-dir', dir, '-o', 'yaml', '--json'])).stdout) as { deletions: { reason: string }[]; futureDated: string[] };
    expect(plan.deletions.map((d) => d.reason)).toEqual(['count', 'count', 'count']);
    expect(plan.futureDated).toEqual([]);
  });

  it('inspect on the pinned archive says it is pinned and kept', async () => {
    const pinned = demo.pins[0]?.replace(/\.keep$/, '') ?? '';
    const { code, stdout } = await cli(['inspect', join(dir, pinned)]);
    expect(code).toBe(0);
    expect(stdout).toContain(`pinned:     YES, by ${pinFileNameOf(pinned)} (file): no retention rule deletes it\n`);
    expect(stdout).toContain('  keeps it: pinned: no rule deletes it; it still counts toward the limits of its scopes\n');
    const json = JSON.parse((await cli(['inspect', join(dir, pinned), '-o', 'json'])).stdout) as { pinned: boolean; pin: { name: string; type: string }; retention: { action: string } };
    expect(json).toMatchObject({ pinned: true, pin: { name: pinFileNameOf(pinned), type: 'file' }, retention: { action: 'keep' } });
  });

  it('inspect on the unidentified archive says why and that retention keeps it', async () => {
    const { code, stdout } = await cli(['inspect', join(dir, demo.unidentified[0] ?? '')]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^identity: {3}UNIDENTIFIED: spec\.dump has no Kubernetes identity annotations/m);
    expect(stdout).toContain('  keeps it: unidentified: never deleted by a policy limit, orphan cleanup or disk pressure\n');
  });

  it('inspect says what retention would do with each archive, as plan does, and deletes nothing', async () => {
    const before = (await readdir(dir)).sort();
    const plan = JSON.parse((await cli(['plan', '--checkpoint-dir', dir, '-o', 'json'])).stdout) as { deletions: { file: string; reason: string; detail: string }[] };
    const deleted = new Map(plan.deletions.map((d) => [d.file, d]));
    for (const archive of demo.archives) {
      const json = JSON.parse((await cli(['inspect', join(dir, archive), '-o', 'json'])).stdout) as { retention: { action: string; reason?: string; detail?: string } };
      const deletion = deleted.get(archive);
      if (deletion === undefined) expect({ archive, action: json.retention.action }).toEqual({ archive, action: 'keep' });
      else expect({ archive, ...json.retention }).toMatchObject({ archive, action: 'delete', reason: deletion.reason, detail: deletion.detail });
    }
    const oldest = [...deleted.keys()].sort()[0] ?? '';
    const text = await cli(['inspect', join(dir, oldest)]);
    expect(text.stdout).toContain('  would DELETE it now: count: container shop-prod/cart-7d9f8b6c4-x2k4p/cart-api has 13 archives, limit 10 (default)\n');
    expect((await readdir(dir)).sort()).toEqual(before);
  });

  it('inspect of a kept archive names the limit that would take it next', async () => {
    const newest = demo.archives.filter((a) => a.includes('_shop-prod-cart-api-')).sort().at(-1) ?? '';
    const { stdout } = await cli(['inspect', join(dir, newest)]);
    expect(stdout).toContain('  keeps it: within every limit\n');
    // 10 archives stay after the plan, one of them pinned: the 8 older unpinned ones go first.
    expect(stdout).toMatch(/^ {2}next: {6}count limit of container shop-prod\/cart-7d9f8b6c4-x2k4p\/cart-api, after 9 more archives \(about \d+[hd] at the recent rate\)$/m);
    expect(stdout).toMatch(/^ {2}LIMIT\s+SCOPE\s+VALUE\s+NOW\s+GOES$/m);
    expect(stdout).toMatch(/^ {2}count\s+container shop-prod\/cart-7d9f8b6c4-x2k4p\/cart-api\s+10\s+10 archives\s+after 9 more archives/m);
  });
});

describe('AGE columns and future-dated archives', () => {
  let dir: string;
  let policy: string;
  const files: Record<string, string> = {};

  beforeAll(async () => {
    dir = join(root, 'ages');
    await mkdir(dir);
    const now = Date.now();
    const write = async (key: string, container: string, offsetMs: number): Promise<void> => {
      const options: SampleArchiveOptions = { namespace: 'shop', pod: 'web-0', container, timestamp: new Date(now - offsetMs), runtime: 'cri-o', payloadBytes: 1024 };
      files[key] = await writeSampleArchive(dir, { ...options, mtime: new Date(now - Math.max(offsetMs, HOUR)) });
    };
    await write('year', 'old', 400 * DAY);
    await write('minutes', 'old', 5 * MINUTE);
    await write('days', 'mid', 2 * DAY + HOUR);
    await write('hours', 'mid', 3 * HOUR + MINUTE);
    await write('future', 'skewed', -3 * HOUR - 5 * MINUTE);
    await write('seconds', 'fresh', 45_000);
    policy = join(root, 'ages-policy.yaml');
    await writeFile(policy, 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata:\n  name: p\nspec:\n  globalPolicy:\n    maxCheckpointsPerContainer: 1\n');
  });

  it('ls shows the oldest and newest archive of each container as ages; -o wide as the times in the names', async () => {
    const { code, stdout } = await cli(['ls', '--checkpoint-dir', dir]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^NAMESPACE\s+POD\s+CONTAINER\s+ARCHIVES\s+PINNED\s+SIZE\s+OLDEST\s+NEWEST$/m);
    expect(stdout).toMatch(/^shop\s+web-0\s+old\s+2\s+0\s+\S+ KiB\s+1y\s+5m$/m);
    expect(stdout).toMatch(/^shop\s+web-0\s+mid\s+2\s+0\s+\S+ KiB\s+2d\s+3h$/m);
    expect(stdout).toMatch(/^shop\s+web-0\s+fresh\s+1\s+0\s+\S+ KiB\s+(4[5-9]|5\d)s\s+(4[5-9]|5\d)s$/m);
    expect(stdout).toMatch(/^shop\s+web-0\s+skewed\s+1\s+0\s+\S+ KiB\s+-3h\s+-3h$/m);
    const wide = await cli(['ls', '--checkpoint-dir', dir, '-o', 'wide']);
    expect(wide.stdout).toMatch(/^shop\s+web-0\s+old\s+2\s+.*\s\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z\s+\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.000Z$/m);
  });

  it('plan shows the age of each archive it would delete, and sets the future-dated one aside', async () => {
    const { code, stdout } = await cli(['plan', '--checkpoint-dir', dir, '--config', policy]);
    expect(code).toBe(0);
    expect(stdout).toContain(`${files['year']}  `);
    expect(stdout).toMatch(new RegExp(`^${files['year']?.replace(/[.]/g, '\\.')}\\s+shop/web-0/old\\s+\\S+ KiB\\s+count\\s+1y$`, 'm'));
    expect(stdout).toMatch(new RegExp(`^${files['days']?.replace(/[.]/g, '\\.')}\\s+shop/web-0/mid\\s+\\S+ KiB\\s+count\\s+2d$`, 'm'));
    expect(stdout).toContain(`future-dated archives, set aside (neither counted nor deleted until their time comes): 1\n  ${files['future']}  -3h\n`);
  });

  it('inspect tells a future-dated archive and keeps it', async () => {
    const { code, stdout } = await cli(['inspect', join(dir, files['future'] ?? ''), '--config', policy]);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^time: {7}\S+ \(written as \S+\), age -3h$/m);
    expect(stdout).toContain('future-dated: YES: its time is 3h ahead of the clock (tolerance 10m): neither counted nor deleted until then\n');
    expect(stdout).toContain('  keeps it: future-dated: the time in its name is 3h ahead of the clock (tolerance 10m)');
    expect(stdout).toContain(`retention:  by file ${policy};`);
    const later = await cli(['inspect', join(dir, files['future'] ?? ''), '--future-tolerance', '4h']);
    expect(later.stdout).toContain('future-dated: no\n');
  });

  it('inspect tells a pin of any type: a directory, a dangling symlink', async () => {
    await mkdir(join(dir, pinFileNameOf(files['days'] ?? '')));
    await symlink(join(dir, 'nowhere'), join(dir, pinFileNameOf(files['year'] ?? '')));
    try {
      const days = await cli(['inspect', join(dir, files['days'] ?? ''), '--config', policy]);
      expect(days.stdout).toContain(`pinned:     YES, by ${pinFileNameOf(files['days'] ?? '')} (directory)`);
      expect(days.stdout).toContain('  keeps it: pinned');
      const year = await cli(['inspect', join(dir, files['year'] ?? ''), '--config', policy]);
      expect(year.stdout).toContain(`pinned:     YES, by ${pinFileNameOf(files['year'] ?? '')} (symlink)`);
    } finally {
      await rm(join(dir, pinFileNameOf(files['days'] ?? '')), { recursive: true });
      await rm(join(dir, pinFileNameOf(files['year'] ?? '')));
    }
  });
});

describe('the README says what the program does', () => {
  let readme = '';
  let usage = '';
  beforeAll(async () => {
    readme = await readFile(README, 'utf8');
    usage = readme.slice(readme.indexOf('\n## Usage'), readme.indexOf('\n### HTTP endpoints'));
  });

  it('the exit code table matches the help', async () => {
    const help = (await cli(['--help'])).stdout;
    const fromHelp = [...help.matchAll(/^ {4}(\d) {2}(\w+)/gm)].map((m) => [m[1], m[2]]);
    const fromReadme = [...usage.matchAll(/^\| (\d) \| (\w+)/gm)].map((m) => [m[1], m[2]]);
    expect(fromReadme).toEqual(fromHelp);
    expect(fromReadme.map(([code]) => code)).toEqual(['0', '1', '2', '3']);
  });

  it('every flag of the flags table is a flag of a command, and every flag of a command is in the table', async () => {
    const documented = new Set([...usage.matchAll(/^\| `((?:-\w, )?--[\w-]+)/gm)].map((m) => m[1] ?? ''));
    const offered = new Set<string>();
    for (const command of ['serve', 'ls', 'inspect', 'plan', 'fetch']) {
      const help = (await cli([command, '--help'])).stdout;
      // A flag with a dotted alias (`--web.config.file, --web-config-file`) is documented by its kebab-case name.
      for (const m of help.matchAll(/^ {2}((?:-\w, )?--[\w.-]+(?:, --[\w-]+)?)/gm)) {
        const flag = m[1] ?? '';
        if (flag !== '-h, --help') offered.add(/^--[\w-]*\.[\w.-]*, (--[\w-]+)$/.exec(flag)?.[1] ?? flag);
      }
    }
    expect([...documented].sort()).toEqual([...offered].sort());
  });

  it('names every command and -o format', () => {
    for (const command of ['serve', 'ls', 'inspect', 'plan']) expect(usage).toMatch(new RegExp(`^checkpoint-exporter \\[?${command}\\b`, 'm'));
    for (const format of ['wide', 'json', 'yaml']) expect(usage).toContain(`-o ${format}`);
  });
});
