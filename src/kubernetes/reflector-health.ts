import type { Logger } from 'pino';

/**
 * What recovers the reflector from a failure. After the API merely said "too old" (410) a fresh list is proof
 * enough. After a watch died, a list is not: a server can answer lists while its watches hang, so health waits
 * for the watch itself to deliver an event or bookmark, or to reach its own timeout.
 */
export type Proof = 'list' | 'watch';

export interface ReflectorStatus {
  readonly healthy: boolean;
  /** A list has succeeded at least once. */
  readonly synced: boolean;
  /** The last list said the resource type is not served, and no object was known then. */
  readonly absent: boolean;
  readonly reason: string | undefined;
}

export interface ReflectorHealth {
  healthy(): boolean;
  status(): ReflectorStatus;
  /** A failure; `proof` says what must happen before the cache is trusted again. */
  fail(reason: string, proof: Proof): void;
  /** `by` happened: clears a failure it is proof enough against. */
  recover(by: Proof): void;
  /** The list said the type is not served (with no object known); true the first time in a row. */
  markAbsent(): boolean;
  /** A list succeeded: synced, served; `replace` puts its items in the cache before anyone hears of the change. */
  listed(replace: () => void): void;
  /** The loop itself threw: unhealthy until a watch proves otherwise (it will not run again). */
  crashed(): void;
}

/**
 * Healthy means the cache can be trusted: synced once, and no failure since that the API has not proven
 * recovered from. A type the API does not serve is healthy too: there is nothing to miss.
 */
export function createReflectorHealth(deps: { readonly name: string; readonly logger: Logger; readonly onHealthChange?: ((healthy: boolean) => void) | undefined }): ReflectorHealth {
  const { name, logger } = deps;
  let synced = false;
  let absent = false;
  let failure: { reason: string; proof: Proof } | undefined;

  const healthy = (): boolean => absent || (synced && failure === undefined);

  const transition = (update: () => void): void => {
    const before = healthy();
    update();
    const after = healthy();
    if (before !== after) deps.onHealthChange?.(after);
  };

  const recover = (by: Proof): void => {
    if (failure === undefined || (failure.proof === 'watch' && by === 'list')) return;
    const reason = failure.reason;
    transition(() => {
      failure = undefined;
    });
    logger.info({ watch: name, recoveredFrom: reason }, 'Kubernetes watch healthy again');
  };

  return {
    healthy,
    status: () => ({ healthy: healthy(), synced, absent, reason: failure?.reason ?? (synced || absent ? undefined : 'not synced yet') }),
    fail(reason, proof) {
      const previous = failure;
      transition(() => {
        // Once the watch itself is in doubt, only the watch can clear it.
        failure = { reason, proof: previous?.proof === 'watch' || proof === 'watch' ? 'watch' : 'list' };
      });
      if (previous === undefined) logger.warn({ watch: name, reason }, 'Kubernetes watch unhealthy');
      else logger.debug({ watch: name, reason }, 'Kubernetes watch still unhealthy');
    },
    recover,
    markAbsent() {
      if (absent) return false;
      transition(() => {
        absent = true;
      });
      return true;
    },
    listed(replace) {
      if (absent) logger.info({ watch: name }, 'resource type is now served by the API');
      transition(() => {
        absent = false;
        synced = true;
        replace();
      });
      recover('list');
    },
    crashed() {
      transition(() => {
        failure = { reason: 'watch loop crashed', proof: 'watch' };
      });
    },
  };
}
