import { execFile } from 'node:child_process';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { writeSampleArchive } from '../../src/demo/sample-archives.js';
import { helmUnavailableReason, renderChart } from '../charts/support/helm.js';
import { findObject, type KubeObject } from '../manifests/support/kube-object.js';
import { loadTarget, ROOT } from '../manifests/support/targets.js';
import { fencedBlocks, flagValue, longFlags, parseBlock, type Command } from './support/shell.js';

/**
 * Every command of docs/runbooks.md, checked against what is really installed and really built: the
 * namespace, labels, container, service account, port and paths of the kustomize install and of the
 * Helm chart's default render, the CLI's subcommands and flags from its own --help, the API paths the
 * server routes, and then every checkpoint-exporter command is run on a real checkpoint directory.
 */

const run = promisify(execFile);
const RUNBOOKS = path.join(ROOT, 'docs', 'runbooks.md');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
const BINARY = 'checkpoint-exporter';
/** What the runbooks may run in the exporter's container besides the CLI: the image's coreutils, on an archive or its pin. */
const COREUTILS = new Set(['rm', 'touch']);
const withHelm = helmUnavailableReason() === undefined ? describe : describe.skip;

interface Install {
  readonly name: string;
  readonly namespace: string;
  readonly podLabels: Readonly<Record<string, string>>;
  readonly containers: readonly string[];
  readonly image: string;
  readonly checkpointDir: string;
  readonly port: number;
  readonly serviceAccount: string;
  readonly configPath?: string;
  readonly role: IClusterRole;
  readonly serviceName: string;
}

function describeInstall(name: string, objects: readonly KubeObject[]): Install {
  const daemonSet = findObject(objects, 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet;
  const pod = daemonSet.spec?.template;
  const container = pod?.spec?.containers[0];
  const args = container?.args ?? [];
  const configPath = flagValue(args, '--config');
  return {
    name,
    namespace: daemonSet.metadata?.namespace ?? 'missing',
    podLabels: pod?.metadata?.labels ?? {},
    containers: pod?.spec?.containers.map((candidate) => candidate.name) ?? [],
    image: container?.image ?? 'missing',
    checkpointDir: flagValue(args, '--checkpoint-dir') ?? 'missing',
    port: container?.ports?.find((port) => port.name === 'metrics')?.containerPort ?? 0,
    serviceAccount: pod?.spec?.serviceAccountName ?? 'missing',
    role: findObject(objects, 'ClusterRole', 'checkpoint-exporter') as unknown as IClusterRole,
    serviceName: findObject(objects, 'Service', 'checkpoint-exporter').metadata.name,
    ...(configPath === undefined ? {} : { configPath }),
  };
}

let markdown: string;
let commands: Command[];
let installs: Install[];
let helpOf: Map<string, string>;
let subcommands: string[];
let routes: string[];

/** All commands, those inside `$(…)` included, in document order. */
function allCommands(): Command[] {
  const flatten = (command: Command): Command[] => [command, ...command.substitutions.flatMap(flatten)];
  return commands.flatMap(flatten);
}

function kubectlCommands(): Command[] {
  return allCommands().filter((command) => command.words[0] === 'kubectl');
}

/** The words after `--` of a kubectl exec or debug: the command run in the container. */
function inContainer(command: Command): string[] {
  const separator = command.words.indexOf('--');
  return separator < 0 ? [] : command.words.slice(separator + 1);
}

function exporterInvocations(): Array<{ command: Command; words: string[]; debug: boolean }> {
  return kubectlCommands()
    .filter((command) => ['exec', 'debug'].includes(verbOf(command)))
    .map((command) => ({ command, words: inContainer(command), debug: command.words.includes('debug') }))
    .filter(({ words }) => words[0] === BINARY);
}

const KUBECTL_FLAGS_WITH_VALUES = new Set(['-n', '--namespace', '-l', '--selector', '-c', '--container', '-o', '--output', '--field-selector', '--image', '--since', '--as', '--profile', '--raw']);

function isFlagValue(words: readonly string[], index: number): boolean {
  const previous = words[index - 1] ?? '';
  return KUBECTL_FLAGS_WITH_VALUES.has(previous);
}

/** The kubectl verb: the first word after `kubectl` that is neither a flag nor a flag's value. */
function verbOf(command: Command): string {
  return command.words.find((word, index) => index > 0 && !word.startsWith('-') && !isFlagValue(command.words, index)) ?? '';
}

async function help(...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [CLI, ...args, '--help']);
  return stdout;
}

