import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { access, cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { parsePolicyDocument } from '../../src/retention/policy-document.js';
import { compileCrdSchema, loadCrd } from './support/crd-schema.js';
import { findObject, identify, isKubeObject, type KubeObject } from './support/kube-object.js';
import { findKubectl, renderWithKubectl } from './support/kubectl.js';
import { hasModel, validateWithModel } from './support/models.js';
import { loadTarget, MANIFESTS, ROOT } from './support/targets.js';

/** The install guide's examples are run, so a manifest change cannot leave them behind. */

const run = promisify(execFile);
const GUIDE = path.join(ROOT, 'docs', 'install.md');

let guide: string;
let yamlBlocks: string[];

function fencedBlocks(markdown: string, language: string): string[] {
  const blocks: string[] = [];
  const fence = new RegExp(`^([ \\t]*)\`\`\`${language}\\n([\\s\\S]*?)^\\1\`\`\``, 'gm');
  for (const match of markdown.matchAll(fence)) {
    const indent = match[1] ?? '';
    blocks.push((match[2] ?? '').split('\n').map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line)).join('\n'));
  }
  return blocks;
}

function blocksOfKind(kind: string): unknown[] {
  return yamlBlocks.map((block) => yaml.load(block)).filter((document) => (document as { kind?: unknown } | null)?.kind === kind);
}

beforeAll(async () => {
  guide = await readFile(GUIDE, 'utf8');
  yamlBlocks = fencedBlocks(guide, 'yaml');
});

describe('install guide', () => {
  it('lists exactly the objects `kubectl apply -k manifests` installs', async () => {
    const table = [...guide.matchAll(/^\| (\w+)(?: \(headless\))? \| `([^`]+)` \|\s*(?:`([^`]+)`)?\s*\|$/gm)].map(([, kind, name, namespace]) =>
      namespace === undefined ? `${kind}/${name}` : `${kind}/${namespace}/${name}`,
    );
    expect(table.sort()).toEqual((await loadTarget('install')).map(identify).sort());
  });

  it('names only kustomization paths that exist', async () => {
    const paths = new Set([...guide.matchAll(/`(manifests(?:\/[\w-]+)*)\/?`/g)].map((match) => match[1] ?? ''));
    expect(paths.size).toBeGreaterThan(3);
    for (const relative of paths) await access(path.join(ROOT, relative, 'kustomization.yaml'));
  });

  it('shows policies the CRD and the exporter both accept', async () => {
    const policies = blocksOfKind('CheckpointRestoreOperator');
    expect(policies.length).toBeGreaterThan(0);
    const validate = compileCrdSchema(await loadCrd(ROOT));
    for (const policy of policies) {
      expect(validate(policy) ? [] : validate.errors).toEqual([]);
      expect(parsePolicyDocument(policy, 'docs/install.md')).toMatchObject({ ok: true, value: { warnings: [] } });
    }
  });
});

const kubectl = findKubectl();

describe('install guide overlays', () => {
  let workspace: string;

  beforeAll(async () => {
    workspace = await mkdtemp(path.join(os.tmpdir(), 'install-doc-overlays-'));
    await cp(MANIFESTS, path.join(workspace, 'manifests'), { recursive: true });
  });

  afterAll(async () => {
    await rm(workspace, { recursive: true, force: true });
  });

  /** Renders an overlay the way the guide lays it out: `my-cluster/` next to the clone's `manifests/`. */
  async function renderOverlay(kustomization: unknown, index: number): Promise<KubeObject[]> {
    const dir = path.join(workspace, `my-cluster-${index}`);
    await mkdir(dir);
    await writeFile(path.join(dir, 'kustomization.yaml'), yaml.dump(kustomization));
    return renderWithKubectl(kubectl as string, dir);
  }

  (kubectl === undefined ? it.skip : it)('render to valid objects with the effect the guide describes', async () => {
    const overlays = blocksOfKind('Kustomization');
    expect(overlays.length).toBe(3);
    const plain = await loadTarget('install');
    for (const [index, overlay] of overlays.entries()) {
      const rendered = await renderOverlay(overlay, index);
      for (const object of rendered) {
        expect(isKubeObject(object) && hasModel(object)).toBe(true);
        validateWithModel(object);
      }
      expect(rendered.map(identify).sort()).toEqual(plain.map(identify).sort());
      expect(rendered).not.toEqual(plain);
      const text = JSON.stringify(overlay);
      if (text.includes('"images"')) {
        const daemonSet = findObject(rendered, 'DaemonSet', 'checkpoint-exporter') as unknown as IDaemonSet;
        expect(daemonSet.spec?.template.spec?.containers[0]?.image).toBe('registry.example.com/platform/checkpoint-exporter:0.1.0');
      }
      if (text.includes('/metadata/labels/release')) {
        for (const kind of ['ServiceMonitor', 'PrometheusRule']) {
          expect(findObject(rendered, kind, 'checkpoint-exporter').metadata.labels?.['release']).toBe('kube-prometheus-stack');
        }
      }
      if (text.includes('metricRelabelings')) {
        const monitor = findObject(rendered, 'ServiceMonitor', 'checkpoint-exporter') as unknown as IServiceMonitor;
        expect(monitor.spec.endpoints?.[0]?.metricRelabelings?.[0]).toMatchObject({ action: 'drop', sourceLabels: ['__name__'] });
      }
    }
  });
});
