/** The part of every Kubernetes object these tests look at; the rest stays untyped until validated. */
export interface KubeObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
  };
  readonly [field: string]: unknown;
}

export function isKubeObject(value: unknown): value is KubeObject {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Record<string, unknown>;
  const metadata = candidate['metadata'] as Record<string, unknown> | undefined;
  return (
    typeof candidate['apiVersion'] === 'string' &&
    typeof candidate['kind'] === 'string' &&
    typeof metadata === 'object' &&
    metadata !== null &&
    typeof metadata['name'] === 'string'
  );
}

/** `Kind/name` or `Kind/namespace/name`: how objects are compared between renderers and listed in docs. */
export function identify(object: KubeObject): string {
  const { namespace, name } = object.metadata;
  return namespace === undefined ? `${object.kind}/${name}` : `${object.kind}/${namespace}/${name}`;
}

export function findObject(objects: readonly KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.filter((object) => object.kind === kind && object.metadata.name === name);
  if (found.length !== 1) throw new Error(`expected exactly one ${kind}/${name}, found ${found.length} among ${objects.map(identify).join(', ')}`);
  return found[0] as KubeObject;
}
