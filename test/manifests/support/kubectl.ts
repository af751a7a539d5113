import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { isKubeObject, type KubeObject } from './kube-object.js';

const run = promisify(execFile);

/** Rendered manifests are small; this only guards against a runaway output filling memory. */
const MAX_RENDER_BYTES = 16 * 1024 * 1024;

/**
 * kubectl is optional: a bare CI machine may not have it. Without it only the `kubectl kustomize`
 * comparison is skipped (loudly); every manifest is still validated through the walker.
 */
export function findKubectl(): string | undefined {
  try {
    const found = execFileSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim();
    if (found !== '') return found;
  } catch {
    // Not installed: fall through to the loud skip.
  }
  process.stderr.write('\n*** SKIPPING kubectl kustomize rendering: kubectl not found; manifests are still validated file by file ***\n\n');
  return undefined;
}

export async function renderWithKubectl(kubectl: string, dir: string): Promise<KubeObject[]> {
  const { stdout } = await run(kubectl, ['kustomize', dir], { maxBuffer: MAX_RENDER_BYTES });
  return yaml.loadAll(stdout).map((document, index) => {
    if (!isKubeObject(document)) throw new Error(`kubectl kustomize ${dir}: document ${index} is not a Kubernetes object`);
    return document;
  });
}
