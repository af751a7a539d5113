/**
 * Whether the view is complete: the first full scan of the directory attached finished and every
 * archive it found has settled. Until then the view is partial (as at start, or after the directory
 * was recreated) and must not read as complete: readiness and retention wait for it.
 */
export interface InitialScan {
  complete(): boolean;
  /** A directory attached afresh: its first scan is still to come. */
  restart(): void;
  /** The first scan finished: wait for these archives (not yet settled) to settle. */
  scanned(unsettled: Iterable<string>): void;
  /** This entry left pending and identifying; true when it was the last one waited for. */
  settled(fileName: string): boolean;
  /** Nothing can be seen (missing, unreadable), so nothing is waited for. */
  nothingToWaitFor(): void;
}

export function createInitialScan(): InitialScan {
  let done = false;
  const waiting = new Set<string>();
  return {
    complete: () => done && waiting.size === 0,
    restart() {
      done = false;
      waiting.clear();
    },
    scanned(unsettled) {
      if (done) return;
      done = true;
      for (const fileName of unsettled) waiting.add(fileName);
    },
    settled: (fileName) => waiting.delete(fileName) && waiting.size === 0,
    nothingToWaitFor() {
      done = true;
      waiting.clear();
    },
  };
}
