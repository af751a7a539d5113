import type { ArchiveIdentity } from '../archive/types.js';

/** `namespace/name`: neither may contain `/`, so the key is unambiguous. */
export function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export function identityKey(identity: ArchiveIdentity): string {
  return `${identity.namespace}/${identity.pod}/${identity.container}`;
}

/** The namespace/name key of a Pod object, or undefined when it has none. */
export function podKeyOf(object: unknown): string | undefined {
  const metadata = field(object, 'metadata');
  const namespace = field(metadata, 'namespace');
  const name = field(metadata, 'name');
  return typeof namespace === 'string' && typeof name === 'string' && namespace !== '' && name !== '' ? podKey(namespace, name) : undefined;
}

/**
 * Every container name a pod declares: containers, initContainers and ephemeralContainers. A checkpoint can be
 * taken of any of them, so an archive is only orphaned when its container is in none.
 */
export function containerNamesOf(pod: unknown): ReadonlySet<string> {
  const spec = field(pod, 'spec');
  const names = new Set<string>();
  for (const list of ['containers', 'initContainers', 'ephemeralContainers']) {
    const entries = field(spec, list);
    if (!Array.isArray(entries)) continue;
    for (const entry of entries) {
      const name = field(entry, 'name');
      if (typeof name === 'string' && name !== '') names.add(name);
    }
  }
  return names;
}

/** What the pod view keeps of a pod: its container names, and its uid for the Events that name it. */
export interface PodFacts {
  readonly containers: ReadonlySet<string>;
  readonly uid: string | undefined;
}

export function podFactsOf(pod: unknown): PodFacts {
  const uid = field(field(pod, 'metadata'), 'uid');
  return { containers: containerNamesOf(pod), uid: typeof uid === 'string' && uid !== '' ? uid : undefined };
}

function field(value: unknown, name: string): unknown {
  return value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[name] : undefined;
}
