import { Ajv, type ValidateFunction } from 'ajv';
import path from 'node:path';
import { readObjects } from './kustomize-walker.js';
import type { KubeObject } from './kube-object.js';

export const CRD_FILE = path.join('manifests', 'crd', 'checkpointrestoreoperators.criu.org.yaml');

type Schema = Record<string, unknown>;

export interface CrdVersion {
  readonly name: string;
  readonly served: boolean;
  readonly storage: boolean;
  readonly schema: { readonly openAPIV3Schema: Schema };
  readonly subresources?: Record<string, unknown>;
}

export interface Crd extends KubeObject {
  readonly spec: {
    readonly group: string;
    readonly scope: string;
    readonly names: { readonly kind: string; readonly plural: string; readonly singular: string; readonly listKind: string };
    readonly versions: readonly CrdVersion[];
  };
}

export async function loadCrd(root: string): Promise<Crd> {
  const [crd, ...rest] = await readObjects(path.join(root, CRD_FILE));
  if (crd === undefined || rest.length > 0) throw new Error(`${CRD_FILE} must hold exactly one object`);
  return crd as Crd;
}

/**
 * Turns the CRD's OpenAPI v3 schema into JSON Schema as the API server would apply it:
 * - `x-kubernetes-int-or-string` becomes integer-or-string (kept `anyOf` or added);
 * - OpenAPI's boolean `exclusiveMinimum`/`exclusiveMaximum` become JSON Schema's numeric ones;
 * - objects with declared properties and no `x-kubernetes-preserve-unknown-fields` refuse other keys,
 *   as kubectl's default strict field validation does;
 * - other `x-kubernetes-*` keys (CEL rules) are dropped: only the API server evaluates them.
 */
export function toJsonSchema(node: Schema): Schema {
  const out: Schema = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith('x-kubernetes-') || key === 'exclusiveMinimum' || key === 'exclusiveMaximum') continue;
    if (key === 'properties') {
      out[key] = Object.fromEntries(Object.entries(value as Record<string, Schema>).map(([name, child]) => [name, toJsonSchema(child)]));
    } else if (key === 'items' || key === 'additionalProperties') {
      out[key] = typeof value === 'object' ? toJsonSchema(value as Schema) : value;
    } else if (key === 'anyOf' || key === 'allOf' || key === 'oneOf') {
      out[key] = (value as Schema[]).map(toJsonSchema);
    } else {
      out[key] = value;
    }
  }
  if (node['x-kubernetes-int-or-string'] === true && out['anyOf'] === undefined) out['anyOf'] = [{ type: 'integer' }, { type: 'string' }];
  if (node['exclusiveMinimum'] === true) {
    out['exclusiveMinimum'] = node['minimum'];
    delete out['minimum'];
  }
  if (node['exclusiveMaximum'] === true) {
    out['exclusiveMaximum'] = node['maximum'];
    delete out['maximum'];
  }
  if (node['properties'] !== undefined && node['x-kubernetes-preserve-unknown-fields'] !== true && node['additionalProperties'] === undefined) {
    out['additionalProperties'] = false;
  }
  return out;
}

export function compileCrdSchema(crd: Crd, versionName = 'v1'): ValidateFunction {
  const version = crd.spec.versions.find((candidate) => candidate.name === versionName);
  if (version === undefined) throw new Error(`CRD has no version ${versionName}`);
  // strictTypes off: int-or-string fields carry `minimum` and `pattern` side by side, each applying to
  // its own type, exactly as JSON Schema and the API server define them. Unknown keywords stay errors.
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
  ajv.addFormat('int64', { type: 'number', validate: (value: number) => Number.isSafeInteger(value) });
  return ajv.compile(toJsonSchema(version.schema.openAPIV3Schema));
}

/** Every schema node, with its path, for structural checks. */
export function* walkSchema(node: Schema, at = ''): Generator<{ readonly path: string; readonly node: Schema }> {
  yield { path: at || '(root)', node };
  const properties = node['properties'] as Record<string, Schema> | undefined;
  for (const [name, child] of Object.entries(properties ?? {})) yield* walkSchema(child, `${at}.${name}`);
  const items = node['items'] as Schema | undefined;
  if (items !== undefined) yield* walkSchema(items, `${at}[]`);
}
