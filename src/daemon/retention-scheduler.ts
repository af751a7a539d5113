/** A full run plans every namespace; a scoped run, the namespaces whose archives changed. */
export type RunRequest = { readonly kind: 'full' } | { readonly kind: 'scoped'; readonly namespaces: readonly string[] };

/**
 * Whether the pending requests may run now. `hold` keeps them for a later request (the inventory is
 * still scanning: it reports the completed scan as a change of everything); `discard` drops them
 * (whatever keeps them from running asks for a full run once it is over).
 */
export type Admission = 'run' | 'hold' | 'discard';

export interface RetentionSchedulerDeps {
  /** Asked before each run, and before starting again for requests that came while the last one ended. */
  admit(): Admission;
  run(request: RunRequest): Promise<void>;
  /** A run threw: the loop ends there, and the next request starts it again. */
  onError(error: unknown): void;
}

export interface RetentionScheduler {
  requestFull(): void;
  namespacesChanged(namespaces: Iterable<string>): void;
  /** A run that plans no namespace but still relieves disk pressure (a scoped run of none), unless a run is pending anyway. */
  diskPressureChanged(): void;
  /** Resolves when no run is pending or in flight. */
  settled(): Promise<void>;
  isRunning(): boolean;
  /** True once stop() was called: a run in flight should end at its next step. */
  isStopped(): boolean;
  /** Stops accepting requests and waits for the run in flight. */
  stop(): Promise<void>;
}

/**
 * Coalesces retention requests into runs that never overlap. Requests that arrive during a run are
 * gathered into one more run after it: a full one if any asked for it (it covers every namespace),
 * else one scoped to every namespace that changed meanwhile (to none when only disk pressure asked:
 * a change of the pod checkpoint directory).
 */
export function createRetentionScheduler(deps: RetentionSchedulerDeps): RetentionScheduler {
  let fullRequested = false;
  let pressureRequested = false;
  const dirty = new Set<string>();
  let running: Promise<void> | undefined;
  let stopped = false;

  const pending = (): boolean => fullRequested || dirty.size > 0 || pressureRequested;

  const take = (): RunRequest => {
    const request: RunRequest = fullRequested ? { kind: 'full' } : { kind: 'scoped', namespaces: [...dirty] };
    fullRequested = false;
    pressureRequested = false;
    dirty.clear();
    return request;
  };

  const loop = async (): Promise<void> => {
    while (!stopped && pending()) {
      const admission = deps.admit();
      if (admission === 'hold') return;
      const request = take();
      if (admission === 'discard') return;
      await deps.run(request);
    }
  };

  const kick = (): Promise<void> => {
    if (stopped) return Promise.resolve();
    running ??= (async () => {
      try {
        await loop();
      } catch (error) {
        deps.onError(error);
      }
    })().finally(() => {
      running = undefined;
      // A request that arrived while the loop was returning.
      if (!stopped && pending() && deps.admit() === 'run') void kick();
    });
    return running;
  };

  const settled = async (): Promise<void> => {
    while (running !== undefined) await running;
  };

  return {
    requestFull() {
      fullRequested = true;
      void kick();
    },
    namespacesChanged(namespaces) {
      for (const namespace of namespaces) dirty.add(namespace);
      if (dirty.size > 0) void kick();
    },
    diskPressureChanged() {
      pressureRequested = true;
      void kick();
    },
    settled,
    isRunning: () => running !== undefined,
    isStopped: () => stopped,
    async stop() {
      stopped = true;
      await settled();
    },
  };
}