function assignments(): Map<string, string> {
  const values = new Map<string, string>();
  for (const command of commands) if (command.assigns !== undefined) values.set(command.assigns.name, command.assigns.value);
  return values;
}

withHelm('runbook commands', () => {
  beforeAll(async () => {
    await access(CLI).catch(() => {
      throw new Error(`${CLI} is missing: run \`npm run build\` (npm test does) before this test`);
    });
    markdown = await readFile(RUNBOOKS, 'utf8');
    commands = fencedBlocks(markdown, 'sh').flatMap(parseBlock);
    installs = [
      describeInstall('kustomize (manifests/)', await loadTarget('install')),
      describeInstall('helm (defaults)', await renderChart()),
      describeInstall('helm (with a policy)', await renderChart({ policy: 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata:\n  name: p\n' })),
    ];
    const top = await help();
    subcommands = [...(top.split(/^Commands:$/m)[1] ?? '').matchAll(/^ {2}(\w+)/gm)].map((match) => match[1] ?? '').filter((name) => name !== 'help');
    helpOf = new Map(await Promise.all(subcommands.map(async (name) => [name, await help(name)] as const)));
    const app = await readFile(path.join(ROOT, 'src', 'server', 'app.ts'), 'utf8');
    routes = [...app.matchAll(/router\.get\('([^']+)'/g)].map((match) => match[1] ?? '');
  }, 60_000);

  it('finds shell commands and the CLI, so the checks below check something', () => {
    expect(commands.length).toBeGreaterThan(15);
    expect(subcommands).toEqual(expect.arrayContaining(['serve', 'ls', 'inspect', 'plan']));
    expect(routes).toEqual(expect.arrayContaining(['/api/v1/archives', '/api/v1/plan', '/metrics']));
    expect(exporterInvocations().length).toBeGreaterThan(3);
  });

  it('uses only variables set earlier in the runbooks, and no placeholders to fill in', () => {
    const set = new Set<string>();
    for (const command of commands) {
      for (const name of command.uses) expect({ command: command.text, variable: name, set: set.has(name) }).toEqual({ command: command.text, variable: name, set: true });
      expect(command.text).not.toMatch(/<[^>]*>/);
      if (command.assigns !== undefined) set.add(command.assigns.name);
    }
  });

  it('runs only kubectl, plus echo of what it found', () => {
    for (const command of commands) {
      const first = command.assigns === undefined ? command.words[0] : 'assignment';
      expect({ command: command.text, first }).toEqual({ command: command.text, first: expect.stringMatching(/^(kubectl|echo|assignment)$/) });
    }
  });

  it('finds the exporter pod on the alerting node by spec.nodeName, with the labels every install gives its pods', () => {
    const assignment = commands.find((command) => command.assigns?.name === 'POD');
    const lookup = assignment?.substitutions[0];
    expect(lookup?.words.slice(0, 1)).toEqual(['kubectl']);
    expect(verbOf(lookup as Command)).toBe('get');
    expect(flagValue(lookup?.words ?? [], '--field-selector')).toBe('spec.nodeName=$NODE');
    expect(flagValue(lookup?.words ?? [], '-o', '--output')).toBe('name');
    const selector = flagValue(lookup?.words ?? [], '-l', '--selector') ?? '';
    for (const install of installs) {
      for (const term of selector.split(',')) {
        const [key = '', value] = term.split('=');
        expect({ install: install.name, key, value: install.podLabels[key] }).toEqual({ install: install.name, key, value });
      }
      expect(flagValue(lookup?.words ?? [], '-n', '--namespace')).toBe(install.namespace);
    }
  });

  it('addresses the install namespace, the real container and the pod on the node in every kubectl command', () => {
    for (const command of kubectlCommands()) {
      const verb = verbOf(command);
      const namespace = flagValue(command.words, '-n', '--namespace');
      const container = flagValue(command.words, '-c', '--container');
      const where = { command: command.text };
      if (['exec', 'logs', 'describe'].includes(verb) || (verb === 'get' && !command.words.includes('--raw'))) {
        for (const install of installs) expect({ ...where, namespace }).toEqual({ ...where, namespace: install.namespace });
      }
      if (['exec', 'logs'].includes(verb)) {
        for (const install of installs) expect({ ...where, container, known: install.containers.includes(container ?? '') }).toEqual({ ...where, container, known: true });
        // The pod on the alerting node, never ds/… (an arbitrary node's pod).
        expect({ ...where, target: command.words.includes('$POD') }).toEqual({ ...where, target: true });
      }
      expect(command.words.some((word) => /^(ds|daemonset)\//.test(word))).toBe(false);
      const selector = flagValue(command.words, '-l', '--selector');
      if (selector?.startsWith('kubernetes.io/service-name=')) {
        for (const install of installs) expect(selector).toBe(`kubernetes.io/service-name=${install.serviceName}`);
      } else if (selector !== undefined) {
        expect(flagValue(command.words, '--field-selector')).toBe('spec.nodeName=$NODE');
      }
    }
  });

  it('runs in the container only the CLI and the coreutils the image has, on an archive or its pin', () => {
    for (const command of kubectlCommands().filter((candidate) => verbOf(candidate) === 'exec')) {
      const [binary = '', ...rest] = inContainer(command);
      expect({ command: command.text, binary }).toEqual({ command: command.text, binary: expect.stringMatching(new RegExp(`^(${BINARY}|${[...COREUTILS].join('|')})$`)) });
      if (COREUTILS.has(binary)) expect(rest).toEqual([expect.stringMatching(/^\$ARCHIVE(\.keep)?$/)]);
    }
  });

  it('calls checkpoint-exporter with real subcommands and flags, as its --help lists them', () => {
    for (const { command, words } of exporterInvocations()) {
      const [, subcommand = '', ...args] = words;
      expect({ command: command.text, subcommand, known: subcommands.includes(subcommand) }).toEqual({ command: command.text, subcommand, known: true });
      const text = helpOf.get(subcommand) ?? '';
      for (const flag of longFlags(args)) expect({ command: command.text, flag, listed: new RegExp(`^\\s+(?:-\\w, )?${flag}\\b`, 'm').test(text) }).toEqual({ command: command.text, flag, listed: true });
    }
  });

  it('passes the paths the installs mount: the checkpoint directory, the policy file, archives inside the directory', () => {
    const values = assignments();
    for (const { command, words, debug } of exporterInvocations()) {
      const dir = flagValue(words, '--checkpoint-dir');
      for (const install of installs) {
        if (dir !== undefined) expect({ command: command.text, dir }).toEqual({ command: command.text, dir: debug ? `/host${install.checkpointDir}` : install.checkpointDir });
      }
      const config = flagValue(words, '--config');
      const withPolicy = installs.find((install) => install.configPath !== undefined);
      expect(withPolicy).toBeDefined();
      if (config !== undefined) expect({ command: command.text, config }).toEqual({ command: command.text, config: withPolicy?.configPath });
    }
    const archive = values.get('ARCHIVE') ?? '';
    for (const install of installs) expect(path.posix.dirname(archive)).toBe(install.checkpointDir);
  });

  it('debugs a node without an exporter pod with the image the installs run', () => {
    const debug = kubectlCommands().filter((command) => verbOf(command) === 'debug');
    expect(debug.length).toBeGreaterThan(0);
    for (const command of debug) {
      expect(command.words).toContain('node/$NODE');
      for (const install of installs.slice(0, 2)) expect(flagValue(command.words, '--image')).toBe(install.image);
    }
  });

  it('reads the running exporter through the API server proxy on its metrics port and real routes', () => {
    const raw = kubectlCommands().filter((command) => command.words.includes('--raw'));
    expect(raw.length).toBeGreaterThan(0);
    for (const command of raw) {
      const url = flagValue(command.words, '--raw') ?? '';
      for (const install of installs) {
        const prefix = `/api/v1/namespaces/${install.namespace}/pods/\${POD#pod/}:${install.port}/proxy`;
        expect(url.startsWith(prefix)).toBe(true);
        expect(routes).toContain(url.slice(prefix.length));
      }
    }
  });

  it('checks exactly permissions the ClusterRole grants, for the service account the pods run as', () => {
    const canI = kubectlCommands().filter((command) => command.words[1] === 'auth' && command.words[2] === 'can-i');
    expect(canI.length).toBeGreaterThan(0);
    for (const command of canI) {
      const [verb = '', resource = ''] = command.words.slice(3);
      const [plural = '', ...group] = resource.split('.');
      for (const install of installs) {
        expect(flagValue(command.words, '--as')).toBe(`system:serviceaccount:${install.namespace}:${install.serviceAccount}`);
        const granted = (install.role.rules ?? []).some(
          (rule) => rule.verbs.includes(verb) && (rule.resources ?? []).includes(plural) && (rule.apiGroups ?? []).includes(group.join('.')),
        );
        expect({ command: command.text, granted }).toEqual({ command: command.text, granted: true });
      }
    }
  });

  describe('run for real', () => {
    let scratch: string;
    let dir: string;
    let archive: string;
    let policy: string;

    beforeAll(async () => {
      scratch = await mkdtemp(path.join(os.tmpdir(), 'runbook-commands-'));
      dir = path.join(scratch, 'checkpoints');
      await mkdir(dir);
      const hourAgo = new Date(Date.now() - 3_600_000);
      archive = path.join(dir, await writeSampleArchive(dir, { namespace: 'shop', pod: 'web-0', container: 'nginx', timestamp: hourAgo, mtime: hourAgo, runtime: 'cri-o' }));
      policy = path.join(scratch, 'policy.yaml');
      await writeFile(policy, 'apiVersion: criu.org/v1\nkind: CheckpointRestoreOperator\nmetadata:\n  name: node-defaults\nspec:\n  globalPolicy:\n    maxCheckpointsPerContainer: 5\n');
    });

    afterAll(async () => {
      await rm(scratch, { recursive: true, force: true });
    });

    it('every checkpoint-exporter command of the runbooks succeeds on a real checkpoint directory', async () => {
      const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '', NODE_NAME: 'node-a' };
      for (const { command, words } of exporterInvocations()) {
        const args = words.slice(1).map((word, index, all) => {
          if (all[index - 1] === '--checkpoint-dir') return dir;
          if (all[index - 1] === '--config') return policy;
          if (word === '$ARCHIVE') return archive;
          return word;
        });
        const result = await run(process.execPath, [CLI, ...args], { env, timeout: 60_000 }).then(
          ({ stdout }) => ({ code: 0, stdout }),
          (error: { code?: number; stderr?: string }) => ({ code: error.code, stdout: error.stderr ?? '' }),
        );
        expect({ command: command.text, code: result.code }).toEqual({ command: command.text, code: 0 });
        expect(result.stdout.length).toBeGreaterThan(0);
      }
    }, 120_000);
  });
});
