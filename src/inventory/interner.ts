import type { ArchiveIdentity } from '../archive/types.js';
import { containerKeyOf } from './archive-index.js';
import type { Intern } from './entry-state.js';

export interface Interner {
  readonly intern: Intern;
  /** Forgets every kept value, so names of containers long gone do not pile up. */
  reset(): void;
}

/**
 * Keeps one copy of equal names and one frozen identity per container: 100,000 archives name a few
 * thousand namespaces, pods and containers, and each record would otherwise hold its own copies.
 */
export function createInterner(): Interner {
  let strings = new Map<string, string>();
  let identities = new Map<string, ArchiveIdentity>();
  const internString = <T extends string>(value: T): T => {
    const known = strings.get(value);
    if (known !== undefined) return known as T;
    strings.set(value, value);
    return value;
  };
  const intern: Intern = Object.assign(internString, {
    identity(found: ArchiveIdentity): ArchiveIdentity {
      const key = containerKeyOf(found);
      let shared = identities.get(key);
      if (shared === undefined) {
        shared = Object.freeze({ namespace: internString(found.namespace), pod: internString(found.pod), container: internString(found.container) });
        identities.set(key, shared);
      }
      return shared;
    },
  });
  return {
    intern,
    reset() {
      strings = new Map();
      identities = new Map();
    },
  };
}
