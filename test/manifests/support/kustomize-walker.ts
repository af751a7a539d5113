import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import yaml from 'js-yaml';
import { isKubeObject, type KubeObject } from './kube-object.js';

/**
 * A deliberately small kustomize: enough of `resources`, `components`, `namespace`, `images` and
 * inline JSON6902 `patches` to render this repository's kustomizations without kubectl. Anything else in a kustomization is an
 * error, so a manifest change that would need real kustomize features cannot pass unnoticed here;
 * when kubectl is present the tests also compare this rendering with `kubectl kustomize`.
 */

/** Kinds kustomize leaves without a namespace. Only kinds this repository ships are listed. */
export const CLUSTER_SCOPED_KINDS: ReadonlySet<string> = new Set([
  'Namespace',
  'CustomResourceDefinition',
  'ClusterRole',
  'ClusterRoleBinding',
  'PriorityClass',
]);

const SUPPORTED_FIELDS: ReadonlySet<string> = new Set(['apiVersion', 'kind', 'resources', 'components', 'namespace', 'patches', 'images']);

export interface LoadedObject {
  readonly object: KubeObject;
  /** The YAML file the object came from. */
  readonly file: string;
}

export interface WalkResult {
  readonly objects: readonly LoadedObject[];
  /** Every file and directory any kustomization in the tree referenced. */
  readonly referenced: ReadonlySet<string>;
}

interface Kustomization {
  readonly kind?: string;
  readonly resources?: readonly string[];
  readonly components?: readonly string[];
  readonly namespace?: string;
  readonly patches?: readonly Patch[];
  readonly images?: readonly ImageEntry[];
}

/** An `images:` entry: containers whose image name is `name` get the new name, tag or digest. */
export interface ImageEntry {
  readonly name: string;
  readonly newName?: string;
  readonly newTag?: string;
  readonly digest?: string;
}

interface Patch {
  readonly target: { readonly group?: string; readonly version?: string; readonly kind: string; readonly name: string };
  readonly patch: string;
}

interface PatchOperation {
  readonly op: 'add' | 'replace';
  readonly path: string;
  readonly value: unknown;
}

/** Parses every non-empty document of a YAML stream; a document that is not a Kubernetes object is an error. */
export async function readObjects(file: string): Promise<KubeObject[]> {
  const documents = yaml.loadAll(await readFile(file, 'utf8'), undefined, { filename: file });
  return documents
    .filter((document) => document !== null && document !== undefined)
    .map((document, index) => {
      if (!isKubeObject(document)) throw new Error(`${file} document ${index} is not a Kubernetes object`);
      return document;
    });
}

async function readKustomization(dir: string): Promise<Kustomization> {
  const file = path.join(dir, 'kustomization.yaml');
  const loaded = yaml.load(await readFile(file, 'utf8'), { filename: file }) as Record<string, unknown>;
  const unsupported = Object.keys(loaded).filter((key) => !SUPPORTED_FIELDS.has(key));
  if (unsupported.length > 0) throw new Error(`${file}: fields ${unsupported.join(', ')} need real kustomize`);
  return loaded as Kustomization;
}

export async function walkKustomization(dir: string): Promise<WalkResult> {
  const referenced = new Set<string>();
  const objects = await walk(path.resolve(dir), referenced, [], 'Kustomization');
  return { objects, referenced };
}

async function walk(dir: string, referenced: Set<string>, stack: readonly string[], expectedKind: string, inherited: LoadedObject[] = []): Promise<LoadedObject[]> {
  if (stack.includes(dir)) throw new Error(`kustomization cycle: ${[...stack, dir].join(' -> ')}`);
  const kustomization = await readKustomization(dir);
  const kind = kustomization.kind ?? 'Kustomization';
  if (kind !== expectedKind) throw new Error(`${dir}: a ${kind} where a ${expectedKind} is expected`);
  let loaded: LoadedObject[] = [...inherited];
  for (const resource of kustomization.resources ?? []) {
    const target = path.resolve(dir, resource);
    referenced.add(target);
    if ((await stat(target)).isDirectory()) {
      loaded.push(...(await walk(target, referenced, [...stack, dir], 'Kustomization')));
    } else {
      loaded.push(...(await readObjects(target)).map((object) => ({ object, file: target })));
    }
  }
  // A component sees everything accumulated so far, adds its resources and transforms the lot.
  for (const component of kustomization.components ?? []) {
    const target = path.resolve(dir, component);
    referenced.add(target);
    loaded = await walk(target, referenced, [...stack, dir], 'Component', loaded);
  }
  if (kustomization.namespace !== undefined) {
    const namespace = kustomization.namespace;
    loaded = loaded.map(({ object, file }) => ({
      object: CLUSTER_SCOPED_KINDS.has(object.kind) ? object : { ...object, metadata: { ...object.metadata, namespace } },
      file,
    }));
  }
  for (const patch of kustomization.patches ?? []) loaded = applyPatch(loaded, patch, dir);
  for (const image of kustomization.images ?? []) loaded = loaded.map((entry) => ({ ...entry, object: setImage(entry.object, image) }));
  return loaded;
}

