/** The projected cache of one collection: keyed objects, reduced to the part worth keeping. */
export interface ReflectorStore<T> {
  current(): ReadonlyMap<string, T>;
  /** The whole collection, as a list returned it. */
  replace(items: readonly unknown[]): void;
  /** One watch event; tells the listener. */
  apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: unknown): void;
  /** Tells the listener the store as it is. */
  emit(): void;
}

export interface ReflectorStoreDeps<T> {
  readonly keyOf: (object: unknown) => string | undefined;
  /** The part of an object worth keeping; undefined drops it. */
  readonly project: (object: unknown) => T | undefined;
  readonly onStoreChange?: ((store: ReadonlyMap<string, T>) => void) | undefined;
}

export function createReflectorStore<T>(deps: ReflectorStoreDeps<T>): ReflectorStore<T> {
  let store = new Map<string, T>();
  const emit = (): void => deps.onStoreChange?.(store);
  return {
    current: () => store,
    replace(items) {
      const next = new Map<string, T>();
      for (const item of items) {
        const key = deps.keyOf(item);
        const value = key === undefined ? undefined : deps.project(item);
        if (key !== undefined && value !== undefined) next.set(key, value);
      }
      store = next;
    },
    apply(type, object) {
      const key = deps.keyOf(object);
      if (key === undefined) return;
      if (type === 'DELETED') {
        store.delete(key);
      } else {
        const value = deps.project(object);
        if (value === undefined) store.delete(key);
        else store.set(key, value);
      }
      emit();
    },
    emit,
  };
}
