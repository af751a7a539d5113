export interface ReportOnceHandlers<T> {
  /** A key that was not there at the previous update; `value` is the latest given for it. */
  appeared(key: string, value: T): void;
  /** A key that was there at the previous update and is gone. */
  cleared?(key: string): void;
}

/**
 * Reports a set of keyed conditions once per change rather than on every run: each update gives the
 * conditions that hold now, and only those that appeared (or went) since the previous update are
 * reported. A long-standing pin or an archive dated ahead of the clock would otherwise be logged by
 * every retention run.
 */
export function createReportOnce<T>(handlers: ReportOnceHandlers<T>): (current: Iterable<readonly [string, T]>) => void {
  let previous = new Set<string>();
  return (current) => {
    const next = new Map<string, T>();
    for (const [key, value] of current) next.set(key, value);
    for (const [key, value] of next) if (!previous.has(key)) handlers.appeared(key, value);
    if (handlers.cleared !== undefined) for (const key of previous) if (!next.has(key)) handlers.cleared(key);
    previous = new Set(next.keys());
  };
}