/** Splits `name[:tag][@digest]`; a registry port (`host:5000/name`) is part of the name. */
export function parseImage(reference: string): { name: string; tag?: string; digest?: string } {
  const [beforeDigest = '', digest] = reference.split('@');
  const slash = beforeDigest.lastIndexOf('/');
  const colon = beforeDigest.lastIndexOf(':');
  const name = colon > slash ? beforeDigest.slice(0, colon) : beforeDigest;
  const tag = colon > slash ? beforeDigest.slice(colon + 1) : undefined;
  return { name, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
}

/** kustomize's image transformer, for the containers of pod templates. */
function setImage(object: KubeObject, entry: ImageEntry): KubeObject {
  const podSpec = (object['spec'] as { template?: { spec?: { containers?: Array<{ image?: string }>; initContainers?: Array<{ image?: string }> } } } | undefined)?.template?.spec;
  const containers = [...(podSpec?.containers ?? []), ...(podSpec?.initContainers ?? [])];
  if (!containers.some((container) => container.image !== undefined && parseImage(container.image).name === entry.name)) return object;
  const copy = structuredClone(object) as KubeObject;
  const copySpec = (copy['spec'] as { template: { spec: { containers?: Array<{ image?: string }>; initContainers?: Array<{ image?: string }> } } }).template.spec;
  for (const container of [...(copySpec.containers ?? []), ...(copySpec.initContainers ?? [])]) {
    if (container.image === undefined) continue;
    const current = parseImage(container.image);
    if (current.name !== entry.name) continue;
    const name = entry.newName ?? current.name;
    // A new digest drops the old tag unless a new tag comes with it; a new tag drops the old digest.
    const tag = entry.newTag ?? (entry.digest === undefined ? current.tag : undefined);
    const digest = entry.digest ?? (entry.newTag === undefined ? current.digest : undefined);
    container.image = `${name}${tag === undefined ? '' : `:${tag}`}${digest === undefined ? '' : `@${digest}`}`;
  }
  return copy;
}

function matches(object: KubeObject, target: Patch['target']): boolean {
  const [group, version] = object.apiVersion.includes('/') ? object.apiVersion.split('/') : ['', object.apiVersion];
  return (
    object.kind === target.kind &&
    object.metadata.name === target.name &&
    (target.group === undefined || target.group === group) &&
    (target.version === undefined || target.version === version)
  );
}

function applyPatch(loaded: LoadedObject[], patch: Patch, dir: string): LoadedObject[] {
  const operations = yaml.load(patch.patch) as PatchOperation[];
  let hits = 0;
  const result = loaded.map((entry) => {
    if (!matches(entry.object, patch.target)) return entry;
    hits += 1;
    const copy = structuredClone(entry.object) as KubeObject;
    for (const operation of operations) applyOperation(copy, operation);
    return { ...entry, object: copy };
  });
  if (hits === 0) throw new Error(`${dir}: patch target ${patch.target.kind}/${patch.target.name} matched nothing`);
  return result;
}

/** JSON6902 add and replace, with `-` for appending to an array: the operations this repository uses. */
function applyOperation(document: unknown, operation: PatchOperation): void {
  if (operation.op !== 'add' && operation.op !== 'replace') throw new Error(`patch op ${String(operation.op)} needs real kustomize`);
  const segments = operation.path.split('/').slice(1).map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
  const last = segments.pop();
  if (last === undefined) throw new Error(`patch path ${operation.path} is empty`);
  let parent = document as Record<string, unknown> | unknown[];
  for (const segment of segments) {
    const next = Array.isArray(parent) ? parent[Number(segment)] : parent[segment];
    if (typeof next !== 'object' || next === null) throw new Error(`patch path ${operation.path} does not exist`);
    parent = next as Record<string, unknown> | unknown[];
  }
  if (Array.isArray(parent)) {
    if (last === '-') parent.push(operation.value);
    else parent.splice(Number(last), operation.op === 'add' ? 0 : 1, operation.value);
  } else {
    if (operation.op === 'replace' && !(last in parent)) throw new Error(`patch path ${operation.path} does not exist`);
    parent[last] = operation.value;
  }
}
